"""Marking a person away: validation, audit, scope, and the tick raising nothing meanwhile."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select
from test_actions_support import T0, add_person, seed, who

from dashboard.auth import NotPermitted
from dashboard.db.schema import Alert, AuditLog, AwayPeriod, DeviceState
from dashboard.detection.away import AwayError, cancel_away, mark_away
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick

TODAY = T0.date()  # Monday 2024-12-02 in Seoul
OPERATOR = who("park", "operator", ("4128500000",))


@pytest.fixture
def person(db_engine) -> tuple[int, int]:
    seed(db_engine)
    with db_engine.begin() as conn:
        return add_person(conn)


def count(engine, table) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(table))


def test_an_operator_marks_a_person_in_their_district_away_and_it_is_audited(db_engine, person):
    with db_engine.begin() as conn:
        away_id = mark_away(
            conn, OPERATOR, T0, person[0], TODAY, TODAY + timedelta(days=4), "딸 집"
        )
    with db_engine.connect() as conn:
        row = conn.execute(select(AwayPeriod).where(AwayPeriod.id == away_id)).one()
        audit = conn.execute(select(AuditLog).where(AuditLog.action == "away_mark")).one()
    assert (row.created_by, row.note, row.ends_on) == ("park", "딸 집", TODAY + timedelta(days=4))
    assert audit.actor == "park" and "딸" not in str(audit.detail)  # no free text in the audit


@pytest.mark.parametrize(
    ("starts", "ends", "field"),
    [
        (0, 0, "ends_on"),  # returns the day it starts
        (-3, -1, "ends_on"),  # already over
        (-10, 2, "starts_on"),  # began too long ago
        (0, 120, "ends_on"),  # a season away is an enrollment change
    ],
)
def test_bad_periods_are_refused_and_nothing_is_written(db_engine, person, starts, ends, field):
    with db_engine.begin() as conn, pytest.raises(AwayError) as err:
        mark_away(conn, OPERATOR, T0, person[0], TODAY + timedelta(starts), TODAY + timedelta(ends))
    assert err.value.field == field
    assert count(db_engine, AwayPeriod) == 0 and count(db_engine, AuditLog) == 0


def test_an_operator_elsewhere_and_council_are_refused(db_engine, person):
    elsewhere = who("lee", "operator", ("1111000000",))
    for principal in (elsewhere, who("c", "council"), who("a", "admin")):
        with db_engine.begin() as conn, pytest.raises(NotPermitted):
            mark_away(conn, principal, T0, person[0], TODAY, TODAY + timedelta(days=2))
    assert count(db_engine, AwayPeriod) == 0


def test_while_away_the_quiet_plug_raises_nothing_and_after_cancel_it_does(db_engine, person):
    recipient, device = person
    with db_engine.begin() as conn:
        conn.execute(
            DeviceState.__table__.insert().values(
                device_id=device,
                state="normal",
                state_since=T0 - timedelta(days=3),
                last_seen_at=T0 - timedelta(minutes=5),
                last_activity_at=T0 - timedelta(hours=50),
                updated_at=T0,
            )
        )
        away_id = mark_away(
            conn, OPERATOR, T0, recipient, TODAY - timedelta(2), TODAY + timedelta(3)
        )
        run_silence_tick(conn, T0, Thresholds())
        assert conn.scalar(select(func.count()).select_from(Alert)) == 0
        cancel_away(conn, OPERATOR, T0 + timedelta(minutes=1), away_id)
        run_silence_tick(conn, T0 + timedelta(minutes=2), Thresholds())
        stage = conn.scalar(select(Alert.stage).where(Alert.rule == "plug_no_change"))
    assert stage == "severe"  # 50 h quiet: the ladder's 심각
    with db_engine.begin() as conn, pytest.raises(AwayError):
        cancel_away(conn, OPERATOR, T0, away_id)  # twice


@pytest.mark.parametrize("note", ["딸\x00집", "\x1b[2J집"])
def test_a_note_with_control_codes_is_refused_not_raised_by_the_database(db_engine, person, note):
    """PostgreSQL refused the NUL inside the insert (an internal error); now a field error."""
    with db_engine.begin() as conn, pytest.raises(AwayError) as err:
        mark_away(conn, OPERATOR, T0, person[0], TODAY, TODAY + timedelta(days=2), note)
    assert (err.value.field, err.value.message) == ("note", "contains control codes (such as NUL)")
    assert count(db_engine, AwayPeriod) == 0 and count(db_engine, AuditLog) == 0
