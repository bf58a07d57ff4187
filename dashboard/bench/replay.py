"""``replay_year_s``: a year of half-hourly plug readings for one home through ``replay``.

The year is synthetic and deterministic (no real trace ships with the repository): standby
with noise, a routine of appliances in the morning, at noon and in the evening, a fridge that
sometimes cycles at night, and incidents that make the product work — four three-day flat
spells (the 관심/위험/심각 ladder opens and closes) and three reporting gaps of six hours (device
faults). 17,520 readings, 52,560 ten-minute ticks.
"""

from __future__ import annotations

import csv
import random
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

SEOUL = ZoneInfo("Asia/Seoul")
YEAR_START = datetime(2024, 1, 1, tzinfo=SEOUL)
HALF_HOURS = 365 * 48
FLAT_DAYS = (40, 130, 220, 310)  # day of the year a three-day flat spell starts
GAP_DAYS = (75, 175, 275)  # day of the year a six-hour gap in reporting starts at 10:00


def write_year(path: Path, seed: int = 9, device_id: str = "home-1") -> int:
    """Write the synthetic year as replay input; returns the number of rows."""
    rng = random.Random(seed)
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["device_id", "ts", "watts"])
        for k in range(HALF_HOURS):
            ts = YEAR_START + timedelta(minutes=30 * k)
            day, hour = k // 48, ts.hour + ts.minute / 60
            if any(d * 24 + 10 <= k / 2 < d * 24 + 16 for d in GAP_DAYS):
                continue  # the plug sends nothing
            watts = 2.0 + rng.uniform(-0.4, 0.4)  # standby
            flat = any(d <= day < d + 3 for d in FLAT_DAYS)
            if not flat:
                if 7 <= hour < 9 or 12 <= hour < 13 or 18 <= hour < 22:
                    watts += rng.choice((0, 35, 80, 120, 150))
                elif hour < 6 and rng.random() < 0.3:
                    watts += 45  # the fridge's compressor
            out.writerow([device_id, ts.isoformat(), round(watts, 1)])
            rows += 1
    return rows


def measure_replay_year() -> dict[str, float | int]:
    """Seconds to replay the year (reading the file included), and what it produced."""
    from dashboard.replay import read_recording, replay

    with tempfile.TemporaryDirectory(prefix="anbu-bench-replay-") as tmp:
        path = Path(tmp) / "year.csv"
        rows = write_year(path)
        started = time.perf_counter()
        result = replay(read_recording(path, "plug", SEOUL))
        seconds = time.perf_counter() - started
    return {
        "replay_year_s": round(seconds, 2),
        "replay_year_readings": rows,
        "replay_year_transitions": len(result.transitions),
    }
