"""Last positions of wandering detectors against each wearer's safe zone."""

from __future__ import annotations

import math

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import CareRecipient, Device, DeviceState, Program, Region
from dashboard.formatting import mask_name
from queries.common import frame

WANDERING_PROGRAM = "goyang_wandering"
DEFAULT_SAFE_ZONE_M = 500
EARTH_RADIUS_M = 6_371_000.0


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def positions(conn: Connection, program_code: str = WANDERING_PROGRAM) -> pd.DataFrame:
    """One row per active detector: last position, safe zone, distance from home, outside flag.

    Home coordinates are needed to draw the safe zone; they leave here only as the circle's
    centre, and the wearer only as masked initials.
    """
    stmt = (
        select(
            Device.id.label("device_id"),
            Device.device_uid,
            Region.code.label("region_code"),
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            DeviceState.state,
            DeviceState.last_seen_at,
            DeviceState.battery_pct,
            DeviceState.last_lat,
            DeviceState.last_lon,
            CareRecipient.safe_zone_m,
            CareRecipient.pii_home_lat.label("home_lat"),
            CareRecipient.pii_home_lon.label("home_lon"),
            CareRecipient.pii_name,
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .where(Program.code == program_code, Device.status == "active")
        .order_by(Device.id)
    )
    df = frame(conn, stmt, times=["last_seen_at"])
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    df["safe_zone_m"] = df["safe_zone_m"].fillna(DEFAULT_SAFE_ZONE_M).astype(float)
    df["distance_m"] = [
        haversine_m(a, b, c, d)
        if None not in (a, b, c, d) and not pd.isna([a, b, c, d]).any()
        else float("nan")
        for a, b, c, d in zip(
            df["last_lat"], df["last_lon"], df["home_lat"], df["home_lon"], strict=True
        )
    ]
    df["outside"] = df["distance_m"] > df["safe_zone_m"]
    return df
