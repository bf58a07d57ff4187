"""The level chart's query on both backends: one plug's stored levels of the last 30 local days
ending on a given day, bytes whatever the backend, days without levels and other plugs left
out; and the profile built from them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import insert
from test_actions_support import T0, add_person, seed

from dashboard.db.schema import DeviceDaily
from dashboard.detection import levels
from dashboard.detection.level_profile import READ_DAYS, level_profile
from dashboard.settings import LOCAL_TZ
from queries.levels import level_days

TODAY = T0.astimezone(LOCAL_TZ).date()


def _day(q: int) -> bytes:
    return levels.merge_levels(None, {s: (float(q if 14 <= s < 44 else 40), 1) for s in range(48)})


def test_one_plugs_levels_of_the_last_days(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        _rid, plug = add_person(conn)
        _rid, other = add_person(conn)
        rows = [
            {
                "device_id": plug,
                "day": TODAY - timedelta(days=k),
                "events": 48,
                "level_slots": _day(100 + k) if k != 2 else None,
            }
            for k in range(READ_DAYS + 2)
        ]
        rows.append({"device_id": other, "day": TODAY, "events": 48, "level_slots": _day(200)})
        conn.execute(insert(DeviceDaily), rows)
    with db_engine.connect() as conn:
        stored = level_days(conn, plug, TODAY)
        yesterday = level_days(conn, plug, TODAY - timedelta(days=1), days=3)
        nothing = level_days(conn, other, TODAY - timedelta(days=1))
    assert READ_DAYS == 30  # docs/detection.md, "In the product"
    first = TODAY - timedelta(days=READ_DAYS - 1)
    window = [first + timedelta(days=k) for k in range(READ_DAYS)]
    assert sorted(stored) == [d for d in window if d != TODAY - timedelta(days=2)]
    assert all(type(v) is bytes and len(v) == 96 for v in stored.values())
    assert stored[TODAY] == _day(100) and stored[first] == _day(100 + READ_DAYS - 1)
    assert sorted(yesterday) == [TODAY - timedelta(days=3), TODAY - timedelta(days=1)]
    assert nothing == {}
    profile = level_profile(stored, None, T0, LOCAL_TZ, "day")
    assert profile is not None and profile.reference_days == 27  # 28 days less the NULL one
