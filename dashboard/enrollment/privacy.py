"""Privacy purge: personal data of ended enrollments is cleared after the retention period.

개인정보 보호법 §21 asks for personal data to be destroyed without delay once it is no longer
needed, unless another law requires keeping it. What "needed" means for a program is the
operator's policy (its 개인정보 처리방침): ``ANBU_PRIVACY_RETENTION_DAYS``. After it the person
is pseudonymised: name, phones, address, guardian, home position and staff notes cleared, the
name replaced by ``가명-<id>``; birth year, sex, dong, program, dates and every alert, dispatch
and statistic stay. One audit row per run names the ids (not personal data) and the counts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, bindparam, select, update

from dashboard.auth.principal import SessionUser
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import CareRecipient
from dashboard.enrollment.common import audit, authorise
from dashboard.settings import LOCAL_TZ

PURGE_ACTION = "privacy_purge"
CLEARED = (
    "pii_phone",
    "pii_address",
    "pii_home_lat",
    "pii_home_lon",
    "pii_guardian_name",
    "pii_guardian_phone",
    "pii_zone_polygon",  # the safe zone outlines where the person lives
    "notes",  # staff free text about the person: it may name or describe them
)


def pseudonym(recipient_id: int) -> str:
    """What replaces the name (the column is NOT NULL)."""
    return f"가명-{recipient_id}"


@dataclass(frozen=True)
class PurgeReport:
    cutoff: str  # the newest end date purged (Asia/Seoul), ISO
    recipient_ids: tuple[int, ...]
    dry_run: bool

    def __str__(self) -> str:
        verb = "would pseudonymise" if self.dry_run else "pseudonymised"
        ids = ", ".join(map(str, self.recipient_ids[:20]))
        more = " …" if len(self.recipient_ids) > 20 else ""
        tail = f": {ids}{more}" if self.recipient_ids else ""
        return (
            f"{verb} {len(self.recipient_ids)} ended enrollments "
            f"(ended on or before {self.cutoff}){tail}"
        )


def purge_ended(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    retention_days: int,
    dry_run: bool = False,
) -> PurgeReport:
    """Pseudonymise people whose enrollment ended more than ``retention_days`` ago.

    Idempotent: people already pseudonymised are not touched again. A dry run writes nothing
    (no audit row either); a real run writes one audit row, also when nobody was due.
    """
    actor = authorise(principal, now)
    if isinstance(retention_days, bool) or not isinstance(retention_days, int):
        raise TypeError("retention_days must be an int")
    if retention_days < 0:
        raise ValueError("retention_days must be 0 or more")
    cutoff = now.astimezone(LOCAL_TZ).date() - timedelta(days=retention_days)
    r = CareRecipient.__table__
    query = prebuilt(  # built once: the worker's daily pass runs it
        conn,
        "privacy.purge_due",
        lambda _: (
            select(r.c.id)
            .where(
                r.c.ended_on.is_not(None),
                r.c.ended_on <= bindparam("cutoff", type_=r.c.ended_on.type),
                r.c.pseudonymized_at.is_(None),
            )
            .order_by(r.c.id)
        ),
    )
    ids = tuple(conn.execute(query, {"cutoff": cutoff}).scalars())
    report = PurgeReport(cutoff.isoformat(), ids, dry_run)
    if dry_run:
        return report
    # The pseudonym depends on the id: one statement per person (a handful per day).
    for rid in ids:
        conn.execute(
            update(r)
            .where(r.c.id == rid, r.c.pseudonymized_at.is_(None))
            .values(pii_name=pseudonym(rid), pseudonymized_at=now, **dict.fromkeys(CLEARED))
        )
    audit(
        conn,
        now,
        actor,
        PURGE_ACTION,
        "care_recipient",
        None,
        {"retention_days": retention_days, "cutoff": cutoff.isoformat(),
         "count": len(ids), "recipient_ids": list(ids)},
    )  # fmt: skip
    return report
