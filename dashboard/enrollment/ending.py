"""End of enrollment: the person leaves the live picture and stays in history and statistics."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import Connection, select, update

from dashboard.actions.service import close_for_enrollment_end
from dashboard.auth.principal import SessionUser
from dashboard.db.schema import Alert, CareRecipient, Device
from dashboard.db.schema.people import END_REASONS
from dashboard.enrollment.common import audit, authorise, load_person
from dashboard.enrollment.devices import release
from dashboard.enrollment.errors import EnrollmentError
from dashboard.enrollment.people import NOTES_MAX
from dashboard.plain_text import has_control_codes
from dashboard.rules.state import sync_device_states
from dashboard.settings import LOCAL_TZ

REASON_KO = {
    "death": "사망",
    "moved": "전출",
    "facility": "시설 입소",
    "terminated": "서비스 해지",
    "other": "기타",
}
# 사망 is what the alert's outcome already has a word for; the others are the system's.
OUTCOME_BY_REASON = {"death": "deceased"}
DEFAULT_OUTCOME = "enrollment_ended"


@dataclass(frozen=True)
class EndResult:
    recipient_id: int
    ended_on: date
    reason: str
    closed_alerts: tuple[int, ...]
    released_devices: tuple[int, ...]


@dataclass(frozen=True)
class EndImpact:
    """What :func:`end_enrollment` would close and release now (for a confirmation step)."""

    open_alerts: tuple[int, ...]
    devices: tuple[int, ...]


def _devices(conn: Connection, recipient_id: int) -> list:
    d = Device.__table__
    return conn.execute(select(d).where(d.c.recipient_id == recipient_id).order_by(d.c.id)).all()


def _open_alerts(conn: Connection, recipient_id: int, device_ids: list[int]) -> list[int]:
    # The person's alerts, and the fault tickets of their devices (nobody will fix those now).
    a = Alert.__table__
    subject = a.c.recipient_id == recipient_id
    if device_ids:
        subject = subject | a.c.device_id.in_(device_ids)
    stmt = select(a.c.id).where(subject, a.c.status != "closed").order_by(a.c.id)
    return list(conn.execute(stmt).scalars())


def end_impact(conn: Connection, recipient_id: int) -> EndImpact:
    """The alerts an end of enrollment would close and the devices it would release: the same
    selection :func:`end_enrollment` acts on. Ids only, nothing personal."""
    device_ids = [row.id for row in _devices(conn, recipient_id)]
    return EndImpact(tuple(_open_alerts(conn, recipient_id, device_ids)), tuple(device_ids))


def _with_note(current: str | None, note: str | None, ended_on: date) -> str | None:
    """The staff notes with the end's note appended (dated), within the notes' bound."""
    if note is None:
        return current
    if not isinstance(note, str):
        raise EnrollmentError("note", "must be text", key="not_text")
    note = note.strip()
    if not note:
        return current
    if has_control_codes(note):
        raise EnrollmentError("note", "contains control codes (such as NUL)", key="control_codes")
    line = f"[서비스 종료 {ended_on.isoformat()}] {note}"
    combined = f"{current}\n{line}" if current else line
    if len(combined) > NOTES_MAX:
        room = NOTES_MAX - (len(combined) - len(note))
        raise EnrollmentError(
            "note",
            f"at most {max(room, 0)} characters fit in the notes, got {len(note)}",
            key="note_room",
            max=max(room, 0),
            length=len(note),
        )
    return combined


def end_enrollment(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    reason: str,
    ended_on: date,
    *,
    note: str | None = None,
) -> EndResult:
    """Record the end with its reason and date; close the person's open alerts (사망 as
    ``deceased``, the rest as ``enrollment_ended``, the note naming the reason); release the
    person's devices (retired, assignment closed). ``note``, staff free text that may describe
    the person, is appended (dated) to the person's notes, never to the alerts or the audit.
    A second call is refused."""
    actor = authorise(principal, now)
    if reason not in END_REASONS:
        raise EnrollmentError(
            "reason",
            f"one of {', '.join(END_REASONS)}",
            key="bad_reason",
            reason=reason,
            choices=", ".join(END_REASONS),
        )
    if not isinstance(ended_on, date) or isinstance(ended_on, datetime):
        raise EnrollmentError("ended_on", "must be a date", key="date_required")
    person = load_person(conn, recipient_id, for_update=True)
    if person.ended_on is not None:
        raise EnrollmentError(
            "recipient_id",
            f"the enrollment already ended on {person.ended_on} ({person.end_reason})",
            key="already_ended",
            date=person.ended_on,
        )
    if ended_on < person.enrolled_on:
        raise EnrollmentError(
            "ended_on",
            f"before the enrollment ({person.enrolled_on})",
            key="before_enrollment",
            date=person.enrolled_on,
        )
    if ended_on > now.astimezone(LOCAL_TZ).date():
        raise EnrollmentError("ended_on", "is in the future", key="ended_future")
    notes = _with_note(person.notes, note, ended_on)
    r = CareRecipient.__table__
    conn.execute(
        update(r)
        .where(r.c.id == recipient_id)
        .values(ended_on=ended_on, end_reason=reason, notes=notes)
    )
    outcome = OUTCOME_BY_REASON.get(reason, DEFAULT_OUTCOME)
    alert_note = f"대상자 서비스 종료: {REASON_KO[reason]} ({ended_on.isoformat()})"
    a = Alert.__table__
    devices = _devices(conn, recipient_id)
    device_ids = [row.id for row in devices]
    closed = []
    for alert_id in _open_alerts(conn, recipient_id, device_ids):
        kind = conn.execute(select(a.c.kind).where(a.c.id == alert_id)).scalar_one()
        result = close_for_enrollment_end(
            conn,
            alert_id,
            actor=actor,
            now=now,
            outcome=outcome if kind == "person" else "device_fault",
            note=alert_note,
        )
        if result is not None:
            closed.append(alert_id)
    for device in devices:
        release(conn, device, now, "enrollment_ended", "retired")
    if device_ids:
        sync_device_states(conn, device_ids, now)  # their alerts are closed: states follow
    audit(
        conn,
        now,
        actor,
        "enrollment_end",
        "care_recipient",
        recipient_id,
        {"reason": reason, "ended_on": ended_on.isoformat(), "closed_alerts": closed,
         "released_devices": device_ids, "note": notes != person.notes},
    )  # fmt: skip
    return EndResult(recipient_id, ended_on, reason, tuple(closed), tuple(device_ids))
