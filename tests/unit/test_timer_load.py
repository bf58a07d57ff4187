"""A timed night load (Economy 7 heating): learned from the stored half-hour levels, judged by
time of day (``detection.timer_load``, ``detection.background.departs``)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection.background import Background, departs, learn_background
from dashboard.detection.levels import encode_days, level_byte
from dashboard.detection.routine import Routine, learn_routine, score_quiet
from dashboard.detection.timer_load import (
    TimerLoad,
    carry_timer,
    judged_with_timer,
    learn_timer_load,
)
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, _State, _timer, merge_state
from dashboard.rules.config import Thresholds
from dashboard.rules.plug import routine_stage
from dashboard.settings import LOCAL_TZ

DAY0 = date(2026, 7, 1)
MARGIN = 5.0


def e7_day(rng: np.random.Generator, person: bool = True) -> np.ndarray:
    """48 half-hour watts of an Economy 7 home (London MAC000003 in December): a 2.8 kW water
    heater 00:00–01:30, storage heaters cycling 160 ↔ 900 W until 07:00, by day a 150 W base and,
    with someone home, their switching (kettle, TV, cooker: 100–600 W)."""
    w = np.full(48, 150.0) + rng.normal(0, 8, 48)
    w[0:3] = 2800 + rng.normal(0, 30, 3)
    heaters = np.cumsum(rng.random(11) < 0.75) % 2 == 1  # the thermostats switch most half-hours
    w[3:14] = np.where(heaters, 900.0, 160.0) + rng.normal(0, 20, 11)
    if person:
        on = rng.random(48) < 0.12  # a few switchings an hour or two apart
        on[:15] = False  # asleep until 07:30
        w = w + np.where(on, rng.uniform(100, 600, 48), 0.0)
    return w


def fridge_day(rng: np.random.Generator, person: bool = True) -> np.ndarray:
    """A plain home: a fridge (half-hour means 60–100 W), and by day a TV."""
    w = 80 + rng.normal(0, 10, 48)
    if person:
        w[36:45] += 120  # TV 18:00–22:30
    return w


def stored(days: list[np.ndarray], first: date = DAY0) -> dict[date, bytes]:
    """``level_slots`` as ingest stores them for a half-hourly meter: one reading a half-hour."""
    levels = np.array([[round(level_byte(x)) for x in day] for day in days])
    blobs = encode_days(levels, np.ones_like(levels))
    return {first + timedelta(days=k): b for k, b in enumerate(blobs) if b is not None}


def nights(days: list[np.ndarray]) -> list[tuple[float, float, float]]:
    return [
        (float(d[2:10].min()), float(d[2:10].max()), float(np.abs(np.diff(d[2:10])).max()))
        for d in reversed(days)
    ]


def e7_background(seed: int = 1) -> Background:
    rng = np.random.default_rng(seed)
    days = [e7_day(rng) for _ in range(28)]
    bg = learn_background(nights(days))
    assert bg is not None
    return replace(bg, timer=learn_timer_load(stored(days)))


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 7, 29, hour, minute, tzinfo=LOCAL_TZ)


def test_the_timer_half_hours_are_found_on_an_economy_7_home():
    timer = e7_background().timer
    assert timer is not None
    found = [s for s in range(48) if timer.is_night_slot(s)]
    # 00:00–07:00 and the switch off into 07:00; the day from 07:30 is the person's
    assert set(range(0, 14)) <= set(found) and max(found) <= 15
    assert timer.high_w < 400 and timer.step_w < 200


def test_a_kettle_by_day_counts_in_an_economy_7_home():
    bg = e7_background()
    assert bg.high_w > 2500  # the nights alone would hide it...
    assert not departs(160, 460, MARGIN, bg)  # ...as they did, judged without the time
    assert departs(160, 460, MARGIN, bg, at(12))  # a 300 W kettle at noon
    assert departs(460, 160, MARGIN, bg, at(12, 30))  # and off
    assert not departs(160, 163, MARGIN, bg, at(12))  # the floor margin still holds


def test_the_heaters_own_switching_does_not_count():
    bg = e7_background()
    assert not departs(150, 2800, MARGIN, bg, at(0))  # the water heater's 00:00 switch
    assert not departs(2800, 900, MARGIN, bg, at(1, 30))  # its end
    assert not departs(900, 160, MARGIN, bg, at(3, 30))  # the heaters' thermostat
    assert not departs(160, 900, MARGIN, bg, at(4))
    assert departs(160, 6000, MARGIN, bg, at(3))  # above anything the night does


def test_a_home_without_a_timed_load_keeps_its_night_background():
    rng = np.random.default_rng(2)
    days = [fridge_day(rng) for _ in range(28)]
    assert learn_timer_load(stored(days)) is None
    # its background is exactly the old one: judged the same at any hour
    bg = learn_background(nights(days))
    for previous, new in ((80, 200), (200, 80), (60, 95), (80, 0)):
        assert departs(previous, new, MARGIN, bg, at(19)) == departs(previous, new, MARGIN, bg)


def test_a_fridge_home_back_from_hospital_has_no_timed_load():
    """Review failure 3: 16 days away (only the fridge) and 12 at home look like a quiet home,
    not a timed load; the fridge's cycling stays background after a collapse."""
    rng = np.random.default_rng(3)
    days = [fridge_day(rng, person=k >= 16) for k in range(28)]
    assert learn_timer_load(stored(days)) is None


def test_too_few_days_or_an_hourly_plug():
    rng = np.random.default_rng(4)
    assert learn_timer_load(stored([e7_day(rng) for _ in range(5)])) is None
    hourly = [e7_day(rng) for _ in range(28)]
    for d in hourly:  # an hourly plug: every other half-hour without a reading
        d[1::2] = np.nan
    levels = np.array([[255 if np.isnan(x) else round(level_byte(x)) for x in d] for d in hourly])
    blobs = encode_days(levels, (levels != 255).astype(int))
    timer = learn_timer_load({DAY0 + timedelta(days=k): b for k, b in enumerate(blobs)})
    assert timer is not None and all(timer.is_night_slot(s) for s in range(0, 10))


def test_the_timer_travels_in_the_routines_json_and_to_ingest():
    bg = e7_background()
    routine = learn_routine({DAY0: 1}, DAY0 + timedelta(days=1), background=bg)
    text = routine.to_json()
    again = Routine.from_json(text).background
    assert again is not None and again.timer is not None and bg.timer is not None
    assert again.timer.night_slots == bg.timer.night_slots
    assert again.timer.high_w == pytest.approx(bg.timer.high_w, abs=0.01)
    assert _timer(text) == again.timer


def test_a_plain_routines_json_carries_no_timer():
    plain = learn_routine({DAY0: 1}, DAY0, background=Background(40, 130, 90, 9)).to_json()
    assert '"timer"' not in plain and _timer(plain) is None


def _readings(watts: list[tuple[datetime, float]]) -> list[ValidEvent]:
    return [
        ValidEvent(k, f"p{k}", "plug", ts.astimezone(UTC), "power", w, None, {"watts": w})
        for k, (ts, w) in enumerate(watts)
    ]


def test_a_collapsed_person_beside_the_heaters_stays_quiet_at_night():
    """Review failure 2: with the person collapsed, the heaters' night steps and the day's flat
    base are no sign of life, night after night; the person's day before is one."""
    bg = e7_background()
    rng = np.random.default_rng(5)
    start = datetime(2026, 7, 29, tzinfo=LOCAL_TZ)
    alive = e7_day(rng)
    collapsed = [e7_day(rng, person=False) for _ in range(3)]
    series = [
        (start + timedelta(minutes=30 * k), float(w))
        for k, w in enumerate(np.concatenate([alive, *collapsed]))
    ]
    margins = Margins(power_w=MARGIN, lux=30.0, min_answered_s=10.0)
    state = merge_state(_State(), _readings(series), margins, bg)
    last = state.last_activity_at
    assert last is not None and last < start + timedelta(days=1)  # the living day counted
    # without the time of day (the night background at every hour) that day was silent
    plain = merge_state(_State(), _readings(series), margins, replace(bg, timer=None))
    assert plain.last_activity_at is None or plain.last_activity_at < last


@given(
    st.lists(st.floats(0, 6000, allow_nan=False), min_size=2, max_size=40),
    st.integers(0, 47),
    st.integers(0, (1 << 48) - 1),
    st.floats(0, 500),
    st.floats(0, 300),
)
@settings(max_examples=200, deadline=None)
def test_the_floor_guarantee_holds_by_time_of_day(watts, slot, mask, high, step):
    """Every sign of life against a timed load is one for the fixed rule (the 5 W margin)."""
    levels = tuple(float(s * 40) for s in range(48))
    timer = TimerLoad(10.0, high, step, mask, levels, levels)
    bg = Background(100.0, 3000.0, 2000.0, 9, timer=timer)
    when = at(slot // 2, 30 * (slot % 2))
    for previous, new in pairwise(watts):
        if departs(previous, new, MARGIN, bg, when):
            assert departs(previous, new, MARGIN, None)


# --- the switch: the day the timer is first found, and a day it is not found again -----------


def test_a_timer_found_again_keeps_its_first_day_and_one_not_found_is_kept_a_while():
    timer = e7_background().timer
    assert timer is not None
    first = carry_timer(None, timer, DAY0)
    assert first is not None and first.since == DAY0 and first.seen == DAY0
    again = carry_timer(first, timer, DAY0 + timedelta(days=5))
    assert again is not None and again.since == DAY0 and again.seen == DAY0 + timedelta(days=5)
    assert carry_timer(again, None, DAY0 + timedelta(days=18)) == again  # a mild spell
    assert carry_timer(again, None, DAY0 + timedelta(days=19)) is None  # gone for good


def test_the_day_the_timer_is_found_a_living_person_raises_nothing():
    """Review failure 1: before the timer was known, a winter night's 4 kW floor left every
    change by day to the margin alone (and the timer's own switch counted at 00:00 and 07:00):
    the stored days are dense. Judged with the timer, a living person reading from 12:00 to
    15:00 shows no sign; scored against those dense days that is an alert (관심). The days
    before the timer are dropped: the routine is not usable until it has ``min_days`` again."""
    switch = date(2026, 12, 1)
    dense = 1 | 1 << 14 | bits_between(16, 43)
    stored_days = {switch - timedelta(days=k): dense for k in range(1, 29)}
    timer = carry_timer(None, e7_background().timer, switch)
    bg = replace(e7_background(), timer=timer)
    cfg = Thresholds().plug_routine
    since = datetime(2026, 12, 1, 12, 0, tzinfo=LOCAL_TZ)
    now = datetime(2026, 12, 1, 15, 0, tzinfo=LOCAL_TZ)
    as_stored = learn_routine(stored_days, switch, background=bg)
    assert routine_stage(score_quiet(as_stored, since, now, LOCAL_TZ), cfg) is not None
    judged = learn_routine(judged_with_timer(stored_days, timer), switch, background=bg)
    assert len(judged.reference_days) < cfg.min_days  # not scored: the ladder and the net watch
    later = carry_timer(timer, e7_background().timer, switch + timedelta(days=20))
    assert later is not None and later.since == switch  # and the clean days count again


def bits_between(first: int, last: int) -> int:
    return sum(1 << j for j in range(first, last + 1))


def test_ingest_reads_the_timer_only_of_the_homes_that_have_one(db_engine):
    from sqlalchemy import insert

    from dashboard.db.schema import DeviceRoutine
    from dashboard.ingest.state import load_backgrounds
    from tests.ingest_support import seed_catalog

    with db_engine.begin() as conn:
        seed_catalog(conn)
        ids = [i for (i,) in conn.exec_driver_sql("SELECT id FROM devices ORDER BY id LIMIT 2")]
        timed, plain = e7_background(), Background(40, 130, 90, 9)
        for device_id, bg in zip(ids, (timed, plain), strict=True):
            routine = learn_routine({DAY0: 1}, DAY0 + timedelta(days=1), background=bg)
            conn.execute(
                insert(DeviceRoutine).values(
                    device_id=device_id,
                    learned_on=DAY0,
                    reference_days=1,
                    model=routine.to_json(),
                    background_low_w=bg.low_w,
                    background_high_w=bg.high_w,
                    background_step_w=bg.step_w,
                    updated_at=datetime.now(UTC),
                )
            )
        loaded = load_backgrounds(conn, ids)
    assert timed.timer is not None
    assert loaded[ids[0]].timer == TimerLoad.from_dict(timed.timer.as_dict())  # as stored
    assert loaded[ids[1]].timer is None
    assert (loaded[ids[1]].low_w, loaded[ids[1]].step_w) == (40, 90)


STEP_S = 300  # a plug read every 5 minutes


def minute_home(rng: np.random.Generator, person: bool = True) -> np.ndarray:
    """One day read every STEP_S seconds: a 40 W base, a fridge (100 W, 20 min on in every
    hour), storage heaters on the night timer 00:00-07:00 (2.5 kW, 10 min on / 10 off) and,
    with the person home, their kettle, TV and lamps by day."""
    minute = np.arange(0, 1440, STEP_S // 60)
    w = 40.0 + rng.normal(0, 1.0, len(minute))
    w += np.where(minute % 60 < 20, 100.0, 0.0)
    w += np.where((minute < 7 * 60) & (minute % 20 < 10), 2500.0, 0.0)
    if person:  # ten uses a day between 07:00 and 22:30: kettle, TV, a lamp
        for watts, minutes in [(2000, 3)] * 4 + [(120, 120)] * 2 + [(60, 60)] * 4:
            start = rng.uniform(7 * 60, 22.5 * 60)
            w += np.where((minute >= start) & (minute < start + minutes), watts, 0.0)
    return w


def learned(days: list[np.ndarray]):
    """The background as the nightly job learns it: the nights from the readings themselves
    (``device_daily.night_*``), the timer from ``level_slots`` (the mean level byte of each
    half-hour's readings)."""
    per_slot = 1800 // STEP_S
    nights = []
    for d in reversed(days):
        night = d[60 // (STEP_S // 60) : 300 // (STEP_S // 60)]  # 01:00-05:00
        nights.append((float(night.min()), float(night.max()), float(np.abs(np.diff(night)).max())))
    bg = learn_background(nights)
    assert bg is not None
    levels = np.array(
        [
            [
                round(np.mean([level_byte(x) for x in d[s * per_slot : (s + 1) * per_slot]]))
                for s in range(48)
            ]
            for d in days
        ]
    )
    blobs = encode_days(levels, np.full_like(levels, per_slot))
    stored = {DAY0 + timedelta(days=k): b for k, b in enumerate(blobs) if b is not None}
    return replace(bg, timer=learn_timer_load(stored, MARGIN))


def test_a_plug_read_every_5_minutes_keeps_the_nights_background_and_its_fridge_stays_quiet():
    """From a review's replay: the day background is learned from half-hour means, and a
    fridge's single readings step further than those, so on a plug read every 5 minutes every
    compressor start by day counted as life and a collapse never alerted. Such a plug learns no
    timed load: the nights' background at every hour, as before."""
    rng = np.random.default_rng(3)
    bg = learned([minute_home(rng) for _ in range(28)])
    assert bg.timer is None
    collapsed = minute_home(rng, person=False)
    when = [
        datetime(2026, 11, 29, tzinfo=LOCAL_TZ) + timedelta(seconds=STEP_S * k)
        for k in range(len(collapsed))
    ]
    by_day = [k for k in range(1, len(collapsed)) if when[k].hour >= 8]
    assert not any(
        departs(float(collapsed[k - 1]), float(collapsed[k]), MARGIN, bg, when[k]) for k in by_day
    )


@pytest.mark.parametrize("enabled", [False, True])
def test_the_nightly_learning_finds_a_timer_only_when_it_is_switched_on(db_engine, enabled):
    """``plug_routine.timer_enabled`` (off by default): off, an Economy 7 home's routine holds
    the nights' background alone, exactly as before; on, the timed load beside it."""
    from sqlalchemy import insert, select

    from dashboard.db.schema import DeviceDaily, DeviceRoutine
    from dashboard.detection.learning import learn_routines
    from tests.ingest_support import seed_catalog

    rng = np.random.default_rng(5)
    days = [e7_day(rng) for _ in range(28)]
    levels = stored(days)
    today = DAY0 + timedelta(days=28)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        conn.execute(
            insert(DeviceDaily),
            [
                {
                    "device_id": plug,
                    "day": day,
                    "events": 48,
                    "activity_slots": 1 << 20 | 1 << 36,
                    "night_low_w": float(w[2:10].min()),
                    "night_high_w": float(w[2:10].max()),
                    "night_step_w": float(np.abs(np.diff(w[2:10])).max()),
                    "level_slots": levels[day],
                }
                for day, w in zip(sorted(levels), days, strict=True)
            ],
        )
        cfg = Thresholds(plug_routine={"timer_enabled": enabled}).plug_routine
        learn_routines(conn, datetime(2026, 7, 29, 0, 5, tzinfo=LOCAL_TZ).astimezone(UTC), cfg)
        model = conn.scalar(select(DeviceRoutine.model).where(DeviceRoutine.device_id == plug))
    assert today == date(2026, 7, 29)
    background = Routine.from_json(model).background
    assert background is not None and background.step_w > 500  # the heaters' nights
    assert (background.timer is not None) is enabled
