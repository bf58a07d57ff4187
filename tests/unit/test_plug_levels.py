"""The level test (``detection.levels``): storage by ingest, learning, scoring, the rule."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime

from sqlalchemy import select

from dashboard.db.schema import DeviceDaily
from dashboard.detection import levels
from dashboard.ingest import ingest_events
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
DAY = date(2024, 12, 1)


def _power(eid: str, iso: str, watts: float) -> dict:
    return {"event_id": eid, "device_id": "plug-1", "ts": iso, "type": "power", "watts": watts}


def _stored(engine, device_id: int) -> bytes | None:
    with engine.connect() as conn:
        value = conn.scalar(
            select(DeviceDaily.level_slots).where(
                DeviceDaily.device_id == device_id, DeviceDaily.day == DAY
            )
        )
    return None if value is None else bytes(value)


def _q(watts: float) -> float:
    return (math.log(watts + 10) - math.log(10)) / levels.UNIT


def test_ingest_stores_half_hour_mean_levels_merged_across_batches(db_engine):
    """Two batches of one half-hour give the mean of all its readings, in any order; a
    re-delivered event changes nothing; a late reading for an earlier half-hour fills only its
    own half-hour; other devices' days keep NULL."""
    with db_engine.begin() as conn:
        devices = seed_catalog(conn)
    plug = devices["plug-1"]
    # 11:00–11:30 Seoul is slot 22; 09:00 is slot 18
    first = [_power("a", "2024-12-01T02:05:00Z", 90.0), _power("b", "2024-12-01T02:10:00Z", 10)]
    late = [_power("c", "2024-12-01T02:20:00Z", 190.0)]
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, late, now=NOW)
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, first, now=NOW)
    with db_engine.begin() as conn:  # the same events again: duplicates, not stored
        result = ingest_events(conn, VENDOR, first + late, now=NOW)
    assert result.duplicates == 3
    with db_engine.begin() as conn:  # an out-of-order reading for 09:00
        ingest_events(conn, VENDOR, [_power("d", "2024-12-01T00:01:00Z", 0.0)], now=NOW)
    blob = _stored(db_engine, plug)
    assert blob is not None and len(blob) == 2 * levels.SLOTS
    lv, counts = blob[: levels.SLOTS], blob[levels.SLOTS :]
    mean = (_q(90) + _q(10) + _q(190)) / 3
    assert abs(lv[22] - mean) <= 0.5 + 1e-9 and counts[22] == 3
    assert lv[18] == 0 and counts[18] == 1
    assert [i for i, v in enumerate(lv) if v != levels.NO_LEVEL] == [18, 22]
    assert _stored(db_engine, devices["robot-1"]) is None


def test_merge_is_the_mean_whatever_the_order():
    a, b = {5: (_q(100) * 2, 2)}, {5: (_q(400), 1)}
    one = levels.merge_levels(levels.merge_levels(None, a), b)
    two = levels.merge_levels(levels.merge_levels(None, b), a)
    want = round((_q(100) * 2 + _q(400)) / 3)
    assert abs(one[5] - want) <= 1 and abs(two[5] - want) <= 1 and one[53] == two[53] == 3
    assert levels.merge_levels(one, {}) == one
    assert (
        abs(levels.byte_watts(one[5]) - math.exp((2 * math.log(110) + math.log(410)) / 3) + 10) < 8
    )
