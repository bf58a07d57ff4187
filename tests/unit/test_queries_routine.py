"""The routine UI's queries on both backends: one plug's strip, and the live page's watch list
(drifting homes only: not a normal one, not someone away, not a home with an alert or a silent
plug, only in the user's districts)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update
from test_actions_support import T0, add_alert, add_person, seed, who

from dashboard.db.schema import Alert, DeviceDaily
from dashboard.detection.away import mark_away
from dashboard.detection.routine import FULL_DAY
from dashboard.settings import LOCAL_TZ
from queries.routine import routine_strip
from queries.watch import drifting_homes
from tests.routine_support import bits_away_from, give_routine

TODAY = T0.astimezone(LOCAL_TZ).date()
GOYANG = ("4128000000",)


def test_the_strip_reads_the_last_days_newest_first(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        _rid, did = add_person(conn)
        give_routine(conn, did, T0, bits=0b1011)
        conn.execute(
            update(DeviceDaily)
            .where(DeviceDaily.device_id == did, DeviceDaily.day == TODAY - timedelta(days=3))
            .values(activity_slots=None)
        )
    with db_engine.connect() as conn:
        strip = routine_strip(conn, did, T0)
    days = strip.days
    assert strip.last_day == TODAY and len(days) == 28
    assert list(days["day"])[:2] == [TODAY, TODAY - timedelta(days=1)]
    assert days["bits"].iloc[1] == 0b1011 and days["bits"].iloc[3] == 0  # a NULL day is 0
    assert days["reported"].all() and strip.reference_days == 28
    assert strip.learned_on == TODAY


def test_a_silent_plug_strip_ends_on_its_last_report(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        _rid, did = add_person(conn)
        give_routine(conn, did, T0, seen_ago=timedelta(days=2))
    with db_engine.connect() as conn:
        strip = routine_strip(conn, did, T0)
    assert strip.last_day == TODAY - timedelta(days=2)
    assert not strip.days["reported"].iloc[-1]  # 29 days back: before the history


def test_the_watch_list_shows_drifting_homes_only(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        drifting, d1 = add_person(conn)
        normal, d2 = add_person(conn)
        away, d3 = add_person(conn)
        short, d4 = add_person(conn)
        silent, d5 = add_person(conn)
        seoul, d6 = add_person(conn, region_id=4, program_id=2)
        give_routine(conn, d1, T0, quiet_h=3)
        give_routine(conn, d2, T0, quiet_h=3, bits=bits_away_from(T0))
        give_routine(conn, d3, T0, quiet_h=3)
        give_routine(conn, d4, T0, quiet_h=1)  # not yet min_quiet_h
        give_routine(conn, d5, T0, quiet_h=6, seen_ago=timedelta(hours=3))
        give_routine(conn, d6, T0, quiet_h=4)
        mark_away(conn, who(), T0, away, TODAY, TODAY + timedelta(days=2))
    alerted = add_alert(db_engine)
    with db_engine.begin() as conn:
        did = conn.scalar(select(Alert.device_id).where(Alert.id == alerted))
        give_routine(conn, did, T0, quiet_h=5)
    with db_engine.connect() as conn:
        everyone = drifting_homes(conn, T0)
        goyang = drifting_homes(conn, T0, areas=GOYANG)
        nobody = drifting_homes(conn, T0, areas=())
    assert list(everyone.rows["recipient_id"]) == [seoul, drifting]  # most missed first
    assert list(goyang.rows["recipient_id"]) == [drifting] and nobody.rows.empty
    row = goyang.rows.iloc[0]
    assert row["recipient_masked"] == "김*순" and row["region_ko"].endswith("백석1동")
    assert row["share"] == 1.0 and row["expected"] >= 2  # 3 h of an always-active home
    assert row["evidence"]["basis"] == "routine"
    # Scored: the two drifting homes, the normal one and the one away; not the short quiet,
    # the silent plug or the home with an open alert (bounded out in SQL).
    assert everyone.candidates == 4 and not everyone.truncated
    assert {normal, away, short, silent}.isdisjoint(everyone.rows["recipient_id"])


def test_the_scan_is_bounded_and_says_so(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        for _ in range(3):
            _rid, did = add_person(conn)
            give_routine(conn, did, T0, quiet_h=3, bits=FULL_DAY)
    with db_engine.connect() as conn:
        watch = drifting_homes(conn, T0, scan=2)
    assert watch.truncated and watch.candidates == 2 and len(watch.rows) == 2


def test_the_watch_list_shows_a_home_halfway_to_stillness(db_engine):
    """No usable routine (active one day in four), a still record of 30 min (관심 at 3 h):
    unchanged for 2 h, the home is on the watch list with the stillness sentence; unchanged for
    1 h, it is not."""
    from dashboard.db.schema import DeviceRoutine, DeviceState
    from dashboard.detection.explain import explain_plug
    from dashboard.detection.routine import Routine

    seed(db_engine)
    sparse = sum(1 << j for j in range(15, 44))
    with db_engine.begin() as conn:
        still, plug = add_person(conn)
        _calm, other = add_person(conn)
        for device, changed_h in ((plug, 2.0), (other, 1.0)):
            give_routine(conn, device, T0, quiet_h=6, bits=sparse, days=5)
            model = conn.scalar(
                select(DeviceRoutine.model).where(DeviceRoutine.device_id == device)
            )
            routine = Routine.from_json(model)
            days = {TODAY - timedelta(days=k): 0 for k in range(6, 29)} | routine.days
            stored = Routine(routine.learned_on, days, still_h=0.5).to_json()
            conn.execute(
                update(DeviceRoutine)
                .where(DeviceRoutine.device_id == device)
                .values(model=stored, still_h=0.5)
            )
            conn.execute(
                update(DeviceState)
                .where(DeviceState.device_id == device)
                .values(last_change_at=T0 - timedelta(hours=changed_h))
            )
    with db_engine.connect() as conn:
        watch = drifting_homes(conn, T0)
    assert list(watch.rows["recipient_id"]) == [still] and watch.candidates == 2
    evidence = watch.rows.iloc[0]["evidence"]
    assert evidence["basis"] == "still" and evidence["still_at_h"] == 3.0
    assert watch.rows.iloc[0]["since"] == T0 - timedelta(hours=2)  # the last change
    sentence = explain_plug(evidence, "en")
    assert "never stayed unchanged for longer than 30 min" in sentence


def test_the_watch_list_shows_a_home_halfway_to_a_load_left_on(db_engine):
    """A usable routine, a record of 4 h above the standby (관심 at 8 h); each reading a sign of
    life (quiet for 10 minutes only): above its standby for 5 h the home is on the watch list
    with the left-on sentence, since the power went up; for 3.5 h it is not (half is 4 h)."""
    from dashboard.db.schema import DeviceRoutine, DeviceState
    from dashboard.detection.explain import explain_plug

    seed(db_engine)
    with db_engine.begin() as conn:
        left_on, plug = add_person(conn)
        _calm, other = add_person(conn)
        for device, above_h in ((plug, 5.0), (other, 3.5)):
            give_routine(conn, device, T0, quiet_h=1 / 6)
            conn.execute(
                update(DeviceRoutine)
                .where(DeviceRoutine.device_id == device)
                .values(on_h=4.0, background_low_w=1.0, background_high_w=1.0)
            )
            model = conn.scalar(
                select(DeviceRoutine.model).where(DeviceRoutine.device_id == device)
            )
            conn.execute(
                update(DeviceRoutine)
                .where(DeviceRoutine.device_id == device)
                .values(
                    model=model.replace('"on_h":null', '"on_h":4.0').replace(
                        '"background":null',
                        '"background":{"low_w":1.0,"high_w":1.0,"step_w":0.0,"nights":28}',
                    )
                )
            )
            conn.execute(
                update(DeviceState)
                .where(DeviceState.device_id == device)
                .values(above_since=T0 - timedelta(hours=above_h), last_power_w=120.0)
            )
    with db_engine.connect() as conn:
        watch = drifting_homes(conn, T0)
    assert list(watch.rows["recipient_id"]) == [left_on] and watch.candidates == 2
    evidence = watch.rows.iloc[0]["evidence"]
    assert evidence["basis"] == "on" and evidence["on_at_h"] == 8.0
    assert watch.rows.iloc[0]["since"] == T0 - timedelta(hours=5)  # when the power went up
    assert "never stayed above it for longer than 4 h" in explain_plug(evidence, "en")


def test_the_watch_list_shows_a_home_halfway_to_a_band_held_too_long(db_engine):
    """A usable routine, a record of 3 h within the band (관심 at 9 h); each reading a sign of
    life (quiet for 10 minutes only): within its band for 5 h the home is on the watch list with
    the band sentence, since the band began; for 4 h it is not (half is 4.5 h); with a record of
    20 h (관심 at 60 h) it is not even scored (the candidates' bound in SQL)."""
    from dashboard.db.schema import DeviceRoutine, DeviceState
    from dashboard.detection.explain import explain_plug

    seed(db_engine)
    with db_engine.begin() as conn:
        held, plug = add_person(conn)
        _calm, other = add_person(conn)
        _usual, usual = add_person(conn)
        for device, band_h, held_h in ((plug, 3.0, 5.0), (other, 3.0, 4.0), (usual, 20.0, 5.0)):
            give_routine(conn, device, T0, quiet_h=1 / 6)
            model = conn.scalar(
                select(DeviceRoutine.model).where(DeviceRoutine.device_id == device)
            )
            conn.execute(
                update(DeviceRoutine)
                .where(DeviceRoutine.device_id == device)
                .values(band_h=band_h, model=model.replace('"band_h":null', f'"band_h":{band_h}'))
            )
            conn.execute(
                update(DeviceState)
                .where(DeviceState.device_id == device)
                .values(
                    band_since=T0 - timedelta(hours=held_h),
                    band_low_w=150.0,
                    band_high_w=210.0,
                    last_power_w=180.0,
                )
            )
    with db_engine.connect() as conn:
        watch = drifting_homes(conn, T0)
    assert list(watch.rows["recipient_id"]) == [held] and watch.candidates == 2
    evidence = watch.rows.iloc[0]["evidence"]
    assert evidence["basis"] == "band" and evidence["band_at_h"] == 9.0
    assert watch.rows.iloc[0]["since"] == T0 - timedelta(hours=5)  # when the band began
    sentence = explain_plug(evidence, "en")
    assert "never stayed within 100 W for longer than 3 h" in sentence
    # A bounded scan takes the longest first by the clock each is listed on: the band's 5 h,
    # not its last sign of life 10 minutes ago (else it would be cut first)
    with db_engine.begin() as conn:
        _quiet, quiet = add_person(conn)
        give_routine(conn, quiet, T0, quiet_h=3, bits=FULL_DAY)
    with db_engine.connect() as conn:
        bounded = drifting_homes(conn, T0, scan=1)
    assert bounded.truncated and list(bounded.rows["recipient_id"]) == [held]
