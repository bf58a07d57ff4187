"""The light's unattended course (dashboard.detection.light): daylight is not a sign of life, a
lamp is; the course is learned from the days' lowest light per hour; and the whole path
(ingest → daily learning → ingest) on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection import light
from dashboard.detection.learning import learn_routines
from dashboard.detection.light import (
    NO_LIGHT,
    byte_lux,
    learn_light_course,
    light_departs,
    lux_byte,
    merge_light,
)
from dashboard.ingest import ingest_events
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

MARGIN = 30.0


def at(hour: int, minute: int = 0, day: date = date(2026, 11, 2)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def daylight(hour: float, window: float = 300.0, cloud: float = 1.0) -> float:
    """An empty room's light: a lamp-less 1.5 lux plus the window's daylight."""
    return 1.5 + window * cloud * max(math.sin(math.pi * (hour - 6.5) / 12.5), 0.0)


def course_of(cloud: float = 0.35) -> bytes:
    """The course a dull day's daylight gives, as learned."""
    return bytes(lux_byte(daylight(h, cloud=cloud)) for h in range(24))


def test_bytes_round_trip_within_four_percent():
    for lux in (0.0, 1.5, 30.0, 250.0, 1_000.0, 40_000.0, 100_000.0):
        assert abs(byte_lux(lux_byte(lux)) - lux) <= 0.04 * (lux + light.OFFSET_LUX)
    assert lux_byte(-5) == 0 and lux_byte(1e9) == 254 < NO_LIGHT


def test_a_day_keeps_each_hours_lowest_light_whatever_the_batches_order():
    first, second = {7: lux_byte(100.0), 19: lux_byte(5.0)}, {7: lux_byte(20.0), 8: lux_byte(60)}
    one = merge_light(merge_light(None, first), second)
    other = merge_light(merge_light(None, second), first)
    assert one == other and len(one) == 24
    assert one[7] == lux_byte(20.0) and one[8] == lux_byte(60) and one[19] == lux_byte(5.0)
    assert one[0] == NO_LIGHT


def test_the_course_is_the_dull_days_light_and_needs_seven_days_an_hour():
    clouds = [0.3 + 0.07 * k for k in range(10)]  # dull to clear days
    days = []
    for k, cloud in enumerate(clouds):
        day = bytearray([NO_LIGHT] * 24)
        for h in range(24 if k < 7 else 12):  # three days read only the morning
            day[h] = lux_byte(daylight(h, cloud=cloud) + (200.0 if h >= 18 else 0.0))
        days.append(bytes(day))
    course = learn_light_course(days)
    assert course is not None
    assert byte_lux(course[12]) < daylight(12, cloud=0.4)  # the dull days' noon, not the mean
    assert byte_lux(course[20]) > 150  # a lamp on every evening is part of the room's evening
    assert learn_light_course(days[:6]) is None  # no hour has seven days
    six_afternoons = learn_light_course(days[:6] + days[7:])
    assert six_afternoons is not None and six_afternoons[15] == NO_LIGHT  # 6 days at 15:00
    assert six_afternoons[9] != NO_LIGHT  # 9 days at 09:00


def test_daylight_is_not_a_sign_of_life_even_on_a_clear_day():
    course = course_of()
    for hour in range(6, 20):
        before, after = daylight(hour), daylight(hour + 1)  # a clear day: 3 × the course
        assert not light_departs(before, at(hour), after, at(hour + 1), MARGIN, course), hour
        # the same on a mid-grey day, and with a lamp left on all day
        grey_a, grey_b = daylight(hour, cloud=0.6), daylight(hour + 1, cloud=0.6)
        assert not light_departs(grey_a, at(hour), grey_b, at(hour + 1), MARGIN, course)
        lamp_a, lamp_b = 200 + before, 200 + after
        assert not light_departs(lamp_a, at(hour), lamp_b, at(hour + 1), MARGIN, course)
    # ... but with the margin alone, the morning's rise is a "sign of life"
    assert light_departs(daylight(8), at(8), daylight(9), at(9), MARGIN, None)


def test_a_lamp_is_a_sign_of_life_at_any_hour():
    course = course_of()
    # switched on as daylight fades, switched off at night, switched on in the morning's rise
    assert light_departs(daylight(18), at(18), daylight(19) + 150, at(19), MARGIN, course)
    assert light_departs(180.0, at(22), 2.0, at(23), MARGIN, course)
    assert light_departs(daylight(7), at(7), daylight(8) + 250, at(8), MARGIN, course)
    # switched off in daylight's rise: against the course
    assert light_departs(daylight(8) + 150, at(8), daylight(9), at(9), MARGIN, course)
    # within an hour at night (the course flat)
    assert light_departs(2.0, at(21, 10), 120.0, at(21, 40), MARGIN, course)
    # no previous time (a row stored before last_lux_at) or an hour without a course: the margin
    assert light_departs(daylight(8), None, daylight(9), at(9), MARGIN, course)
    holes = bytearray(course)
    holes[9] = NO_LIGHT
    assert light_departs(daylight(8), at(8), daylight(9), at(9), MARGIN, bytes(holes))
    # never below the margin
    assert not light_departs(2.0, at(22), 31.0, at(23), MARGIN, course)


@given(
    st.floats(0, 5_000),
    st.floats(0, 5_000),
    st.integers(0, 23),
    st.integers(0, 23),
    st.lists(st.integers(0, 255), min_size=24, max_size=24),
)
def test_every_light_sign_of_life_is_one_under_the_margin_alone(a, b, ha, hb, course):
    """The floor guarantee's half for light: the course only ever hides changes."""
    if light_departs(a, at(ha), b, at(hb), MARGIN, bytes(course)):
        assert light_departs(a, at(ha), b, at(hb), MARGIN, None)


# --- the whole path on the database ----------------------------------------------------------

DAY0 = date(2026, 10, 1)
CLOUDS = [0.3, 0.9, 0.5, 1.0, 0.4, 0.7, 0.35, 0.8, 0.6, 0.45] * 2 + [1.0]  # day 20: clear


def home_day(d: int, lamp: bool = True, until: datetime | None = None) -> list[dict]:
    """A fridge-plug home with a light sensor, hourly at :20: the fridge cycles 45↔125 W, a TV
    (+300 W) is on 08–10 and 19–21, a lamp (+180 lux) from 18 to 22; daylight with the day's
    cloud. After ``until`` the person is gone: fridge and daylight only."""
    day = DAY0 + timedelta(days=d)
    out = []
    for hour in range(24):
        ts = at(hour, 20, day)
        there = until is None or ts < until
        tv = there and (8 <= hour < 10 or 19 <= hour < 21)
        watts = (125.0 if hour % 2 else 45.0) + (300.0 if tv else 0.0)
        lux = daylight(hour + 1 / 3, cloud=CLOUDS[d]) + (
            180.0 if lamp and there and hour >= 18 and hour < 22 else 0.0
        )
        for kind, value in (("power", watts), ("lux", round(lux, 1))):
            out.append(
                {
                    "event_id": f"{kind}-{d:02d}-{hour:02d}",
                    "device_id": "plug-1",
                    "ts": ts.isoformat(),
                    "type": kind,
                    kind if kind == "lux" else "watts": value,
                }
            )
    return out


def test_an_empty_sunny_room_keeps_its_silence_and_a_lamp_breaks_it(db_engine):
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    for d in range(20):
        day = DAY0 + timedelta(days=d)
        with db_engine.begin() as conn:
            ingest_events(conn, VENDOR, home_day(d), now=at(0, 5, day + timedelta(days=1)))
            learn_routines(conn, at(0, 10, day + timedelta(days=1)).astimezone(UTC))
    with db_engine.connect() as conn:
        stored = conn.execute(
            select(DeviceDaily.light_min).where(
                DeviceDaily.device_id == plug, DeviceDaily.day == DAY0 + timedelta(days=3)
            )
        ).scalar_one()
        course = conn.execute(
            select(DeviceRoutine.light_course).where(DeviceRoutine.device_id == plug)
        ).scalar_one()
    assert stored[12] == lux_byte(round(daylight(12 + 1 / 3, cloud=CLOUDS[3]), 1))
    assert course is not None and len(course) == 24
    assert byte_lux(course[12]) < daylight(12 + 1 / 3, cloud=0.45)

    # Day 20, a clear day (daylight climbs by up to 70 lux an hour): the person is gone from 07:00
    d = 20
    gone = at(7, 0, DAY0 + timedelta(days=d))
    events = [
        e
        for e in home_day(d, until=gone)
        if datetime.fromisoformat(e["ts"]) < at(17, 0, gone.date())
    ]
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, events, now=at(17, 0, gone.date()))
        state = conn.execute(select(DeviceState).where(DeviceState.device_id == plug)).one()
    assert state.last_activity_at < gone  # daylight from 07:20 to 16:20: no sign of life
    assert state.last_change_at > gone + timedelta(hours=2)  # the fixed clock counts it
    assert state.last_lux_at == at(16, 20, gone.date())
    # ... and the lamp switched on at 18:20, as on every evening the course learned, is one
    lamp = {
        "event_id": "lamp",
        "device_id": "plug-1",
        "ts": at(18, 20, gone.date()).isoformat(),
        "type": "lux",
        "lux": round(daylight(18 + 1 / 3, cloud=CLOUDS[d]) + 180.0, 1),
    }
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, [lamp], now=at(18, 21, gone.date()))
        state = conn.execute(select(DeviceState).where(DeviceState.device_id == plug)).one()
    assert state.last_activity_at == at(18, 20, gone.date())
