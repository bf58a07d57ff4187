"""Escalation with time travel: an unacknowledged 심각 alert reaches the on-duty lead once."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, select
from test_actions_support import T0, add_alert, seed, who

from dashboard.actions import load_routing, perform
from dashboard.db.schema import Alert, AuditLog, NotificationOutbox
from dashboard.notify import LogTransport, escalate_unacknowledged, escalation_key, run_notify
from dashboard.settings import Settings

KIM = who("kim")

ROUTING = load_routing()


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    return db_engine


def escalations(db: Engine) -> tuple[list, list]:
    with db.connect() as conn:
        notes = conn.execute(
            select(NotificationOutbox.__table__).where(NotificationOutbox.channel == "lead")
        ).all()
        audit = conn.execute(
            select(AuditLog.__table__).where(AuditLog.action == "alert_escalate_lead")
        ).all()
    return notes, audit


def tick(db: Engine, at, after_min: float = 5) -> list[int]:
    log = LogTransport()
    settings = Settings(demo=True, escalate_severe_after_min=after_min)
    summary = run_notify(db, at, settings=settings, routing=ROUTING, transports={"log": log})
    return summary.escalated


def test_time_travel_4_59_nothing_5_00_once_10_00_still_once(db):
    alert_id = add_alert(db, stage="severe")
    assert tick(db, T0 + timedelta(minutes=4, seconds=59)) == []
    assert escalations(db) == ([], [])
    assert tick(db, T0 + timedelta(minutes=5)) == [alert_id]
    assert tick(db, T0 + timedelta(minutes=5, seconds=1)) == []
    assert tick(db, T0 + timedelta(minutes=10)) == []
    notes, audit = escalations(db)
    assert len(notes) == 1 and len(audit) == 1
    [note], [entry] = notes, audit
    assert note.idempotency_key == escalation_key(alert_id)
    assert (note.recipient, note.status, note.sent_at) == ("lead:on_duty", "sent",
                                                           T0 + timedelta(minutes=5))  # fmt: skip
    assert note.payload["minutes_unacknowledged"] == 5.0
    assert (entry.actor, entry.entity_id, entry.at) == ("system", str(alert_id),
                                                        T0 + timedelta(minutes=5))  # fmt: skip
    # Telling the lead does not bump the version: an operator acting now does not conflict.
    with db.connect() as conn:
        assert conn.execute(select(Alert.version).where(Alert.id == alert_id)).scalar_one() == 1


def test_the_delay_is_configurable(db):
    alert_id = add_alert(db, stage="severe")
    assert tick(db, T0 + timedelta(minutes=2), after_min=3) == []
    assert tick(db, T0 + timedelta(minutes=3), after_min=3) == [alert_id]


def test_an_acknowledged_alert_is_not_escalated(db):
    alert_id = add_alert(db, stage="severe")
    perform(
        db, "acknowledge", alert_id, principal=KIM, seen_version=1, now=T0 + timedelta(minutes=4)
    )
    assert tick(db, T0 + timedelta(minutes=30)) == []


@pytest.mark.parametrize("status", ["acknowledged", "dispatched", "closed"])
def test_only_open_alerts_escalate(db, status):
    add_alert(db, stage="severe", status=status)
    assert tick(db, T0 + timedelta(hours=1)) == []


@pytest.mark.parametrize("stage", ["attention", "risk"])
def test_only_severe_alerts_escalate(db, stage):
    add_alert(db, stage=stage)
    assert tick(db, T0 + timedelta(hours=1)) == []


def test_several_workers_escalate_once(db):
    ids = [add_alert(db, stage="severe") for _ in range(5)]
    barrier = threading.Barrier(3)
    found: list[int] = []
    errors: list = []

    def worker() -> None:
        barrier.wait()
        try:
            with db.begin() as conn:
                got = escalate_unacknowledged(
                    conn, T0 + timedelta(minutes=6), after_min=5, routing=ROUTING
                )
            found.extend(e.alert_id for e in got)
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    # A worker that lost a race on SQLite's write lock or PostgreSQL's unique index fails its
    # transaction, never doubles; the next pass would retry it.
    assert all("unique" in str(e).lower() or "locked" in str(e).lower() for e in errors), errors
    tick(db, T0 + timedelta(minutes=7))
    notes, audit = escalations(db)
    assert sorted(n.alert_id for n in notes) == ids
    assert sorted(int(a.entity_id) for a in audit) == ids
    assert len(set(found)) == len(found)
