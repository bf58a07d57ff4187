"""An open level-based plug alert is not closed as ``safe`` when a district turns the level
test off (or the person moves to a district without it) while the home stays quiet; a sign of
life still closes it."""

from __future__ import annotations

from datetime import UTC, timedelta

from sqlalchemy import select, update
from test_actions_support import seed
from test_level_district import CITY, CITY_ON, JONGNO_ON, _two_homes
from test_plug_levels import TODAY, at

from dashboard.db.schema import Alert, DeviceState
from dashboard.detection.learning import learn_routines
from dashboard.rules.engine import run_silence_tick


def _alerts(conn, plug: int):
    return conn.execute(
        select(Alert.status, Alert.stage, Alert.outcome).where(
            Alert.device_id == plug, Alert.rule == "plug_no_change"
        )
    ).all()


def test_switching_the_level_test_off_does_not_close_its_alert_as_safe(db_engine):
    now = at(TODAY, 18, 0).astimezone(UTC)
    seed(db_engine)
    with db_engine.begin() as conn:
        _ilsan, jongno = _two_homes(conn, now)
        learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), CITY_ON)
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
