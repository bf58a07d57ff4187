"""A room's unattended light through the day, and which light changes depart from it.

Daylight rises in the morning and fades in the evening with nobody in the room, and with the
30 lux margin alone every such step counts as a sign of life: a person who collapsed in a sunny
room "switched the light on" every morning. The light's course without a person is learned per
local hour from the home's own days: each day keeps the lowest reading of each hour
(``device_daily.light_min``; a lamp switched on mid-hour leaves the dark part), and the course
is a low quantile of those over the learning window, the light of the dull days. A lamp the
person switches on at the same hour every day survives that quantile, so the course is then
made the shape daylight has: it rises to one peak hour (between 09:00, a room facing east, and
16:00, one facing west) and falls after it (a later hour brighter than an earlier one after the
peak is a lamp, cut to the earlier hour's light; the same before the peak), between 05:00 and
20:00 (Seoul's earliest sunrise and latest sunset); outside those hours it is the room's floor,
its darkest hour.

A change then counts as a sign of life when it is larger than the margin AND daylight cannot
explain it: daylight rises only until the hour after the course's peak and falls only from the
hour before it, and a clear day's daylight is at most ``DAYLIGHT_RATIO`` times the dull days'
(above the floor), so a rise is explained up to ``DAYLIGHT_RATIO`` times the daylight the course
has at the new reading's time, a fall up to that times the daylight at the previous reading's
(clouds can come and go between two readings). Two readings more than ``MAX_GAP`` apart are
judged by the margin alone. At night, at dusk and before dawn, where the course has no daylight,
every change beyond the margin counts, as before. Every sign of life under this definition is
one under the margin alone, so the fixed ladder's clock is untouched (the floor guarantee,
docs/detection.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from functools import lru_cache

import numpy as np

from dashboard.settings import LOCAL_TZ

HOURS = 24
NO_LIGHT = 255  # no reading in that hour (the largest byte: a bytewise minimum keeps readings)
MAX_LUX = 100_000.0  # direct sunlight; brighter readings are stored as this
OFFSET_LUX = 10.0  # log(lux + 10): fine steps near darkness without a pole at 0 lux
_LO = math.log(OFFSET_LUX)
UNIT = (math.log(MAX_LUX + OFFSET_LUX) - _LO) / 254  # ≈ 3.7 % of (lux + 10) per byte
MIN_DAYS = 7  # days with a reading in an hour before that hour's course is known
QUANTILE = 0.1  # the dull days with the lamps off
# A clear day's daylight against the course learned from the dull days. The demo's own light has
# a ratio of about 2.7 (clouds take 0–70 % of it); not fitted to any evaluation figure.
DAYLIGHT_RATIO = 3.0
DAYLIGHT_FROM, DAYLIGHT_UNTIL = 5, 20  # local hours: daylight in [05:00, 20:00)
MAX_GAP = timedelta(hours=2)  # readings further apart: the margin alone
# Where a window's brightest hour can be (an east room's morning to a west room's afternoon): a
# brighter hour outside these is a lamp, even in a dark room lit every evening.
PEAK_FROM, PEAK_UNTIL = 9, 17


def lux_byte(lux: float) -> int:
    """The stored byte of one reading: ``log(lux + 10)`` on 0–254."""
    value = min(max(lux, 0.0), MAX_LUX)
    return min(max(round((math.log(value + OFFSET_LUX) - _LO) / UNIT), 0), 254)


def lux_bytes(lux: np.ndarray) -> np.ndarray:
    """:func:`lux_byte` of every reading of an array (uint8; the demo builder's days)."""
    value = np.clip(np.asarray(lux, dtype=float), 0.0, MAX_LUX)
    return np.clip(np.rint((np.log(value + OFFSET_LUX) - _LO) / UNIT), 0, 254).astype(np.uint8)


def encode_days(hours: np.ndarray) -> list[bytes | None]:
    """Rows of (…, 24) hour bytes (``NO_LIGHT`` where unread) as ``light_min`` values, None for
    a day without a reading: the demo builder writes what ingest would have."""
    rows = np.asarray(hours, dtype=np.uint8).reshape(-1, HOURS)
    return [row.tobytes() if (row != NO_LIGHT).any() else None for row in rows]


def byte_lux(q: int) -> float:
    """The lux a byte stands for (the inverse of :func:`lux_byte`, within 2 %)."""
    return math.exp(_LO + q * UNIT) - OFFSET_LUX


def merge_light(old: bytes | None, readings: Mapping[int, int]) -> bytes:
    """``old`` (a stored ``light_min``, or None) with a batch's lowest reading per local hour
    (hour → byte) folded in: each hour keeps the lower of the two, whatever the batches' order."""
    out = bytearray(old[:HOURS]) if old else bytearray([NO_LIGHT] * HOURS)
    for hour, q in readings.items():
        out[hour] = min(out[hour], q)
    return bytes(out)


def learn_light_course(days: Iterable[bytes], quantile: float = QUANTILE) -> bytes | None:
    """The course (24 bytes, ``NO_LIGHT`` where unknown) from stored days' ``light_min``; None
    when no hour has ``MIN_DAYS`` days. Days away count: an empty room shows exactly this."""
    per_hour: list[list[int]] = [[] for _ in range(HOURS)]
    for day in days:
        for hour, q in enumerate(day[:HOURS]):
            if q != NO_LIGHT:
                per_hour[hour].append(q)
    course = bytearray([NO_LIGHT] * HOURS)
    for hour, values in enumerate(per_hour):
        if len(values) >= MIN_DAYS:
            values.sort()
            course[hour] = values[int(quantile * (len(values) - 1))]
    if all(q == NO_LIGHT for q in course):
        return None
    return daylight_shape(bytes(course))


def daylight_shape(course: bytes) -> bytes:
    """The course made daylight's shape: between ``DAYLIGHT_FROM`` and ``DAYLIGHT_UNTIL`` it
    rises to its brightest hour from ``PEAK_FROM`` to ``PEAK_UNTIL`` and falls after it (each
    hour at most its neighbour's on the peak's side: a lamp on at the same hour every day is cut
    away); outside, the floor."""
    out = bytearray(course)
    known = [q for q in course if q != NO_LIGHT]
    if not known:
        return bytes(out)
    floor = min(known)
    for h in range(HOURS):
        if not DAYLIGHT_FROM <= h < DAYLIGHT_UNTIL and out[h] != NO_LIGHT:
            out[h] = floor
    peak = _peak(course)
    if peak is None:
        return bytes(out)
    for order in (range(peak + 1, DAYLIGHT_UNTIL), range(peak - 1, DAYLIGHT_FROM - 1, -1)):
        bound = course[peak]
        for h in order:
            if out[h] != NO_LIGHT:
                out[h] = bound = min(out[h], bound)
    return bytes(out)


def light_departs(
    previous: float,
    previous_at: datetime | None,
    new: float,
    new_at: datetime,
    margin: float,
    course: bytes | None,
) -> bool:
    """Whether a light change between two aware times is a sign of life. Without a course, the
    previous reading's time, or with readings more than ``MAX_GAP`` apart: a change larger than
    the margin (the fixed rule's definition)."""
    change = new - previous
    if abs(change) <= margin:
        return False
    if course is None or previous_at is None or not timedelta(0) <= new_at - previous_at <= MAX_GAP:
        return True
    shape = _shape(course)
    if shape is None:
        return True
    first, last = local_hours(previous_at), local_hours(new_at)
    if change > 0:  # a rise: daylight rises until the hour after its peak
        daylight = shape.daylight(last)
        if daylight is None or last >= shape.peak + 2:
            return True
    else:  # a fall: daylight falls from the hour before its peak
        daylight = shape.daylight(first)
        if daylight is None or first < shape.peak - 1:
            return True
    return abs(change) > DAYLIGHT_RATIO * daylight + margin


class _Shape:
    """A course read for judging: its floor, its peak hour and the daylight above the floor at
    any time of day (interpolated between the hours' middles)."""

    def __init__(self, course: bytes) -> None:
        known = [q for q in course[:HOURS] if q != NO_LIGHT]
        self.floor = byte_lux(min(known))
        self.lux = [None if q == NO_LIGHT else byte_lux(q) for q in course[:HOURS]]
        peak = _peak(course)
        self.peak = -10 if peak is None else peak  # no peak: no rise or fall is daylight's

    def daylight(self, hours: float) -> float | None:
        """Lux above the floor at ``hours`` (local, fractional); None where the course is
        unknown; 0 outside the daylight hours."""
        if not DAYLIGHT_FROM <= hours < DAYLIGHT_UNTIL:
            return 0.0
        left = min(max(int(hours - 0.5), 0), HOURS - 1)
        right = min(left + 1, HOURS - 1)
        a, b = self.lux[left], self.lux[right]
        if a is None or b is None:
            return None
        weight = min(max(hours - 0.5 - left, 0.0), 1.0)
        return max(a + (b - a) * weight - self.floor, 0.0)


def _peak(course: bytes) -> int | None:
    """The brightest known hour from ``PEAK_FROM`` to ``PEAK_UNTIL`` (the earliest of ties)."""
    day = [h for h in range(PEAK_FROM, PEAK_UNTIL) if course[h] != NO_LIGHT]
    return max(day, key=lambda h: course[h]) if day else None


@lru_cache(maxsize=65_536)
def _shape(course: bytes) -> _Shape | None:
    if all(q == NO_LIGHT for q in course[:HOURS]):
        return None
    return _Shape(course)


def local_hours(at: datetime) -> float:
    """The Seoul time of day of an aware time, in hours (Seoul keeps no daylight saving)."""
    local = at.astimezone(LOCAL_TZ)
    return local.hour + local.minute / 60 + local.second / 3600
