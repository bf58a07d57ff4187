"""Revealing a person's personal data: checked for the principal's role and districts, audited.

The card a page shows is masked (``queries.recipients.recipient_card``); the names, phones and
addresses come only through :func:`reveal_personal_data`, which writes the audit row (who, whom,
when, and why: the alert it was for, or one of :data:`REVEAL_PURPOSES`) in the caller's
transaction, so the data is returned only if the row is.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from dashboard.audit import write_audit
from dashboard.auth.permissions import _refuse, may, require_in_scope
from dashboard.auth.principal import SessionUser
from dashboard.auth.roles import can
from dashboard.db.schema import CareRecipient, Region
from queries.recipients import PII_FIELDS, personal_data, staff_notes

REVEAL_ACTION = "reveal_personal_data"
ENTITY = "care_recipient"


ENDED_REVEAL_ROLES = frozenset({"lead"})

# Why someone opens a person's data outside an alert (the access log's 수행업무): the person
# page asks for one before it reveals. An alert's reveal has its purpose in the alert.
REVEAL_PURPOSES = ("care_check", "visit", "guardian", "inquiry", "records")
ALERT_PURPOSE = "alert"


class RevealPurposeMissing(ValueError):
    """A reveal outside an alert without one of :data:`REVEAL_PURPOSES`; nothing was written."""

    def __init__(self, purpose: object) -> None:
        self.purpose = purpose
        super().__init__(
            f"a reveal outside an alert needs its purpose, one of {', '.join(REVEAL_PURPOSES)}"
            f" (got {purpose!r})"
        )


class Pseudonymised(LookupError):
    """The person's personal data was cleared by the privacy purge: nothing to reveal."""

    def __init__(self, recipient_id: int) -> None:
        self.recipient_id = recipient_id
        super().__init__(f"care recipient {recipient_id} was pseudonymised: no personal data")


class RecipientNotFound(LookupError):
    def __init__(self, recipient_id: int) -> None:
        self.recipient_id = recipient_id
        super().__init__(f"no care recipient {recipient_id}")


def check_reveal(user: SessionUser, region_code: str | None, ended: bool = False) -> str | None:
    """Why ``user`` may not reveal a person in ``region_code`` (``role``/``district``/
    ``ended_enrollment``: ``ended`` says the enrollment ended); None when they may. For pages
    deciding what to offer; the reveal itself checks again."""
    if not can(user.role, REVEAL_ACTION):
        return "role"
    if not may(user, REVEAL_ACTION, region_code):
        return "district"
    if ended and user.role not in ENDED_REVEAL_ROLES:
        return "ended_enrollment"
    return None


def reveal_personal_data(
    conn: Connection,
    principal: SessionUser,
    recipient_id: int,
    now: datetime,
    *,
    alert_id: int | None = None,
    purpose: str | None = None,
    with_notes: bool = False,
) -> dict[str, str]:
    """Check the right, write the audit row, return the unmasked data (``PII_FIELDS``, and
    ``notes`` when ``with_notes``: the person panel shows the staff notes, the alert card not).

    Every reveal says why: ``alert_id`` (the alert it is for) or ``purpose``, one of
    :data:`REVEAL_PURPOSES`; the audit row's ``detail.purpose`` keeps it (``alert`` for an
    alert's reveal).

    Raises ``NotPermitted`` (reason ``role``, ``district``, or ``ended_enrollment`` for an
    operator and an ended enrollment), :class:`Pseudonymised`, :class:`RecipientNotFound` or
    :class:`RevealPurposeMissing`, writing nothing. Call inside a transaction
    (``engine.begin()``).
    """
    found = conn.execute(
        select(Region.code, CareRecipient.ended_on, CareRecipient.pseudonymized_at)
        .join(CareRecipient, CareRecipient.region_id == Region.id)
        .where(CareRecipient.id == recipient_id)
    ).one_or_none()
    if found is None:
        raise RecipientNotFound(recipient_id)
    region = found.code
    user = require_in_scope(principal, REVEAL_ACTION, region)
    # An ended enrollment's data is kept for the retention period only: leads may still need
    # it (a complaint, a review), operators no longer do. After the purge nothing is left.
    if found.ended_on is not None and user.role not in ENDED_REVEAL_ROLES:
        raise _refuse(user, REVEAL_ACTION, "ended_enrollment")
    if found.pseudonymized_at is not None:
        raise Pseudonymised(recipient_id)
    if alert_id is not None:
        purpose = ALERT_PURPOSE
    elif purpose not in REVEAL_PURPOSES:
        raise RevealPurposeMissing(purpose)
    fields = [*PII_FIELDS, "notes"] if with_notes else list(PII_FIELDS)
    detail: dict[str, Any] = {
        "fields": fields,
        "region": region,
        "role": user.role,
        "purpose": purpose,
    }
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
    data = personal_data(conn, recipient_id)
    if with_notes:
        data["notes"] = staff_notes(conn, recipient_id) or "–"
    return data
