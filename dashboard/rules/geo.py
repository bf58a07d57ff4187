"""Great-circle distance for safe-zone checks, and where a position can be at all."""

from __future__ import annotations

import math

EARTH_RADIUS_M = 6_371_008.8  # mean Earth radius (IUGG)
# Mainland Korea, Jeju, Ulleungdo and Dokdo: where every program's people live. A home or a
# zone outside is a typo (or swapped lat/lon); a position fix outside is a receiver without a
# fix, (0, 0) or (90, -180), not a person far away (``rules.geofence``).
KOREA_LAT = (33.0, 38.7)
KOREA_LON = (124.5, 132.0)


def in_korea(lat: float, lon: float) -> bool:
    """Whether a position lies within Korea's bounds (``KOREA_LAT``, ``KOREA_LON``)."""
    return KOREA_LAT[0] <= lat <= KOREA_LAT[1] and KOREA_LON[0] <= lon <= KOREA_LON[1]


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Distance in metres between two WGS84 points (error < 0.5 % at city scale)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))
