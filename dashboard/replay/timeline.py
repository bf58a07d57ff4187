"""The simulated clock: every moment at which the product would do something.

A moment is a time at which readings arrive (each reading is received at its own time, as a
live feed would deliver it), the rule worker ticks (every ``tick`` on a grid from Asia/Seoul
midnight, so ticks fall on the same wall-clock minutes every day), or both. Seoul midnights are
also the worker's day boundaries, where its daily jobs run after the tick; a tick length must
divide a day so that each boundary is a tick. The clock runs from the first reading to the last.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, time, timedelta
from typing import NamedTuple

from dashboard.settings import LOCAL_TZ

DAY = timedelta(days=1)


class Moment(NamedTuple):  # a tuple: a year has 52,560 of them, built faster than a dataclass
    at: datetime
    start: int  # readings[start:end] arrive at this moment (empty when start == end)
    end: int
    tick: bool  # the rule worker ticks
    day: bool  # a Seoul midnight: the worker's daily jobs run (always a tick too)


def check_tick(minutes: int) -> timedelta:
    """The tick length; ``ValueError`` unless a whole number of minutes that divides a day."""
    if minutes < 1 or (24 * 60) % minutes:
        raise ValueError(
            f"--tick-min must be a number of minutes that divides a day "
            f"(1, 2, 5, 10, 15, 30, 60, …); got {minutes}"
        )
    return timedelta(minutes=minutes)


def moments(times: Sequence[datetime], tick: timedelta) -> Iterator[Moment]:
    """The moments from ``times[0]`` to ``times[-1]`` (sorted aware times of the readings)."""
    if not times:
        return
    first, last = times[0], times[-1]
    midnight = datetime.combine(first.astimezone(LOCAL_TZ).date(), time(0), LOCAL_TZ)
    k = -((midnight - first) // tick)  # the first tick at or after `first` is midnight + k·tick
    per_day = DAY // tick
    # The grid counted in Seoul's wall clock, stamped in UTC like every time the product passes
    # around (``dashboard.clock``; comparing times of one zone also skips the zone's offsets).
    grid = (midnight + k * tick).astimezone(UTC)
    i, n = 0, len(times)
    while i < n or grid <= last:
        if i < n and (grid > last or times[i] < grid):
            at, is_tick, day = times[i], False, False
        else:
            at, is_tick, day = grid, True, k % per_day == 0 and grid > first
            k += 1
            grid = (midnight + k * tick).astimezone(UTC)
        start = i
        while i < n and times[i] == at:
            i += 1
        yield Moment(at, start, i, is_tick, day)
