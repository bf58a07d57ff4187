"""How soon a plug's routine would notice a sudden stop: for a last sign of life at each hour of
a weekday and of a weekend day, the hours until the routine's score reaches 관심 if nothing
follows (the score, the thresholds and the arithmetic the rule tick uses: ``score_quiet``,
``next_stage_at`` and ``rules.plug.routine_stage``).

It is what the routine alone promises for this home, learned from its own last days: the level,
stillness and run tests can only raise sooner, and where the routine never reaches 관심 the fixed
ladder (24 / 36 / 48 h on a line that stays flat) and the safety net decide. A plug whose reach
is slow at most hours of the day sees its person rarely (an appliance used now and then, a
whole-home meter whose background hides the person): the control centre learns it here, not
from a stop found a day late.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dashboard.detection.routine import Routine, next_stage_at, score_quiet
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
    usable: bool  # enough reference days for the routine to judge at all (``min_days``)
    weekday: tuple[float | None, ...]  # 24 values
    weekend: tuple[float | None, ...]

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


def first_alert_h(
    routine: Routine, since: datetime, cfg: PlugRoutine, tz: ZoneInfo, horizon_h: float = HORIZON_H
) -> float | None:
    """Hours from ``since`` (the last sign of life) until the routine's score reaches 관심 with
    no sign of life after it, to the minute the tick's scoring would find it; None when not
    within ``horizon_h``. Jumps with ``next_stage_at`` (never late) and checks each candidate
    with ``score_quiet``, the tick's own score."""
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
            return round((due - since).total_seconds() / 3600, 2)
        # Not yet: a new day (``due`` at midnight) aligns the reference days afresh; within a
        # day the figures change only at the next half-hour.
        now = due if due > now else now + timedelta(minutes=30)
    return None


def _next_day(after: date, weekend: bool) -> date:
    day = after
    while (day.weekday() >= 5) != weekend:
        day += timedelta(days=1)
    return day


def plug_reach(routine: Routine, cfg: PlugRoutine, tz: ZoneInfo) -> PlugReach:
    """The plug's reach for a last sign of life on the hour, every hour of the first weekday
    and the first weekend day from the day the routine was learned for."""
    usable = len(routine.reference_days) >= cfg.min_days

    def day_reach(day: date) -> tuple[float | None, ...]:
        if not usable:
            return tuple(None for _ in HOURS)
        return tuple(
            first_alert_h(routine, datetime.combine(day, time(hour), tz), cfg, tz) for hour in HOURS
        )

    return PlugReach(
        learned_on=routine.learned_on,
        reference_days=len(routine.reference_days),
        usable=usable,
        weekday=day_reach(_next_day(routine.learned_on, weekend=False)),
        weekend=day_reach(_next_day(routine.learned_on, weekend=True)),
    )


def person_reach(reaches: list[PlugReach]) -> tuple[float | None, ...]:
    """A person's weekday reach with several plugs: each plug judges the person's spell, so the
    first to reach 관심 raises it (the soonest per hour)."""
    per_hour = []
    for hour in HOURS:
        known = [r.weekday[hour] for r in reaches if r.usable and r.weekday[hour] is not None]
        per_hour.append(min(known) if known else None)
    return tuple(per_hour)
