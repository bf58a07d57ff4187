"""Recorded histories for the replay tests, written as the CSV files ``replay`` reads."""

from __future__ import annotations

import csv
import math
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
HOME = (37.6584, 126.7717)  # Ilsan-dong-gu


def write_csv(path: Path, header: Sequence[str], rows: Iterable[Sequence]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(header)
        out.writerows(rows)
    return path


def plug_rows(
    device: str,
    start: datetime,
    active_until: datetime,
    end: datetime,
    step: timedelta = timedelta(minutes=30),
    seed: int = 1,
    gaps: Sequence[tuple[datetime, datetime]] = (),
) -> list[tuple[str, str, float]]:
    """Readings every ``step``: each a change (a sign of life) until ``active_until``, then
    flat at the last value (the last change is the last reading before ``active_until``);
    nothing inside ``gaps``."""
    rng = random.Random(seed)
    rows, ts, high, watts = [], start, False, 3.0
    while ts <= end:
        if not any(a <= ts < b for a, b in gaps):
            if ts < active_until:
                high = not high
                watts = round(60.0 + rng.uniform(0, 40), 1) if high else 3.0
            rows.append((device, ts.isoformat(), watts))
        ts += step
    return rows


def offset(lat: float, lon: float, metres: float, bearing: float = 45.0) -> tuple[float, float]:
    """The point ``metres`` from (lat, lon) towards ``bearing`` degrees (small distances)."""
    dlat = metres * math.cos(math.radians(bearing)) / 111_320
    dlon = metres * math.sin(math.radians(bearing)) / (111_320 * math.cos(math.radians(lat)))
    return round(lat + dlat, 7), round(lon + dlon, 7)


def walk_rows(
    device: str, start: datetime, legs: Sequence[tuple[int, float, float]], home=HOME
) -> list[tuple]:
    """A track of one fix a minute: each leg is (minutes, from metres, to metres) away from
    home (linear); a leg with from = to = -1 is a gap without fixes."""
    rows, ts = [], start
    for minutes, a, b in legs:
        for i in range(minutes):
            if a >= 0:
                dist = a + (b - a) * i / max(minutes - 1, 1)
                rows.append((device, ts.isoformat(), *offset(*home, dist), 10))
            ts += timedelta(minutes=1)
    return rows
