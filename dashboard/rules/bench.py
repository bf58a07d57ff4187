"""Seoul-scale silence-tick timing on a synthetic device set (for ``docs/rules.md`` and ``bench``).

``python -m dashboard.rules.bench URL`` fills an EMPTY database with ~35,000 devices and prints
the tick times; ``measure_tick`` alone times ticks on any database (e.g. the demo city).
"""

from __future__ import annotations

import random
import sys
import time
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert, text

from dashboard.db.engine import make_engine
from dashboard.db.schema import (
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceState,
    DeviceType,
    Program,
    Region,
    metadata,
)
from dashboard.rules.engine import TickSummary, run_silence_tick

NOW = datetime(2024, 12, 2, tzinfo=UTC)
MIX = (  # type, count, heartbeat timeout (s): Seoul plugs plus the Goyang / Daedeok programs
    ("smart_plug", 32_000, 7200),
    ("phone_line", 948, 93600),
    ("ai_call_line", 2_000, 691200),
    ("care_robot", 100, 7200),
    ("wandering_detector", 200, 3600),
    ("smoking_detector", 12, 7200),
    ("park_machine", 6, 7200),
)


def build(engine: Engine, seed: int = 1) -> int:
    """Create the schema and a synthetic city: ~2 % silent devices, ~0.6 % without activity."""
    rng = random.Random(seed)
    metadata.create_all(engine)
    recips, devs, states, events = [], [], [], []
    i = 0
    for code, n, _ in MIX:
        for _ in range(n):
            i += 1
            recips.append(
                {
                    "id": i,
                    "program_id": 1,
                    "region_id": 1,
                    "external_ref": f"B{i}",
                    "birth_year": 1945,
                    "sex": "F",
                    "household": "alone",
                    "enrolled_on": date(2024, 1, 1),
                    "no_change_hours": rng.choice([24, 30, 36, 48]),
                    "safe_zone_m": 500,
                    "pii_name": "x",
                    "pii_home_lat": 37.5,
                    "pii_home_lon": 127.0,
                }
            )
            devs.append(
                {
                    "id": i,
                    "device_uid": f"B{i}",
                    "type_code": code,
                    "program_id": 1,
                    "vendor": "bench",
                    "recipient_id": i,
                    "region_id": 1,
                    "installed_on": date(2024, 1, 1),
                }
            )
            u = rng.random()
            seen = NOW - timedelta(minutes=rng.randint(1, 50))
            act = NOW - timedelta(hours=rng.uniform(0, 12))
            if u < 0.02:
                seen = NOW - timedelta(hours=rng.uniform(3, 200))
            elif u < 0.026:
                act = NOW - timedelta(hours=rng.uniform(14, 110))
            if code == "phone_line":
                act = NOW - timedelta(hours=rng.uniform(0, 80))
            wander = code == "wandering_detector"
            lat = 37.5 + rng.uniform(-0.003, 0.003) if wander else None
            states.append(
                {
                    "device_id": i,
                    "state": "normal",
                    "state_since": NOW - timedelta(days=3),
                    "last_seen_at": seen,
                    "last_activity_at": act,
                    "last_power_w": 3.0,
                    "last_lux": 10.0,
                    "battery_pct": rng.uniform(10, 100) if wander else None,
                    "last_lat": lat,
                    "last_lon": 127.0 if wander else None,
                    "updated_at": NOW,
                }
            )
            if wander:  # 2 days of fixes every 5 minutes
                events += [
                    {
                        "vendor": "bench",
                        "event_uid": f"p{i}-{k}",
                        "device_id": i,
                        "ts": NOW - timedelta(minutes=5 * k),
                        "received_at": NOW,
                        "type": "position",
                        "data": {"lat": lat, "lon": 127.0},
                    }
                    for k in range(576)
                ]
            if code in ("phone_line", "ai_call_line"):
                events += [
                    {
                        "vendor": "bench",
                        "event_uid": f"c{i}-{k}",
                        "device_id": i,
                        "ts": NOW - timedelta(days=7 * k + 1),
                        "received_at": NOW,
                        "type": "ai_call_result",
                        "data": {"outcome": rng.choice(["answered", "unanswered"])},
                    }
                    for k in range(6)
                ]
    with engine.begin() as conn:
        conn.execute(
            insert(Region),
            [
                {
                    "id": 1,
                    "code": "1100000000",
                    "level": "city",
                    "name_ko": "서울특별시",
                    "name_en": "Seoul",
                }
            ],
        )
        conn.execute(
            insert(Program),
            [
                {
                    "id": 1,
                    "code": "bench",
                    "kind": "device",
                    "name_ko": "bench",
                    "name_en": "bench",
                    "region_id": 1,
                }
            ],
        )
        conn.execute(
            insert(DeviceType),
            [{"code": c, "name_ko": c, "name_en": c, "heartbeat_timeout_s": s} for c, _, s in MIX],
        )
        conn.execute(insert(CareRecipient), recips)
        conn.execute(insert(Device), devs)
        conn.execute(insert(DeviceState), states)
        for start in range(0, len(events), 20_000):
            conn.execute(insert(DeviceEvent), events[start : start + 20_000])
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
    return i


def measure_tick(engine: Engine, start: datetime = NOW, ticks: int = 4) -> list[TickSummary]:
    """Run ``ticks`` one-minute-apart ticks, each in its own transaction."""
    out = []
    for k in range(ticks):
        with engine.begin() as conn:
            out.append(run_silence_tick(conn, start + timedelta(minutes=k)))
    return out


def main(argv: list[str]) -> int:
    engine = make_engine(argv[0])
    started = time.perf_counter()
    devices = build(engine)
    print(f"{devices} devices built in {time.perf_counter() - started:.1f} s")
    for summary in measure_tick(engine):
        print(summary)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
