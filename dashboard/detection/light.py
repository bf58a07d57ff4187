"""A room's unattended light through the day, and which light changes depart from it.

Daylight rises in the morning and fades in the evening with nobody in the room, and with the
30 lux margin alone every such step counts as a sign of life: a person who collapsed in a sunny
room "switched the light on" every morning. The light's course without a person is learned per
local hour from the home's own days: each day keeps the lowest reading of each hour
(``device_daily.light_min``; a lamp switched on mid-hour leaves the dark part), and the course
is a low quantile of those over the learning window, the light of the dull days with the lamps
off. A change then counts as a sign of life when it is larger than the margin AND is not
something daylight does between the two readings' hours. Daylight changes only between 05:00 and
20:00 (Seoul's earliest sunrise and latest sunset), rises only until about 13:00 and falls only
from about 12:00 (solar noon in Seoul is 12:15–12:50), moves the way the course moves, and at
most ``DAYLIGHT_RATIO`` times as far (a clear day is brighter than the dull days the course is
learned from, but a lamp switched on in the morning moves the light further still). So a lamp
the person switches on every evening is a sign of life even though the course has learned it,
and at night every change beyond the margin counts, as before. Every sign of life under this
definition is one under the margin alone, so the fixed ladder's clock is untouched (the floor
guarantee, docs/detection.md).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime

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
DAYLIGHT_FROM, DAYLIGHT_UNTIL = 5, 20  # local hours: daylight changes in [05:00, 20:00)
RISES_UNTIL, FALLS_FROM = 13, 12  # local hours: a rise ends by 13:59, a fall starts at 12:00


def lux_byte(lux: float) -> int:
    """The stored byte of one reading: ``log(lux + 10)`` on 0–254."""
    value = min(max(lux, 0.0), MAX_LUX)
    return min(max(round((math.log(value + OFFSET_LUX) - _LO) / UNIT), 0), 254)


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
    return bytes(course) if any(q != NO_LIGHT for q in course) else None


def light_departs(
    previous: float,
    previous_at: datetime | None,
    new: float,
    new_at: datetime,
    margin: float,
    course: bytes | None,
) -> bool:
    """Whether a light change between two aware times is a sign of life. Without a course, the
    previous reading's time or the course at either hour: a change larger than the margin (the
    fixed rule's definition)."""
    change = new - previous
    if abs(change) <= margin:
        return False
    if course is None or previous_at is None:
        return True
    first, last = hour_of(previous_at), hour_of(new_at)
    if not (DAYLIGHT_FROM <= first < DAYLIGHT_UNTIL and DAYLIGHT_FROM <= last < DAYLIGHT_UNTIL):
        return True
    if (change > 0 and last > RISES_UNTIL) or (change < 0 and first < FALLS_FROM):
        return True  # daylight does not rise in the afternoon nor fall in the morning
    a, b = course[first], course[last]
    if a == NO_LIGHT or b == NO_LIGHT:
        return True
    daylight = byte_lux(b) - byte_lux(a)
    if change * daylight <= 0:  # against the course, or the course is flat
        return True
    return abs(change) > DAYLIGHT_RATIO * abs(daylight) + margin


def hour_of(at: datetime) -> int:
    """The Seoul hour of an aware time (Seoul keeps no daylight saving)."""
    return at.astimezone(LOCAL_TZ).hour
