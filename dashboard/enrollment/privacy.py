"""Privacy purge: personal data of ended enrollments is cleared after the retention period.

개인정보 보호법 §21 asks for personal data to be destroyed without delay once it is no longer
needed, unless another law requires keeping it. What "needed" means for a program is the
operator's policy (its 개인정보 처리방침): ``ANBU_PRIVACY_RETENTION_DAYS``. After it the person
is pseudonymised: name, phones, address, guardian, home position and staff notes cleared, the
name replaced by ``가명-<id>``; birth year, sex, dong, program, dates and every alert, dispatch
and statistic stay. The free text about the person kept elsewhere goes too (``NOTES``): the
notes on their alerts and dispatches, the AI call's note in an alert's evidence and the notes of
their away periods; the rows stay. Where they were and how they lived goes as well: the
positions in their alerts' evidence and the raw events of their devices while theirs. The
operators' notes in those alerts' audit entries are redacted (``dashboard.audit.redact_notes``,
the audit log's one exception to append-only). One audit row per run names the ids (not
personal data) and the counts (docs/enrollment.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from sqlalchemy import (
    Connection,
    Executable,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    func,
    null,
    or_,
    select,
    update,
)

from dashboard.audit import holds_note, redact_notes
from dashboard.auth.principal import SessionUser
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import (
    Alert,
    AuditLog,
    AwayPeriod,
    CareRecipient,
    DeviceEvent,
    Dispatch,
)
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
# Free text about the person in other tables, cleared with them; the rows stay (statistics).
# Each name is a count in the purge's audit row.
NOTES = (
    "alert_notes",  # alerts.note: a close note (a grave outcome needs one)
    "dispatch_notes",  # dispatches.note: the 119 dialog's, any dispatch's
    "evidence_notes",  # alerts.evidence.note: the AI call's concern (통증 호소, …)
    "evidence_positions",  # alerts.evidence lat/lon/accuracy_m: where a wanderer was found
    "away_notes",  # away_periods.note: a hospital stay, a stay with family
    "audit_notes",  # audit_log.detail.note of those alerts' actions: redacted, not cleared
    "raw_events",  # device_events of their devices while theirs: deleted (rollups stay)
)
# A position in an alert's evidence (a wanderer's fix, near their home): the keys go, the
# rule's figures (distance, zone, times) stay.
POSITION_KEYS = ("lat", "lon", "accuracy_m")


def pseudonym(recipient_id: int) -> str:
    """What replaces the name (the column is NOT NULL)."""
    return f"가명-{recipient_id}"


@dataclass(frozen=True)
class PurgeReport:
    cutoff: str  # the newest end date purged (Asia/Seoul), ISO
    recipient_ids: tuple[int, ...]
    dry_run: bool
    # NOTES name → rows whose note was (dry run: would be) cleared.
    cleared: dict[str, int] = field(default_factory=dict)

    def __str__(self) -> str:
        verb = "would pseudonymise" if self.dry_run else "pseudonymised"
        ids = ", ".join(map(str, self.recipient_ids[:20]))
        more = " …" if len(self.recipient_ids) > 20 else ""
        tail = f": {ids}{more}" if self.recipient_ids else ""
        notes = ", ".join(f"{name} {n}" for name, n in self.cleared.items())
        notes = f"; {'would clear' if self.dry_run else 'cleared'} {notes}" if notes else ""
        return (
            f"{verb} {len(self.recipient_ids)} ended enrollments "
            f"(ended on or before {self.cutoff}){tail}{notes}"
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
    if dry_run:
        cleared = _clear_notes(conn, cutoff, True) | {"raw_events": _raw_events(conn, ids, True)}
        return PurgeReport(cutoff.isoformat(), ids, True, cleared)
    # The pseudonym depends on the id: one statement per person (a handful per day).
    for rid in ids:
        conn.execute(
            update(r)
            .where(r.c.id == rid, r.c.pseudonymized_at.is_(None))
            .values(pii_name=pseudonym(rid), pseudonymized_at=now, **dict.fromkeys(CLEARED))
        )
    cleared = _clear_notes(conn, cutoff, False) | {"raw_events": _raw_events(conn, ids, False)}
    audit(
        conn,
        now,
        actor,
        PURGE_ACTION,
        "care_recipient",
        None,
        {"retention_days": retention_days, "cutoff": cutoff.isoformat(),
         "count": len(ids), "recipient_ids": list(ids), "cleared": cleared},
    )  # fmt: skip
    return PurgeReport(cutoff.isoformat(), ids, False, cleared)


def _purged_people() -> Select:
    """The people whose notes go: pseudonymised (now, or by a purge from before notes were
    cleared too, so a later run finishes its work) or due at ``:cutoff`` (a dry run has not
    pseudonymised them)."""
    r = CareRecipient.__table__
    due = and_(
        r.c.ended_on.is_not(None), r.c.ended_on <= bindparam("cutoff", type_=r.c.ended_on.type)
    )
    return select(r.c.id).where(or_(r.c.pseudonymized_at.is_not(None), due))


def _note_statements(_conn: Connection) -> dict[str, tuple[Select, Executable]]:
    """NOTES name → (count the purged people's rows holding that note, clear it). The
    evidence and audit notes are JSON keys: their second statement selects the rows to rewrite."""
    a, d, w = Alert.__table__, Dispatch.__table__, AwayPeriod.__table__
    log = AuditLog.__table__
    people = _purged_people()
    from queries.enrollment import alerts_of  # pandas: not on `replay`'s start (test_cli)

    theirs = alerts_of(people)
    alert_note = and_(a.c.note.is_not(None), theirs)
    dispatch_note = and_(d.c.note.is_not(None), d.c.alert_id.in_(select(a.c.id).where(theirs)))
    evidence_note = and_(a.c.evidence["note"].as_string().is_not(None), theirs)
    evidence_position = and_(
        or_(*(a.c.evidence[k].as_string().is_not(None) for k in POSITION_KEYS)), theirs
    )
    away_note = and_(w.c.note.is_not(None), w.c.recipient_id.in_(people))
    # The audit rows name their alert by id as text.
    audit_note = holds_note("alert", select(cast(a.c.id, log.c.entity_id.type)).where(theirs))

    def count(table, where) -> Select:
        return select(func.count()).select_from(table).where(where)

    return {
        "alert_notes": (count(a, alert_note), update(a).where(alert_note).values(note=null())),
        "dispatch_notes": (
            count(d, dispatch_note),
            update(d).where(dispatch_note).values(note=null()),
        ),
        "evidence_notes": (
            count(a, evidence_note),
            select(a.c.id, a.c.evidence).where(evidence_note),
        ),
        "evidence_positions": (
            count(a, evidence_position),
            select(a.c.id, a.c.evidence).where(evidence_position),
        ),
        "away_notes": (count(w, away_note), update(w).where(away_note).values(note=null())),
        "audit_notes": (count(log, audit_note), select(log.c.id, log.c.detail).where(audit_note)),
    }


def _evidence_rewrite(_conn: Connection) -> Executable:
    a = Alert.__table__
    return (
        update(a)
        .where(a.c.id == bindparam("alert_id"))
        .values(evidence=bindparam("kept", type_=a.c.evidence.type))
    )


def _clear_notes(conn: Connection, cutoff: date, dry_run: bool) -> dict[str, int]:
    """Clear (dry run: count) the NOTES of the purged people. Only rows still holding a note
    (an audit entry: one not yet redacted) are touched, so a second run clears nothing. Built
    once: the worker runs it daily."""
    statements = prebuilt(conn, "privacy.notes", _note_statements)
    params = {"cutoff": cutoff}
    out: dict[str, int] = {}
    for name, (count, clear) in statements.items():
        if dry_run:
            out[name] = int(conn.execute(count, params).scalar_one())
        elif name.startswith("evidence_"):
            # Drop the keys, keep the rule's figures (the reviews read them); in Python, one
            # text for both databases' JSON.
            drop = ("note",) if name == "evidence_notes" else POSITION_KEYS
            found = conn.execute(clear, params).all()
            kept = [
                {"alert_id": id_, "kept": {k: v for k, v in ev.items() if k not in drop}}
                for id_, ev in found
            ]
            if kept:
                conn.execute(prebuilt(conn, "privacy.evidence_rewrite", _evidence_rewrite), kept)
            out[name] = len(kept)
        elif name == "audit_notes":
            out[name] = redact_notes(conn, conn.execute(clear, params).all())
        else:
            out[name] = conn.execute(clear, params).rowcount
    return out


def _raw_events(conn: Connection, ids: tuple[int, ...], dry_run: bool) -> int:
    """Delete (dry run: count) the raw events of the devices of the people pseudonymised now,
    while the devices were theirs: a wanderer's positions, a home's hour-by-hour power. Usually
    none are left (``ANBU_EVENT_RETENTION_DAYS``, 90, is inside the privacy retention, 365);
    with a shorter privacy retention they would outlive the person's name. One indexed range
    per device period; people purged earlier keep what is left to the event retention."""
    e = DeviceEvent.__table__
    total = 0
    from queries.enrollment import device_periods  # as above: pandas

    for device_id, since, until in device_periods(conn, ids):
        where = [e.c.device_id == device_id]
        if since is not None:
            where.append(e.c.ts >= since)
        if until is not None:
            where.append(e.c.ts <= until)
        if dry_run:
            total += conn.execute(select(func.count()).select_from(e).where(*where)).scalar_one()
        else:
            total += conn.execute(delete(e).where(*where)).rowcount
    return total
