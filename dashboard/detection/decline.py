"""A slow decline over weeks: a case worker's slow-risk flag, never an emergency alert.

Two per-day figures of a smart plug (``device_daily``):

- **above**: half-hours in which the plug read above the home's unattended ceiling
  (``above_slots``; the ceiling is the learned background's, with the slack ``departs`` adds).
  A person doing less switches things on less, so the count falls. A reading replaced by the
  home's own night load stays under the ceiling and cannot fake activity, which the count of
  active half-hours can (a night-load reading next to a real one is a step, so a sign of life);
- **mean watts** (``watts_sum / watts_n``). Alone it follows the seasons; with the count it
  tells a home doing less (both fall) from a winter whose heavier nights raise the ceiling (the
  count falls, the load does not).

A day is *below* when, over the last ``RECENT_DAYS`` days, the mean count is under
``ABOVE_RATIO`` × and the mean load under ``WATTS_RATIO`` × their means over a ``BASELINE_DAYS``
baseline that ended ``GAP_DAYS`` before (so a decline of a few weeks is still compared with the
home before it). The flag is set after ``PERSIST_DAYS`` below days in a row and cleared by the
first day that is not. A home whose baseline averages under ``MIN_BASELINE`` half-hours above
the ceiling a day (a plug rarely switched on, a meter whose night load hides the day) has no
opinion. The values were chosen on the evaluation's tune homes only (docs/detection.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta

BASELINE_DAYS = 28
GAP_DAYS = 28  # the baseline ends this many days before the day judged
RECENT_DAYS = 14
ABOVE_RATIO = 0.7
WATTS_RATIO = 0.8
PERSIST_DAYS = 7
MIN_BASELINE = 2.0  # half-hours above the ceiling per day, on average over the baseline
MIN_BASELINE_VALID = 20  # days with known figures in the baseline
MIN_RECENT_VALID = RECENT_DAYS // 2
# Days one judgement reads: from the oldest baseline day of the first persistence day.
HISTORY_DAYS = GAP_DAYS + BASELINE_DAYS + PERSIST_DAYS - 1


@dataclass(frozen=True)
class DayFigures:
    """One day of a plug: half-hours above the unattended ceiling, and the mean reading."""

    above: int
    mean_w: float


@dataclass(frozen=True)
class DayRatio:
    """One day's comparison: recent and baseline means of both figures."""

    day: date
    recent_above: float
    baseline_above: float
    recent_w: float
    baseline_w: float

    @property
    def above_ratio(self) -> float:
        return self.recent_above / self.baseline_above

    @property
    def watts_ratio(self) -> float:
        return self.recent_w / self.baseline_w

    @property
    def below(self) -> bool:
        return self.above_ratio < ABOVE_RATIO and self.watts_ratio < WATTS_RATIO


@dataclass(frozen=True)
class DeclineScore:
    """The judgement on ``day``: flagged after ``PERSIST_DAYS`` below days in a row."""

    day: date
    flagged: bool
    days_below: int  # below days in a row ending on ``day`` (at most PERSIST_DAYS)
    latest: DayRatio | None  # None: no opinion on ``day`` (too little data or activity)


def _means(days: Mapping[date, DayFigures], first: date, n: int) -> tuple[float, float, int]:
    found = [f for k in range(n) if (f := days.get(first + timedelta(days=k))) is not None]
    if not found:
        return 0.0, 0.0, 0
    return (
        sum(f.above for f in found) / len(found),
        sum(f.mean_w for f in found) / len(found),
        len(found),
    )


def day_ratio(days: Mapping[date, DayFigures], day: date) -> DayRatio | None:
    """The recent-vs-baseline comparison on ``day`` (figures of days up to and including it);
    None when there is too little data or the baseline is too quiet to judge. ``days`` holds
    only days whose figures are known (a day without a learned background is absent)."""
    r_above, r_w, n_recent = _means(days, day - timedelta(days=RECENT_DAYS - 1), RECENT_DAYS)
    start = day - timedelta(days=GAP_DAYS + BASELINE_DAYS - 1)
    b_above, b_w, n_base = _means(days, start, BASELINE_DAYS)
    if n_recent < MIN_RECENT_VALID or n_base < MIN_BASELINE_VALID:
        return None
    if b_above < MIN_BASELINE or b_w <= 0:
        return None
    return DayRatio(day, r_above, b_above, r_w, b_w)


def score_decline(days: Mapping[date, DayFigures], day: date) -> DeclineScore:
    """Whether the home has been below its own baseline for ``PERSIST_DAYS`` days ending ``day``
    (the daily job judges yesterday, the last whole day)."""
    latest = day_ratio(days, day)
    run = 0
    for k in range(PERSIST_DAYS):
        r = latest if k == 0 else day_ratio(days, day - timedelta(days=k))
        if r is None or not r.below:
            break
        run += 1
    return DeclineScore(day, run >= PERSIST_DAYS, run, latest)
