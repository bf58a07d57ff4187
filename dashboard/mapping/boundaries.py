"""Dong boundary polygons: simplification for the shipped file, centroids for reference data."""

from __future__ import annotations

import math

from dashboard.mapping.trail import EARTH_M_PER_DEG, rdp

COORD_DECIMALS = 5  # about 1 m


def simplify_ring(ring: list[list[float]], tolerance_m: float) -> list[list[float]]:
    """One closed [lon, lat] ring simplified in local metres; stays closed, ≥ 4 positions."""
    if len(ring) < 5:
        return [[round(x, COORD_DECIMALS), round(y, COORD_DECIMALS)] for x, y in ring[:]]
    lat0 = ring[0][1]
    kx = EARTH_M_PER_DEG * math.cos(math.radians(lat0))
    xy = [((x - ring[0][0]) * kx, (y - lat0) * EARTH_M_PER_DEG) for x, y, *_ in ring]
    # A closed ring has first == last: split at the point farthest from the start so RDP has
    # a real chord on both halves.
    far = max(range(len(xy)), key=lambda i: math.dist(xy[0], xy[i]))
    first = rdp(xy[: far + 1], tolerance_m)
    second = [far + i for i in rdp(xy[far:], tolerance_m)]
    kept = first + second[1:]
    if len(kept) < 4:
        kept = sorted({0, far // 2 or 1, far, len(ring) - 1})
    return [[round(ring[i][0], COORD_DECIMALS), round(ring[i][1], COORD_DECIMALS)] for i in kept]


def simplify_geometry(geometry: dict, tolerance_m: float) -> dict:
    kind = geometry["type"]
    if kind == "Polygon":
        rings = [simplify_ring(r, tolerance_m) for r in geometry["coordinates"]]
        return {"type": kind, "coordinates": rings}
    if kind == "MultiPolygon":
        polys = [[simplify_ring(r, tolerance_m) for r in p] for p in geometry["coordinates"]]
        return {"type": kind, "coordinates": polys}
    raise ValueError(f"unsupported geometry type {kind!r}")


def simplify_feature(feature: dict, tolerance_m: float) -> dict:
    """A dong feature with only adm_cd2 and adm_nm kept and its rings simplified."""
    props = feature["properties"]
    return {
        "type": "Feature",
        "properties": {"adm_cd2": str(props["adm_cd2"]), "adm_nm": props["adm_nm"]},
        "geometry": simplify_geometry(feature["geometry"], tolerance_m),
    }
