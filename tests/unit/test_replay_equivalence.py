"""The fast path is exact: the same histories replayed through the database at every moment
(``exact=True``: each reading ingested on arrival, the worker's tick every tick) give the same
transitions, explanation and time included."""

from __future__ import annotations

import random
from datetime import datetime, timedelta

import pytest

from dashboard.replay import read_recording, replay
from tests.replay_support import HOME, SEOUL, offset, plug_rows, walk_rows, write_csv

T0 = datetime(2024, 3, 1, 6, 0, tzinfo=SEOUL)
# Exact replays tick every moment through SQLite: a few thousand moments per test.
pytestmark = pytest.mark.timeout(900)


def _both(path, kind, homes=None, tick_min=10):
    recording = read_recording(path, kind, SEOUL, homes)
    fast = replay(recording, tick_min=tick_min)
    exact = replay(recording, tick_min=tick_min, exact=True)
    assert fast.moments == exact.moments
    assert fast.counts.ticks < exact.counts.ticks / 10  # the shortcut was taken
    return fast.transitions, exact.transitions


def _jittered_plug(device: str, rng: random.Random, start: datetime, days: int) -> list[tuple]:
    """Readings at irregular times (1–59 min apart, some at the same second), with lux on
    some rows: busy spells, flat spells of 20–60 h, standby noise within the margin, and
    reporting gaps of 1–5 h."""
    rows, ts, watts = [], start, 3.0
    end = start + timedelta(days=days)
    mode_until, busy = ts, True
    while ts < end:
        if ts >= mode_until:
            busy = rng.random() < 0.5
            hours = rng.uniform(2, 12) if busy else rng.uniform(20, 60)
            mode_until = ts + timedelta(hours=hours)
            if rng.random() < 0.3:  # a gap in reporting
                ts += timedelta(hours=rng.uniform(1, 5))
        if busy and rng.random() < 0.6:
            watts = rng.choice([3.0, 45.0, 120.0, 80.5])
        noise = rng.uniform(-2, 2)  # within the 5 W margin
        lux = rng.choice(["", "", 120, 400]) if busy else ""
        rows.append((device, ts.isoformat(), round(max(watts + noise, 0), 2), lux))
        if rng.random() < 0.05:  # a second reading at the same time
            rows.append((device, ts.isoformat(), round(watts, 2), ""))
        ts += timedelta(minutes=rng.randint(1, 59), seconds=rng.randint(0, 59))
    return rows


def test_plug_fast_path_equals_the_exact_path(tmp_path):
    # Two homes: a flat spell through the whole ladder, then activity; a silent spell that
    # opens and closes a device fault in the middle of an open ladder; a second home starting
    # a day later whose readings end early (silent to the end).
    gaps = [(T0 + timedelta(days=3), T0 + timedelta(days=3, hours=5))]
    a = plug_rows("a", T0, T0 + timedelta(hours=10), T0 + timedelta(days=3, hours=12), gaps=gaps)
    a.append(("a", (T0 + timedelta(days=3, hours=12, minutes=13)).isoformat(), 400.0))
    a += plug_rows(
        "a", T0 + timedelta(days=3, hours=13), T0 + timedelta(days=5), T0 + timedelta(days=5)
    )
    b = plug_rows(
        "b",
        T0 + timedelta(days=1, minutes=17),
        T0 + timedelta(days=2),
        T0 + timedelta(days=2, hours=8),
        step=timedelta(minutes=20),
    )
    rows = sorted(((*r, "") for r in a + b), key=lambda r: r[1])
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    changes = {(t.device_id, t.rule, t.stage) for t in fast}
    assert {("a", "plug_no_change", s) for s in ("attention", "risk", "severe", None)} <= changes
    assert {("a", "device_silent", "attention"), ("a", "device_silent", None)} <= changes
    assert ("b", "device_silent", "attention") in changes


@pytest.mark.parametrize("seed", [3, 11])
def test_plug_fast_path_equals_the_exact_path_on_random_histories(tmp_path, seed):
    rng = random.Random(seed)
    rows = []
    for device in ("r1", "r2"):
        start = T0 + timedelta(minutes=rng.randint(0, 600))
        rows += _jittered_plug(device, rng, start, days=4)
    rows.sort(key=lambda r: r[1])
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug", tick_min=15)
    assert fast == exact
    assert len({t.stage for t in fast}) >= 2, fast  # something happened


def test_wandering_fast_path_equals_the_exact_path(tmp_path):
    start = datetime(2024, 5, 10, 12, 0, tzinfo=SEOUL)
    # w1: out and back; hovering across the boundary; lost outside for 40 min; home; a 70-min
    # gap inside (a device fault for a detector, timeout 1 h); then out again to the end.
    w1 = walk_rows("w1", start, [
        (20, 40, 40), (15, 40, 700), (20, 700, 700), (15, 700, 60), (10, 60, 60),
        (12, 280, 320), (12, 320, 280), (8, 290, 310), (10, 305, 305), (40, -1, -1),
        (10, 305, 40), (70, -1, -1), (15, 40, 40), (25, 40, 900),
    ])  # fmt: skip
    # w2: a GPS jump of one fix far outside, and fixes every 3 minutes.
    rng = random.Random(5)
    w2, ts = [], start + timedelta(minutes=2)
    for k in range(100):
        dist = 2500 if k == 37 else rng.uniform(0, 150)
        w2.append(("w2", ts.isoformat(), *offset(*HOME, dist, rng.uniform(0, 360)), 20))
        ts += timedelta(minutes=3)
    rows = sorted(w1 + w2, key=lambda r: r[1])
    src = write_csv(tmp_path / "walk.csv", ("device_id", "ts", "lat", "lon", "accuracy_m"), rows)
    homes = write_csv(
        tmp_path / "homes.csv",
        ("device_id", "lat", "lon", "radius_m"),
        [("w1", *HOME, 300), ("w2", *HOME, 200)],
    )
    fast, exact = _both(src, "wandering", homes, tick_min=5)
    assert fast == exact
    changes = {(t.device_id, t.rule, t.stage) for t in fast}
    assert {("w1", "wander_left_zone", "severe"), ("w1", "wander_left_zone", None)} <= changes
    assert {("w1", "wander_no_position", "severe"), ("w1", "device_silent", "attention")} <= changes
    assert ("w2", "wander_left_zone", "severe") in changes


def _routine_home(device: str, start: datetime, days: int, collapse: datetime) -> list[tuple]:
    """Half-hourly: a fridge cycling 45 ↔ 125 W day and night, a TV switched on and off from
    07:30 to 22:00 until ``collapse``; then only the fridge (the routine model's case)."""
    rows = []
    for k in range(days * 48):
        ts = start + timedelta(minutes=30 * k)
        slot = ts.hour * 2 + ts.minute // 30
        fridge = 125.0 if k % 2 else 45.0
        awake = 15 <= slot <= 43 and ts < collapse and k % 3 == 0
        rows.append((device, ts.isoformat(), fridge + (350.0 if awake else 0.0), ""))
    return rows


def test_plug_fast_path_equals_the_exact_path_with_learned_routines(tmp_path):
    """Long enough for backgrounds and routines to be learned at the simulated midnights, and
    for the routine score to raise and escalate an alert before the ladder."""
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    collapse = start + timedelta(days=19, hours=7)
    rows = _routine_home("r", start, 21, collapse)
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    person = [t for t in fast if t.rule == "plug_no_change" and t.stage]
    assert person, "no person alert"
    assert collapse < person[0].at < collapse + timedelta(hours=6)  # no alert before it
    assert "of the last" in person[0].explanation  # raised by the routine, not the ladder
