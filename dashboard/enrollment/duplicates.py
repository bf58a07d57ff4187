"""People the duplicate check suspects to be one person: who may see the suspicion, and a
lead's judgement that a pair are different people (audited, undoable).

The check itself is :mod:`dashboard.registry.duplicates` (same city, name and birth year, and
one more key); the roster import warns with it and the person page shows it. A pair marked
different is stored by id (``different_people``), so the import and the page stop naming it,
also after the roster is imported again (which updates people by 대상자번호, keeping ids).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError

from dashboard.auth.permissions import require, require_in_scope
from dashboard.auth.principal import SessionUser, can_see_personal_data, personal_data_scope
from dashboard.auth.regions import region_in_any
from dashboard.clock import require_aware
from dashboard.db.schema import CareRecipient, DifferentPeople, Region
from dashboard.enrollment.common import audit, refuse_ended
from dashboard.enrollment.errors import EnrollmentError, NotFound
from dashboard.registry.duplicates import identity, matching_keys, pair

if TYPE_CHECKING:
    from queries.duplicates import Suspect

SEE_ACTION = "manage_roster"  # who sees the suspicion: the roster's managers
ACTION = "resolve_duplicates"  # who judges it: leads (it takes seeing both people's data)
MARK = "duplicate_dismiss"
UNMARK = "duplicate_restore"
HANDLE_ACTION = "acknowledge"  # who handles alerts (operators in their districts, leads)


def may_list(principal: SessionUser, region_code: str | None) -> bool:
    """Whether the roster pages list this person for ``principal`` (by 대상자번호): admins
    every person without personal data, leads every person, a district-scoped role its own."""
    if principal.role == "admin":
        return True
    scope = personal_data_scope(principal)
    return scope is None or region_in_any(region_code, tuple(scope))


def suspected_duplicates(conn, principal: SessionUser, recipient_id: int) -> list[Suspect]:
    """The people suspected to be ``recipient_id`` that ``principal`` may see: their
    대상자번호, dong, program, open alerts and the names of the keys that matched, never a
    personal value. Needs ``manage_roster``; a pair a lead marked different comes flagged."""
    user = require(principal, SEE_ACTION)
    from queries.duplicates import suspects_of  # pandas: not on `replay`'s start (test_cli)

    return [s for s in suspects_of(conn, recipient_id) if may_list(user, s.region_code)]


@dataclass(frozen=True)
class OtherOpenAlerts:
    """Open alerts on a record suspected to be the same person as an alert's, as its handler
    may see them. Outside the handler's districts nothing is named: ``external_ref`` is None,
    ``alert_ids`` empty (the handler learns only that such alerts exist)."""

    external_ref: str | None
    alert_ids: tuple[int, ...]  # the ones the handler may open, gravest and then oldest first

    @property
    def in_scope(self) -> bool:
        return self.external_ref is not None


def duplicate_open_alerts(conn, principal: SessionUser, recipient_id: int) -> list[OtherOpenAlerts]:
    """For the alert detail: the suspected other records of ``recipient_id`` (pairs a lead
    marked different left out) that have an open alert, so the one who handles this alert
    does not miss the other. For the roles that handle alerts, about a person in their
    districts (anyone else: nothing); one person's check (``suspects_of``), not the city's."""
    user = require(principal, HANDLE_ACTION)
    c = CareRecipient
    code = conn.scalar(
        select(Region.code).join(c, c.region_id == Region.id).where(c.id == recipient_id)
    )
    if code is None or not can_see_personal_data(user, code):
        return []
    from queries.duplicates import open_alert_ids, suspects_of  # as above: pandas

    others = [s for s in suspects_of(conn, recipient_id) if not s.different and s.open_alerts]
    if not others:
        return []
    shown = open_alert_ids(conn, [s.id for s in others], personal_data_scope(user))
    return [
        OtherOpenAlerts(s.external_ref, tuple(shown[s.id]))
        if shown.get(s.id)
        else OtherOpenAlerts(None, ())
        for s in others
    ]


def _person(conn, recipient_id: int):
    c = CareRecipient
    row = conn.execute(
        select(
            c.id,
            c.external_ref,
            c.ended_on,
            c.birth_year,
            c.pii_name,
            c.pii_phone,
            c.pii_address,
            c.pii_guardian_phone,
            c.pii_home_lat,
            c.pii_home_lon,
            Region.code.label("region_code"),
        )
        .join(Region, Region.id == c.region_id)
        .where(c.id == recipient_id)
    ).one_or_none()
    if row is None:
        raise NotFound("care recipient", recipient_id)
    return row


def _pair(conn, principal: SessionUser, now: datetime, first_id: int, second_id: int):
    """Both people, after the role and both districts are checked (before any write)."""
    require_aware(now)
    user = require(principal, ACTION)
    if first_id == second_id:
        raise EnrollmentError(
            "second_id", "a person is not a pair: give two different people", key="same_person"
        )
    people = [_person(conn, first_id), _person(conn, second_id)]
    for person in people:
        require_in_scope(user, ACTION, person.region_code)
    return user, people


def _identity(person):
    return identity(
        person.id,
        person.region_code,
        person.pii_name,
        person.birth_year,
        phone=person.pii_phone,
        address=person.pii_address,
        guardian_phone=person.pii_guardian_phone,
        home_lat=person.pii_home_lat,
        home_lon=person.pii_home_lon,
    )


def mark_different(
    conn, principal: SessionUser, now: datetime, first_id: int, second_id: int
) -> bool:
    """Record that two suspected people are different persons: the check stops naming the
    pair. True when recorded, False when it already was (nothing written). Refused for a pair
    the check does not suspect (nothing to dismiss) and for an ended enrollment (history)."""
    user, people = _pair(conn, principal, now, first_id, second_id)
    for person in people:
        refuse_ended(person)
    a, b = (_identity(p) for p in people)
    keys = matching_keys(a, b) if a.group == b.group else ()
    refs = [p.external_ref for p in people]
    if not keys:
        raise EnrollmentError(
            "pair",
            f"{refs[0]} and {refs[1]} are not suspected to be one person",
            key="not_suspected",
            first=refs[0],
            second=refs[1],
        )
    low, high = pair(first_id, second_id)
    d = DifferentPeople
    if conn.scalar(select(d.id).where(d.first_id == low, d.second_id == high)) is not None:
        return False
    try:
        with conn.begin_nested():  # two leads at once: the second finds it recorded
            conn.execute(
                insert(d),
                {"first_id": low, "second_id": high, "marked_at": now, "marked_by": user.username},
            )
    except IntegrityError:
        return False
    by_id = {p.id: p.external_ref for p in people}
    detail = {"pair": [low, high], "refs": [by_id[low], by_id[high]], "keys": list(keys)}
    audit(conn, now, user.username, MARK, "care_recipient", low, detail)
    return True


def unmark_different(
    conn, principal: SessionUser, now: datetime, first_id: int, second_id: int
) -> bool:
    """Undo :func:`mark_different`: the check names the pair again (if it still suspects it).
    True when a mark was removed, False when there was none (nothing written)."""
    user, people = _pair(conn, principal, now, first_id, second_id)
    low, high = pair(first_id, second_id)
    d = DifferentPeople
    gone = conn.execute(delete(d).where(d.first_id == low, d.second_id == high)).rowcount
    if not gone:
        return False
    by_id = {p.id: p.external_ref for p in people}
    detail = {"pair": [low, high], "refs": [by_id[low], by_id[high]]}
    audit(conn, now, user.username, UNMARK, "care_recipient", low, detail)
    return True
