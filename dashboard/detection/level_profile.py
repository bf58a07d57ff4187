"""The numbers behind the alert detail's level chart (docs/detection.md, "In the product"): a
plug's half-hour power levels over the alert's day (or the last two days of its spell) against
the home's usual level at each half-hour and its night (unattended) level.

Pure: the stored ``device_daily.level_slots`` in (``queries/levels.py``), a
:class:`LevelProfile` out; the chart is drawn in ``dashboard/ui/level_chart.py``.

- *Usual*: per half-hour, the median and the 25th and 75th percentiles of the level over the
  reference days among the ``REFERENCE_DAYS`` local days before the first day shown (as the
  learning: a day with a half-hour above the unattended top, so a day away or a dead plug is not
  "usual"), of the same kind as the day shown (weekdays or weekends; all days when the alert's
  ``level_day_kind`` is ``day``, i.e. the model did not learn them apart). Quantiles are taken
  on the level bytes (the log scale the test judges on) and turned into watts; a half-hour with
  fewer than ``MIN_DAYS`` readings has none.
- *Night level*: :func:`levels.unattended_top` over those days, the line the test judges against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from dashboard.detection import levels

CHART_DAYS = 2  # at most the last two local days of a spell are drawn
REFERENCE_DAYS = 28  # the learning's window
READ_DAYS = REFERENCE_DAYS + CHART_DAYS  # what the query reads, newest day included
MIN_DAYS = 3  # fewer readings at a half-hour: no usual level drawn there
SLOT = timedelta(minutes=30)


@dataclass(frozen=True)
class LevelProfile:
    """``days``: the local days drawn, oldest first. ``shown``: one row per half-hour of those
    days, ``x`` its middle in half-hours from the first day's midnight, ``start`` (local),
    ``watts`` (NaN: no reading) and ``readings``. ``usual``: per half-hour of those days (``x``),
    ``median_w``, ``low_w`` (25 %) and ``high_w`` (75 %), NaN where too few days.
    ``night_w``: the unattended top in watts (None: too few night readings). ``spell``: the
    spell in the chart's half-hours (start, end), clipped to the days drawn, or None.
    ``reference_days``: reference days of the newest day's kind."""

    days: tuple[date, ...]
    shown: pd.DataFrame
    usual: pd.DataFrame
    night_w: float | None
    spell: tuple[float, float] | None
    reference_days: int
    day_kind: str


def shown_days(since: datetime | None, until: datetime, tz: ZoneInfo) -> tuple[date, ...]:
    """The local day of ``until``, and the day before when the spell began before it (never
    more than ``CHART_DAYS``)."""
    last = until.astimezone(tz).date()
    first = since.astimezone(tz).date() if since is not None and since < until else last
    first = max(first, last - timedelta(days=CHART_DAYS - 1))
    return tuple(first + timedelta(days=k) for k in range((last - first).days + 1))


def _kind(day: date, day_kind: str) -> str:
    if day_kind == "day":
        return "day"
    return "weekend" if day.weekday() >= 5 else "weekday"


def level_profile(
    stored: Mapping[date, bytes | None],
    since: datetime | None,
    until: datetime,
    tz: ZoneInfo,
    day_kind: str | None = None,
) -> LevelProfile | None:
    """The profile of the days ending on ``until``'s local day (``stored``: local day →
    ``level_slots``, days missing or None without levels); None when neither the days drawn nor
    the days before have a single stored level (a plug that never reported power, or whose days
    predate the levels). ``day_kind``: the alert's ``level_day_kind``; ``day`` pools weekdays
    and weekends, anything else compares each day with days of its own kind."""
    days = shown_days(since, until, tz)
    first = days[0]
    window = [first - timedelta(days=k) for k in range(REFERENCE_DAYS, 0, -1)]
    if not any(stored.get(d) for d in (*window, *days)):
        return None
    kind = day_kind if day_kind in ("weekday", "weekend", "day") else "weekday"
    history = np.stack([levels.day_levels(stored.get(d)) for d in window]).astype(np.int64)
    seen = history != levels.NO_LEVEL
    top = levels.unattended_top(history)
    # A reference day as the learning has it: some half-hour above the unattended top (without
    # a top, every day with a reading).
    is_ref = (seen & (history > top)).any(axis=1) if top is not None else seen.any(axis=1)
    ref_kind = np.array([_kind(d, kind) for d in window])
    shown_rows, usual_rows = [], []
    for i, day in enumerate(days):
        stored_day = stored.get(day)
        lv = levels.day_levels(stored_day)
        counts = stored_day[levels.SLOTS : 2 * levels.SLOTS] if stored_day else bytes(levels.SLOTS)
        midnight = datetime(day.year, day.month, day.day, tzinfo=tz)
        pick = is_ref & (ref_kind == _kind(day, kind))
        for slot in range(levels.SLOTS):
            x = i * levels.SLOTS + slot + 0.5
            q = int(lv[slot])
            shown_rows.append(
                {
                    "x": x,
                    "start": midnight + slot * SLOT,
                    "watts": float(levels.byte_watts(q)) if q != levels.NO_LEVEL else np.nan,
                    "readings": int(counts[slot]) if q != levels.NO_LEVEL else 0,
                }
            )
            values = history[pick & seen[:, slot], slot]
            if len(values) >= MIN_DAYS:
                low, median, high = levels.byte_watts(np.quantile(values, [0.25, 0.5, 0.75]))
            else:
                low = median = high = np.nan
            usual_rows.append({"x": x, "median_w": median, "low_w": low, "high_w": high})
    origin = datetime(first.year, first.month, first.day, tzinfo=tz)
    spell = None
    if since is not None and since < until:
        to_x = lambda t: (t - origin) / SLOT  # noqa: E731
        lo, hi = max(to_x(since), 0.0), min(to_x(until), len(days) * levels.SLOTS)
        spell = (lo, hi) if lo < hi else None
    newest = _kind(days[-1], kind)
    return LevelProfile(
        days=days,
        shown=pd.DataFrame(shown_rows, columns=["x", "start", "watts", "readings"]),
        usual=pd.DataFrame(usual_rows, columns=["x", "median_w", "low_w", "high_w"]),
        night_w=float(levels.byte_watts(top)) if top is not None else None,
        spell=spell,
        reference_days=int((is_ref & (ref_kind == newest)).sum()),
        day_kind=newest,
    )
