"""Responders (police boxes, welfare centers, partner places) and the nearest ones to a point."""

from __future__ import annotations

import math
from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import Region, Responder
from queries.common import frame
from queries.wandering import haversine_m

NEAREST_LIMIT = 5
# Only places within this box around the person are measured (a search is local).
SEARCH_RADIUS_M = 10_000
COLUMNS = ["id", "kind", "name", "subtype", "phone", "address", "lat", "lon", "approximate"]


def _columns():
    r = Responder
    return (r.id, r.kind, r.name, r.subtype, r.phone, r.address, r.lat, r.lon, r.approximate)


def responders_near(
    conn: Connection,
    lat: float,
    lon: float,
    *,
    limit: int = NEAREST_LIMIT,
    kinds: Iterable[str] | None = None,
    radius_m: float = SEARCH_RADIUS_M,
) -> pd.DataFrame:
    """Active, placed responders within ``radius_m`` of (lat, lon), nearest first (straight
    line), at most ``limit``; ties by name then id. Adds distance_m."""
    dlat = radius_m / 111_195
    dlon = radius_m / (111_195 * max(0.01, math.cos(math.radians(lat))))
    r = Responder
    stmt = select(*_columns()).where(
        r.active.is_(True),
        r.lat.between(lat - dlat, lat + dlat),
        r.lon.between(lon - dlon, lon + dlon),
    )
    if kinds is not None:
        stmt = stmt.where(r.kind.in_(list(kinds)))
    df = frame(conn, stmt)
    if df.empty:
        return df.assign(distance_m=pd.Series(dtype=float))
    df["distance_m"] = [
        haversine_m(lat, lon, float(a), float(b)) for a, b in zip(df["lat"], df["lon"], strict=True)
    ]
    df = df[df["distance_m"] <= radius_m]
    df = df.sort_values(["distance_m", "name", "id"], kind="stable").head(limit)
    return df.reset_index(drop=True)


def responders_in_view(
    conn: Connection, south: float, west: float, north: float, east: float
) -> pd.DataFrame:
    """Active, placed responders inside a map's bounds (the map's layer)."""
    r = Responder
    stmt = (
        select(*_columns())
        .where(
            r.active.is_(True),
            r.lat.between(south, north),
            r.lon.between(west, east),
        )
        .order_by(r.kind, r.name, r.id)
    )
    return frame(conn, stmt)


def responder_list(conn: Connection, include_inactive: bool = False) -> pd.DataFrame:
    """Every responder for the management table: dong name, source, who changed it last."""
    r = Responder
    stmt = (
        select(
            *_columns(),
            r.active,
            r.source,
            r.updated_at,
            r.updated_by,
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
        )
        .outerjoin(Region, Region.id == r.region_id)
        .order_by(r.kind, r.name, r.id)
    )
    if not include_inactive:
        stmt = stmt.where(r.active.is_(True))
    return frame(conn, stmt, times=["updated_at"])
