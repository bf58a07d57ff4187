"""A person's geofence settings, for the form that edits them (callers check the right to see
the person: the polygon outlines their home)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, exists, select

from dashboard.db.schema import CareRecipient, Device


def geofence_settings(conn: Connection, recipient_id: int) -> dict[str, Any] | None:
    """Radius, polygon, quiet hours and whether the person wears an active wandering detector."""
    c, d = CareRecipient, Device
    wears = exists().where(
        d.recipient_id == c.id, d.type_code == "wandering_detector", d.status == "active"
    )
    row = conn.execute(
        select(
            c.safe_zone_m,
            c.pii_zone_polygon,
            c.quiet_start_min,
            c.quiet_end_min,
            c.ended_on,
            wears.label("wears_detector"),
        ).where(c.id == recipient_id)
    ).one_or_none()
    return None if row is None else dict(row._mapping)
