"""The light's unattended course (dashboard.detection.light): daylight is not a sign of life, a
lamp is; the course is learned from the days' lowest light per hour; and the whole path
(ingest → daily learning → ingest) on SQLite and PostgreSQL."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection import learning, light
from dashboard.detection.background import Background
from dashboard.detection.learning import learn_routines
from dashboard.detection.light import (
    NO_LIGHT,
    byte_lux,
    daylight_shape,
    learn_light_course,
    light_departs,
    lux_byte,
    merge_light,
)
from dashboard.ingest import ingest_events
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import DaySignals, Margins, _State, merge_state
from dashboard.replay import read_recording, replay
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog
from tests.replay_support import write_csv

MARGIN = 30.0


def at(hour: int, minute: int = 0, day: date = date(2026, 11, 2)) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def daylight(hour: float, window: float = 300.0, cloud: float = 1.0) -> float:
    """An empty room's light: a lamp-less 1.5 lux plus the window's daylight."""
    return 1.5 + window * cloud * max(math.sin(math.pi * (hour - 6.5) / 12.5), 0.0)


def course_of(cloud: float = 0.35, lamp: dict[int, float] | None = None) -> bytes:
    """The course learned from dull days' daylight (each hour's lowest reading is taken at its
    start), with a lamp on at the same hours every day when ``lamp`` is given."""
    lamp = lamp or {}
    day = bytes(lux_byte(daylight(h, cloud=cloud) + lamp.get(h, 0.0)) for h in range(24))
    course = learn_light_course([day] * light.MIN_DAYS)
    assert course is not None
    return course


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
    # the lamp on every evening is cut away: daylight only falls after its peak
    assert course[18] <= course[17] and byte_lux(course[18]) < 60
    assert course[21] == course[2] == min(course)  # outside the daylight hours: the floor
    assert learn_light_course(days[:6]) is None  # no hour has seven days
    six_afternoons = learn_light_course(days[:6] + days[7:])
    assert six_afternoons is not None and six_afternoons[15] == NO_LIGHT  # 6 days at 15:00
    assert six_afternoons[9] != NO_LIGHT  # 9 days at 09:00


def test_the_course_takes_daylights_shape():
    raw = bytearray(lux_byte(v) for v in [2, 2, 2, 2, 2, 2, 150, 150, 40, 80, 120, 160])
    raw += bytearray(lux_byte(v) for v in [170, 150, 120, 90, 60, 30, 200, 200, 200, 200, 2, 2])
    shaped = daylight_shape(bytes(raw))
    assert shaped[12] == lux_byte(170)  # the peak stays
    assert shaped[6] == shaped[7] == lux_byte(40)  # an early riser's lamp: cut to 08:00's light
    assert shaped[18] == shaped[19] == lux_byte(30)  # the evening lamp: cut to 17:00's light
    assert shaped[20] == shaped[0] == lux_byte(2)  # after 20:00: the floor
    # a dark room lit brighter every evening than by its window keeps its window's peak
    dark = bytearray([lux_byte(2)] * 24)
    dark[11:15] = bytes([lux_byte(25)] * 4)
    dark[18:22] = bytes([lux_byte(180)] * 4)
    assert max(byte_lux(q) for q in daylight_shape(bytes(dark))) < 30


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
    # within an hour at night (no daylight)
    assert light_departs(2.0, at(21, 10), 120.0, at(21, 40), MARGIN, course)
    # a minute apart across an hour in the dull morning: daylight cannot add 150 lux
    assert light_departs(30.0, at(7, 59), 180.0, at(8, 0), MARGIN, course)
    # ... but in a bright room (a 1,000-lux window) the same lamp hides in the morning's rise
    bright = course_of(lamp={h: daylight(h, window=1_000.0, cloud=0.35) for h in range(24)})
    assert not light_departs(150.0, at(8, 59), 300.0, at(9, 0), MARGIN, bright)
    # the sun coming out after the peak counts (a false sign of life, the documented cost)
    assert light_departs(
        daylight(15, cloud=0.3), at(15), daylight(16, cloud=1.0), at(16), MARGIN, course
    )
    # two readings more than two hours apart: the margin alone
    assert light_departs(daylight(8), at(8), daylight(11), at(11), MARGIN, course)
    # no previous time (a row stored before last_lux_at) or an hour without a course: the margin
    assert light_departs(daylight(8), None, daylight(9), at(9), MARGIN, course)
    holes = bytearray(course)
    holes[9] = NO_LIGHT
    assert light_departs(daylight(8), at(8), daylight(9), at(9), MARGIN, bytes(holes))
    # never below the margin
    assert not light_departs(2.0, at(22), 31.0, at(23), MARGIN, course)


def test_a_lamp_on_every_evening_does_not_turn_the_dusk_into_life():
    """The course learns a lamp the person switches on at 18:00 every day; an empty room's
    fading daylight (with the lamp left on, too) is still no sign of life, and the lamp
    switched on or off at its usual hour still is one."""
    course = course_of(lamp={18: 180.0, 19: 180.0, 20: 180.0, 21: 180.0})
    for lamp in (0.0, 180.0):
        fade = (daylight(16) + lamp, daylight(17) + lamp, daylight(18) + lamp)
        assert not light_departs(fade[0], at(16), fade[1], at(17), MARGIN, course)
        assert not light_departs(fade[1], at(17), fade[2], at(18), MARGIN, course)
    assert light_departs(
        daylight(17, 0.6), at(17, 20), daylight(18, 0.6) + 180, at(18, 20), MARGIN, course
    )
    assert light_departs(daylight(17) + 180, at(17, 20), daylight(18), at(18, 20), MARGIN, course)


def test_an_early_risers_lamp_is_life_and_a_west_room_is_daylight():
    # winter: dark until 08:00, a lamp from 06:00 to 08:00 every day, then a dull daylight
    winter = [2.0] * 6 + [152.0, 152.0, 20.0, 50.0, 80.0, 100.0, 110.0, 100.0, 80.0, 50.0]
    winter += [20.0] + [2.0] * 7
    early = learn_light_course([bytes(lux_byte(v) for v in winter)] * light.MIN_DAYS)
    assert early is not None and byte_lux(early[6]) < 25
    assert light_departs(2.0, at(5, 20), 152.0, at(6, 20), MARGIN, early)
    # a room facing west: sun from 14:00 to 18:30; its afternoon rise is daylight
    west = course_of(lamp={14: 100.0, 15: 250.0, 16: 350.0, 17: 200.0})
    assert not light_departs(
        daylight(15) + 250, at(15, 20), daylight(16) + 500, at(16, 20), MARGIN, west
    )


def _lux_events(readings: list[tuple[int, float]]) -> list[ValidEvent]:
    start = at(0, 0).astimezone(UTC)
    return [
        ValidEvent(k, f"l{k}", "plug", start + timedelta(minutes=m), "lux", v, None, {"lux": v})
        for k, (m, v) in enumerate(readings)
    ]


@given(
    st.lists(st.tuples(st.integers(0, 3 * 24 * 60), st.floats(0, 2_000)), min_size=1, max_size=40),
    st.lists(st.integers(0, 255), min_size=24, max_size=24),
)
def test_the_course_only_hides_light_changes_the_margin_counts(readings, course):
    """The floor's half for light, through ingest's merge: with any course, the fixed ladder's
    clock is the same as without, and every half-hour with a sign of life is one without."""
    events = _lux_events(readings)
    margins = Margins(power_w=5.0, lux=MARGIN, min_answered_s=10.0)
    with_course = Background(0.0, 10.0, 1.0, 3, bytes(course))
    days_a: dict = {}
    days_b: dict = {}
    a = merge_state(_State(), events, margins, with_course, days_a)
    b = merge_state(_State(), events, margins, None, days_b)
    assert a.last_change_at == b.last_change_at
    assert a.last_lux_at == b.last_lux_at == max(e.ts for e in events)
    assert (a.last_activity_at is None) or (
        b.last_activity_at is not None and a.last_activity_at <= b.last_activity_at
    )
    for day, signals in days_a.items():
        other = days_b.get(day, DaySignals())
        assert signals.slots & ~other.slots == 0
        assert signals.changes == other.changes


def _room(start: datetime, days: int, collapse: datetime) -> list[tuple]:
    """Half-hourly power and hourly light of a fridge home whose person switches a lamp on from
    18:00 to 22:00 every evening and watches TV; after ``collapse`` (with the lamp left on)
    only the fridge and the fading and rising daylight change."""
    clouds = [0.3, 0.9, 0.5, 1.0, 0.4, 0.7, 0.35, 0.8, 0.6, 0.45] * 3
    clouds[19] = clouds[20] = 1.0  # clear days after the collapse: daylight climbs 70 lux an hour
    rows = []
    for k in range(days * 48):
        ts = start + timedelta(minutes=30 * k)
        there = ts < collapse
        tv = 350.0 if there and 15 <= ts.hour * 2 + ts.minute // 30 <= 43 and k % 3 == 0 else 0.0
        lamp = 180.0 if not there or 18 <= ts.hour < 22 else 0.0
        hour = ts.hour + ts.minute / 60
        lux = (
            round(daylight(hour, cloud=clouds[(ts - start).days]) + lamp, 1)
            if ts.minute == 0
            else ""
        )
        rows.append(("room", ts.isoformat(), (125.0 if k % 2 else 45.0) + tv, lux))
    return rows


@pytest.mark.timeout(600)
def test_an_empty_rooms_dusk_does_not_close_its_alert_and_replay_agrees(tmp_path, monkeypatch):
    """21 days of a home whose lamp is on every evening; the person collapses at 21:15 with
    the lamp on. The alert that opens is not closed by the next evenings' fading daylight, the
    shortcut replay gives the real steps' transitions, and without the course it would close."""
    start = datetime(2024, 3, 1, tzinfo=LOCAL_TZ)
    collapse = start + timedelta(days=18, hours=21, minutes=15)
    src = write_csv(
        tmp_path / "room.csv", ("device_id", "ts", "watts", "lux"), _room(start, 21, collapse)
    )
    recording = read_recording(src, "plug", LOCAL_TZ, None)
    fast = replay(recording, tick_min=10).transitions
    assert fast == replay(recording, tick_min=10, exact=True).transitions
    plug = [t for t in fast if t.rule == "plug_no_change"]
    assert plug and plug[0].stage == "attention" and plug[0].at > collapse
    assert all(t.stage is not None for t in plug), plug  # never closed by the dusk
    monkeypatch.setattr(learning, "learn_light_course", lambda days: None)
    margin_only = [
        t for t in replay(recording, tick_min=10).transitions if t.rule == "plug_no_change"
    ]
    # the margin alone: the clear morning's daylight hides the stop until 14:30, and the
    # afternoon's fading daylight closes that alert as "a sign of life"
    assert margin_only[0].at > plug[0].at + timedelta(hours=4)
    assert any(t.stage is None for t in margin_only), margin_only


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


def test_the_demo_builders_bytes_are_ingests():
    """The vectorised encoding the demo builder stores agrees with ingest's, reading by
    reading, and a day without a reading is None."""
    import numpy as np

    lux = np.concatenate([np.linspace(0, 2_000, 4_000), [1e6, -3.0, 0.05, 99_999.9]])
    assert light.lux_bytes(lux).tolist() == [lux_byte(float(v)) for v in lux]
    hours = np.full((2, 24), NO_LIGHT, dtype=np.uint8)
    hours[1, 7] = lux_byte(120.0)
    assert light.encode_days(hours) == [None, bytes(hours[1])]
