"""The alert detail's 동일인 의심 read (``dashboard.enrollment.duplicate_open_alerts``), on both
backends: the other record's open alerts by id inside the handler's districts, only that they
exist outside them, nothing for a pair marked different or an other record without an open
alert, nothing about a person outside the handler's districts, and nothing for a role that
handles no alerts."""

from __future__ import annotations

from datetime import timedelta
from itertools import count

import pytest
from sqlalchemy import insert, select

from dashboard.auth import NotPermitted, SessionUser
from dashboard.db.schema import Alert, CareRecipient
from dashboard.enrollment import OtherOpenAlerts, duplicate_open_alerts, mark_different
from dashboard.registry import PEOPLE, import_people
from tests.registry_support import LEAD, NOW, person, prepare, roster_csv

SOGONG = "1114052000"  # a dong of 중구, Seoul (the person helper's default is 종로구 사직동)
JONGNO_OPERATOR = SessionUser("op-1", "op-1", "operator", ("1111000000",))
JUNG_OPERATOR = SessionUser("op-2", "op-2", "operator", ("1114000000",))
SEOUL_OPERATOR = SessionUser("op-3", "op-3", "operator", ("1100000000",))
_keys = count()


@pytest.fixture
def twins(db_engine):
    """P-0001 in 종로구 and P-0002, the same senior (same name, birth year, phone), in 중구."""
    prepare(db_engine)
    rows = [
        person(1, name="김복순"),
        person(2, name="김복순", phone="010 1234 0001", dong_code=SOGONG),
    ]
    report = import_people(db_engine, roster_csv(PEOPLE, rows), "people.csv", LEAD, NOW)
    assert report.stored and len(report.duplicates) == 1, report.summary()
    with db_engine.connect() as conn:
        ids = dict(conn.execute(select(CareRecipient.external_ref, CareRecipient.id)).all())
    return db_engine, ids["P-0001"], ids["P-0002"]


def _alert(engine, recipient_id: int, stage: str = "risk", status: str = "open", age_h: int = 1):
    with engine.begin() as conn:
        p = conn.execute(
            select(CareRecipient.program_id, CareRecipient.region_id).where(
                CareRecipient.id == recipient_id
            )
        ).one()
        return conn.execute(
            insert(Alert).returning(Alert.id),
            {
                "dedup_key": f"unit:{next(_keys)}",
                "kind": "person",
                "rule": "plug_no_change",
                "stage": stage,
                "status": status,
                "program_id": p.program_id,
                "region_id": p.region_id,
                "recipient_id": recipient_id,
                "opened_at": NOW - timedelta(hours=age_h),
                "updated_at": NOW - timedelta(hours=age_h),
                "version": 1,
            },
        ).scalar_one()


def test_inside_the_districts_the_other_record_and_its_open_alerts_gravest_first(twins) -> None:
    engine, one, two = twins
    _alert(engine, one)
    old_risk = _alert(engine, two, "risk", age_h=5)
    severe = _alert(engine, two, "severe", age_h=1)
    new_risk = _alert(engine, two, "risk", age_h=2)
    _alert(engine, two, "severe", status="closed")
    with engine.connect() as conn:
        for who in (LEAD, SEOUL_OPERATOR):
            assert duplicate_open_alerts(conn, who, one) == [
                OtherOpenAlerts("P-0002", (severe, old_risk, new_risk))
            ]


def test_outside_the_districts_only_that_an_alert_exists(twins) -> None:
    engine, one, two = twins
    _alert(engine, two)
    with engine.connect() as conn:
        [hint] = duplicate_open_alerts(conn, JONGNO_OPERATOR, one)
        assert hint == OtherOpenAlerts(None, ()) and not hint.in_scope
        # About a person outside the operator's districts: nothing at all.
        assert duplicate_open_alerts(conn, JONGNO_OPERATOR, two) == []
        assert duplicate_open_alerts(conn, JUNG_OPERATOR, one) == []


def test_a_pair_marked_different_and_an_other_without_open_alert_say_nothing(twins) -> None:
    engine, one, two = twins
    _alert(engine, two, status="closed")
    with engine.connect() as conn:
        assert duplicate_open_alerts(conn, LEAD, one) == []
    _alert(engine, two)
    with engine.begin() as conn:
        assert len(duplicate_open_alerts(conn, LEAD, one)) == 1
        mark_different(conn, LEAD, NOW, one, two)
        assert duplicate_open_alerts(conn, LEAD, one) == []


@pytest.mark.parametrize("role", ["council", "admin"])
def test_roles_that_handle_no_alerts_are_refused(twins, role) -> None:
    engine, one, _ = twins
    with engine.connect() as conn, pytest.raises(NotPermitted) as info:
        duplicate_open_alerts(conn, SessionUser(role, role, role), one)
    assert info.value.reason == "role"
