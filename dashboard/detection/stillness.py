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
from datetime import date, timedelta

SLOTS_PER_DAY = 48


def longest_still_h(
    changes: Mapping[date, int], first: date, until: date, min_days: int
) -> float | None:
    """The longest time, in hours, between two consecutive half-hours holding a change, over
    the days ``first`` ≤ day < ``until`` that have a row in ``changes`` (local day → 48 bits);
    a missing day breaks a run. None with fewer than ``min_days`` such days or no two changes."""
    days = sorted(d for d in changes if first <= d < until)
    if len(days) < min_days:
        return None
    longest = 0
    previous: int | None = None  # absolute slot of the last change, on an unbroken stretch
    prev_day: date | None = None
    for day in days:
        if prev_day is not None and day - prev_day != timedelta(days=1):
            previous = None  # a day without a row: no run crosses it
        prev_day = day
        bits = int(changes[day]) & ((1 << SLOTS_PER_DAY) - 1)
        base = day.toordinal() * SLOTS_PER_DAY
        while bits:
            low = bits & -bits
            slot = base + low.bit_length() - 1
            if previous is not None:
                longest = max(longest, slot - previous)
            previous = slot
            bits ^= low
    return longest / 2 if longest else None


def still_threshold_h(still_h: float, factor: float, min_h: float) -> float:
    """Hours unchanged at which the stillness test reaches 관심 (위험 at 2×, 심각 at 4×)."""
    return max(factor * still_h, min_h)


def still_stage_rank(run_h: float, threshold_h: float) -> int:
    """0 (none), 1 (관심), 2 (위험) or 3 (심각) for a still run of ``run_h`` hours."""
    return sum(run_h >= k * threshold_h for k in (1, 2, 4))
