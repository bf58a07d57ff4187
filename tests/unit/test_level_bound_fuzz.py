"""``levels.first_report_to_reach`` against the exact scoring, beyond one day of a learned home:
random tables (weekday/weekend apart or not), a carry at the learning midnight, a restart at a
random last sign of life, reports crossing midnight into another day kind, hourly plugs, the
last half-hour read again, and reports stored out of order (a late reading into an earlier
half-hour: ingest merges it into ``level_slots`` but does not move ``last_seen_at``)."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from dashboard.detection import levels
from dashboard.settings import LOCAL_TZ

SLOTS = levels.SLOTS
MONDAY = date(2024, 12, 2)


def _model(rng, day: date) -> levels.LevelModel:
    table = rng.integers(-120, 121, size=(2, SLOTS, levels.GRID))
    if rng.integers(2):  # a few slots that can rise steeply, the rest mostly falling
        table = np.where(rng.random((2, SLOTS, 1)) < 0.2, table, np.minimum(table, 10))
    learned = None if rng.integers(4) == 0 else day - timedelta(days=int(rng.integers(-1, 5)))
    return levels.LevelModel(
        table.astype(np.int8),
        int(rng.integers(0, 255)),
        bool(rng.integers(2)),
        (),
        learned,
        float(rng.uniform(0, 12)) if learned else 0.0,
        int(rng.integers(-1, 30)) if learned else -1,
    )


def _days(store: dict[date, np.ndarray]) -> dict[date, bytes | None]:
    out: dict[date, bytes | None] = {}
    for d, lv in store.items():
        counts = np.where(lv == levels.NO_LEVEL, 0, 1).astype(np.uint8)
        out[d] = bytes(lv.tobytes() + counts.tobytes()) if (lv != levels.NO_LEVEL).any() else None
    return out


def _at(day: date, slot: int, minute: int) -> datetime:
    return datetime(
        day.year, day.month, day.day, slot // 2, 30 * (slot % 2) + minute, tzinfo=LOCAL_TZ
    )


def _put(store, t: datetime, q: int) -> None:
    local = t.astimezone(LOCAL_TZ)
    lv = store.setdefault(local.date(), np.full(SLOTS, levels.NO_LEVEL, dtype=np.uint8))
    lv[levels.slot_of(local)] = q


def _setup(rng):
    day = MONDAY + timedelta(days=int(rng.integers(0, 7)))
    model = _model(rng, day)
    hourly = bool(rng.integers(2))
    store: dict[date, np.ndarray] = {}
    j = int(rng.integers(0, SLOTS))
    seen = _at(day, j, int(rng.integers(0, 30)))
    for k in range(4 * SLOTS):
        d, s = day - timedelta(days=3 - k // SLOTS), k % SLOTS
        if (d, s) > (day, j) or (hourly and s % 2 == j % 2 and (d, s) != (day, j)):
            continue
        if (d, s) == (day, j) or rng.random() < 0.8:
            _put(store, _at(d, s, 0), int(rng.integers(0, 255)))
    start = seen - timedelta(minutes=int(rng.integers(1, 4 * 24 * 60)))
    h = float(rng.choice([2.0, 3.0, 6.0, 10.0]))
    return model, store, seen, start, h, hourly


def _best_q(model, t: datetime) -> int:
    local = t.astimezone(LOCAL_TZ)
    wk = int(model.split and levels._weekend(local.date()))
    g = int(np.argmax(model.table[wk, levels.slot_of(local)]))
    q = -(-g * 255 // levels.GRID)
    assert q * levels.GRID // 255 == g and q < levels.NO_LEVEL
    return q


# FUZZ_N=20000 for a longer run; 847 rounded S onto h exactly (the bound's margin)
@pytest.mark.parametrize("seed", sorted({*range(int(os.environ.get("FUZZ_N", 300))), 847}))
def test_no_later_report_before_the_bound_reaches_h(seed):
    rng = np.random.default_rng(seed)
    model, store, seen, start, h, hourly = _setup(rng)
    bound = levels.first_report_to_reach(model, _days(store), seen, LOCAL_TZ, start, h)
    if bound is None:
        return
    t = seen
    first = True
    while t < seen + timedelta(days=2):
        if not first:
            t += timedelta(minutes=int(rng.integers(60, 75) if hourly else rng.integers(1, 40)))
        first = False
        q = _best_q(model, t) if rng.random() < 0.6 else int(rng.integers(0, 255))
        _put(store, t, q)  # the last half-hour's mean read again, or a new one
        s = levels.score_levels(model, _days(store), t, LOCAL_TZ, start).s
        # staff closing the alert since moves the rule's clock later: S only falls
        later = start + (t - start) * float(rng.random())
        s_later = levels.score_levels(model, _days(store), t, LOCAL_TZ, later).s
        if s_later >= h:
            assert t >= bound, (seed, t.astimezone(UTC), bound.astimezone(UTC), later, s_later)
        if s >= h:
            assert t >= bound, (seed, t.astimezone(UTC), bound.astimezone(UTC), s)
            return


def test_a_late_reading_can_reach_h_before_the_bound():
    """The bound holds for reports stamped after the last one only: a reading stored after the
    scoring but stamped in an earlier half-hour (a buffered backlog, a vendor's delay) can bring
    S to h at the same ``last_seen``, so ingest must clear the bound (the test below)."""
    found = 0
    for seed in range(200):
        rng = np.random.default_rng(seed)
        model, store, seen, start, h, _hourly = _setup(rng)
        bound = levels.first_report_to_reach(model, _days(store), seen, LOCAL_TZ, start, h)
        if bound is None or seen >= bound:
            continue
        for minutes in range(30, 6 * 60, 30):  # fill an earlier half-hour with its best level
            late = seen - timedelta(minutes=minutes)
            trial = {d: lv.copy() for d, lv in store.items()}
            _put(trial, late, _best_q(model, late))
            found += levels.score_levels(model, _days(trial), seen, LOCAL_TZ, start).s >= h
    assert found > 0


def test_a_late_power_reading_clears_the_level_bound(db_engine):
    """Ingest merges a reading stamped before the plug's last report into its half-hour's level
    (S moves) without moving ``last_seen_at``: the tick's ``last_seen_at >= level_due_at`` would
    leave the plug out until a report stamped past the bound. The late reading clears the
    bound; an in-order one keeps it."""
    from sqlalchemy import insert, select

    from dashboard.db.schema import DeviceRoutine
    from dashboard.detection.routine import learn_routine
    from dashboard.ingest import ingest_events
    from tests.ingest_support import VENDOR, seed_catalog

    now = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)
    bound = now + timedelta(hours=3)

    def power(eid: str, ts: datetime) -> dict:
        return {
            "event_id": eid,
            "device_id": "plug-1",
            "ts": ts.isoformat(),
            "type": "power",
            "watts": 40.0,
        }

    def stored_bound(conn):
        return conn.scalar(
            select(DeviceRoutine.level_due_at).where(DeviceRoutine.device_id == plug)
        )

    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        ingest_events(conn, VENDOR, [power("a", now - timedelta(minutes=5))], now=now)
        conn.execute(
            insert(DeviceRoutine).values(
                device_id=plug,
                learned_on=now.date(),
                reference_days=0,
                model=learn_routine({}, now.date()).to_json(),
                level_due_at=bound,
                updated_at=now,
            )
        )
    with db_engine.begin() as conn:  # in order: the bound stands
        ingest_events(conn, VENDOR, [power("b", now - timedelta(minutes=2))], now=now)
        assert stored_bound(conn) == bound
    with db_engine.begin() as conn:  # late, into an earlier half-hour
        ingest_events(conn, VENDOR, [power("c", now - timedelta(minutes=50))], now=now)
        assert stored_bound(conn) is None
