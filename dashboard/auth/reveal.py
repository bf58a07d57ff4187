"""Revealing a person's personal data: checked for the principal's role and districts, audited.

The card a page shows is masked (``queries.recipients.recipient_card``); the names, phones and
addresses come only through :func:`reveal_personal_data`, which writes the audit row (who, whom,
when, for which alert) in the caller's transaction, so the data is returned only if the row is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dashboard.audit import write_audit
from dashboard.auth.permissions import may, require_in_scope
from dashboard.auth.principal import SessionUser
from dashboard.auth.roles import can
from dashboard.db.schema import CareRecipient, Region
from queries.recipients import PII_FIELDS, personal_data

REVEAL_ACTION = "reveal_personal_data"
ENTITY = "care_recipient"


class RecipientNotFound(LookupError):
    def __init__(self, recipient_id: int) -> None:
        self.recipient_id = recipient_id
        super().__init__(f"no care recipient {recipient_id}")


def check_reveal(user: SessionUser, region_code: str | None) -> str | None:
    """Why ``user`` may not reveal a person in ``region_code`` (``role``/``district``); None
    when they may. For pages deciding what to offer; the reveal itself checks again."""
    if not can(user.role, REVEAL_ACTION):
        return "role"
    if not may(user, REVEAL_ACTION, region_code):
        return "district"
    return None


def reveal_personal_data(
    conn: Connection,
    principal: SessionUser,
    recipient_id: int,
    now: datetime,
    *,
    alert_id: int | None = None,
) -> dict[str, str]:
    """Check the right, write the audit row, return the unmasked data (``PII_FIELDS``).

    Raises ``NotPermitted`` (reason ``role`` or ``district``) or :class:`RecipientNotFound`,
    writing nothing. Call inside a transaction (``engine.begin()``).
    """
    region = conn.execute(
        select(Region.code)
        .join(CareRecipient, CareRecipient.region_id == Region.id)
        .where(CareRecipient.id == recipient_id)
    ).scalar_one_or_none()
    if region is None:
        raise RecipientNotFound(recipient_id)
    user = require_in_scope(principal, REVEAL_ACTION, region)
    detail: dict[str, Any] = {"fields": list(PII_FIELDS), "region": region, "role": user.role}
    if alert_id is not None:
        detail["alert_id"] = alert_id
    write_audit(
        conn,
        at=now,
        actor=user.username,
        action=REVEAL_ACTION,
        entity_type=ENTITY,
        entity_id=recipient_id,
        detail=detail,
    )
    return personal_data(conn, recipient_id)
