"""Trail downsampling keeps the shape (turns, ends) and bounds the number of points; the trail
query reads one detector's positions in a window through the event log."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from dashboard.db.schema import Alert, DeviceEvent
from dashboard.mapping.trail import (
    EARTH_M_PER_DEG,
    Fix,
    _local_xy,
    _segment_distance,
    bearing_deg,
    downsample,
    label_indices,
)
from queries.trails import position_fixes
from tests.unit.test_actions_support import add_alert, seed

T0 = datetime(2024, 11, 28, 12, 0, tzinfo=UTC)
LAT0, LON0 = 37.6435, 126.7870


def _walk(points_m: list[tuple[float, float]], step_s: int = 10) -> list[Fix]:
    """Fixes from local (east, north) metres."""
    kx = EARTH_M_PER_DEG * math.cos(math.radians(LAT0))
    return [
        Fix(T0 + timedelta(seconds=i * step_s), LAT0 + y / EARTH_M_PER_DEG, LON0 + x / kx)
        for i, (x, y) in enumerate(points_m)
    ]


def _l_shape(n: int = 400) -> list[Fix]:
    """400 m east, then 400 m north, one fix per 2 m, with 1 m of GPS noise."""
    rng = random.Random(1)
    half = n // 2
    pts = [(2.0 * i + rng.uniform(-1, 1), rng.uniform(-1, 1)) for i in range(half)]
    pts += [(400 + rng.uniform(-1, 1), 2.0 * i + rng.uniform(-1, 1)) for i in range(half)]
    return _walk(pts)


def _deviation_m(original: list[Fix], kept: list[Fix]) -> float:
    """Largest distance of an original fix from the simplified polyline."""
    xy = _local_xy([*kept, *original])
    line, rest = xy[: len(kept)], xy[len(kept) :]
    return max(
        min(_segment_distance(p, line[i], line[i + 1]) for i in range(len(line) - 1)) for p in rest
    )


def test_an_l_shaped_walk_keeps_its_corner_and_ends() -> None:
    walk = _l_shape()
    kept = downsample(walk)
    assert len(kept) < 12  # two straight legs need few points
    assert kept[0] == walk[0] and kept[-1] == walk[-1]
    # The corner (400 m east, 0 m north) is kept within one near-duplicate step (10 m).
    xy = _local_xy([walk[0], *kept])[1:]
    assert min(math.hypot(x - 400, y) for x, y in xy) < 10
    assert _deviation_m(walk, kept) < 10
    assert [f.ts for f in kept] == sorted(f.ts for f in kept)


@pytest.mark.parametrize("max_points", [2, 20, 150])
def test_a_long_random_walk_is_bounded(max_points: int) -> None:
    rng = random.Random(7)
    x = y = 0.0
    pts = []
    for _ in range(5_000):  # 14 h of 10-second fixes
        x, y = x + rng.gauss(0, 8), y + rng.gauss(0, 8)
        pts.append((x, y))
    walk = _walk(pts)
    kept = downsample(walk, max_points=max_points)
    assert 2 <= len(kept) <= max_points
    assert kept[0] == walk[0] and kept[-1] == walk[-1]


def test_standing_still_collapses_to_the_first_and_last_fix() -> None:
    rng = random.Random(3)
    walk = _walk([(rng.uniform(-3, 3), rng.uniform(-3, 3)) for _ in range(300)])
    kept = downsample(walk)
    assert len(kept) == 2
    assert kept[-1].ts == walk[-1].ts  # the current position keeps its newest time


def test_max_points_below_two_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 2"):
        downsample(_l_shape(), max_points=1)


def test_bearings_and_labels() -> None:
    a = Fix(T0, LAT0, LON0)
    assert bearing_deg(a, Fix(T0, LAT0 + 0.01, LON0)) == pytest.approx(0, abs=0.1)
    assert bearing_deg(a, Fix(T0, LAT0, LON0 + 0.01)) == pytest.approx(90, abs=0.1)
    assert bearing_deg(a, Fix(T0, LAT0 - 0.01, LON0)) == pytest.approx(180, abs=0.1)
    assert label_indices(3) == [0, 1, 2]
    picks = label_indices(100, 6)
    assert picks[0] == 0 and picks[-1] == 99 and len(picks) == 6


def test_position_fixes_reads_one_device_in_its_window(db_engine) -> None:
    seed(db_engine)
    alert = add_alert(db_engine, rule="wander_left_zone")
    with db_engine.connect() as conn:
        device = conn.execute(select(Alert.device_id).where(Alert.id == alert)).scalar_one()
    rows = [
        {
            "vendor": "v", "event_uid": f"e{i}", "device_id": device,
            "ts": T0 + timedelta(minutes=i), "received_at": T0 + timedelta(minutes=i),
            "type": "position" if i != 5 else "battery", "value": None,
            "data": {"lat": LAT0 + i * 1e-4, "lon": LON0} if i != 7 else {"battery_pct": 50},
        }
        for i in range(12)
    ]  # fmt: skip
    with db_engine.begin() as conn:
        conn.execute(insert(DeviceEvent), rows)
    with db_engine.connect() as conn:
        fixes = position_fixes(conn, device, T0 + timedelta(minutes=2), T0 + timedelta(minutes=10))
        newest = position_fixes(conn, device, T0, T0 + timedelta(hours=1), limit=3)
    # (2, 10]: minutes 3..10 without the battery event (5) and the fix without lat/lon (7).
    assert [f.ts.minute for f in fixes] == [3, 4, 6, 8, 9, 10]
    assert fixes[0].lat == pytest.approx(LAT0 + 3e-4)
    assert [f.ts.minute for f in newest] == [9, 10, 11]  # the newest, oldest first
