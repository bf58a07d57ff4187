"""A person's enrollment on the read side: home position, devices over time, history.

History follows ``device_assignments`` (docs/enrollment.md): the events and alerts of every
device while it served the person, so a replaced or reassigned device's past stays theirs.
"""

from __future__ import annotations

from typing import NamedTuple

import pandas as pd
from sqlalchemy import Connection, and_, null, or_, select

from dashboard.db.schema import Alert, CareRecipient, Device, DeviceAssignment, DeviceEvent, Region
from queries.common import frame


class HomePosition(NamedTuple):
    lat: float | None
    lon: float | None
    approximate: bool  # the dong's centroid stands in for an unknown home


def home_position(conn: Connection, recipient_id: int) -> HomePosition:
    """The person's home, or their dong's centroid flagged ``approximate`` (both None when the
    dong has no centroid either). Personal data: callers show it only where the reveal allows."""
    r = CareRecipient.__table__
    row = conn.execute(
        select(r.c.pii_home_lat, r.c.pii_home_lon, Region.lat, Region.lon)
        .join(Region, Region.id == r.c.region_id)
        .where(r.c.id == recipient_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"no care recipient {recipient_id}")
    if row.pii_home_lat is not None and row.pii_home_lon is not None:
        return HomePosition(row.pii_home_lat, row.pii_home_lon, False)
    return HomePosition(row.lat, row.lon, True)


def _periods(recipient_id: int):
    """(device_id, from, to) of every device the person had: recorded periods, plus the
    current assignment of a device assigned before assignments were recorded."""
    da, d = DeviceAssignment.__table__, Device.__table__
    recorded = select(
        da.c.device_id, da.c.assigned_at.label("since"), da.c.released_at.label("until")
    ).where(da.c.recipient_id == recipient_id)
    unrecorded = select(d.c.id, d.c.registered_at, null()).where(
        d.c.recipient_id == recipient_id,
        ~d.c.id.in_(
            select(da.c.device_id).where(
                da.c.recipient_id == recipient_id, da.c.released_at.is_(None)
            )
        ),
    )
    return recorded.union_all(unrecorded).subquery("periods")


def person_devices(conn: Connection, recipient_id: int) -> pd.DataFrame:
    """Devices the person had, oldest first: device_id, device_uid, type_code, vendor, status,
    since, until (NaT: still theirs), replaced_by_id."""
    p, d = _periods(recipient_id), Device.__table__
    stmt = (
        select(
            p.c.device_id,
            d.c.device_uid,
            d.c.type_code,
            d.c.vendor,
            d.c.status,
            p.c.since,
            p.c.until,
            d.c.replaced_by_id,
        )
        .join(d, d.c.id == p.c.device_id)
        .order_by(p.c.since, p.c.device_id)
    )
    return frame(conn, stmt, times=("since", "until"))


def _during(column, p):
    # A period without a start (a device from before registration times) covers all before.
    return and_(
        or_(p.c.since.is_(None), column >= p.c.since),
        or_(p.c.until.is_(None), column <= p.c.until),
    )


def person_events(conn: Connection, recipient_id: int, limit: int = 500) -> pd.DataFrame:
    """The newest raw events of the person's devices while theirs: id, device_id, ts, type,
    value."""
    p, e = _periods(recipient_id), DeviceEvent.__table__
    stmt = (
        select(e.c.id, e.c.device_id, e.c.ts, e.c.type, e.c.value)
        .join(p, and_(p.c.device_id == e.c.device_id, _during(e.c.ts, p)))
        .order_by(e.c.ts.desc(), e.c.id.desc())
        .limit(limit)
    )
    return frame(conn, stmt, times=("ts",))


def person_alerts(conn: Connection, recipient_id: int) -> pd.DataFrame:
    """Every alert about the person or a device of theirs while theirs, newest first: id,
    kind, rule, stage, status, outcome, device_id, opened_at, closed_at."""
    p, a = _periods(recipient_id), Alert.__table__
    of_devices = select(a.c.id).join(
        p, and_(p.c.device_id == a.c.device_id, _during(a.c.opened_at, p))
    )
    stmt = (
        select(
            a.c.id,
            a.c.kind,
            a.c.rule,
            a.c.stage,
            a.c.status,
            a.c.outcome,
            a.c.device_id,
            a.c.opened_at,
            a.c.closed_at,
        )
        .where(or_(a.c.recipient_id == recipient_id, a.c.id.in_(of_devices)))
        .order_by(a.c.opened_at.desc(), a.c.id.desc())
    )
    return frame(conn, stmt, times=("opened_at", "closed_at"))
