"""A care recipient's card: masked for display, revealed only through an audited call.

Personal data (``pii_*``) leaves this module masked, except from :func:`reveal_personal_data`,
which checks the user's right for this person's region and writes the audit row in the same
transaction, and :func:`personal_data`, which a page may call again for an alert the session
has already revealed (the reveal was audited; re-rendering is not a new disclosure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select

from dashboard.auth import SessionUser, can, can_see_personal_data
from dashboard.db.schema import AuditLog, CareRecipient, Region
from dashboard.formatting import mask_name

REVEAL_ACTION = "reveal_personal_data"
ENTITY = "care_recipient"
PII_FIELDS = ("name", "phone", "address", "guardian_name", "guardian_phone")


class RevealRefused(PermissionError):
    """The user may not see this person's data (role, or region outside their districts)."""

    def __init__(self, username: str, recipient_id: int, reason: str) -> None:
        self.username, self.recipient_id, self.reason = username, recipient_id, reason
        super().__init__(f"{username} may not see recipient {recipient_id}: {reason}")


@dataclass(frozen=True)
class RecipientCard:
    id: int
    external_ref: str
    region_code: str
    region_ko: str
    region_en: str
    birth_year: int
    sex: str
    household: str
    risk_group: str | None
    safe_zone_m: int | None
    no_change_hours: int | None
    has_guardian_phone: bool
    masked: dict[str, str]  # PII_FIELDS → masked text ("–" when not on file)


def mask_phone(phone: str | None) -> str:
    """010-1234-5678 → 010-****-5678: the last digits help confirm a call, not make one."""
    if not phone:
        return "–"
    digits = re.sub(r"\D", "", phone)
    return f"{digits[:3]}-****-{digits[-4:]}" if len(digits) >= 8 else "****"


def mask_address(address: str | None) -> str:
    """Keep the city and district words only: 고양시 일산동구 백석로 1 → 고양시 일산동구 ***."""
    if not address:
        return "–"
    words = address.split()
    return " ".join([*words[:2], "***"]) if len(words) > 2 else "***"


_PII = [
    CareRecipient.pii_name,
    CareRecipient.pii_phone,
    CareRecipient.pii_address,
    CareRecipient.pii_guardian_name,
    CareRecipient.pii_guardian_phone,
]


def recipient_card(conn: Connection, recipient_id: int) -> RecipientCard | None:
    """The card shown before any reveal: programme facts and masked personal data."""
    c = CareRecipient
    row = conn.execute(
        select(
            c.id,
            c.external_ref,
            Region.code,
            Region.name_ko,
            Region.name_en,
            c.birth_year,
            c.sex,
            c.household,
            c.risk_group,
            c.safe_zone_m,
            c.no_change_hours,
            *_PII,
        )
        .join(Region, Region.id == c.region_id)
        .where(c.id == recipient_id)
    ).one_or_none()
    if row is None:
        return None
    name, phone, address, g_name, g_phone = row[-5:]
    return RecipientCard(
        *row[:11],
        has_guardian_phone=bool(g_phone),
        masked={
            "name": mask_name(name),
            "phone": mask_phone(phone),
            "address": mask_address(address),
            "guardian_name": mask_name(g_name) if g_name else "–",
            "guardian_phone": mask_phone(g_phone),
        },
    )


def personal_data(conn: Connection, recipient_id: int) -> dict[str, str]:
    """Unmasked PII_FIELDS; only for a session that revealed this person (see module doc)."""
    row = conn.execute(select(*_PII).where(CareRecipient.id == recipient_id)).one()
    return {k: (v if v else "–") for k, v in zip(PII_FIELDS, row, strict=True)}


def check_reveal(user: SessionUser, region_code: str | None) -> str | None:
    """Why ``user`` may not reveal a person in ``region_code``; None when they may."""
    if not can(user.role, REVEAL_ACTION):
        return "role"
    if not can_see_personal_data(user, region_code):
        return "district"
    return None


def reveal_personal_data(
    conn: Connection,
    user: SessionUser,
    recipient_id: int,
    now: datetime,
    *,
    alert_id: int | None = None,
) -> dict[str, str]:
    """Check the right, write the audit row (who, whom, when, for which alert), return the data.

    Call inside a transaction (``engine.begin()``): the data is returned only if the audit row
    is written with it.
    """
    region = conn.execute(
        select(Region.code)
        .join(CareRecipient, CareRecipient.region_id == Region.id)
        .where(CareRecipient.id == recipient_id)
    ).scalar_one_or_none()
    if region is None:
        raise RevealRefused(user.username, recipient_id, "unknown recipient")
    refused = check_reveal(user, region)
    if refused:
        raise RevealRefused(user.username, recipient_id, refused)
    detail: dict[str, Any] = {"fields": list(PII_FIELDS), "region": region, "role": user.role}
    if alert_id is not None:
        detail["alert_id"] = alert_id
    conn.execute(
        insert(AuditLog).values(
            at=now,
            actor=user.username[:60],
            action=REVEAL_ACTION,
            entity_type=ENTITY,
            entity_id=str(recipient_id),
            detail=detail,
        )
    )
    return personal_data(conn, recipient_id)
