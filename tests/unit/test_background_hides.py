"""A background that hides the person (a timer heater's night steps as large as anything the
person switches by day) is set aside: the plug's power is judged by the margin, the routine is
learned from the margin changes, and the background is taken back once it sees the person
again. The decision alone, ingest's merge, and the whole path on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.db.schema import Alert, DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection import learning
from dashboard.detection.background import Background, hides_person
from dashboard.detection.learning import learn_routines
from dashboard.detection.routine import Routine
from dashboard.ingest import ingest_events
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, _State, merge_state
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

TH = Thresholds()
MIN_DAYS = 14
TODAY = date(2026, 11, 30)
DAYTIME = sum(1 << j for j in range(15, 44))  # 07:30–22:00
FRIDGE_CYCLES = sum(1 << j for j in range(48))  # a fridge beyond 5 W every half-hour


def window(pattern) -> list[tuple[date, int, int]]:
    """The 28 days before TODAY, oldest first; ``pattern(k)`` → (background bits, margin bits)
    of the k-th day."""
    return [(TODAY - timedelta(days=28 - k), *pattern(k)) for k in range(28)]


# --- the decision ---------------------------------------------------------------------------


def test_a_timer_heater_background_that_never_sees_the_person_hides_them():
    days = window(lambda k: (0, DAYTIME))
    assert hides_person(days, TODAY - timedelta(days=28), MIN_DAYS)
    # a few days by the background (the person used the oven above the heater) change nothing
    some = window(lambda k: (DAYTIME if k % 3 == 0 else 0, DAYTIME))
    assert hides_person(some, TODAY - timedelta(days=28), MIN_DAYS)


def test_not_before_min_days_were_judged_with_the_background():
    days = window(lambda k: (0, DAYTIME))
    assert not hides_person(days, None, MIN_DAYS)  # never stored yet
    assert not hides_person(days, TODAY - timedelta(days=13), MIN_DAYS)  # 13 days with it
    assert hides_person(days, TODAY - timedelta(days=14), MIN_DAYS)


def test_a_normal_fridge_home_does_not_hide_nor_a_home_that_rarely_changes():
    since = TODAY - timedelta(days=25)
    assert not hides_person(window(lambda k: (DAYTIME, FRIDGE_CYCLES)), since, MIN_DAYS)
    # quiet by the background and by the margin (a lamp plug used twice a week): no evidence
    rare = window(lambda k: (0, DAYTIME if k % 3 == 0 else 0))
    assert not hides_person(rare, since, MIN_DAYS)


@pytest.mark.parametrize(("away", "hides"), [(7, False), (14, False), (15, True), (28, True)])
def test_a_trip_in_a_fridge_home_hides_only_beyond_window_minus_min_days(away, hides):
    """The known cost: away (the fridge still cycling beyond 5 W) for more than 14 of the 28
    days, the home has fewer than 14 days active by its background and is judged by the margin
    until it has 14 again."""
    days = window(lambda k: (0 if k >= 28 - away else DAYTIME, FRIDGE_CYCLES))
    assert hides_person(days, TODAY - timedelta(days=60), MIN_DAYS) is hides


def test_a_home_set_aside_is_taken_back_once_its_background_sees_the_person_again():
    """While set aside, ingest keeps the background's judgement (background_slots): once it
    shows the person on min_days days of the window, the background is used again."""
    since = TODAY - timedelta(days=40)
    for active in range(29):
        days = window(lambda k, a=active: (DAYTIME if k >= 28 - a else 0, DAYTIME))
        assert hides_person(days, since, MIN_DAYS) is (active < MIN_DAYS)


# --- ingest ---------------------------------------------------------------------------------

HEATER = Background(low_w=20.0, high_w=3040.0, step_w=3000.0, nights=14)
MARGINS = Margins(power_w=5, lux=30, min_answered_s=1)


def ev(minute: int, watts: float) -> ValidEvent:
    ts = datetime(2024, 12, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=minute)  # 09:00 Seoul
    return ValidEvent(minute, f"e{minute}", "d", ts, "power", None, None, {"watts": watts})


def test_ingest_judges_a_hiding_plugs_power_by_the_margin_and_keeps_the_backgrounds_bits():
    readings = [ev(0, 20.0), ev(10, 320.0), ev(40, 3040.0), ev(70, 3041.0)]  # TV on, heater on
    kept: dict = {}
    judged = merge_state(_State(), readings, MARGINS, HEATER, kept)
    assert judged.last_activity_at is None  # nothing departs from the heater's background
    assert next(iter(kept.values())).background is None  # not set aside: no bits apart
    days: dict = {}
    hiding = Background(20.0, 3040.0, 3000.0, 14, hides=True)
    state = merge_state(_State(), readings, MARGINS, hiding, days)
    assert state.last_activity_at == readings[2].ts == state.last_change_at
    (day,) = days.values()
    assert day.slots == day.changes == (1 << 18) | (1 << 19)  # 09:10 and 09:40 Seoul
    assert day.background == 0  # stored as 0: the background saw no one
    # a 4 kW oven on top of the heater departs from it: the background's bits show it
    more = merge_state(state, [ev(80, 7040.0)], MARGINS, hiding, days)
    assert more.last_activity_at == at_minute(80) and day.background == 1 << 20


def at_minute(minute: int) -> datetime:
    return datetime(2024, 12, 1, 0, 0, tzinfo=UTC) + timedelta(minutes=minute)


# --- the whole path -------------------------------------------------------------------------

DAY0 = date(2026, 10, 1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def heater_history(
    days: int, collapse_at: datetime | None = None, oven_from: int | None = None
) -> list[dict]:
    """Half-hourly power of a home on timer heating: 20 W standby, a 3 kW heater switching on
    and off every half-hour from 01:00 to 05:00, and the person's 100–400 W appliances switched
    on and off from 07:30 to 22:00; after ``collapse_at`` only standby and the heater. From day
    ``oven_from`` the person also cooks at noon on a 4 kW oven, above the heater's ceiling."""
    events = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        for slot in range(48):
            ts = local(day, slot // 2, 30 * (slot % 2))
            watts = 20.0
            if 2 <= slot <= 9 and slot % 2 == 0:
                watts += 3000.0
            if 15 <= slot <= 43 and slot % 3 == 0 and (collapse_at is None or ts < collapse_at):
                watts += 100.0 + 100.0 * ((d + slot) % 4)
            if oven_from is not None and d >= oven_from and slot == 25:
                watts += 4000.0
            events.append(
                {
                    "event_id": f"h{d:03d}-{slot:02d}",
                    "device_id": "plug-1",
                    "ts": ts.isoformat(),
                    "type": "power",
                    "watts": watts,
                }
            )
    return events


def ingest_day(engine, events: list[dict], day: date) -> None:
    with engine.begin() as conn:
        todays = [e for e in events if datetime.fromisoformat(e["ts"]).date() == day]
        ingest_events(conn, VENDOR, todays, now=local(day + timedelta(days=1), 0, 5))
        learn_routines(conn, local(day + timedelta(days=1), 0, 10).astimezone(UTC))


def collapse_day(engine, events: list[dict], plug: int, day: date) -> dict[str, tuple]:
    """The day's readings one by one, each followed by the silence tick: the first moment of
    each stage of the plug's open no-change alert (moment, evidence)."""
    stages: dict[str, tuple] = {}
    for e in [e for e in events if datetime.fromisoformat(e["ts"]) >= local(day, 0)]:
        ts = datetime.fromisoformat(e["ts"]).astimezone(UTC)
        with engine.begin() as conn:
            ingest_events(conn, VENDOR, [e], now=ts)
            run_silence_tick(conn, ts, TH)
            alert = conn.execute(
                select(Alert.stage, Alert.evidence).where(
                    Alert.device_id == plug,
                    Alert.rule == "plug_no_change",
                    Alert.status != "closed",
                )
            ).first()
        if alert is not None and alert.stage not in stages:
            stages[alert.stage] = (ts, alert.evidence)
    return stages


def test_a_timer_heater_home_is_set_aside_and_its_collapse_alerts_by_the_routine(db_engine):
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    collapse = local(DAY0 + timedelta(days=24), 10, 0)
    events = heater_history(25, collapse)
    for d in range(24):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
    with db_engine.connect() as conn:
        row = conn.execute(select(DeviceRoutine).where(DeviceRoutine.device_id == plug)).one()
        daily = {
            r.day: r for r in conn.execute(select(DeviceDaily).where(DeviceDaily.device_id == plug))
        }
    with db_engine.begin() as conn:  # the same night's learning again: one plug set aside
        summary = learn_routines(conn, local(DAY0 + timedelta(days=24), 0, 10).astimezone(UTC))
    assert summary.hiding == 1 and "(1 set aside" in str(summary)
    routine = Routine.from_json(row.model)
    assert row.background_high_w > 3000 and row.background_step_w >= 2900  # the heater
    assert row.background_hides is True
    assert routine.background is None and routine.background_since == DAY0 + timedelta(days=3)
    assert len(routine.reference_days) >= 14 and row.reference_days >= 14
    # judged by the background (days 3–16) the home was empty; set aside from day 17, the
    # day's signs of life are the margin's and the background's own judgement is kept apart
    judged = daily[DAY0 + timedelta(days=10)]
    assert judged.activity_slots == 0 and judged.change_slots and judged.background_slots is None
    aside = daily[DAY0 + timedelta(days=20)]
    assert aside.activity_slots == aside.change_slots and aside.activity_slots & (1 << 15)
    assert aside.background_slots == 0
    with db_engine.connect() as conn:
        alerts = conn.execute(
            select(Alert.status, Alert.evidence).where(Alert.device_id == plug)
        ).all()
    # the net's false alarm of the days judged by the background closed by itself once set aside
    assert [a.status for a in alerts] == ["closed"] and alerts[0].evidence["basis"] == "net"
    stages = collapse_day(db_engine, events, plug, collapse.date())
    with db_engine.connect() as conn:
        last = conn.execute(
            select(DeviceState.last_activity_at).where(DeviceState.device_id == plug)
        ).scalar_one()
    # the person's last switch (09:30: a 300 W appliance off) moved the sign-of-life clock
    assert last == local(collapse.date(), 9, 30).astimezone(UTC)
    assert "attention" in stages, "the routine never alerted"
    first, evidence = stages["attention"]
    hours = (first - collapse).total_seconds() / 3600
    assert 0 < hours < 4, f"first alert {hours:.1f} h after the collapse"
    assert evidence["basis"] == "routine"


def test_without_setting_it_aside_the_same_collapse_is_hidden_by_an_open_net(
    db_engine, monkeypatch
):
    """Today's behaviour, for the comparison: the routine never has enough active days, and
    the net on the weeks-long sign-of-life spell stands open before the person collapses."""
    monkeypatch.setattr(learning, "hides_person", lambda *args: False)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    collapse = local(DAY0 + timedelta(days=24), 10, 0)
    events = heater_history(25, collapse)
    for d in range(24):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
    with db_engine.connect() as conn:
        row = conn.execute(select(DeviceRoutine).where(DeviceRoutine.device_id == plug)).one()
    assert not row.background_hides and row.reference_days < 14
    stages = collapse_day(db_engine, events, plug, collapse.date())
    opened = min(at for at, _evidence in stages.values())
    assert opened < collapse  # a false alarm already open: the stop is not news
    assert all(evidence["basis"] != "routine" for _at, evidence in stages.values())


def test_a_home_set_aside_is_taken_back_when_its_background_sees_the_person(db_engine):
    """Set aside after day 16; from day 17 the person cooks on a 4 kW oven every noon, which
    departs from the heater's background: ingest keeps those bits in background_slots while
    the plug is set aside, and after 14 such days the background is used again, with a routine
    learned from the background's judgement (the oven), not from the margin's days."""
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    events = heater_history(31, oven_from=17)
    hides = []
    for d in range(31):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
        with db_engine.connect() as conn:
            hides.append(
                conn.execute(
                    select(DeviceRoutine.background_hides).where(DeviceRoutine.device_id == plug)
                ).scalar_one()
            )
    # learned after day d: set aside after day 16, taken back after day 30 (days 17–30: 14)
    assert hides.index(True) == 16 and hides[16:30] == [True] * 14 and hides[30] is False
    with db_engine.connect() as conn:
        row = conn.execute(select(DeviceRoutine).where(DeviceRoutine.device_id == plug)).one()
        aside = conn.execute(
            select(DeviceDaily.background_slots, DeviceDaily.activity_slots).where(
                DeviceDaily.device_id == plug, DeviceDaily.day == DAY0 + timedelta(days=20)
            )
        ).one()
    assert aside.background_slots == (1 << 25) | (1 << 26)  # the oven on at 12:30, off at 13:00
    assert aside.activity_slots != aside.background_slots  # the margin's day
    routine = Routine.from_json(row.model)
    assert routine.background is not None
    assert routine.days[DAY0 + timedelta(days=20)] == aside.background_slots
    assert len(routine.reference_days) == 14
