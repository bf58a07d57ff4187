"""Last positions of wandering detectors against each wearer's safe zone."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.clock import as_utc
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceState,
    Program,
    Region,
)
from dashboard.formatting import mask_name
from dashboard.rules.facts import stored_polygon
from dashboard.rules.geofence import Zone
from queries.common import frame
from queries.roster import in_areas
from queries.trails import plausible

WANDERING_PROGRAM = "goyang_wandering"
DEFAULT_SAFE_ZONE_M = 500
EARTH_RADIUS_M = 6_371_000.0
# Beyond this share of the radius a wearer is "near the edge": worth a glance, not an alarm.
EDGE_SHARE = 0.8
# Same default as the rules' wandering.no_position_min, so map and alerts agree.
NO_POSITION_AFTER = timedelta(minutes=30)
# Map statuses, in the order they are drawn (later on top). ``no_zone``: a wearer with neither
# a home position nor a polygon, whom the geofence rules cannot watch at all.
STATUSES = ("inside", "no_position", "no_zone", "edge", "outside")


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance in metres."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(math.sqrt(a))


def _missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))


def _utc(value: datetime | str) -> pd.Timestamp:
    return pd.Timestamp(as_utc(value))


def positions(
    conn: Connection,
    program_code: str = WANDERING_PROGRAM,
    areas: Iterable[str] | None = None,
) -> pd.DataFrame:
    """One row per active detector: last position, safe zone, distance from home, outside flag.

    Home coordinates are needed to draw the safe zone; they leave here only as the circle's
    centre, and the wearer only as masked initials and the roster reference (``external_ref``,
    the person panel's link). ``has_zone``: a polygon or a home on file. ``areas`` keeps the
    detectors whose dong lies in those area codes (an operator's districts; None = all,
    () = none).
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
            DeviceState.last_event_type,
            DeviceState.battery_pct,
            DeviceState.last_lat,
            DeviceState.last_lon,
            CareRecipient.safe_zone_m,
            CareRecipient.pii_home_lat.label("home_lat"),
            CareRecipient.pii_home_lon.label("home_lon"),
            CareRecipient.pii_zone_polygon.label("zone_polygon"),
            CareRecipient.pii_name,
            CareRecipient.external_ref,
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .where(Program.code == program_code, Device.status == "active")
        .order_by(Device.id)
    )
    scope = in_areas(Device.region_id, areas)
    if scope is not None:
        stmt = stmt.where(scope)
    df = frame(conn, stmt, times=["last_seen_at"])
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    # A receiver without a fix may report (0, 0): that is no position, not someone 13,000 km
    # outside their zone (the rules drop it as a jump; the map drew it and zoomed to it).
    bad = [
        not _missing(a) and not plausible(float(a), float(b))
        for a, b in zip(df["last_lat"], df["last_lon"], strict=True)
    ]
    df.loc[bad, ["last_lat", "last_lon"]] = float("nan")
    df["safe_zone_m"] = df["safe_zone_m"].fillna(DEFAULT_SAFE_ZONE_M).astype(float)
    df["distance_m"] = [
        float("nan")
        if any(_missing(v) for v in (a, b, c, d))
        else haversine_m(float(a), float(b), float(c), float(d))
        for a, b, c, d in zip(
            df["last_lat"], df["last_lon"], df["home_lat"], df["home_lon"], strict=True
        )
    ]
    # A polygon on file decides in or out, as it does for the rules' wander_left_zone.
    df["zone_polygon"] = [stored_polygon(v) for v in df["zone_polygon"]]
    df["beyond_m"] = [
        _beyond(*row)
        for row in zip(
            df["last_lat"], df["last_lon"], df["home_lat"], df["home_lon"], df["safe_zone_m"],
            df["zone_polygon"], strict=True,
        )
    ]  # fmt: skip
    has_polygon = df["zone_polygon"].notna()
    # The rules' Zone.usable: a polygon, or a home to draw the circle around.
    df["has_zone"] = has_polygon | (df["home_lat"].notna() & df["home_lon"].notna())
    df["outside"] = (df["distance_m"] > df["safe_zone_m"]).where(~has_polygon, df["beyond_m"] > 0)
    return df


def _beyond(lat, lon, home_lat, home_lon, radius_m: float, polygon) -> float:
    """Signed metres past the person's polygon (negative inside); NaN without a polygon or a
    position (the circle is judged by the distance from home)."""
    if polygon is None or _missing(lat) or _missing(lon):
        return float("nan")
    home = None if _missing(home_lat) or _missing(home_lon) else (float(home_lat), float(home_lon))
    return Zone(home, float(radius_m), polygon).beyond_m(float(lat), float(lon))


def _position_times(conn: Connection, df: pd.DataFrame) -> list[pd.Timestamp | None]:
    """When each last position was taken.

    The state row's position comes from the latest position event, so when the latest event
    *was* a position its time is ``last_seen_at``; only the few whose latest event was
    something else (a button, a battery report) need the event log: one statement for all of
    them, each read newest first through the ``(device_id, ts)`` index and stopped at the first
    position (a grouped ``max`` would read every position the detector ever sent).
    """
    latest = df["last_event_type"].fillna("position") == "position"
    ask = [int(d) for d in df.loc[df["last_seen_at"].notna() & ~latest, "device_id"]]
    found: dict[int, pd.Timestamp] = {}
    if ask:
        e = DeviceEvent
        last_fix = (
            select(e.ts)
            .where(e.device_id == Device.id, e.type == "position")
            .order_by(e.ts.desc())
            .limit(1)
            .scalar_subquery()
        )
        stmt = select(Device.id, last_fix).where(Device.id.in_(ask))
        found = {int(d): _utc(ts) for d, ts in conn.execute(stmt) if ts is not None}
    return [
        None if _missing(seen) else seen if is_position else found.get(int(device_id))
        for device_id, seen, is_position in zip(
            df["device_id"], df["last_seen_at"], latest, strict=True
        )
    ]


def _outside_since(conn: Connection, device_ids: list[int]) -> dict[int, pd.Timestamp]:
    """Opening time of each open left-the-zone alert: when the rules saw the wearer leave."""
    if not device_ids:
        return {}
    stmt = (
        select(Alert.device_id, Alert.opened_at)
        .where(
            Alert.rule == "wander_left_zone",
            Alert.status != "closed",
            Alert.device_id.in_(device_ids),
        )
        .order_by(Alert.opened_at)
    )
    out: dict[int, pd.Timestamp] = {}
    for device_id, opened in conn.execute(stmt):
        out.setdefault(int(device_id), _utc(opened))
    return out


def classify(
    distance_m: float | None,
    safe_zone_m: float,
    position_at: datetime | None,
    now: datetime,
    no_position_after: timedelta = NO_POSITION_AFTER,
    *,
    polygon_beyond_m: float | None = None,
    has_zone: bool = True,
) -> str:
    """inside / edge / outside / no_position / no_zone for one wearer.

    Without a zone (``has_zone`` false: no home position and no polygon) the status is
    ``no_zone``, whether or not positions arrive: the rules then raise nothing for the person
    (no exit, no lost, no no-fix ticket), so a green or grey dot would promise a watch that is
    not there; the missing zone is what an operator must fix first.

    Outside wins over a stale position: someone last seen outside is the most urgent case,
    not a grey dot. Boundaries follow the rules: outside is strictly beyond the radius, stale
    is strictly older than ``no_position_after``; edge is strictly beyond EDGE_SHARE.

    A person with a polygon zone is judged by it, as the rules judge them:
    ``polygon_beyond_m`` is the signed distance past the polygon (negative inside), and edge
    means within (1 - EDGE_SHARE) × ``safe_zone_m`` of its boundary.
    """
    if not has_zone:
        return "no_zone"
    if polygon_beyond_m is not None:
        if _missing(polygon_beyond_m):
            return "no_position"
        if polygon_beyond_m > 0:
            return "outside"
        if _missing(position_at) or now - position_at > no_position_after:
            return "no_position"
        return "edge" if polygon_beyond_m > -(1 - EDGE_SHARE) * safe_zone_m else "inside"
    if _missing(distance_m):
        return "no_position"
    if distance_m > safe_zone_m:
        return "outside"
    if _missing(position_at) or now - position_at > no_position_after:
        return "no_position"
    if distance_m > EDGE_SHARE * safe_zone_m:
        return "edge"
    return "inside"


def snapshot(
    conn: Connection,
    now: datetime,
    no_position_after: timedelta = NO_POSITION_AFTER,
    program_code: str = WANDERING_PROGRAM,
    areas: Iterable[str] | None = None,
) -> pd.DataFrame:
    """What the live map shows at ``now``: positions plus status, position time, time outside.

    Columns added to ``positions``: position_at, status (see STATUSES), stale (no position for
    ``no_position_after``, whatever the status, so also for ``no_zone``), outside_since (open
    alert, else NaT).
    """
    df = positions(conn, program_code, areas)
    df["position_at"] = pd.to_datetime(_position_times(conn, df), utc=True)
    df["status"] = [
        classify(
            d, z, None if pd.isna(p) else p.to_pydatetime(), now, no_position_after,
            polygon_beyond_m=None if poly is None else b, has_zone=bool(zoned),
        )
        for d, z, p, poly, b, zoned in zip(
            df["distance_m"], df["safe_zone_m"], df["position_at"], df["zone_polygon"],
            df["beyond_m"], df["has_zone"], strict=True,
        )
    ]  # fmt: skip
    df["stale"] = [
        pd.isna(p) or now - p.to_pydatetime() > no_position_after for p in df["position_at"]
    ]
    since = _outside_since(conn, [int(i) for i in df.loc[df["outside"], "device_id"]])
    df["outside_since"] = pd.to_datetime(
        [
            since.get(int(i)) if o else None
            for i, o in zip(df["device_id"], df["outside"], strict=True)
        ],
        utc=True,
    )
    return df


def region_codes(conn: Connection, program_code: str = WANDERING_PROGRAM) -> list[str]:
    """행정동 codes with an active detector: which dong boundaries the map draws."""
    stmt = (
        select(Region.code)
        .distinct()
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .where(Program.code == program_code, Device.status == "active")
        .order_by(Region.code)
    )
    return [str(code) for code in conn.execute(stmt).scalars()]


def exits(
    conn: Connection,
    since: datetime,
    until: datetime,
    areas: Iterable[str] | None = None,
    program_code: str = WANDERING_PROGRAM,
) -> pd.DataFrame:
    """Where and when people left their zone: one row per left-the-zone alert opened in
    [since, until) with the position in its evidence (lat, lon, opened_at). For the review map;
    no person column."""
    stmt = (
        select(Alert.opened_at, Alert.evidence)
        .join(Program, Program.id == Alert.program_id)
        .where(
            Alert.rule == "wander_left_zone",
            Program.code == program_code,
            Alert.opened_at >= since,
            Alert.opened_at < until,
        )
        .order_by(Alert.opened_at)
    )
    scope = in_areas(Alert.region_id, areas)
    if scope is not None:
        stmt = stmt.where(scope)
    rows = []
    for opened, evidence in conn.execute(stmt):
        lat, lon = (evidence or {}).get("lat"), (evidence or {}).get("lon")
        if isinstance(lat, int | float) and isinstance(lon, int | float):
            rows.append({"opened_at": _utc(opened), "lat": float(lat), "lon": float(lon)})
    return pd.DataFrame(rows, columns=["opened_at", "lat", "lon"])
