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
(nothing received) breaks the record, and the time before a plug's first change counts for
nothing, so a plug switched on at noon does not record a still morning.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np

SLOTS_PER_DAY = 48
FULL_DAY = (1 << SLOTS_PER_DAY) - 1


def longest_still_h(
    changes: Mapping[date, int], first: date, until: date, min_days: int
) -> float | None:
    """The longest time, in hours, between two consecutive half-hours holding a change, over
    the days ``first`` ≤ day < ``until`` that have a row in ``changes`` (local day → 48 bits);
    a missing day breaks a run. None with fewer than ``min_days`` such days or no two changes.

    In arrays: the nightly learning runs it for every plug of a city (about 30 µs a plug)."""
    rows = day_rows(changes, first, until, min_days)
    return None if rows is None else longest_in_rows(*rows)


def day_rows(
    bits_by_day: Mapping[date, int], first: date, until: date, min_days: int
) -> tuple[np.ndarray, np.ndarray] | None:
    """The days ``first`` ≤ day < ``until`` of ``bits_by_day`` (local day → 48 bits) as
    (days, 48) booleans and each row's day number, oldest first; None with fewer than
    ``min_days`` of them. The still and the left-on records read their bits so."""
    days = sorted(d for d in bits_by_day if first <= d < until)
    if len(days) < min_days:
        return None
    values = np.array([int(bits_by_day[d]) & FULL_DAY for d in days], dtype=np.uint64)
    bits = (values[:, None] >> np.arange(SLOTS_PER_DAY, dtype=np.uint64)) & np.uint64(1)
    return bits.astype(bool), np.array([d.toordinal() for d in days])


def longest_in_rows(changed: np.ndarray, day_numbers: np.ndarray) -> float | None:
    """:func:`longest_still_h` over rows of days already in arrays: ``changed`` (days, 48)
    booleans, ``day_numbers`` each row's day (ascending; a gap between two is a day without a
    row, which breaks a run). The nightly learning and the threshold preview share it."""
    at = np.flatnonzero(changed.ravel())  # (row, slot) of each change, in time order
    if at.size < 2:
        return None
    row = at // SLOTS_PER_DAY
    # Runs between two changes whose days (and every day between) all have a row; within
    # such a stretch the rows are consecutive days, so the flat distance is the time.
    breaks = np.concatenate(([0], np.cumsum(np.diff(day_numbers) > 1)))
    unbroken = breaks[row[1:]] == breaks[row[:-1]]
    if not unbroken.any():
        return None
    return float(np.diff(at)[unbroken].max()) / 2


def still_threshold_h(still_h, factor: float, min_h: float):
    """Hours unchanged at which the stillness test reaches 관심 (위험 at 2×, 심각 at 4×); for
    one record (the rule) or an array of them (the preview)."""
    if isinstance(still_h, int | float):  # the rule's: a plain max is ~10x faster than numpy's
        return max(factor * still_h, min_h)
    return np.maximum(factor * still_h, min_h)


def still_stage_rank(run_h, threshold_h):
    """0 (none), 1 (관심), 2 (위험) or 3 (심각) for a still run of ``run_h`` hours; element-wise
    for arrays."""
    return sum((run_h >= k * threshold_h) * 1 for k in (1, 2, 4))
