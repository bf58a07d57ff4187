"""Devices: register, assign, replace, take out of service.

Where a device is now lives on ``devices`` (``recipient_id`` or ``site_id``); every period it
served someone is a ``device_assignments`` row, so a person's history (the events and alerts of
each device while it was theirs) survives a replacement or a reassignment. Only ``active``
devices are in the live counts and the rules' candidates.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import Connection, insert, select, update

from dashboard.actions.service import close_for_enrollment_end
from dashboard.auth.principal import SessionUser
from dashboard.catalog import pairing_refusal, program_device_types
from dashboard.db.schema import (
    Alert,
    ComplaintSite,
    Device,
    DeviceAssignment,
    DeviceType,
    Program,
    Region,
)
from dashboard.db.schema.devices import DEVICE_STATUSES
from dashboard.enrollment.common import audit, authorise, load_device, load_person, refuse_ended
from dashboard.enrollment.errors import EnrollmentError, NotFound
from dashboard.ingest.vendors import known_vendors
from dashboard.plain_text import has_control_codes
from dashboard.registry.columns import MIN_DAY, UID_PATTERN  # as the roster import
from dashboard.rules.schedule import judge_again
from dashboard.settings import LOCAL_TZ

UID_MAX = 60
VENDOR_MAX = 60


def _subject(conn: Connection, recipient_id: int | None, site_id: int | None):
    """(recipient row or None, site row or None) after checking exactly one is given."""
    if (recipient_id is None) == (site_id is None):
        raise EnrollmentError(
            "recipient_id/site_id", "give a person or a site, not both", key="person_or_site"
        )
    if recipient_id is not None:
        person = load_person(conn, recipient_id)
        refuse_ended(person)
        return person, None
    s = ComplaintSite.__table__
    site = conn.execute(select(s).where(s.c.id == site_id)).one_or_none()
    if site is None:
        raise NotFound("site", site_id)
    return None, site


def open_assignment(
    conn: Connection, device_id: int, recipient_id: int | None, site_id: int | None, at: datetime
) -> None:
    conn.execute(
        insert(DeviceAssignment),
        {"device_id": device_id, "recipient_id": recipient_id, "site_id": site_id,
         "assigned_at": at},
    )  # fmt: skip


def release(conn: Connection, device, now: datetime, reason: str, status: str) -> None:
    """End the device's current assignment (recorded) and set its status.

    A device assigned before assignments were recorded has no open row: one is written for
    the period from its registration (or installation) to now.
    """
    da, d = DeviceAssignment.__table__, Device.__table__
    if device.recipient_id is not None or device.site_id is not None:
        closed = conn.execute(
            update(da)
            .where(da.c.device_id == device.id, da.c.released_at.is_(None))
            .values(released_at=now, release_reason=reason)
        ).rowcount
        if not closed:
            since = device.registered_at or datetime.combine(
                device.installed_on, time(0), LOCAL_TZ
            ).astimezone(UTC)
            conn.execute(
                insert(DeviceAssignment),
                {"device_id": device.id, "recipient_id": device.recipient_id,
                 "site_id": device.site_id, "assigned_at": min(since, now),
                 "released_at": now, "release_reason": reason},
            )  # fmt: skip
    conn.execute(
        update(d).where(d.c.id == device.id).values(recipient_id=None, site_id=None, status=status)
    )


def register_device(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    *,
    device_uid: str,
    vendor: str,
    type_code: str,
    program_code: str,
    installed_on: date,
    recipient_id: int | None = None,
    site_id: int | None = None,
    region_code: str | None = None,
    label: str | None = None,
) -> int:
    """A new device, in service, with a person or at a site; returns its id.

    The dong is the person's (or the site's) unless ``region_code`` names another.
    """
    actor = authorise(principal, now)
    uid = _check_uid(device_uid)
    vendor = _check_vendor(conn, vendor)
    if not isinstance(installed_on, date) or isinstance(installed_on, datetime):
        raise EnrollmentError("installed_on", "must be a date", key="date_required")
    _check_installed(installed_on, now)
    if label is not None and len(label) > 80:
        raise EnrollmentError("label", "at most 80 characters", key="label_length", max=80)
    if label is not None and has_control_codes(label):
        raise EnrollmentError("label", "contains control codes (such as NUL)", key="control_codes")
    d = Device.__table__
    if conn.execute(select(d.c.id).where(d.c.device_uid == uid)).first() is not None:
        raise EnrollmentError(
            "device_uid", f"{uid!r} is already registered", key="uid_taken", uid=uid
        )
    if conn.execute(select(DeviceType.code).where(DeviceType.code == type_code)).first() is None:
        raise EnrollmentError(
            "type_code", f"unknown device type {type_code!r}", key="unknown_type", type=type_code
        )
    program_id = conn.execute(
        select(Program.id).where(Program.code == program_code)
    ).scalar_one_or_none()
    if program_id is None:
        raise EnrollmentError(
            "program_code",
            f"unknown program {program_code!r}",
            key="unknown_program",
            program=program_code,
        )
    _check_pairing(program_code, type_code)
    person, site = _subject(conn, recipient_id, site_id)
    owner = person if person is not None else site
    if owner.program_id != program_id:
        raise EnrollmentError(
            "program_code",
            "the person or site belongs to another program",
            key="owner_other_program",
        )
    region_id = owner.region_id
    if region_code is not None:
        region_id = conn.execute(
            select(Region.id).where(Region.code == region_code, Region.level == "dong")
        ).scalar_one_or_none()
        if region_id is None:
            raise EnrollmentError(
                "region_code",
                f"unknown dong code {region_code!r}",
                key="unknown_dong",
                code=region_code,
            )
    device_id = conn.execute(
        insert(Device).returning(Device.id),
        {
            "device_uid": uid,
            "type_code": type_code,
            "program_id": program_id,
            "vendor": vendor,
            "recipient_id": recipient_id,
            "site_id": site_id,
            "region_id": region_id,
            "label": label,
            "installed_on": installed_on,
            "registered_at": now,
            "status": "active",
            "lat": site.lat if site is not None else None,
            "lon": site.lon if site is not None else None,
        },
    ).scalar_one()
    open_assignment(conn, device_id, recipient_id, site_id, now)
    detail = {"device_uid": uid, "vendor": vendor, "type": type_code, "program": program_code,
              "recipient_id": recipient_id, "site_id": site_id}  # fmt: skip
    audit(conn, now, actor, "device_register", "device", device_id, detail)
    return device_id


def assign_device(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    device_id: int,
    *,
    recipient_id: int | None = None,
    site_id: int | None = None,
) -> None:
    """Give a device to a person or a site and put it in service.

    Refused while the device is with someone else who is still enrolled (or at another site):
    release it first (``set_device_status(..., "retired")``). A device in repair is refused.
    """
    actor = authorise(principal, now)
    device = load_device(conn, device_id, for_update=True)
    person, site = _subject(conn, recipient_id, site_id)
    if device.status == "in_repair":
        raise EnrollmentError(
            "device_id", "the device is in repair: set it active or retired", key="in_repair"
        )
    if (device.recipient_id, device.site_id) == (recipient_id, site_id):
        raise EnrollmentError(
            "device_id", "the device is already assigned there", key="already_there"
        )
    if device.recipient_id is not None:
        holder = load_person(conn, device.recipient_id)
        if holder.ended_on is None:
            raise EnrollmentError(
                "device_id",
                f"the device is with care recipient {device.recipient_id}: release it first",
                key="with_someone",
            )
    if device.site_id is not None:
        raise EnrollmentError(
            "device_id", f"the device is at site {device.site_id}: release it", key="at_site"
        )
    owner = person if person is not None else site
    if owner.program_id != device.program_id:
        raise EnrollmentError(
            "device_id", "the device belongs to another program", key="device_other_program"
        )
    if device.recipient_id is not None:  # left with a person whose enrollment ended
        release(conn, device, now, "released", device.status)
    d = Device.__table__
    conn.execute(
        update(d)
        .where(d.c.id == device_id)
        .values(recipient_id=recipient_id, site_id=site_id, region_id=owner.region_id,
                status="active")
    )  # fmt: skip
    open_assignment(conn, device_id, recipient_id, site_id, now)
    judge_again(conn, [device_id])  # a new person's thresholds, home and zone
    detail = {"recipient_id": recipient_id, "site_id": site_id, "from_status": device.status}
    audit(conn, now, actor, "device_assign", "device", device_id, detail)


def set_device_status(
    conn: Connection, principal: SessionUser, now: datetime, device_id: int, status: str
) -> None:
    """active / in_repair (out of service, stays with its person) / retired (released).

    A device can only be active while assigned: an unassigned one is put back through
    :func:`assign_device`.
    """
    actor = authorise(principal, now)
    if status not in DEVICE_STATUSES:
        raise EnrollmentError(
            "status", f"one of {', '.join(DEVICE_STATUSES)}", key="bad_status", status=status
        )
    device = load_device(conn, device_id, for_update=True)
    if device.status == status:
        raise EnrollmentError(
            "status", f"the device is already {status}", key="same_status", status=status
        )
    assigned = device.recipient_id is not None or device.site_id is not None
    if status == "active" and not assigned:
        raise EnrollmentError(
            "status",
            "an unassigned device is put in service by assigning it",
            key="active_unassigned",
        )
    if (
        status == "active"
        and device.recipient_id is not None
        and load_person(conn, device.recipient_id).ended_on is not None
    ):
        raise EnrollmentError(
            "status", "the device's person is no longer enrolled", key="holder_ended"
        )
    detail: dict[str, Any] = {"from": device.status, "to": status}
    if status == "retired":
        # The rules no longer look at a retired device, so nothing else would ever close its
        # tickets (a 신호 끊김 would wait in the queue for good). In repair, a ticket stays:
        # it is the fault being repaired, and the device's return closes it.
        detail["closed_alerts"] = _close_device_tickets(conn, device_id, actor, now, "기기 회수")
        release(conn, device, now, "retired", "retired")
    else:
        d = Device.__table__
        conn.execute(update(d).where(d.c.id == device_id).values(status=status))
        judge_again(conn, [device_id])  # judged at the next tick in its new status
    audit(conn, now, actor, "device_status", "device", device_id, detail)


def replace_device(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    old_device_id: int,
    *,
    device_uid: str,
    vendor: str | None = None,
    installed_on: date | None = None,
    old_status: str = "retired",
) -> int:
    """Swap a person's (or site's) device for another; returns the new device's id.

    ``device_uid`` is a new device (registered here, with the old one's type, program and dong;
    ``vendor`` defaults to the old one's) or an unassigned, retired one from the shelf of the
    same type and program. The old device goes out of service (``retired`` or ``in_repair``);
    its open device tickets close as ``device_fault``; the person's alerts stay open and their
    history (old events and alerts) stays reachable through the assignment rows.
    """
    actor = authorise(principal, now)
    if old_status not in ("retired", "in_repair"):
        raise EnrollmentError(
            "old_status", "retired or in_repair", key="bad_old_status", status=old_status
        )
    old = load_device(conn, old_device_id, for_update=True)
    if old.status != "active":
        raise EnrollmentError(
            "old_device_id",
            f"the device is {old.status}, not in service",
            key="not_in_service",
            status=old.status,
        )
    if old.recipient_id is None and old.site_id is None:
        raise EnrollmentError(
            "old_device_id", "the device is not assigned to anyone", key="not_assigned"
        )
    program_code = conn.execute(
        select(Program.code).where(Program.id == old.program_id)
    ).scalar_one()
    _check_pairing(program_code, old.type_code)  # the new device takes the old one's type
    if installed_on is not None:
        _check_installed(installed_on, now)
    uid = (device_uid or "").strip()
    if has_control_codes(uid):  # before the lookup: PostgreSQL refuses NUL in a query
        _check_uid(uid)
    d = Device.__table__
    new = conn.execute(select(d).where(d.c.device_uid == uid)).one_or_none()
    if new is not None:
        if new.id == old.id:
            raise EnrollmentError(
                "device_uid", "a device cannot replace itself", key="replace_itself"
            )
        free = new.status == "retired" and new.recipient_id is None and new.site_id is None
        if not free:
            raise EnrollmentError(
                "device_uid", f"{uid!r} is in use or in repair", key="uid_in_use", uid=uid
            )
        if (new.type_code, new.program_id) != (old.type_code, old.program_id):
            raise EnrollmentError(
                "device_uid",
                f"{uid!r} is of another type or program",
                key="uid_other_kind",
                uid=uid,
            )
        new_id = new.id
        conn.execute(
            update(d)
            .where(d.c.id == new_id)
            .values(recipient_id=old.recipient_id, site_id=old.site_id, region_id=old.region_id,
                    status="active", lat=old.lat, lon=old.lon)
        )  # fmt: skip
    else:
        uid = _check_uid(uid)
        new_vendor = _check_vendor(conn, vendor or old.vendor)
        new_id = conn.execute(
            insert(Device).returning(Device.id),
            {
                "device_uid": uid,
                "type_code": old.type_code,
                "program_id": old.program_id,
                "vendor": new_vendor,
                "recipient_id": old.recipient_id,
                "site_id": old.site_id,
                "region_id": old.region_id,
                "label": old.label,
                "installed_on": installed_on or now.astimezone(LOCAL_TZ).date(),
                "registered_at": now,
                "status": "active",
                "lat": old.lat,
                "lon": old.lon,
            },
        ).scalar_one()
    closed = _close_device_tickets(conn, old.id, actor, now, f"기기 교체 (→ {uid})")
    if old_status == "retired":
        release(conn, old, now, "replaced", "retired")
    else:  # in repair: it leaves the person too (the new one serves them meanwhile)
        release(conn, old, now, "replaced", "in_repair")
    conn.execute(update(d).where(d.c.id == old.id).values(replaced_by_id=new_id))
    open_assignment(conn, new_id, old.recipient_id, old.site_id, now)
    detail: dict[str, Any] = {"new_device_id": new_id, "new_device_uid": uid,
                              "old_status": old_status, "closed_alerts": closed,
                              "recipient_id": old.recipient_id, "site_id": old.site_id}  # fmt: skip
    audit(conn, now, actor, "device_replace", "device", old.id, detail)
    return new_id


def _check_uid(device_uid: str | None) -> str:
    uid = (device_uid or "").strip()
    if not uid:
        raise EnrollmentError("device_uid", "give the device id", key="uid_required")
    if len(uid) > UID_MAX:
        raise EnrollmentError(
            "device_uid", f"1–{UID_MAX} characters", key="uid_length", max=UID_MAX
        )
    if not UID_PATTERN.fullmatch(uid):
        raise EnrollmentError(
            "device_uid",
            "letters, digits and . _ : - only, starting with a letter or digit",
            key="uid_characters",
        )
    return uid


def _check_vendor(conn: Connection, vendor: str | None) -> str:
    name = (vendor or "").strip()
    if not name:
        raise EnrollmentError("vendor", "give the vendor", key="vendor_required")
    if len(name) > VENDOR_MAX:
        raise EnrollmentError(
            "vendor", f"1–{VENDOR_MAX} characters", key="vendor_length", max=VENDOR_MAX
        )
    if name not in known_vendors(conn):
        raise EnrollmentError(
            "vendor",
            f"unknown vendor {name!r}: create its API key first with "
            f"`python -m dashboard apikey add {name}`",
            key="unknown_vendor",
            vendor=name,
        )
    return name


def _check_installed(installed_on: date, now: datetime) -> None:
    if installed_on < MIN_DAY:  # the rules read it as a moment: year 1 would stop every tick
        raise EnrollmentError(
            "installed_on",
            f"{installed_on} is before {MIN_DAY}",
            key="installed_too_early",
            min=MIN_DAY,
        )
    if installed_on > now.astimezone(LOCAL_TZ).date():
        raise EnrollmentError(
            "installed_on", f"{installed_on} is in the future", key="installed_future"
        )


def _check_pairing(program_code: str, type_code: str) -> None:
    refusal = pairing_refusal(program_code, type_code)
    if refusal:
        raise EnrollmentError(
            "type_code",
            refusal,
            key="type_not_in_program",
            program=program_code,
            type=type_code,
            uses=", ".join(program_device_types(program_code) or ()),
        )


def _close_device_tickets(
    conn: Connection, device_id: int, actor: str, now: datetime, note: str
) -> list[int]:
    a = Alert.__table__
    ids = conn.execute(
        select(a.c.id)
        .where(a.c.device_id == device_id, a.c.kind == "device_fault", a.c.status != "closed")
        .order_by(a.c.id)
    ).scalars()
    closed = []
    for alert_id in list(ids):
        if close_for_enrollment_end(
            conn, alert_id, actor=actor, now=now, outcome="device_fault", note=note
        ):
            closed.append(alert_id)
    return closed
