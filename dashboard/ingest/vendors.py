"""Vendors' declarations: the IANA time zone in which a vendor's naive timestamps are read.

Every vendor has a zone: its row in ``vendors`` or, without one, ``DEFAULT_TIMEZONE``
(Asia/Seoul, where every program runs). Ingest looks the zone up once per batch
(``zone_for``: one primary-key query), so the HTTP API, the MQTT bridge and the file import read
a ``ts`` without an offset the same way. Declaring or changing a zone needs ``manage_api_keys``
(the administrators who give vendors their keys) and is audited (``vendor_add``,
``vendor_timezone``; entity ``vendor``, id the code) in the caller's transaction.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Connection, bindparam, insert, select, update

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import ApiKey, Device, Vendor
from dashboard.ingest.apikeys import check_vendor

log = logging.getLogger(__name__)

DEFAULT_TIMEZONE = "Asia/Seoul"
ENTITY = "vendor"
PERMISSION = "manage_api_keys"
NAME_MAX = 120


class VendorError(ValueError):
    """A declaration that cannot be stored; the message says what is wrong."""


@dataclass(frozen=True)
class VendorInfo:
    code: str
    name: str | None
    timezone: str
    declared: bool  # False: no row, the default zone applies
    created_at: datetime | None = None
    updated_at: datetime | None = None


def check_timezone(name: str) -> ZoneInfo:
    """The zone for an IANA name such as ``Asia/Seoul``; ``VendorError`` names a bad one."""
    # ZoneInfo also opens file paths and accepts odd spellings; only canonical IANA keys count.
    if not isinstance(name, str) or name not in available_timezones():
        raise VendorError(
            f"time zone {name!r} is not an IANA time zone name"
            " (e.g. Asia/Seoul, Europe/Berlin, UTC)"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):  # listed but unreadable: a broken tzdata
        raise VendorError(f"time zone {name!r} cannot be loaded on this server") from None


def zone_for(conn: Connection, vendor: str) -> ZoneInfo | None:
    """The zone a vendor's naive timestamps are read in (one primary-key query).

    None only when the stored name cannot be loaded any more (tzdata changed): naive times are
    then rejected rather than guessed, and the reason is logged.
    """
    query = prebuilt(
        conn,
        "ingest.vendor_zone",
        lambda _: select(Vendor.timezone).where(Vendor.code == bindparam("vendor")),
    )
    name = conn.execute(query, {"vendor": vendor}).scalar()
    try:
        return ZoneInfo(name or DEFAULT_TIMEZONE)
    except (ZoneInfoNotFoundError, ValueError):
        log.error("vendor %s: time zone %r cannot be loaded; naive ts refused", vendor, name)
        return None


def known_vendors(conn: Connection) -> list[str]:
    """Vendors a device may name, sorted: one with an active API key, one declared with
    ``vendors add``, or one that already owns devices. Any other name is a typo or a vendor
    that cannot send events yet (the roster import and device registration refuse it)."""
    keyed = select(ApiKey.vendor).where(ApiKey.revoked_at.is_(None))
    known = set(conn.execute(keyed).scalars())
    known |= set(conn.execute(select(Vendor.code)).scalars())
    known |= set(conn.execute(select(Device.vendor).distinct()).scalars())
    return sorted(known)


def get_vendor(conn: Connection, code: str) -> VendorInfo:
    row = conn.execute(select(Vendor.__table__).where(Vendor.code == code)).first()
    if row is None:
        return VendorInfo(code, None, DEFAULT_TIMEZONE, declared=False)
    return _info(row)


def list_vendors(conn: Connection) -> list[VendorInfo]:
    """Declared vendors, and vendors only seen in devices or API keys (with the default zone)."""
    from dashboard.db.schema import ApiKey, Device

    declared = {row.code: _info(row) for row in conn.execute(select(Vendor.__table__))}
    seen = set(conn.scalars(select(Device.vendor).distinct())) | set(
        conn.scalars(select(ApiKey.vendor).distinct())
    )
    for code in seen - set(declared):
        declared[code] = VendorInfo(code, None, DEFAULT_TIMEZONE, declared=False)
    return [declared[code] for code in sorted(declared)]


def add_vendor(
    conn: Connection,
    code: str,
    *,
    name: str | None = None,
    timezone: str = DEFAULT_TIMEZONE,
    principal: SessionUser,
    now: datetime,
) -> VendorInfo:
    """Declare a vendor; ``VendorError`` for a bad code, name or zone, or a code declared twice."""
    require(principal, PERMISSION)
    _check_code(code)
    check_timezone(timezone)
    name = _check_name(name)
    if conn.execute(select(Vendor.code).where(Vendor.code == code)).first() is not None:
        raise VendorError(f"vendor {code!r} is already declared; use set-timezone to change it")
    conn.execute(
        insert(Vendor).values(
            code=code, name=name, timezone=timezone, created_at=now, updated_at=now
        )
    )
    _audit(conn, principal, "vendor_add", code, {"name": name, "timezone": timezone}, now)
    return get_vendor(conn, code)


def set_timezone(
    conn: Connection, code: str, timezone: str, *, principal: SessionUser, now: datetime
) -> VendorInfo:
    """Change (or first declare) a vendor's zone. Stored events keep their UTC times: the new
    zone applies to naive timestamps received from now on."""
    require(principal, PERMISSION)
    _check_code(code)
    check_timezone(timezone)
    before = get_vendor(conn, code)
    if before.declared:
        conn.execute(
            update(Vendor).where(Vendor.code == code).values(timezone=timezone, updated_at=now)
        )
    else:
        conn.execute(
            insert(Vendor).values(code=code, timezone=timezone, created_at=now, updated_at=now)
        )
    detail = {"timezone": timezone, "previous": before.timezone, "was_declared": before.declared}
    _audit(conn, principal, "vendor_timezone", code, detail, now)
    return get_vendor(conn, code)


def _check_code(code: str) -> None:
    try:
        check_vendor(code)
    except ValueError as exc:
        raise VendorError(str(exc)) from None


def _check_name(name: str | None) -> str | None:
    if name is None or not name.strip():
        return None
    name = name.strip()
    if len(name) > NAME_MAX or any(ord(c) < 32 for c in name):
        raise VendorError(f"vendor name: at most {NAME_MAX} characters, no control characters")
    return name


def _info(row: Any) -> VendorInfo:
    return VendorInfo(row.code, row.name, row.timezone, True, row.created_at, row.updated_at)


def _audit(
    conn: Connection, principal: SessionUser, action: str, code: str, detail: dict, now: datetime
) -> None:
    write_audit(
        conn,
        at=now,
        actor=principal.username,
        action=action,
        entity_type=ENTITY,
        entity_id=code,
        detail=detail,
    )
