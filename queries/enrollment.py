"""A person's enrollment on the read side: home position, devices over time, history.

History follows ``device_assignments`` (docs/enrollment.md): the events and alerts of every
device while it served the person, so a replaced or reassigned device's past stays theirs.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Row, Select, and_, null, or_, select

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


# Whose history: one person's id, or a SELECT of care_recipients ids (the privacy purge's).
People = int | Select


def _of(column, people: People) -> ColumnElement[bool]:
    return column == people if isinstance(people, int) else column.in_(people)


def _periods(people: People):
    """(device_id, from, to) of every device the people had: recorded periods, plus the
    current assignment of a device assigned before assignments were recorded."""
    da, d = DeviceAssignment.__table__, Device.__table__
    recorded = select(
        da.c.device_id, da.c.assigned_at.label("since"), da.c.released_at.label("until")
    ).where(_of(da.c.recipient_id, people))
    unrecorded = select(d.c.id, d.c.registered_at, null()).where(
        _of(d.c.recipient_id, people),
        ~d.c.id.in_(
            select(da.c.device_id).where(_of(da.c.recipient_id, people), da.c.released_at.is_(None))
        ),
    )
    return recorded.union_all(unrecorded).subquery("periods")


def device_periods(conn: Connection, recipient_ids: Iterable[int]) -> list[Row]:
    """(device_id, since, until) of every device the people had (``until`` None: still
    theirs; ``since`` None: from before registration times)."""
    ids = list(recipient_ids)
    if not ids:
        return []
    p = _periods(select(CareRecipient.id).where(CareRecipient.id.in_(ids)))
    stmt = select(p.c.device_id, p.c.since, p.c.until).order_by(p.c.device_id, p.c.since)
    return list(conn.execute(stmt).all())


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
    a = Alert.__table__
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
        .where(alerts_of(recipient_id))
        .order_by(a.c.opened_at.desc(), a.c.id.desc())
    )
    return frame(conn, stmt, times=("opened_at", "closed_at"))


def alerts_of(people: People) -> ColumnElement[bool]:
    """Which alerts are the people's: about them, or a device ticket (no person) of a device
    while it was theirs. Never another person's alert. ``person_alerts`` lists them; the
    privacy purge clears their notes."""
    p, a = _periods(people), Alert.__table__
    t = a.alias("ticket")  # its own name: never correlated with an UPDATE of alerts
    of_devices = select(t.c.id).join(
        p, and_(p.c.device_id == t.c.device_id, _during(t.c.opened_at, p))
    )
    return or_(
        _of(a.c.recipient_id, people), and_(a.c.recipient_id.is_(None), a.c.id.in_(of_devices))
    )
