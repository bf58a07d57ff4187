"""The tick's candidate query, built once per thresholds basis with its times bound at each tick,
selects what the query with literal times selects: across threshold edits (a district changed
and reverted), a type's timeout edited in the database, and several moments, in one process,
on both backends (from a review of the change)."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update

from dashboard.db.schema import Device, DeviceRoutine, DeviceState, DeviceType
from dashboard.rules import current_thresholds
from dashboard.rules.due import basis
from dashboard.rules.engine import _candidate_query, _candidates
from dashboard.rules.prefilter import silence_timeouts
from tests.ingest_support import seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)


def _variants(base):
    rng = random.Random(7)
    out = [base]
    for _ in range(25):
        pr = base.plug_routine.model_copy(
            update={
                "min_quiet_h": rng.choice([0.5, 1, 2, 3, 6]),
                "score_every_min": rng.choice([1, 5, 10, 30]),
                "min_days": rng.choice([7, 14, 21]),
                "enabled": rng.random() < 0.8,
            }
        )
        ds = base.device_silent.model_copy(
            update={"timeout_s": {"smart_plug": rng.choice([600, 3600, 7200, 20000])}}
        )
        bt = base.battery.model_copy(update={"low_pct": rng.choice([5, 20, 50]), "clear_pct": 90})
        out.append(base.model_copy(update={"plug_routine": pr, "device_silent": ds, "battery": bt}))
    from dashboard.rules.config import DistrictOverride, DistrictRoutine

    for h in (0.5, 1.0, 3.0):
        out.append(
            base.model_copy(
                update={
                    "districts": {
                        "4128500000": DistrictOverride(plug_routine=DistrictRoutine(min_quiet_h=h))
                    }
                }
            )
        )
        out.append(base)  # a lead reverts the district: the city's query again
    return out


def test_the_cached_candidate_query_selects_what_the_literal_one_does(db_engine):
    rng = random.Random(1)
    with db_engine.begin() as conn:
        ids = seed_catalog(conn, extra_plugs=300)
        rows, routines = [], []
        for i in ids.values():

            def t() -> datetime | None:
                return (
                    NOW - timedelta(minutes=rng.randint(0, 3000)) if rng.random() < 0.85 else None
                )

            rows.append(
                {
                    "device_id": i,
                    "state": "normal",
                    "state_since": NOW - timedelta(days=3),
                    "updated_at": NOW,
                    "last_seen_at": t(),
                    "last_activity_at": t(),
                    "above_since": t(),
                    "rules_due_at": NOW + timedelta(minutes=rng.randint(-600, 600))
                    if rng.random() < 0.5
                    else None,
                    "battery_pct": rng.choice([None, 3.0, 10.0, 30.0, 80.0]),
                }
            )
            if rng.random() < 0.6:
                routines.append(
                    {
                        "device_id": i,
                        "learned_on": date(2024, 11, 30),
                        "reference_days": rng.choice([5, 10, 15, 25]),
                        "model": "{}",
                        "updated_at": NOW,
                        "checked_at": t(),
                        "score_due_at": t(),
                    }
                )
        conn.execute(insert(DeviceState), rows)
        conn.execute(insert(DeviceRoutine), routines)
    th0 = current_thresholds()
    checked = 0
    for step, th in enumerate(_variants(th0)):
        with db_engine.begin() as conn:
            if step == 10:  # a type's timeout edited in the database mid-run
                conn.execute(update(DeviceType).values(heartbeat_timeout_s=900))
            timeouts = silence_timeouts(conn, th)
            for now in (NOW, NOW + timedelta(hours=5), NOW - timedelta(hours=7)):
                query, cuts = _candidate_query(conn, th, timeouts, basis(th, timeouts))
                cached = list(conn.execute(query, cuts.values(now)).scalars())
                d, st = Device.__table__, DeviceState.__table__
                literal = list(
                    conn.execute(
                        select(d.c.id)
                        .select_from(d.outerjoin(st, st.c.device_id == d.c.id))
                        .where(d.c.status == "active", _candidates(conn, th, now))
                        .order_by(d.c.id)
                    ).scalars()
                )
                assert cached == literal, (step, now)
                checked += 1
    assert checked == 96
