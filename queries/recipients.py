"""A care recipient's card: masked for display, revealed only through an audited call.

Personal data (``pii_*``) leaves this module masked, except from :func:`personal_data`, which
``dashboard.auth.reveal.reveal_personal_data`` calls after it checked the user's right for this
person's region and wrote the audit row, and which a page may call again for an alert the
session has already revealed (the reveal was audited; re-rendering is not a new disclosure).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import Connection, select

from dashboard.db.schema import CareRecipient, Region
from dashboard.formatting import mask_name

PII_FIELDS = ("name", "phone", "address", "guardian_name", "guardian_phone")


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
    ended: bool = False  # the enrollment ended: only leads may reveal (dashboard.auth.reveal)
    pseudonymized: bool = False  # the privacy purge cleared the personal data


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
            c.ended_on,
            c.pseudonymized_at,
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
        ended=row.ended_on is not None,
        pseudonymized=row.pseudonymized_at is not None,
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


def staff_notes(conn: Connection, recipient_id: int) -> str | None:
    """The staff's free-text notes: personal data like PII_FIELDS (they may name or describe
    the person), so only for a session that revealed this person, never for a role without
    personal-data access."""
    return conn.execute(
        select(CareRecipient.notes).where(CareRecipient.id == recipient_id)
    ).scalar_one_or_none()
