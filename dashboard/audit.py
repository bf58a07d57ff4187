"""The one audit writer: every domain function that changes state records it through here.

``audit_log`` is append-only. A row says who (``actor``: a username, ``cli:<os user>`` or
``system:<part>``), did what (``action``, a fixed name such as ``alert_close`` or
``api_key_create``), to which thing (``entity_type`` and ``entity_id``) and when, with a JSON
``detail`` that never holds a password, a hash or a key. The writer runs inside the caller's
transaction, so the row commits with the change it describes or not at all.

Personal data stays out of ``detail`` too, with one exception: the operators' action notes on
an alert (``detail.note`` of ``alert_<action>``, free text that may name or describe the
person). Hence the one exception to append-only, :func:`redact_notes`: the privacy purge
(``dashboard.enrollment.privacy``) replaces the note of a pseudonymised person's alerts with
:data:`REDACTED_NOTE`. Only that key changes; who, when, the action, the ids and the rest of
the detail stay as written, and nothing else in Anbu updates or deletes a row.

Bulk writers (the rules' lifecycle, escalation, the demo builder) build their rows with
:func:`audit_row` and insert many at once: same columns, same limits.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, bindparam, insert, update

from dashboard.clock import require_aware
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AuditLog

# Column widths of audit_log (actor 60, action 40, entity_type 30, entity_id 60).
_ACTOR, _ACTION, _ENTITY_TYPE, _ENTITY_ID = 60, 40, 30, 60
USER_ENTITY = "user"
# What the privacy purge leaves of an operator's note in the audit log: the entry shows that a
# note was written, never what it said (the alert page reads it as "redacted").
REDACTED_NOTE = "[가명처리]"


def audit_row(
    *,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One ``audit_log`` row as a dict; names that do not fit are a programming error."""
    require_aware(at, "audit time")
    if not actor or not actor.strip():
        raise ValueError("audit actor is required: every change is attributed")
    if not action or len(action) > _ACTION:
        raise ValueError(f"audit action {action!r}: 1–{_ACTION} characters")
    if not entity_type or len(entity_type) > _ENTITY_TYPE:
        raise ValueError(f"audit entity type {entity_type!r}: 1–{_ENTITY_TYPE} characters")
    return {
        "at": at,
        "actor": actor[:_ACTOR],
        "action": action,
        "entity_type": entity_type,
        "entity_id": None if entity_id is None else str(entity_id)[:_ENTITY_ID],
        "detail": detail,
    }


def write_audit(
    conn: Connection,
    *,
    at: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: str | int | None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one row in the caller's transaction."""
    row = audit_row(
        at=at,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        detail=detail,
    )
    # Built once: every alert write and daily job appends a row.
    conn.execute(prebuilt(conn, "audit.insert", lambda _: insert(AuditLog)), row)


def audit_account(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    username: str,
    detail: dict[str, Any] | None = None,
) -> None:
    """A login or account event about ``username`` (entity ``user``)."""
    write_audit(
        conn,
        at=now,
        actor=actor,
        action=action,
        entity_type=USER_ENTITY,
        entity_id=username,
        detail=detail,
    )


def holds_note(entity_type: str, entity_ids: Select) -> ColumnElement[bool]:
    """The audit rows about ``entity_type`` rows whose ids (as text) ``entity_ids`` selects
    whose detail still holds a note that is not yet :data:`REDACTED_NOTE`."""
    log = AuditLog.__table__
    note = log.c.detail["note"].as_string()
    return and_(
        log.c.entity_type == entity_type,
        log.c.entity_id.in_(entity_ids),
        note.is_not(None),
        note != REDACTED_NOTE,
    )


def redact_notes(conn: Connection, rows: list[Row]) -> int:
    """The one exception to append-only: set ``detail.note`` of each (``id``, ``detail``) row to
    :data:`REDACTED_NOTE`, in the caller's transaction; nothing else in the row changes. Only
    the privacy purge calls it, with rows that :func:`holds_note` found. Returns the count."""
    if not rows:
        return 0
    params = [{"audit_id": r.id, "redacted": {**r.detail, "note": REDACTED_NOTE}} for r in rows]
    conn.execute(prebuilt(conn, "audit.redact_note", _redact_statement), params)
    return len(params)


def _redact_statement(_conn: Connection):
    log = AuditLog.__table__
    return (
        update(log)
        .where(log.c.id == bindparam("audit_id"))
        .values(detail=bindparam("redacted", type_=log.c.detail.type))
    )
