"""Audit records for logins and account changes (never a password, never a hash)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from dashboard.db.schema import AuditLog

ENTITY = "user"


def audit(
    conn: Connection,
    now: datetime,
    actor: str,
    action: str,
    username: str,
    detail: dict[str, Any] | None = None,
) -> None:
    conn.execute(
        insert(AuditLog).values(
            at=now,
            actor=actor[:60],
            action=action,
            entity_type=ENTITY,
            entity_id=username[:60],
            detail=detail,
        )
    )
