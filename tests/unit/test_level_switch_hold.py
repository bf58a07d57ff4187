"""An open level-based plug alert is not closed as ``safe`` while the home stays quiet: not when a
district turns the level test off (or the person moves to a district without it), not when a
model learned anew starts from 0, not when the test's own S falls (at night); a sign of life
still closes it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import insert, select, update
from test_level_district import CITY, JONGNO_ON, _learned_homes
from test_plug_levels import TODAY, at, home_day

from dashboard.db.schema import Alert, DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.learning import learn_routines
from dashboard.rules.engine import run_silence_tick
from dashboard.rules.lifecycle import _level_held
from dashboard.rules.model import Decision


def _alerts(conn, plug: int):
    return conn.execute(
        select(Alert.status, Alert.stage, Alert.outcome).where(
            Alert.device_id == plug, Alert.rule == "plug_no_change"
        )
    ).all()


def test_switching_the_level_test_off_does_not_close_its_alert_as_safe(db_engine):
    now = at(TODAY, 18, 0).astimezone(UTC)
    _ilsan, jongno = _learned_homes(db_engine)
    with db_engine.begin() as conn:
        run_silence_tick(conn, now, JONGNO_ON)
        [(status, stage, _outcome)] = _alerts(conn, jongno)
        assert (status, stage) == ("open", "attention")
        # The district turns it off (the city's value: off); the home is still quiet.
        run_silence_tick(conn, now + timedelta(minutes=1), CITY)
        assert _alerts(conn, jongno) == [("open", "attention", None)]
        # A sign of life closes it as before.
        later = now + timedelta(minutes=20)
        conn.execute(
            update(DeviceState)
            .where(DeviceState.device_id == jongno)
            .values(
                last_activity_at=later,
                last_change_at=later,
                last_seen_at=later,
                rules_due_at=None,
            )
        )
        run_silence_tick(conn, later + timedelta(minutes=1), CITY)
        assert _alerts(conn, jongno) == [("closed", "attention", "safe")]


def test_a_model_learned_anew_does_not_close_a_held_alert_as_safe(db_engine):
    """The model is dropped while the alert is held (a night with the test off in the district,
    or too few reference days), then learned anew: its S starts at 0, which says nothing about
    the spell, so the alert must stay open while the home stays quiet."""
    now = at(TODAY, 18, 0).astimezone(UTC)
    tomorrow = TODAY + timedelta(days=1)
    _ilsan, jongno = _learned_homes(db_engine, JONGNO_ON)
    with db_engine.begin() as conn:
        run_silence_tick(conn, now, JONGNO_ON)
        assert _alerts(conn, jongno) == [("open", "attention", None)]
        # The model gone: held.
        routine = DeviceRoutine.device_id == jongno
        conn.execute(update(DeviceRoutine).where(routine).values(level_model=None))
        run_silence_tick(conn, now + timedelta(minutes=30), JONGNO_ON)
        assert _alerts(conn, jongno) == [("open", "attention", None)]
        # Learned anew at midnight; the plug still reports its night load, nobody is up.
        learn_routines(conn, at(tomorrow, 0, 5).astimezone(UTC), JONGNO_ON)
        night = home_day(awake=range(0), until=1)
        conn.execute(
            insert(DeviceDaily).values(
                device_id=jongno, day=tomorrow, events=1, activity_slots=0, level_slots=night
            )
        )
        seen = at(tomorrow, 0, 5).astimezone(UTC)
        conn.execute(
            update(DeviceState)
            .where(DeviceState.device_id == jongno)
            .values(last_seen_at=seen, rules_due_at=None)
        )
        run_silence_tick(conn, at(tomorrow, 0, 10).astimezone(UTC), JONGNO_ON)
        assert _alerts(conn, jongno) == [("open", "attention", None)]


def test_which_decisions_a_level_alert_is_held_against():
    """Held while the spell goes on: not scored, scored on another run of S, or the same run
    fallen below level_h (S falls at night, when the night level is what the home shows).
    Closed: a sign of life (a new spell)."""
    since, run = "2026-11-30T01:00:00+00:00", "2026-11-30T02:00:00+00:00"
    row = SimpleNamespace(evidence={"basis": "level", "since": since, "level_since": run})

    def held(row=row, **evidence) -> bool:
        return _level_held(row, Decision("plug_no_change", None, {"since": since} | evidence))

    assert held(level_s=None, level_since=None)  # switched off, model gone
    assert held(level_s=0.0, level_since=None)  # a model learned anew, S from 0
    assert held(level_s=3.0, level_since="2026-12-01T00:00:00+00:00")
    assert held(level_s=5.0, level_since=run)  # S fell on its own run: no sign of life
    assert not held(level_s=None, since="2026-11-30T09:00:00+00:00")  # a sign of life
    # the routine's alert is held on its spell too (the nightly learning can drop its stage,
    # test_alert_steps), while the power stays in its band since the first alert; the fixed
    # ladder's without its line is not
    alerted = "2026-11-30T12:00:00+00:00"
    routine = SimpleNamespace(evidence={"basis": "routine", "since": since, "alerted_at": alerted})
    decided = Decision("plug_no_change", None, {"since": since, "level_s": None})
    band = datetime.fromisoformat(since)
    assert _level_held(routine, decided, band)
    assert not _level_held(routine, decided, None)  # no band: not held
    assert not _level_held(routine, decided, band + timedelta(hours=12))  # the line moved
    assert not held(routine, level_s=None, since="2026-11-30T09:00:00+00:00")
    ladder = SimpleNamespace(evidence={"basis": "ladder", "since": since, "ladder_band_w": None})
    assert not held(ladder, level_s=None)
