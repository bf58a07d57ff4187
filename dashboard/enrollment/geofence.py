"""A wanderer's geofence settings: radius, an optional polygon zone and quiet hours.

Leads set them on the person panel (대상자 관리 → the person); :func:`set_geofence` validates
every value, refuses what the rules could not use (a polygon that crosses itself or leaves the
home outside), writes the row and the audit entry in the caller's transaction.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, update

from dashboard.auth.principal import SessionUser
from dashboard.db.schema import CareRecipient
from dashboard.enrollment.common import audit, authorise, load_person, refuse_ended
from dashboard.enrollment.errors import EnrollmentError
from dashboard.enrollment.people import KOREA_LAT, KOREA_LON, SAFE_ZONE_M, _bounded_int
from dashboard.rules.geofence import polygon_signed_distance, project_m
from dashboard.rules.schedule import judge_again

POLYGON_VERTICES = (3, 200)
POLYGON_AREA_M2 = (2_000, 100_000_000)  # a house and garden … a whole district (100 km²)
POLYGON_TEXT_MAX = 50_000
AUDIT_ACTION = "person_geofence"
_UNSET: Any = object()
_CLOCK = re.compile(r"^\s*([01]?\d|2[0-3]):([0-5]\d)\s*$")


def parse_polygon(text: str) -> list[list[float]] | None:
    """A polygon as pasted: GeoJSON (Polygon, Feature or a FeatureCollection of one polygon,
    ``[lon, lat]`` as GeoJSON orders them) or one ``lat, lon`` pair per line. Blank → ``None``.

    Raises :class:`EnrollmentError` on ``polygon`` naming the line or part that is wrong.
    """
    if not isinstance(text, str):
        raise EnrollmentError("polygon", "must be text", key="not_text")
    text = text.strip()
    if not text:
        return None
    if len(text) > POLYGON_TEXT_MAX:
        raise EnrollmentError(
            "polygon",
            f"at most {POLYGON_TEXT_MAX} characters",
            key="polygon_too_long",
            max=POLYGON_TEXT_MAX,
        )
    if text[0] in "{[":
        return _from_geojson(text)
    points = []
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line:
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        if len(parts) != 2:
            raise EnrollmentError(
                "polygon",
                f"line {number}: expected 'lat, lon', got {line!r}",
                key="polygon_line_format",
                line=number,
                text=line,
            )
        try:
            points.append([float(parts[0]), float(parts[1])])
        except ValueError:
            raise EnrollmentError(
                "polygon",
                f"line {number}: not two numbers: {line!r}",
                key="polygon_line_numbers",
                line=number,
                text=line,
            ) from None
    return points


def polygon_from_drawing(drawing: object) -> list[list[float]] | None:
    """The corners ``[lat, lon]`` of a polygon drawn on the map: streamlit-folium's
    ``last_active_drawing`` (a GeoJSON Feature, ``[lon, lat]`` and a closed ring as Leaflet.draw
    gives it). Nothing drawn → ``None``. Anything but one polygon raises
    :class:`EnrollmentError` on ``polygon``, through the same parser as pasted GeoJSON, so a
    drawing and a paste are refused for the same reasons. The corners still go through
    :func:`check_polygon` (crossing edges, area, the home inside) when saved."""
    if drawing is None or drawing == {}:
        return None
    if not isinstance(drawing, dict):
        raise EnrollmentError(
            "polygon", "the drawing is not a GeoJSON object", key="drawing_not_geojson"
        )
    points = _from_geojson(json.dumps(drawing))
    if len(points) > 1 and points[0] == points[-1]:
        points.pop()  # Leaflet.draw closes the ring; the form lists corners
    return points


def _from_geojson(text: str) -> list[list[float]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise EnrollmentError(
            "polygon",
            f"not valid JSON: {exc.msg} at {exc.pos}",
            key="polygon_json",
            detail=exc.msg,
            pos=exc.pos,
        ) from None
    if isinstance(data, dict) and data.get("type") == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list) or len(features) != 1:
            raise EnrollmentError(
                "polygon",
                "a FeatureCollection must hold exactly one feature",
                key="polygon_feature_count",
            )
        data = features[0]
    if isinstance(data, dict) and data.get("type") == "Feature":
        data = data.get("geometry")
    if not isinstance(data, dict) or data.get("type") != "Polygon":
        raise EnrollmentError(
            "polygon",
            "GeoJSON must be a Polygon (or a Feature of one)",
            key="polygon_not_polygon",
        )
    rings = data.get("coordinates")
    if not isinstance(rings, list) or not rings or not isinstance(rings[0], list):
        raise EnrollmentError(
            "polygon", "the Polygon has no coordinates", key="polygon_no_coordinates"
        )
    if len(rings) > 1:
        raise EnrollmentError(
            "polygon", "holes are not supported: give the outer ring only", key="polygon_holes"
        )
    points = []
    for i, pair in enumerate(rings[0], start=1):
        if (
            not isinstance(pair, list)
            or len(pair) < 2
            or not all(isinstance(v, int | float) and not isinstance(v, bool) for v in pair[:2])
        ):
            raise EnrollmentError(
                "polygon",
                f"position {i}: expected [lon, lat] numbers",
                key="polygon_position",
                position=i,
            )
        points.append([float(pair[1]), float(pair[0])])  # GeoJSON is lon, lat
    return points


def _cross(o, a, b) -> float:
    return (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])


def _segments_cross(p1, p2, q1, q2) -> bool:
    d1, d2 = _cross(q1, q2, p1), _cross(q1, q2, p2)
    d3, d4 = _cross(p1, p2, q1), _cross(p1, p2, q2)
    return d1 * d2 < 0 and d3 * d4 < 0


def check_polygon(
    points: Sequence[Sequence[float]], home: tuple[float, float] | None
) -> list[list[float]]:
    """The polygon as stored (closing vertex dropped), or :class:`EnrollmentError`."""
    pts = [[float(lat), float(lon)] for lat, lon in points]
    if len(pts) > 1 and pts[0] == pts[-1]:
        pts.pop()
    low, high = POLYGON_VERTICES
    if not low <= len(pts) <= high:
        raise EnrollmentError(
            "polygon",
            f"needs {low}–{high} corners, got {len(pts)}",
            key="polygon_corners",
            low=low,
            high=high,
            count=len(pts),
        )
    for i, (lat, lon) in enumerate(pts, start=1):
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise EnrollmentError(
                "polygon", f"corner {i}: not a finite number", key="corner_not_finite", corner=i
            )
        if not (KOREA_LAT[0] <= lat <= KOREA_LAT[1] and KOREA_LON[0] <= lon <= KOREA_LON[1]):
            raise EnrollmentError(
                "polygon",
                f"corner {i} ({lat}, {lon}) is outside Korea (lat, lon order?)",
                key="corner_outside_korea",
                corner=i,
                lat=lat,
                lon=lon,
            )
    flat = [project_m((pts[0][0], pts[0][1]), (lat, lon)) for lat, lon in pts]
    n = len(flat)
    for i in range(n):
        for j in range(i + 1, n):
            if j in (i + 1, (i - 1) % n) or (i == 0 and j == n - 1):
                continue  # neighbours share a corner
            if _segments_cross(flat[i], flat[(i + 1) % n], flat[j], flat[(j + 1) % n]):
                raise EnrollmentError(
                    "polygon",
                    f"edges {i + 1} and {j + 1} cross each other",
                    key="polygon_edges_cross",
                    a=i + 1,
                    b=j + 1,
                )
    area = abs(sum(_cross((0, 0), flat[i], flat[(i + 1) % n]) for i in range(n))) / 2
    small, large = POLYGON_AREA_M2
    if not small <= area <= large:
        raise EnrollmentError(
            "polygon",
            f"area {area:,.0f} m² is outside {small:,}–{large:,} m²",
            key="polygon_area",
            area=f"{area:,.0f}",
            low=f"{small:,}",
            high=f"{large:,}",
        )
    if home is not None and polygon_signed_distance([tuple(p) for p in pts], *home) > 0:
        raise EnrollmentError("polygon", "the home is outside the polygon", key="home_outside")
    return pts


def parse_clock(field: str, value: str | int | None) -> int | None:
    """``"22:30"`` (or minutes of the day) → minutes; blank → ``None``."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        if 0 <= value < 24 * 60:
            return value
        raise EnrollmentError(
            field, f"minutes of the day 0–1439, got {value}", key="clock_minutes", value=value
        )
    match = _CLOCK.match(value) if isinstance(value, str) else None
    if match is None:
        raise EnrollmentError(
            field, f"expected a time like 22:00, got {value!r}", key="clock_format", value=value
        )
    return int(match.group(1)) * 60 + int(match.group(2))


def set_geofence(
    conn: Connection,
    principal: SessionUser,
    now: datetime,
    recipient_id: int,
    *,
    safe_zone_m: int | None = _UNSET,
    polygon: Sequence[Sequence[float]] | None = _UNSET,
    quiet_hours: tuple[str | int | None, str | int | None] = _UNSET,
) -> dict[str, Any]:
    """Change the given geofence settings (``None`` clears one: the circle, the program's night);
    returns the values written. Nothing is written when any value is refused."""
    actor = authorise(principal, now)
    person = load_person(conn, recipient_id, for_update=True)
    refuse_ended(person)
    values: dict[str, Any] = {}
    if safe_zone_m is not _UNSET:
        values["safe_zone_m"] = _bounded_int("safe_zone_m", safe_zone_m, SAFE_ZONE_M)
    if polygon is not _UNSET:
        home = None
        if person.pii_home_lat is not None and person.pii_home_lon is not None:
            home = (person.pii_home_lat, person.pii_home_lon)
        values["pii_zone_polygon"] = None if polygon is None else check_polygon(polygon, home)
    if quiet_hours is not _UNSET:
        if not isinstance(quiet_hours, tuple | list) or len(quiet_hours) != 2:
            raise EnrollmentError("quiet_hours", "expected (start, end)", key="quiet_hours_pair")
        start = parse_clock("quiet_start", quiet_hours[0])
        end = parse_clock("quiet_end", quiet_hours[1])
        if (start is None) != (end is None):
            raise EnrollmentError(
                "quiet_hours", "give both start and end, or neither", key="quiet_hours_both"
            )
        if start is not None and start == end:
            raise EnrollmentError(
                "quiet_hours", "start and end must differ", key="quiet_hours_same"
            )
        values["quiet_start_min"], values["quiet_end_min"] = start, end
    if not values:
        raise EnrollmentError("settings", "nothing to change", key="nothing_to_change")
    r = CareRecipient.__table__
    conn.execute(update(r).where(r.c.id == recipient_id).values(**values))
    judge_again(conn, recipient_ids=[recipient_id])  # the geofence's decision may move
    # The polygon outlines the home: the audit keeps how many corners, never where.
    detail: dict[str, Any] = {"fields": sorted(values)}
    if "safe_zone_m" in values:
        detail["safe_zone_m"] = values["safe_zone_m"]
    if "pii_zone_polygon" in values:
        polygon_ = values["pii_zone_polygon"]
        detail["polygon_corners"] = len(polygon_) if polygon_ else 0
    audit(conn, now, actor, AUDIT_ACTION, "care_recipient", recipient_id, detail)
    return values
