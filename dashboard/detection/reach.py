"""How soon a plug would notice a sudden stop: for a last sign of life at each hour of a weekday
and of a weekend day, the hours until the rule reaches 관심 if nothing follows and the line
then does what this home's line does with nobody using it (its idle level at each half-hour,
``idle_line``): the soonest of the routine's score, the level test, the stillness test and the
person's fixed ladder with its safety net, each with the rule's own functions and thresholds
(``score_quiet``, ``next_stage_at``, ``rules.plug.routine_stage``; the level test's evidence
table, weights, reset, support guard and ``min_quiet_h``; ``still_threshold_h``;
``plug_ladder``, ``net_delay``), on the plug's reports (the rule judges only reported time).

A plug whose reach is slow at most hours of the day sees its person rarely (an appliance used
now and then, a whole-home meter whose background hides the person): the control centre learns
it here, not from a stop found a day late. It holds the routine and the level model learned for
the stop's day; over midnight the rule learns both again (docs/detection.md says by how much
that moved it), and an appliance that keeps cycling after the stop makes it later.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from dashboard.detection.background import Background, departs
from dashboard.detection.levels import (
    MAX_COVER,
    NO_LEVEL,
    RESET,
    SLOTS,
    LevelModel,
    byte_watts,
    day_levels,
    level_byte,
    supported,
)
from dashboard.detection.routine import SLOT, Routine, next_stage_at, score_quiet
from dashboard.detection.stillness import still_threshold_h
from dashboard.rules.config import PlugRoutine, Thresholds
from dashboard.rules.plug import (
    LIVE_FLOOR_W,
    NO_LOAD_W,
    net_delay,
    plug_ladder,
    routine_stage,
)

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
    weekend: tuple[float | None, ...]  # 24 values; empty where not computed (``plug_reach``)
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
    line: float | Sequence[float],
    since: datetime,
    cfg: PlugRoutine,
    tz: ZoneInfo,
    horizon_h: float = HORIZON_H,
    report_min: float | None = None,
    min_quiet_h: float = 0.0,
) -> float | None:
    """Hours from ``since`` (a report: the last sign of life) until the level test reaches 관심
    with every report after it on ``line`` (watts, or 48 watts by half-hour of the day): ``S``
    from 0 over the half-hours after the one holding ``since`` (as ``levels.score_levels`` runs
    it again from the last sign of life), each stored half-hour counting for the half-hours
    since the one before (at most ``MAX_COVER``; the first once), with the stage's support
    guard. The alert comes with the report that brings ``S`` to ``level_h`` (``report_min``: the
    plug's interval; None: a report at the start of every half-hour). The rule judges the test
    only once the spell has lasted ``min_quiet_h``, on ``S`` at the last report then (``S`` may
    have fallen back by then): such an alert comes at that moment. None when not within
    ``horizon_h``."""
    levels = [line] * SLOTS if isinstance(line, int | float) else list(line)
    q = [min(max(round(level_byte(w)), 0), 254) for w in levels]
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
        e = model.evidence(d, slot, q[slot])
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
    """Which tests judge this plug (the rule's conditions)."""

    routine: bool  # enough reference days for the routine's score (``min_days``)
    level: bool  # a level model, a background and the test on in the district
    judges: bool  # either, with the routine on in the district and the plug no longer young
    young: bool  # fewer than ``min_days`` days reported: the ladder alone, on the spell

    @classmethod
    def of(cls, routine: Routine, cfg: PlugRoutine, levels: LevelModel | None) -> _Tests:
        by_routine = len(routine.reference_days) >= cfg.min_days
        by_level = cfg.level_enabled and levels is not None and routine.background is not None
        young = len(routine.days) < cfg.min_days
        judges = cfg.enabled and not young and (by_routine or by_level)
        return cls(by_routine, by_level, judges, young)


def judges(routine: Routine, cfg: PlugRoutine, levels: LevelModel | None = None) -> bool:
    """Whether the routine's score or the level test judges this plug at all."""
    return _Tests.of(routine, cfg, levels).judges


IDLE_QUANTILE = 0  # percent: the home's quietest day at each half-hour
IDLE_MIN_DAYS = 7  # stored days a half-hour needs for its own idle level
# The idle line steps where a load switches (a night heater on at 00:00, off at 07:00): half
# again its level, beyond the margin. Smaller differences between two half-hours' quantiles
# are the estimate's wiggle; a stopped line does not step there.
IDLE_STEP = 1.5


def idle_line(
    days: Mapping[date, bytes | None], routine: Routine, window_days: int
) -> tuple[float, ...] | None:
    """What a stopped home's line does by half-hour of the day: the ``IDLE_QUANTILE`` of the
    window's stored half-hour levels at that clock time (a night load, a heater or an electric
    mat, stays on at night and off by day after a stop too), at most the background's ceiling
    (above it something is in use). A half-hour with fewer than ``IDLE_MIN_DAYS`` stored days
    holds the level of the one before that has them (a plug reporting hourly stores every
    other half-hour: its line holds its last reading until the next one, where the floor gave
    a step at every half-hour, each a sign of life to ``departs`` in a home whose nights hold a
    load); the background's floor where none has them. In a home that always draws power, a
    day the plug read 0 W is left out (:func:`_switched_off`). None without a background."""
    bg = routine.background
    if bg is None:
        return None
    first = routine.learned_on - timedelta(days=window_days)
    rows = [day_levels(v) for d, v in days.items() if v and first <= d < routine.learned_on]
    if bg.low_w >= LIVE_FLOOR_W:  # a home that always draws power (as ``no_load`` reads it)
        rows = [r for r in rows if not _switched_off(r)]
    own: list[float | None] = []
    for slot in range(SLOTS):
        seen = [int(r[slot]) for r in rows if r[slot] != NO_LEVEL]
        if len(seen) < IDLE_MIN_DAYS:
            own.append(None)
            continue
        q = float(np.percentile(seen, IDLE_QUANTILE, method="lower"))
        own.append(round(min(float(byte_watts(q)), bg.high_w), 1))
    if all(w is None for w in own):
        return (bg.low_w,) * SLOTS
    # the nearest earlier half-hour with its own level, over midnight too (own[-k] wraps)
    return tuple(
        next(w for k in range(SLOTS) if (w := own[slot - k]) is not None) for slot in range(SLOTS)
    )


# The highest level byte that stands for ``NO_LOAD_W`` or less (bytes grow with the watts;
# ``NO_LEVEL`` lies far above it).
OFF_BYTE = max(b for b in range(NO_LEVEL) if byte_watts(b) <= NO_LOAD_W)


def _switched_off(levels: np.ndarray) -> bool:
    """A day with a half-hour at 0 W: the plug was off at the wall for a while, and its day,
    the half-hours either side of the switch half off too, is the plug's, not the home's
    unattended line (one such day set that line at 0 W at every later half-hour)."""
    return bool((levels <= OFF_BYTE).any())


def _line_steps(
    line: Sequence[float] | None,
    since: datetime,
    th: Thresholds,
    bg: Background | None,
    tz: ZoneInfo,
    report_min: float | None,
) -> tuple[list[datetime], list[datetime]]:
    """Where the stopped line's own steps (``IDLE_STEP``) reach the rule, as the first report in
    the half-hour they come in: (signs of life: a step ``departs`` calls one, which starts every
    test's spell again; changes beyond the fixed margin, which start the fixed rule's clock
    again)."""
    if line is None:
        return [], []
    margin = th.plug_no_change.power_margin_w
    midnight = datetime.combine(since.astimezone(tz).date(), time(0), tz)
    index = (since - midnight) // SLOT
    end = since + timedelta(hours=HORIZON_H)
    signs, changes = [], []
    previous = index  # the line as the last report read it
    while True:
        index += 1
        start = midnight + index * SLOT
        report = _on_reports(since, start, report_min)
        if report > end:
            return signs, changes
        if report >= start + SLOT:
            continue  # no report in this half-hour: the rule sees the line at its reports
        before, after = line[previous % SLOTS], line[index % SLOTS]
        previous = index
        if max(before, after) < IDLE_STEP * min(before, after) + margin:
            continue  # the quantiles' wiggle from one half-hour to the next: no load switched
        if departs(before, after, margin, bg, start.astimezone(tz)):
            signs.append(report)
        elif abs(after - before) > margin:
            changes.append(report)


def stop_first_alert_h(
    routine: Routine,
    th: Thresholds,
    tz: ZoneInfo,
    since: datetime,
    levels: LevelModel | None = None,
    report_min: float | None = None,
    idle: Sequence[float] | None = None,
    no_change_hours: float | None = None,
    fell_at: datetime | None = None,
) -> float | None:
    """Hours from ``since`` (the last sign of life, a report) to 관심 for a stop that leaves the
    line on ``idle`` (watts by half-hour of the day; default the background's floor), on the
    plug's reports every ``report_min`` minutes, with ``th`` (the person's district's): the
    soonest of the routine's score, the level test, the stillness test and the person's ladder
    (``no_change_hours``) on the fixed rule's clock (on the spell for a young plug or with the
    routine off in the district) and its safety net (``net_delay``), each as the rule runs it
    (the ladder and the net on the time watched, the others on the last report). The line's
    own steps restart them as the rule would (a step the background does not explain is a sign
    of life; one beyond the margin restarts the fixed clock).
    ``fell_at``: a report after ``since`` where the line fell to ``idle`` without a sign of life
    (the level test and the fixed clock start there; the line moved before it): the default is
    ``since``. None: not within ``HORIZON_H``."""
    cfg = th.plug_routine
    fell = max(fell_at or since, since)
    tests = _Tests.of(routine, cfg, levels)
    bg = routine.background
    line = tuple(idle) if idle is not None else ((bg.low_w,) * SLOTS if bg else None)
    signs, changes = _line_steps(line, since, th, bg, tz, report_min)
    end = since + timedelta(hours=HORIZON_H)
    ladder = plug_ladder(no_change_hours, th)
    ladder_h = ladder[0]
    on_fixed = cfg.enabled and not tests.young  # the rule's ``fixed_clock``
    still_h = None
    if cfg.still_enabled and routine.still_h is not None and on_fixed:
        still_h = float(still_threshold_h(routine.still_h, cfg.still_factor, cfg.still_min_h))
    starts = [since, *signs]
    for k, start in enumerate(starts):
        stop = starts[k + 1] if k + 1 < len(starts) else end
        span_h = (stop - start).total_seconds() / 3600
        found: list[datetime] = []
        if tests.judges and tests.routine:
            h = first_alert_h(routine, start, cfg, tz, span_h, report_min)
            found += [start + timedelta(hours=h)] if h is not None else []
        line_start = max(start, fell)  # where the line is at its idle level
        if tests.judges and tests.level and line_start < stop:
            before_h = (line_start - start).total_seconds() / 3600
            h = level_first_alert_h(
                levels,
                line,
                line_start,
                cfg,
                tz,
                span_h - before_h,
                report_min,
                min_quiet_h=max(cfg.min_quiet_h - before_h, 0.0),  # from the sign of life
            )
            found += [line_start + timedelta(hours=h)] if h is not None else []
        # The ladder counts the time the plug watched (``watched_stage``: up to now while it
        # reports), not up to its last report: 관심 at the hour itself; on the fixed rule's
        # clock, or on the spell where the rule keeps none (a young plug, the routine off).
        ladder_at = start + timedelta(hours=ladder_h)
        if not on_fixed and ladder_at < stop:
            found.append(ladder_at)
        # the fixed rule's clock, restarted at every change beyond the margin in this spell
        clocks = [line_start, *(c for c in changes if line_start < c < stop), stop]
        for fixed, next_change in itertools.pairwise(clocks):
            gates = [fixed + timedelta(hours=ladder_h)] if on_fixed else []
            if still_h is not None:
                # the run up to the last report (``observed``), not before the routine's
                # min_quiet_h on the spell (the tick's clock)
                run = _on_reports(since, fixed + timedelta(hours=still_h), report_min)
                gates.append(max(run, start + timedelta(hours=cfg.min_quiet_h)))
            found += [at for at in gates if at < next_change]
        if tests.judges and tests.routine:
            # The safety net (rules.plug: a usable routine, on the fixed clock): the ladder,
            # ``net_delay`` later, on the spell, once the fixed clock has moved off it (a change
            # beyond the margin, or the fall) and so holds the ladder back.
            net_at = start + timedelta(hours=net_delay(routine, cfg, ladder) + ladder_h)
            moved = line_start > start or any(start < c <= net_at for c in changes)
            if moved and net_at < stop:
                found.append(net_at)
        if found:
            return _hours(since, min(found))
    return None


def plug_reach(
    routine: Routine,
    th: Thresholds,
    tz: ZoneInfo,
    levels: LevelModel | None = None,
    report_min: float | None = None,
    idle: Sequence[float] | None = None,
    no_change_hours: float | None = None,
    with_weekend: bool = True,
) -> PlugReach:
    """The plug's reach (``stop_first_alert_h``) for a last sign of life on the hour, every
    hour of the first weekday and the first weekend day from the day the routine was learned
    for, with ``th`` the thresholds of the person's district. ``with_weekend`` False leaves the
    weekend out (``weekend`` empty): the verdict, median and worst hour read the weekday only,
    and the worker's refresh keeps only those, at half the cost."""
    tests = _Tests.of(routine, th.plug_routine, levels)

    def day_reach(day: date) -> tuple[float | None, ...]:
        return tuple(
            stop_first_alert_h(
                routine,
                th,
                tz,
                datetime.combine(day, time(hour), tz),
                levels,
                report_min=report_min,
                idle=idle,
                no_change_hours=no_change_hours,
            )
            for hour in HOURS
        )

    return PlugReach(
        learned_on=routine.learned_on,
        reference_days=len(routine.reference_days),
        usable=tests.judges,
        weekday=day_reach(_next_day(routine.learned_on, weekend=False)),
        weekend=day_reach(_next_day(routine.learned_on, weekend=True)) if with_weekend else (),
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
