"""One smart plug's stored half-hour power levels for the alert detail's level chart (one
indexed read on ``device_daily``'s primary key, one device)."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy import Connection, select

from dashboard.db.schema import DeviceDaily
from dashboard.detection.level_profile import READ_DAYS


def level_days(
    conn: Connection, device_id: int, last_day: date, days: int = READ_DAYS
) -> dict[date, bytes]:
    """Local day → ``level_slots`` for the ``days`` local days ending on ``last_day`` (days
    without stored levels left out: none stored, or stored before migration 0016)."""
    daily = DeviceDaily.__table__
    rows = conn.execute(
        select(daily.c.day, daily.c.level_slots).where(
            daily.c.device_id == device_id,
            daily.c.day > last_day - timedelta(days=days),
            daily.c.day <= last_day,
            daily.c.level_slots.is_not(None),
        )
    ).all()
    # PostgreSQL's bytea comes back as a memoryview, SQLite's BLOB as bytes.
    return {row.day: bytes(row.level_slots) for row in rows}
