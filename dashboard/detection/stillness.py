"""Unusual stillness: a home whose power never stays unchanged for long, now unchanged for hours.

A whole-home meter or a plug beside a fridge sees the load move by more than the fixed margins
(5 W, 30 lux) every half-hour or two, person or no person: in the London homes of the
evaluation the longest run without such a change in any 28 days was 1–3.5 h. Those changes are
not signs of life (the background explains them), so the routine cannot use them; but their
*absence* is news. A person who collapses in a home whose every appliance is then off or at a
steady standby leaves a line flatter than anything the home has shown, and the fixed rule,
which waits 24 h on exactly that line, is the slowest to say so.

The stillness test reads the fixed rule's own clock (``device_state.last_change_at``) against
the home's longest still run of its last ``window_days`` days (``device_daily.change_slots``,
the half-hours with a change beyond the margins, with its activity bits): 관심 once the run is
``still_factor`` times that long (at least ``still_min_h``), 위험 at twice that, 심각 at four
times. A home whose readings often stay still for hours (a TV plug at standby every night) has
a long record and the test stays behind the ladder; it only ever adds an earlier stage.

Runs are measured only between two changes on consecutive reported days: a day without a row
(nothing received) breaks the record, and so do 2 h or more without a reading inside a day
(``device_daily.seen_slots``; an outage would otherwise record hours of stillness and hold the
test back for 28 days); the time before a plug's first change counts for nothing, so a plug
switched on at noon does not record a still morning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np

SLOTS_PER_DAY = 48
FULL_DAY = (1 << SLOTS_PER_DAY) - 1
GAP_SLOTS = 4  # 2 h without a reading (the plugs' silence timeout): an outage, not stillness


def longest_still_h(
    changes: Mapping[date, int],
    first: date,
    until: date,
    min_days: int,
    seen: Mapping[date, int | None] | None = None,
) -> float | None:
    """The longest time, in hours, between two consecutive half-hours holding a change, over
    the days ``first`` ≤ day < ``until`` that have a row in ``changes`` (local day → 48 bits).
    A missing day breaks a run, and so does an outage: ``GAP_SLOTS`` half-hours in a row
    without a reading (``seen``: local day → bits of half-hours holding one; a day without
    them is taken as read throughout). None with fewer than ``min_days`` such days or no run.

    In arrays: the nightly learning runs it for every plug of a city (about 50 µs a plug)."""
    days = sorted(d for d in changes if first <= d < until)
    if len(days) < min_days:
        return None
    ordinals = np.array([d.toordinal() for d in days], dtype=np.int64)
    changed = _bits([changes[d] for d in days])
    read = _bits([(seen or {}).get(d) for d in days], unknown=FULL_DAY)
    return _longest(changed, read, ordinals)


def _bits(values: list[int | None], unknown: int = 0) -> np.ndarray:
    """One row of 48 booleans per day (bit j = slot j); None reads as ``unknown``."""
    ints = np.array([unknown if v is None else int(v) & FULL_DAY for v in values], np.uint64)
    return ((ints[:, None] >> np.arange(SLOTS_PER_DAY, dtype=np.uint64)) & np.uint64(1)).astype(
        bool
    )


def _longest(changed: np.ndarray, read: np.ndarray, ordinals: np.ndarray) -> float | None:
    """The longest run (hours) between two changes over rows of days (``changed``, ``read``:
    (days, 48) booleans; ``ordinals``: each row's day), broken by a day without a row between
    them or an outage of ``GAP_SLOTS`` unread half-hours; None without such a run."""
    flat = changed.ravel()
    at = np.flatnonzero(flat)  # changes in time order (their half-hours hold a reading)
    if at.size < 2:
        return None
    row = at // SLOTS_PER_DAY
    breaks = np.concatenate(([0], np.cumsum(np.diff(ordinals) > 1)))
    unbroken = breaks[row[1:]] == breaks[row[:-1]]
    # outages: the first half-hour of each stretch of GAP_SLOTS or more unread ones
    unread = np.concatenate(([False], ~read.ravel(), [False]))
    edges = np.flatnonzero(np.diff(unread.astype(np.int8)))
    starts, ends = edges[0::2], edges[1::2]
    marks = np.zeros(flat.size + 1, dtype=np.int64)
    marks[starts[ends - starts >= GAP_SLOTS] + 1] = 1
    outages = np.cumsum(marks)
    unbroken &= outages[at[1:] + 1] == outages[at[:-1] + 1]
    if not unbroken.any():
        return None
    return float(np.diff(at)[unbroken].max()) / 2


def still_threshold_h(still_h: float, factor: float, min_h: float) -> float:
    """Hours unchanged at which the stillness test reaches 관심 (위험 at 2×, 심각 at 4×)."""
    return max(factor * still_h, min_h)


def still_stage_rank(run_h: float, threshold_h: float) -> int:
    """0 (none), 1 (관심), 2 (위험) or 3 (심각) for a still run of ``run_h`` hours."""
    return sum(run_h >= k * threshold_h for k in (1, 2, 4))
