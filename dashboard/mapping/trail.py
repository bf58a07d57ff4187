"""A person's recent track made fit to draw: few points, the shape kept.

GPS trackers report every few seconds to minutes; a day of fixes is thousands of points, most of
them jitter around the same spot or points on a straight street. ``downsample`` drops fixes
within ``min_step_m`` of the last kept one (standing still), then simplifies with
Ramer–Douglas–Peucker in local metres (a turn is a point far from the chord, so turns stay),
raising the tolerance until at most ``max_points`` remain. First and last fixes always stay: the
last one is where the person is.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

EARTH_M_PER_DEG = 111_195.0
MIN_STEP_M = 10.0  # below this from the last kept fix, a fix is jitter, not movement
START_TOLERANCE_M = 5.0
MAX_POINTS = 150
TOLERANCE_GROWTH = 1.5


@dataclass(frozen=True)
class Fix:
    ts: datetime
    lat: float
    lon: float


def _local_xy(fixes: Sequence[Fix]) -> list[tuple[float, float]]:
    """Equirectangular metres around the first fix: exact enough over a few kilometres."""
    lat0 = fixes[0].lat
    kx = EARTH_M_PER_DEG * math.cos(math.radians(lat0))
    return [((f.lon - fixes[0].lon) * kx, (f.lat - lat0) * EARTH_M_PER_DEG) for f in fixes]


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]):
    (px, py), (ax, ay), (bx, by) = p, a, b
    dx, dy = bx - ax, by - ay
    length2 = dx * dx + dy * dy
    if length2 == 0:
        return math.hypot(px - ax, py - ay)
    t = max(0.0, min(1.0, ((px - ax) * dx + (py - ay) * dy) / length2))
    return math.hypot(px - (ax + t * dx), py - (ay + t * dy))


def rdp(xy: Sequence[tuple[float, float]], tolerance_m: float) -> list[int]:
    """Indices kept by Ramer–Douglas–Peucker (iterative: a long trail never hits recursion
    limits)."""
    n = len(xy)
    if n <= 2:
        return list(range(n))
    keep = [False] * n
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        first, last = stack.pop()
        worst, worst_d = -1, tolerance_m
        for i in range(first + 1, last):
            d = _segment_distance(xy[i], xy[first], xy[last])
            if d > worst_d:
                worst, worst_d = i, d
        if worst >= 0:
            keep[worst] = True
            stack += [(first, worst), (worst, last)]
    return [i for i, k in enumerate(keep) if k]


def drop_near_duplicates(xy: Sequence[tuple[float, float]], min_step_m: float) -> list[int]:
    """Indices of fixes at least ``min_step_m`` from the previous kept one; the last fix
    always stays (it is the current position)."""
    if not xy:
        return []
    kept = [0]
    for i in range(1, len(xy)):
        last = xy[kept[-1]]
        if math.hypot(xy[i][0] - last[0], xy[i][1] - last[1]) >= min_step_m:
            kept.append(i)
    if kept[-1] != len(xy) - 1:
        if len(kept) > 1 and math.dist(xy[kept[-1]], xy[-1]) < min_step_m:
            kept[-1] = len(xy) - 1  # same spot: keep the newer time
        else:
            kept.append(len(xy) - 1)
    return kept


def downsample(
    fixes: Sequence[Fix],
    *,
    max_points: int = MAX_POINTS,
    min_step_m: float = MIN_STEP_M,
) -> list[Fix]:
    """At most ``max_points`` fixes (≥ 2) in time order keeping the trail's shape."""
    if max_points < 2:
        raise ValueError("max_points must be at least 2 (the first and the last fix)")
    fixes = sorted(fixes, key=lambda f: f.ts)
    if len(fixes) <= 2:
        return list(fixes)
    xy = _local_xy(fixes)
    moved = drop_near_duplicates(xy, min_step_m)
    sub = [xy[i] for i in moved]
    tolerance = START_TOLERANCE_M
    kept = rdp(sub, tolerance)
    while len(kept) > max_points:
        tolerance *= TOLERANCE_GROWTH
        kept = rdp(sub, tolerance)
    return [fixes[moved[i]] for i in kept]


def bearing_deg(a: Fix, b: Fix) -> float:
    """Compass bearing from ``a`` to ``b`` (0 = north, 90 = east)."""
    p1, p2 = math.radians(a.lat), math.radians(b.lat)
    dl = math.radians(b.lon - a.lon)
    x = math.sin(dl) * math.cos(p2)
    y = math.cos(p1) * math.sin(p2) - math.sin(p1) * math.cos(p2) * math.cos(dl)
    return (math.degrees(math.atan2(x, y)) + 360) % 360


def label_indices(n: int, labels: int = 6) -> list[int]:
    """Which of ``n`` points get an always-on time label: first, last and evenly between."""
    if n <= labels:
        return list(range(n))
    step = (n - 1) / (labels - 1)
    return sorted({round(i * step) for i in range(labels)})
