"""How soon a plug would notice a sudden stop: for a last sign of life at each hour of a weekday
and of a weekend day, the hours until the routine's score or the level test reaches 관심 if
nothing follows and the line stays at the home's night floor (the scores, the thresholds and the
arithmetic the rule tick uses: ``score_quiet``, ``next_stage_at``, ``rules.plug.routine_stage``;
the level test's evidence table, reset and support guard).

It is what those two tests promise for this home, learned from its own last days: the stillness
and run tests can only raise sooner, and where neither reaches 관심 the fixed ladder (24 / 36 /
48 h on a line that stays flat) and the safety net decide. A plug whose reach is slow at most
hours of the day sees its person rarely (an appliance used now and then, a whole-home meter
whose background hides the person): the control centre learns it here, not from a stop found a
day late.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard.detection.levels import (
    MAX_COVER,
    RESET,
    SLOTS,
    LevelModel,
    level_byte,
    supported,
)
from dashboard.detection.routine import SLOT, Routine, next_stage_at, score_quiet
from dashboard.rules.config import PlugRoutine
from dashboard.rules.plug import routine_stage

HORIZON_H = 72.0  # beyond it the safety net's 관심 (48–72 h) has come in every home
HOURS = tuple(range(24))
# The reach's verdict (its median over the hours of a weekday): the target for the
# median first alert is 6 h; beyond 12 h a stop is found at best half a day late.
FAST_H, SLOW_H = 6.0, 12.0


@dataclass(frozen=True)
class PlugReach:
    """One plug's reach: hours to 관심 by the hour of the last sign of life (None: not within
    ``HORIZON_H``), for the next weekday and the next weekend day after it was learned."""

    learned_on: date
    reference_days: int
    usable: bool  # the routine or the level test can judge at all
    weekday: tuple[float | None, ...]  # 24 values
    weekend: tuple[float | None, ...]
    level: bool = False  # the level test judged beside the routine (its model learned, on)

    @property
    def median_h(self) -> float | None:
        """The median over a weekday's 24 hours (an hour without reach counts as the longest);
        None for a routine that cannot judge or never reaches 관심 at most hours."""
        return _median(self.weekday) if self.usable else None

    @property
    def worst_h(self) -> float | None:
        """The longest reach over a weekday's hours (None: some hour never reaches it)."""
        if not self.usable or any(h is None for h in self.weekday):
            return None
        return max(h for h in self.weekday if h is not None)

    @property
    def verdict(self) -> str:
        """``none`` (no routine to judge by), ``fast`` (median ≤ 6 h), ``fair`` (≤ 12 h) or
        ``slow``."""
        median = self.median_h
        if median is None:
            return "none" if not self.usable else "slow"
        return "fast" if median <= FAST_H else "fair" if median <= SLOW_H else "slow"


def _median(values: tuple[float | None, ...]) -> float | None:
    ranked = [h if h is not None else float("inf") for h in values]
    middle = statistics.median_low(ranked)
    return None if middle == float("inf") else middle


def _on_reports(since: datetime, at: datetime, report_min: float | None) -> datetime:
    """The first report at or after ``at`` of a plug reporting every ``report_min`` minutes
    since ``since`` (itself a report): the rule judges only time a plug has reported."""
    if not report_min:
        return at
    step = timedelta(minutes=report_min)
    return since + step * math.ceil((at - since) / step - 1e-9)


def _hours(since: datetime, at: datetime) -> float:
    return round((at - since).total_seconds() / 3600, 2)


def first_alert_h(
    routine: Routine,
    since: datetime,
    cfg: PlugRoutine,
    tz: ZoneInfo,
    horizon_h: float = HORIZON_H,
    report_min: float | None = None,
) -> float | None:
    """Hours from ``since`` (the last sign of life) until the routine's score reaches 관심 with
    no sign of life after it, at the first report from then (``report_min``: the plug's
    interval; None: at the minute the tick's score reaches it); None when not within
    ``horizon_h``. Jumps with ``next_stage_at`` (never late) and checks each candidate with
    ``score_quiet``, the tick's own score."""
    end = since + timedelta(hours=horizon_h)
    now = since
    while now <= end:
        due = next_stage_at(
            routine,
            since,
            now,
            tz,
            quantile=cfg.min_share,
            attention_slots=cfg.attention_slots,
            min_quiet_h=cfg.min_quiet_h,
        )
        if due > end:
            return None
        if routine_stage(score_quiet(routine, since, due, tz, cfg.min_share), cfg) is not None:
            return _hours(since, _on_reports(since, due, report_min))
        # Not yet: a new day (``due`` at midnight) aligns the reference days afresh; within a
        # day the figures change only at the next half-hour.
        now = due if due > now else now + timedelta(minutes=30)
    return None


def level_first_alert_h(
    model: LevelModel,
    watts: float,
    since: datetime,
    cfg: PlugRoutine,
    tz: ZoneInfo,
    horizon_h: float = HORIZON_H,
    report_min: float | None = None,
    min_quiet_h: float = 0.0,
) -> float | None:
    """Hours from ``since`` (a report: the last sign of life) until the level test reaches 관심
    with every report after it at ``watts``: ``S`` from 0 over the half-hours after the one
    holding ``since`` (as ``levels.score_levels`` runs it again from the last sign of life),
    each stored half-hour counting for the half-hours since the one before (at most
    ``MAX_COVER``; the first once), with the stage's support guard. The alert comes with the
    report that brings ``S`` to ``level_h`` (``report_min``: the plug's interval; None: a report
    at the start of every half-hour). The rule judges the test only once the spell has lasted
    ``min_quiet_h``, on ``S`` at the last report then (``S`` may have fallen back by then):
    such an alert comes at that moment. None when not within ``horizon_h``."""
    q = min(max(round(level_byte(watts)), 0), 254)
    midnight = datetime.combine(since.astimezone(tz).date(), time(0), tz)
    holding = (since - midnight) // SLOT  # the half-hour holding ``since``: not counted
    end = since + timedelta(hours=horizon_h)
    gate = since + timedelta(hours=min_quiet_h)
    step = timedelta(minutes=report_min) if report_min else None
    s, run_start, previous = 0.0, None, None
    met = False  # S at the last report before the gate reaches 관심, supported
    index = holding
    while True:
        index += 1
        # Only a half-hour's first report moves S (the line holds the same level): from one
        # half-hour to the next, not report by report (a plug read every second has 259,200
        # reports in 72 h).
        start = midnight + index * SLOT
        report = _on_reports(since, start, report_min) if step else start
        if report > end:
            return _hours(since, gate) if met and gate <= end else None
        if report >= start + SLOT:
            continue  # no report in this half-hour: nothing stored
        if report > gate and met:
            return _hours(since, gate)  # the rule's first judgement, on the report before
        weight = 1 if previous is None else min(index - previous, MAX_COVER)
        previous = index
        d, slot = midnight.date() + timedelta(days=index // SLOTS), index % SLOTS
        e = model.evidence(d, slot, q)
        if e <= -RESET:
            s, run_start, met = 0.0, None, False
            continue
        s = max(0.0, s + weight * e)
        if s == 0.0:
            run_start, met = None, False
            continue
        if run_start is None:
            run_start = index
        met = s >= cfg.level_h - 1e-9 and supported(
            *model.above_days(d.weekday() >= 5, run_start % SLOTS, index - run_start + 1)
        )
        if met and report >= gate:
            return _hours(since, report)


def _next_day(after: date, weekend: bool) -> date:
    day = after
    while (day.weekday() >= 5) != weekend:
        day += timedelta(days=1)
    return day


@dataclass(frozen=True)
class _Tests:
    """Which of the two tests judge this plug (the rule's conditions)."""

    routine: bool  # enough reference days for the routine's score (``min_days``)
    level: bool  # a level model, a background floor and the test on in the district
    judges: bool  # the routine on in the district and the plug no longer young

    @classmethod
    def of(cls, routine: Routine, cfg: PlugRoutine, levels: LevelModel | None) -> _Tests:
        by_routine = len(routine.reference_days) >= cfg.min_days
        by_level = cfg.level_enabled and levels is not None and routine.background is not None
        young = len(routine.days) < cfg.min_days  # the rule runs no test but the ladder then
        return cls(by_routine, by_level, cfg.enabled and not young and (by_routine or by_level))


def judges(routine: Routine, cfg: PlugRoutine, levels: LevelModel | None = None) -> bool:
    """Whether the routine's score or the level test judges this plug at all."""
    return _Tests.of(routine, cfg, levels).judges


def stop_first_alert_h(
    routine: Routine,
    cfg: PlugRoutine,
    tz: ZoneInfo,
    since: datetime,
    levels: LevelModel | None = None,
    fell_at: datetime | None = None,
    report_min: float | None = None,
) -> float | None:
    """Hours from ``since`` (the last sign of life) to 관심 by the sooner of the routine's score
    and, with the plug's level model (``levels``), the level test on a line at the background's
    floor from ``fell_at`` (default ``since``: the stop is the last sign of life), on the plug's
    reports every ``report_min`` minutes; None when neither judges or reaches it within
    ``HORIZON_H``."""
    tests = _Tests.of(routine, cfg, levels)
    if not tests.judges:
        return None
    hours = [first_alert_h(routine, since, cfg, tz, report_min=report_min)] if tests.routine else []
    if tests.level:
        fell = fell_at or since
        before = (fell - since).total_seconds() / 3600
        h = level_first_alert_h(
            levels,
            routine.background.low_w,
            fell,
            cfg,
            tz,
            horizon_h=HORIZON_H - before,
            report_min=report_min,
            min_quiet_h=max(cfg.min_quiet_h - before, 0.0),  # from the sign of life
        )
        if h is not None:
            hours.append(h + before)
    known = [h for h in hours if h is not None]
    return min(known) if known else None


def plug_reach(
    routine: Routine,
    cfg: PlugRoutine,
    tz: ZoneInfo,
    levels: LevelModel | None = None,
    report_min: float | None = None,
) -> PlugReach:
    """The plug's reach (``stop_first_alert_h``) for a last sign of life on the hour, every
    hour of the first weekday and the first weekend day from the day the routine was learned
    for."""
    tests = _Tests.of(routine, cfg, levels)

    def day_reach(day: date) -> tuple[float | None, ...]:
        return tuple(
            stop_first_alert_h(
                routine,
                cfg,
                tz,
                datetime.combine(day, time(hour), tz),
                levels,
                report_min=report_min,
            )
            for hour in HOURS
        )

    return PlugReach(
        learned_on=routine.learned_on,
        reference_days=len(routine.reference_days),
        usable=tests.judges,
        weekday=day_reach(_next_day(routine.learned_on, weekend=False)),
        weekend=day_reach(_next_day(routine.learned_on, weekend=True)),
        level=tests.judges and tests.level,
    )


def person_reach(reaches: list[PlugReach]) -> tuple[float | None, ...]:
    """A person's weekday reach with several plugs: each plug judges the person's spell, so the
    first to reach 관심 raises it (the soonest per hour)."""
    per_hour = []
    for hour in HOURS:
        known = [r.weekday[hour] for r in reaches if r.usable and r.weekday[hour] is not None]
        per_hour.append(min(known) if known else None)
    return tuple(per_hour)
