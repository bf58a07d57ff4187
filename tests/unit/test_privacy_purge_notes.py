"""The privacy purge clears the free text about a person kept outside ``care_recipients``, on
SQLite and PostgreSQL: the notes on their alerts (and their devices' tickets while theirs) and
dispatches, the AI call's note in an alert's evidence, their away periods' notes; the notes in
those alerts' audit entries are redacted (the audit log's one exception to append-only), the
rest of each entry kept. The rows and the statistics stay; other people's notes stay."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, insert, select, update

from dashboard.actions.service import acknowledge, close, emergency_119
from dashboard.audit import REDACTED_NOTE
from dashboard.db.schema import (
    Alert,
    AuditLog,
    AwayPeriod,
    CareRecipient,
    DeviceEvent,
    Dispatch,
)
from dashboard.detection.away import mark_away
from dashboard.enrollment import end_enrollment, purge_ended
from queries.alerts import alert_trail
from queries.enrollment import person_alerts
from queries.response_metrics import alerts_in_period
from tests.unit.test_actions_support import T0, add_alert, seed, who

LEAD = who("lead1", "lead")
TODAY = date(2024, 12, 2)  # T0 in Seoul
LONG_AGO = date(2024, 1, 10)  # past a 30-day retention at T0
NOTHING = {"alert_notes": 0, "dispatch_notes": 0, "evidence_notes": 0, "evidence_positions": 0,
           "away_notes": 0, "audit_notes": 0, "raw_events": 0}  # fmt: skip
# The fixture's person: acknowledge, 119 and close notes on the alert, the ticket's close note.
AUDIT_NOTES = 4


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    return db_engine


def _noted_person(db: Engine, tag: str) -> dict:
    """A person whose alert, 119 dispatch, plug's device ticket, AI call concern and away
    period all carry free text naming ``tag``; returns their ids."""
    alert_id = add_alert(db, opened_at=T0 - timedelta(days=3))
    with db.connect() as conn:
        rid, did = conn.execute(
            select(Alert.recipient_id, Alert.device_id).where(Alert.id == alert_id)
        ).one()
    ticket = add_alert(db, kind="device_fault", rule="device_offline", opened_at=T0 - timedelta(2))
    concern = add_alert(
        db,
        rule="ai_call_concern",
        status="closed",
        opened_at=T0 - timedelta(days=1),
        evidence={"result_at": "2024-12-01T00:00:00+00:00", "note": f"{tag} 통증 호소"},
    )
    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == ticket).values(device_id=did))
        conn.execute(
            update(Alert).where(Alert.id == concern).values(recipient_id=rid, device_id=did)
        )
        acknowledge(conn, alert_id, principal=LEAD, seen_version=1, now=T0, note=f"{tag} 통화")
        emergency_119(
            conn, alert_id, principal=LEAD, seen_version=2, now=T0, confirmed=True,
            note=f"{tag} 자택 욕실 낙상",
        )  # fmt: skip
        close(
            conn, alert_id, principal=LEAD, seen_version=3, now=T0, outcome="hospitalized",
            confirmed=True, note=f"{tag} 일산백병원 이송",
        )  # fmt: skip
        close(
            conn, ticket, principal=LEAD, seen_version=1, now=T0, outcome="device_fault",
            confirmed=True, note=f"{tag} 부재, 옆집에 기기 맡김",
        )  # fmt: skip
        away = mark_away(
            conn, LEAD, T0, rid, TODAY, TODAY + timedelta(days=3), note=f"{tag} 요양병원 입원"
        )
    return {"rid": rid, "device": did, "alerts": (alert_id, ticket, concern), "away": away}


def _end(db: Engine, rid: int, on: date) -> None:
    with db.begin() as conn:
        end_enrollment(conn, LEAD, T0, rid, "moved", on)


def _texts(db: Engine) -> dict:
    """Every note the purge may clear, by table and id (None: cleared)."""
    with db.connect() as conn:
        return {
            "alerts": dict(conn.execute(select(Alert.id, Alert.note)).all()),
            "evidence": {
                i: (e or {}).get("note") for i, e in conn.execute(select(Alert.id, Alert.evidence))
            },
            "dispatches": dict(conn.execute(select(Dispatch.id, Dispatch.note)).all()),
            "away": dict(conn.execute(select(AwayPeriod.id, AwayPeriod.note)).all()),
        }


def row_evidence(conn, alert_id: int) -> dict:
    return conn.execute(select(Alert.evidence).where(Alert.id == alert_id)).scalar_one()


def _facts(db: Engine) -> tuple:
    """What stays: the alert and dispatch rows without their notes, and a statistic."""
    with db.connect() as conn:
        alerts = conn.execute(
            select(Alert.id, Alert.recipient_id, Alert.device_id, Alert.status, Alert.outcome,
                   Alert.rule, Alert.version).order_by(Alert.id)
        ).all()  # fmt: skip
        dispatches = conn.execute(
            select(Dispatch.id, Dispatch.alert_id, Dispatch.kind, Dispatch.target).order_by(
                Dispatch.id
            )
        ).all()
        metrics = alerts_in_period(
            conn, T0 - timedelta(days=10), T0 + timedelta(days=1), None, None
        )
        away = conn.execute(
            select(AwayPeriod.id, AwayPeriod.starts_on, AwayPeriod.ends_on).order_by(AwayPeriod.id)
        ).all()
    return alerts, dispatches, metrics.to_dict("records"), away


def _audit_rows(db: Engine) -> list:
    """Every audit row but the purges', every column."""
    log = AuditLog.__table__
    with db.connect() as conn:
        return conn.execute(
            select(log).where(log.c.action != "privacy_purge").order_by(log.c.id)
        ).all()


def _redacted(rows: list, alert_ids) -> list:
    """``rows`` as the purge leaves them: the note of each entry about ``alert_ids`` that holds
    one replaced by the marker, nothing else changed."""
    about = {str(i) for i in alert_ids}

    def redact(row):
        detail = row.detail
        if row.entity_type == "alert" and row.entity_id in about and (detail or {}).get("note"):
            detail = {**detail, "note": REDACTED_NOTE}
        return (*row[:-1], detail)

    assert rows and rows[0]._fields[-1] == "detail"
    return [redact(r) for r in rows]


def _purge_audits(db: Engine) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog.detail).where(AuditLog.action == "privacy_purge").order_by(AuditLog.id)
        ).all()


def test_the_purge_clears_the_persons_notes_everywhere_and_keeps_the_rows(db):
    old = _noted_person(db, "김옛날")
    kept = _noted_person(db, "이현재")  # still enrolled: nothing of theirs is touched
    recent = _noted_person(db, "박최근")  # ended within the retention: kept too
    _end(db, old["rid"], LONG_AGO)
    _end(db, recent["rid"], date(2024, 11, 30))
    # The old plug serves nobody now; a ticket opened after the release is not the person's.
    later = add_alert(db, kind="device_fault", rule="device_offline", opened_at=T0 + timedelta(1))
    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == later).values(device_id=old["device"]))
        close(
            conn, later, principal=LEAD, seen_version=1, now=T0 + timedelta(1),
            outcome="device_fault", confirmed=True, note="교체 예정",
        )  # fmt: skip
    before, facts, log = _texts(db), _facts(db), _audit_rows(db)
    with db.connect() as conn:
        history = person_alerts(conn, old["rid"])["id"].tolist()
    person_alert, ticket, concern = old["alerts"]
    assert before["alerts"][person_alert] and before["alerts"][ticket]  # the fixture has notes

    with db.begin() as conn:
        report = purge_ended(conn, LEAD, T0 + timedelta(minutes=1), 30)

    after = _texts(db)
    assert report.recipient_ids == (old["rid"],)
    assert after["alerts"][person_alert] is None and after["alerts"][ticket] is None
    assert after["evidence"][concern] is None
    old_dispatches = [i for i, n in before["dispatches"].items() if "김옛날" in (n or "")]
    assert old_dispatches and all(after["dispatches"][i] is None for i in old_dispatches)
    assert after["away"][old["away"]] is None
    # Nothing else changed: the other person's notes, the later ticket's, every row and count.
    expected = {
        table: {
            i: None
            if (table == "evidence" and i == concern)
            or (table == "alerts" and i in (person_alert, ticket))
            or (table == "dispatches" and i in old_dispatches)
            or (table == "away" and i == old["away"])
            else n
            for i, n in notes.items()
        }
        for table, notes in before.items()
    }
    assert after == expected
    assert after["alerts"][later] == "교체 예정"
    assert after["away"][kept["away"]] == "이현재 요양병원 입원"
    assert after["alerts"][recent["alerts"][0]] == "박최근 일산백병원 이송"
    assert _facts(db) == facts and len(facts[2]) >= 9  # the statistic counts every alert
    with db.connect() as conn:
        assert row_evidence(conn, concern) == {"result_at": "2024-12-01T00:00:00+00:00"}
        assert person_alerts(conn, old["rid"])["id"].tolist() == history
    # The purge's audit row counts what it cleared, and names nothing.
    [detail] = [r.detail for r in _purge_audits(db)]
    assert detail["cleared"] == {
        "alert_notes": 2,
        "dispatch_notes": len(old_dispatches),
        "evidence_notes": 1,
        "evidence_positions": 0,
        "away_notes": 1,
        "audit_notes": AUDIT_NOTES,
        "raw_events": 0,
    }
    assert report.cleared == detail["cleared"]
    assert "김" not in str(detail) and "통증" not in str(detail)
    # The audit entries about the person's alerts keep everything but their notes' text: who,
    # when, the action, the ids and the rest of the detail. Nobody else's note is touched.
    after_log = _audit_rows(db)
    assert after_log == _redacted(log, (person_alert, ticket, concern))
    assert after_log != log and "김옛날" not in str(after_log)
    assert sum(str(r.detail).count(REDACTED_NOTE) for r in after_log) == AUDIT_NOTES
    assert "이현재 일산백병원 이송" in str(after_log) and "교체 예정" in str(after_log)
    # The alert's trail still lists each action, its note now the marker.
    with db.connect() as conn:
        trail = alert_trail(conn, person_alert)
    assert trail["note"].tolist() == [REDACTED_NOTE] * 3


def test_a_second_run_clears_nothing_more_and_says_so(db):
    old = _noted_person(db, "김옛날")
    _end(db, old["rid"], LONG_AGO)
    with db.begin() as conn:
        first = purge_ended(conn, LEAD, T0, 30)
    assert first.cleared["alert_notes"] == 2
    assert first.cleared["audit_notes"] == AUDIT_NOTES
    texts, facts, log = _texts(db), _facts(db), _audit_rows(db)
    with db.begin() as conn:
        again = purge_ended(conn, LEAD, T0 + timedelta(minutes=1), 30)
    assert again.recipient_ids == () and again.cleared == NOTHING
    assert _purge_audits(db)[-1].detail["cleared"] == NOTHING
    assert _texts(db) == texts and _facts(db) == facts and _audit_rows(db) == log


def test_a_dry_run_counts_the_notes_and_changes_nothing(db):
    old = _noted_person(db, "김옛날")
    _end(db, old["rid"], LONG_AGO)
    texts, facts, log = _texts(db), _facts(db), _audit_rows(db)
    with db.begin() as conn:
        dry = purge_ended(conn, LEAD, T0, 30, dry_run=True)
    assert dry.dry_run and dry.recipient_ids == (old["rid"],)
    assert _texts(db) == texts and _facts(db) == facts and _audit_rows(db) == log
    assert _purge_audits(db) == []
    assert "would clear alert_notes 2" in str(dry)
    assert f"audit_notes {AUDIT_NOTES}" in str(dry)
    with db.begin() as conn:
        real = purge_ended(conn, LEAD, T0, 30)
    assert real.cleared == dry.cleared and dry.cleared["evidence_notes"] == 1
    assert _audit_rows(db) != log  # what the dry run counted, the run redacted


def test_a_person_pseudonymised_before_notes_were_cleared_loses_them_at_the_next_run(db):
    """A purge from before this change left the notes: the next run finishes its work, even
    with a longer retention now and nobody due."""
    old = _noted_person(db, "김옛날")
    _end(db, old["rid"], date(2024, 11, 1))  # within a 365-day retention at T0
    with db.begin() as conn:
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == old["rid"])
            .values(pii_name=f"가명-{old['rid']}", pseudonymized_at=T0 - timedelta(days=1))
        )
        report = purge_ended(conn, LEAD, T0, 365)
    assert report.recipient_ids == ()
    assert report.cleared == {**NOTHING, "alert_notes": 2, "dispatch_notes": 1,
                              "evidence_notes": 1, "away_notes": 1,
                              "audit_notes": AUDIT_NOTES}  # fmt: skip
    after = _texts(db)
    assert all(after["alerts"][i] is None for i in old["alerts"])
    assert "김옛날" not in str(_audit_rows(db))


def test_the_purge_drops_a_wanderers_positions_and_the_raw_events_while_the_device_was_theirs(
    db,
):
    """A position in an alert's evidence and the raw events of the person's devices say where
    they lived and how they lived: gone with the name; the rule's figures and rollups stay."""
    old, kept = _noted_person(db, "김옛날"), _noted_person(db, "이현재")
    found = {"distance_m": 840, "zone": "circle", "lat": 37.65, "lon": 126.78,
             "accuracy_m": 12.0, "position_at": "2024-11-29T01:00:00+00:00"}  # fmt: skip
    alerts = (old["alerts"][0], kept["alerts"][0])

    def event(device: int, ts, n: int) -> dict:
        return {"vendor": "acme", "event_uid": f"e{device}-{n}", "device_id": device, "ts": ts,
                "received_at": ts, "type": "power", "value": 12.5, "data": {}}  # fmt: skip

    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id.in_(alerts)).values(evidence=found))
        conn.execute(
            insert(DeviceEvent),
            [event(d, T0 - timedelta(days=k), k) for d in (old["device"], kept["device"])
             for k in (2, 3, 4)],
        )  # fmt: skip
    _end(db, old["rid"], LONG_AGO)
    later = T0 + timedelta(days=1)  # the returned plug, reporting for nobody: not the person's
    with db.begin() as conn:
        conn.execute(insert(DeviceEvent), [event(old["device"], later, 9)])
        dry = purge_ended(conn, LEAD, later + timedelta(minutes=1), 30, dry_run=True)
    assert dry.cleared["evidence_positions"] == 1 and dry.cleared["raw_events"] == 3
    with db.begin() as conn:
        report = purge_ended(conn, LEAD, later + timedelta(minutes=1), 30)
    assert report.cleared == dry.cleared
    with db.connect() as conn:
        evidence = dict(
            conn.execute(select(Alert.id, Alert.evidence).where(Alert.id.in_(alerts))).all()
        )
        left = conn.execute(
            select(DeviceEvent.device_id, DeviceEvent.ts).order_by(DeviceEvent.id)
        ).all()
    assert evidence[alerts[0]] == {"distance_m": 840, "zone": "circle",
                                   "position_at": "2024-11-29T01:00:00+00:00"}  # fmt: skip
    assert evidence[alerts[1]] == found  # another person's: kept
    assert [d for d, _ in left] == [kept["device"]] * 3 + [old["device"]]
    with db.begin() as conn:
        again = purge_ended(conn, LEAD, later + timedelta(minutes=2), 30)
    assert again.cleared == NOTHING


def test_the_enrollment_doc_names_everything_the_purge_clears():
    from dashboard.enrollment.privacy import CLEARED, NOTES
    from dashboard.settings import PROJECT_ROOT

    doc = (PROJECT_ROOT / "docs" / "enrollment.md").read_text(encoding="utf-8")
    purge = doc.split("## Personal data of ended enrollments", 1)[1]
    for name in (*CLEARED, *NOTES):
        assert f"`{name}`" in purge, name
