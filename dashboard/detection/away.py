"""Marking a person away from home (a trip, a hospital stay, a stay with family), with dates.

Until the return date the plug rule holds no opinion about that person (``rules.plug``), so a
known absence raises nothing. Operators in the person's districts and leads may mark and cancel;
every change is audited without personal values.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from dashboard.audit import write_audit
from dashboard.auth.permissions import require_in_scope
from dashboard.auth.principal import SessionUser
from dashboard.clock import require_aware
from dashboard.db.schema import AwayPeriod, CareRecipient, Region
from dashboard.plain_text import has_control_codes
from dashboard.rules.schedule import judge_again
from dashboard.settings import LOCAL_TZ

ACTION = "mark_away"
MAX_DAYS = 92  # a longer absence is a change of enrollment (facility, moved), not a trip
NOTE_LIMIT = 200


class AwayError(ValueError):
    """A bad away period; ``field`` names the input."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _person_region(conn: Connection, recipient_id: int) -> tuple[str, date | None]:
    found = conn.execute(
        select(Region.code, CareRecipient.ended_on)
        .join(CareRecipient, CareRecipient.region_id == Region.id)
        .where(CareRecipient.id == recipient_id)
    ).one_or_none()
    if found is None:
        raise AwayError("recipient_id", f"no care recipient {recipient_id}")
    return found.code, found.ended_on


def mark_away(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    starts_on: date,
    ends_on: date,
    note: str | None = None,
) -> int:
    """Record an absence from ``starts_on`` until the return date ``ends_on``; its id."""
    require_aware(now)
    region, ended_on = _person_region(conn, recipient_id)
    user = require_in_scope(principal, ACTION, region)
    today = now.astimezone(LOCAL_TZ).date()
    if ended_on is not None:
        raise AwayError("recipient_id", "the enrollment has ended")
    if ends_on <= starts_on:
        raise AwayError("ends_on", "the return date must be after the first day away")
    if ends_on <= today:
        raise AwayError("ends_on", "the return date must be in the future")
    if starts_on < today - timedelta(days=7):
        raise AwayError("starts_on", "the first day away may be at most 7 days ago")
    if (ends_on - starts_on).days > MAX_DAYS:
        raise AwayError("ends_on", f"at most {MAX_DAYS} days: a longer absence ends enrollment")
    text = (note or "").strip() or None
    if text is not None and len(text) > NOTE_LIMIT:
        raise AwayError("note", f"at most {NOTE_LIMIT} characters")
    if text is not None and has_control_codes(text):
        raise AwayError("note", "contains control codes (such as NUL)")
    new_id = conn.execute(
        insert(AwayPeriod)
        .values(
            recipient_id=recipient_id,
            starts_on=starts_on,
            ends_on=ends_on,
            note=text,
            created_by=user.username,
            created_at=now,
        )
        .returning(AwayPeriod.id)
    ).scalar_one()
    judge_again(conn, recipient_ids=[recipient_id])  # the person's alerts pause from today
    write_audit(
        conn,
        at=now,
        actor=user.username,
        action="away_mark",
        entity_type="care_recipient",
        entity_id=recipient_id,
        detail={"away_id": new_id, "starts_on": str(starts_on), "ends_on": str(ends_on)},
    )
    return new_id


def cancel_away(conn: Connection, principal: SessionUser, now: datetime, away_id: int) -> None:
    """The person came back early (or the period was a mistake): alerts resume at once."""
    require_aware(now)
    row = conn.execute(
        select(AwayPeriod.recipient_id, AwayPeriod.cancelled_at).where(AwayPeriod.id == away_id)
    ).one_or_none()
    if row is None:
        raise AwayError("away_id", f"no away period {away_id}")
    region, _ended = _person_region(conn, row.recipient_id)
    user = require_in_scope(principal, ACTION, region)
    if row.cancelled_at is not None:
        raise AwayError("away_id", "already cancelled")
    conn.execute(update(AwayPeriod).where(AwayPeriod.id == away_id).values(cancelled_at=now))
    judge_again(conn, recipient_ids=[row.recipient_id])  # the alerts resume at once
    write_audit(
        conn,
        at=now,
        actor=user.username,
        action="away_cancel",
        entity_type="care_recipient",
        entity_id=row.recipient_id,
        detail={"away_id": away_id},
    )
