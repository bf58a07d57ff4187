"""Loading rows the enrollment functions act on, and the one audit call they share."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.clock import require_aware
from dashboard.db.schema import CareRecipient, Device
from dashboard.enrollment.errors import EnrollmentError, NotFound

ACTION = "manage_roster"


def authorise(principal: SessionUser, now: datetime) -> str:
    """The acting username, after the role check (before anything is read or written)."""
    require_aware(now)
    return require(principal, ACTION).username


def load_person(conn: Connection, recipient_id: int, *, for_update: bool = False):
    r = CareRecipient.__table__
    stmt = select(r).where(r.c.id == recipient_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one_or_none()
    if row is None:
        raise NotFound("care recipient", recipient_id)
    return row


def refuse_ended(person) -> None:
    """An ended enrollment is history: its settings, devices and pairs are not changed."""
    if person.ended_on is not None:
        raise EnrollmentError(
            "recipient_id",
            f"the enrollment ended on {person.ended_on}",
            key="person_ended",
            date=person.ended_on,
        )


def load_device(conn: Connection, device_id: int, *, for_update: bool = False):
    d = Device.__table__
    stmt = select(d).where(d.c.id == device_id)
    if for_update and conn.dialect.name == "postgresql":
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one_or_none()
    if row is None:
        raise NotFound("device", device_id)
    return row


def audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    entity_type: str,
    entity_id: int | str | None,
    detail: dict[str, Any],
) -> None:
    """Audit rows carry ids, codes and which fields changed: never a personal value."""
    write_audit(
        conn,
        at=now,
        actor=actor,
        action=action,
        entity_type=entity_type,
        entity_id=entity_id,
        detail=detail,
    )
