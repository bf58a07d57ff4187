"""A detector's recent positions, for the trail on the wandering map and the alert detail."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from dashboard.clock import as_utc
from dashboard.db.schema import Alert, DeviceEvent
from dashboard.enrollment.people import KOREA_LAT, KOREA_LON
from dashboard.mapping.trail import Fix

# Newest fixes read at most: a tracker every 10 s for 12 h. Downsampling keeps ≤ 150 of them.
MAX_FIXES = 5_000
# An episode's trail starts this long before the alert opened (how the person got out).
EPISODE_LEAD = timedelta(minutes=30)
EPISODE_MAX = timedelta(hours=24)


def plausible(lat: object, lon: object) -> bool:
    """A fix that can be where someone in the program is: numbers inside Korea. A receiver
    without a fix often reports (0, 0); one such point drew the trail across the globe and
    left the nearest responders empty."""
    return (
        isinstance(lat, int | float)
        and isinstance(lon, int | float)
        and KOREA_LAT[0] <= lat <= KOREA_LAT[1]
        and KOREA_LON[0] <= lon <= KOREA_LON[1]
    )


def position_fixes(
    conn: Connection,
    device_id: int,
    since: datetime,
    until: datetime,
    limit: int = MAX_FIXES,
) -> list[Fix]:
    """Position fixes of one detector in (since, until], oldest first; the newest ``limit``
    when there are more, without those that cannot be a position (see ``plausible``). One
    range scan of the ``(device_id, ts)`` index, newest first."""
    e = DeviceEvent
    stmt = (
        select(e.ts, e.data)
        .where(e.device_id == device_id, e.ts > since, e.ts <= until, e.type == "position")
        .order_by(e.ts.desc())
        .limit(limit)
    )
    fixes = []
    for ts, data in conn.execute(stmt):
        lat, lon = (data or {}).get("lat"), (data or {}).get("lon")
        if plausible(lat, lon):
            fixes.append(Fix(as_utc(ts), float(lat), float(lon)))
    fixes.reverse()
    return fixes


def episode_window(conn: Connection, alert_id: int, now: datetime) -> tuple[datetime, datetime]:
    """The time span of a wandering alert's trail: from EPISODE_LEAD before it opened until it
    closed (or now), at most EPISODE_MAX long (the most recent part)."""
    row = conn.execute(
        select(Alert.opened_at, Alert.closed_at).where(Alert.id == alert_id)
    ).one_or_none()
    if row is None:
        raise LookupError(f"alert {alert_id} does not exist")
    until = as_utc(row.closed_at) if row.closed_at is not None else now
    since = max(as_utc(row.opened_at) - EPISODE_LEAD, until - EPISODE_MAX)
    return since, until
