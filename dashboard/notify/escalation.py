"""Escalation policy: a 심각 alert nobody acknowledged within N minutes goes to the on-duty lead.

Once per alert: the outbox row's idempotency key is fixed per alert and the audit entry is
written only by the transaction whose insert won, so several workers escalate it once. The
alert's ``version`` is not touched: telling the lead must not make an operator's
acknowledgement at the same moment fail with a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from dashboard.actions.routing import RoutingConfig, recipient_address
from dashboard.audit import write_audit
from dashboard.clock import require_aware
from dashboard.db.schema import Alert, NotificationOutbox, Program

ACTOR = "system"
AUDIT_ACTION = "alert_escalate_lead"


def escalation_key(alert_id: int) -> str:
    return f"alert{alert_id}:escalate:lead"


@dataclass(frozen=True)
class Escalated:
    alert_id: int
    minutes_unacknowledged: float


def escalate_unacknowledged(
    conn: Connection, now: datetime, *, after_min: float, routing: RoutingConfig
) -> list[Escalated]:
    """Notify the on-duty lead of every 심각 alert still ``open`` ``after_min`` after it opened."""
    require_aware(now)
    a, o = Alert.__table__, NotificationOutbox.__table__
    cutoff = now - timedelta(minutes=after_min)
    candidates = conn.execute(
        select(a.c.id, a.c.rule, a.c.opened_at, a.c.region_id, Program.code.label("program"))
        .join(Program, Program.id == a.c.program_id)
        .where(a.c.status == "open", a.c.stage == "severe", a.c.opened_at <= cutoff)
        .order_by(a.c.opened_at, a.c.id)
    ).all()
    if not candidates:
        return []
    keys = {escalation_key(c.id): c for c in candidates}
    done = set(
        conn.execute(select(o.c.idempotency_key).where(o.c.idempotency_key.in_(list(keys))))
        .scalars()
        .all()
    )
    out: list[Escalated] = []
    for key, c in keys.items():
        if key in done:
            continue
        waited = (now - c.opened_at).total_seconds() / 60
        recipient = recipient_address(routing, "on_duty_lead", alert_id=c.id, program=c.program)
        payload = {
            "alert_id": c.id,
            "action": "escalate_lead",
            "rule": c.rule,
            "stage": "severe",
            "program": c.program,
            "minutes_unacknowledged": round(waited, 1),
            "message": f"[안부] 경보 #{c.id} (심각) {waited:.0f}분째 미확인. "
            "당직 팀장 확인 바랍니다.",
        }
        row = {
            "idempotency_key": key,
            "alert_id": c.id,
            "channel": "lead",
            "recipient": recipient,
            "payload": payload,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if not _insert_once(conn, row):
            continue  # another worker escalated it a moment ago
        write_audit(
            conn,
            at=now,
            actor=ACTOR,
            action=AUDIT_ACTION,
            entity_type="alert",
            entity_id=c.id,
            detail={"rule": c.rule, "after_min": after_min, "to": recipient, "notification": key},
        )
        out.append(Escalated(c.id, waited))
    return out


def _insert_once(conn: Connection, row: dict) -> bool:
    o = NotificationOutbox.__table__
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as dialect_insert
    else:
        from sqlalchemy.dialects.sqlite import insert as dialect_insert
    stmt = dialect_insert(o).on_conflict_do_nothing(index_elements=["idempotency_key"])
    return conn.execute(stmt.returning(o.c.id), row).first() is not None
