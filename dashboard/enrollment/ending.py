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


def end_enrollment(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    reason: str,
    ended_on: date,
) -> EndResult:
    """Record the end with its reason and date; close the person's open alerts (사망 as
    ``deceased``, the rest as ``enrollment_ended``, the note naming the reason); release the
    person's devices (retired, assignment closed). A second call is refused."""
    actor = authorise(principal, now)
    if reason not in END_REASONS:
        raise EnrollmentError("reason", f"one of {', '.join(END_REASONS)}")
    if not isinstance(ended_on, date) or isinstance(ended_on, datetime):
        raise EnrollmentError("ended_on", "must be a date")
    person = load_person(conn, recipient_id, for_update=True)
    if person.ended_on is not None:
        raise EnrollmentError(
            "recipient_id",
            f"the enrollment already ended on {person.ended_on} ({person.end_reason})",
        )
    if ended_on < person.enrolled_on:
        raise EnrollmentError("ended_on", f"before the enrollment ({person.enrolled_on})")
    if ended_on > now.astimezone(LOCAL_TZ).date():
        raise EnrollmentError("ended_on", "is in the future")
    r = CareRecipient.__table__
    conn.execute(
        update(r).where(r.c.id == recipient_id).values(ended_on=ended_on, end_reason=reason)
    )
    outcome = OUTCOME_BY_REASON.get(reason, DEFAULT_OUTCOME)
    note = f"대상자 서비스 종료: {REASON_KO[reason]} ({ended_on.isoformat()})"
    a, d = Alert.__table__, Device.__table__
    devices = conn.execute(select(d).where(d.c.recipient_id == recipient_id).order_by(d.c.id)).all()
    device_ids = [row.id for row in devices]
    # The person's alerts, and the fault tickets of their devices (nobody will fix those now).
    subject = a.c.recipient_id == recipient_id
    if device_ids:
        subject = subject | a.c.device_id.in_(device_ids)
    open_ids = conn.execute(
        select(a.c.id).where(subject, a.c.status != "closed").order_by(a.c.id)
    ).scalars()
    closed = []
    for alert_id in list(open_ids):
        kind = conn.execute(select(a.c.kind).where(a.c.id == alert_id)).scalar_one()
        result = close_for_enrollment_end(
            conn,
            alert_id,
            actor=actor,
            now=now,
            outcome=outcome if kind == "person" else "device_fault",
            note=note,
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
         "released_devices": device_ids},
    )  # fmt: skip
    return EndResult(recipient_id, ended_on, reason, tuple(closed), tuple(device_ids))
