"""A phone line's calling habit: a daily caller silent for a day says more than a weekly caller
silent for three.

The habit is read from the same per-day half-hour activity bits as a plug's routine
(``device_daily.activity_slots``: a bit for every half hour with an outgoing or answered call),
learned daily into ``device_routines``. A line is a *regular caller* once it had a call on
``min_days`` of its last 28 days; its *longest silence* is the longest time between two calls in
that window. ``call_no_activity`` then raises 관심 after ``gap_factor`` × that silence (never
before ``min_quiet_h``), or at the fixed days at the latest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from itertools import pairwise

from dashboard.detection.routine import SLOTS_PER_DAY, Routine, _day_number


@dataclass(frozen=True)
class CallHabit:
    """What a line's last days say about how often it calls."""

    call_days: int  # days with a call in the window
    window_days: int  # days from the window's first day to the day before learning
    longest_gap_h: float  # the longest time between two calls in the window

    def threshold_h(self, gap_factor: float, min_quiet_h: float) -> float:
        """Hours of silence after which this line's quiet is unusual."""
        return max(min_quiet_h, gap_factor * self.longest_gap_h)


def call_habit(routine: Routine, window_days: int = 28) -> CallHabit | None:
    """The habit from a learned routine; None without two calls in the window."""
    first = routine.learned_on - timedelta(days=window_days)
    slots: list[int] = []
    call_days = 0
    for day in sorted(d for d in routine.days if first <= d < routine.learned_on):
        bits = routine.days[day]
        if not bits:
            continue
        call_days += 1
        base = _day_number(day) * SLOTS_PER_DAY
        slots.extend(base + j for j in range(SLOTS_PER_DAY) if bits >> j & 1)
    if len(slots) < 2:
        return None
    # Slot starts: a gap from a call in slot a to one in slot b lasts at most (b - a + 1) half
    # hours; counting the whole slots keeps the silence generous, never too short.
    gap_slots = max(b - a + 1 for a, b in pairwise(slots))
    return CallHabit(call_days, window_days, gap_slots / 2)
