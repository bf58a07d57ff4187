"""The fast path is exact: the same histories replayed through the database at every moment
(``exact=True``: each reading ingested on arrival, the worker's tick every tick) give the same
transitions, explanation and time included."""

from __future__ import annotations

import random
import re
from datetime import datetime, timedelta
from itertools import pairwise

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
    # The shortcut was taken: a tenth of the database steps or fewer.
    steps = {r.exact: r.counts.ticks + r.counts.batches for r in (fast, exact)}
    assert steps[False] < steps[True] / 10, steps
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
    # w1: out and back; hovering across the boundary; walking out and lost for 40 min; home; a
    # 70-min gap inside (a device fault for a detector, timeout 1 h); then out again to the end.
    w1 = walk_rows("w1", start, [
        (20, 40, 40), (15, 40, 700), (20, 700, 700), (15, 700, 60), (10, 60, 60),
        (12, 280, 320), (12, 320, 280), (8, 290, 310), (10, 310, 900), (40, -1, -1),
        (10, 900, 40), (70, -1, -1), (15, 40, 40), (25, 40, 900),
    ])  # fmt: skip
    # w2: fixes every 30 s inside its zone, one of them a GPS jump 2.5 km away (an impossible
    # speed: held, then dropped by the next fix).
    rng = random.Random(5)
    w2, ts = [], start + timedelta(minutes=2)
    for k in range(100):
        dist = 2500 if k == 37 else rng.uniform(0, 150)
        w2.append(("w2", ts.isoformat(), *offset(*HOME, dist, rng.uniform(0, 360)), 20))
        ts += timedelta(seconds=30)
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
    assert {("w1", "wander_left_zone", s) for s in ("attention", "risk", "severe", None)} <= changes
    assert {("w1", "wander_no_position", "severe"), ("w1", "device_silent", "attention")} <= changes
    # The jump raised nothing (w2's readings end long before w1's: it falls silent after).
    assert {t.rule for t in fast if t.device_id == "w2"} == {"device_silent"}


def _noisy_walk(device: str, rng: random.Random, start: datetime, legs, bearing: float):
    """Fixes 5-60 s apart along ``legs`` ((minutes, from m, to m) from home; from -1: no fix),
    with GPS noise (σ 12 m), an accuracy of 5-30 m, none on some, too poor on 3 % (200 m:
    skipped), 2 % single-fix jumps 2-3 km away, a burst of three fixes 900 m off as the
    receiver wakes after each gap, and 4 % second fixes at the same second a little apart."""
    rows, ts, after_gap = [], start, False
    for minutes, a, b in legs:
        end = ts + timedelta(minutes=minutes)
        if a < 0:
            ts, after_gap = end, True
            continue
        begin, burst, after_gap = ts, 3 if after_gap else 0, False
        while ts < end:
            dist = a + (b - a) * ((ts - begin) / (end - begin)) + rng.gauss(0, 12)
            heading = bearing + rng.gauss(0, 4)
            accuracy = rng.choice([5, 8, 10, 15, 20, 30, ""]) if rng.random() > 0.03 else 200
            if burst:
                burst -= 1
                dist, heading = dist + 900, heading + 60
            elif rng.random() < 0.02:
                dist, heading = rng.uniform(2000, 3000), rng.uniform(0, 360)
            rows.append((device, ts.isoformat(), *offset(*HOME, max(dist, 0), heading), accuracy))
            if rng.random() < 0.04:
                twin = offset(*HOME, max(dist + rng.uniform(-30, 30), 0), heading)
                rows.append((device, ts.isoformat(), *twin, rng.choice([10, 40, ""])))
            ts += timedelta(seconds=rng.randint(5, 60))
    return rows


# From 19:30: near home; hovering at the edge; out to 1.4 km; 35 min without a fix while
# walking (lost); wandering, then standing still before 70 min without a fix (a stop: not yet
# lost); coming back past the edge and out again before the return is confirmed; home; out
# again after 22:00 (the night) and lost to the end.
NOISY_LEGS = [
    (20, 100, 100), (25, 300, 300), (25, 300, 1400), (35, -1, -1), (15, 1400, 1500),
    (10, 1500, 1500), (70, -1, -1), (20, 1500, 250), (3, 250, 380), (8, 380, 60),
    (15, 100, 100), (20, 100, 700), (40, -1, -1), (5, 700, 700),
]  # fmt: skip


@pytest.mark.parametrize("seed", [7, 3])
def test_wandering_fast_path_equals_the_exact_path_on_noisy_tracks(tmp_path, seed):
    """The geofence's episode logic on tracks as receivers give them: jumps, bursts after
    gaps, hovering at the edge, fixes at the same second, skipped inaccurate fixes."""
    rng = random.Random(seed)
    start = datetime(2024, 5, 10, 19, 30, tzinfo=SEOUL)
    rows = _noisy_walk("n1", rng, start, NOISY_LEGS, 30) + _noisy_walk(
        "n2", rng, start + timedelta(minutes=7), NOISY_LEGS[3:], 200
    )
    rows.sort(key=lambda r: r[1])
    src = write_csv(tmp_path / "noisy.csv", ("device_id", "ts", "lat", "lon", "accuracy_m"), rows)
    homes = write_csv(
        tmp_path / "homes.csv",
        ("device_id", "lat", "lon", "radius_m"),
        [("n1", *HOME, 300), ("n2", *HOME, 200)],
    )
    fast, exact = _both(src, "wandering", homes, tick_min=5)
    assert fast == exact
    rank = {"attention": 1, "risk": 2, "severe": 3}
    left = [t for t in fast if t.rule == "wander_left_zone"]
    # Several episodes, one of them de-escalated (returning) while open; lost and found again;
    # the night makes an exit severe at once.
    assert sum(t.stage is None for t in left) >= 2
    stages = {d: [t.stage for t in left if t.device_id == d] for d in ("n1", "n2")}
    assert any(a and b and rank[b] < rank[a] for s in stages.values() for a, b in pairwise(s)), (
        stages
    )
    assert {("wander_no_position", "severe"), ("wander_no_position", None)} <= {
        (t.rule, t.stage) for t in fast
    }
    assert any(t.explanation.endswith("by the night or the person's quiet hours.") for t in left)


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


def test_plug_fast_path_equals_the_exact_path_when_stillness_alone_decides(tmp_path):
    """A fridge cycling every half-hour and a TV on one day in three (never a usable
    routine), then from 23:00 on day 19 a flat line: the stillness test raises the alert
    (after 3 h) and escalates it, on both paths alike."""
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    collapse = start + timedelta(days=19, hours=23)
    rows = []
    for k in range(21 * 48):
        ts = start + timedelta(minutes=30 * k)
        slot = ts.hour * 2 + ts.minute // 30
        tv = (ts - start).days % 3 == 0 and 15 <= slot <= 43 and k % 3 == 0
        watts = (125.0 if k % 2 else 45.0) + (350.0 if tv else 0.0)
        rows.append(("s", ts.isoformat(), 45.0 if ts >= collapse else watts, ""))
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    person = [t for t in fast if t.rule == "plug_no_change" and t.stage and t.at > collapse]
    assert person and person[0].at == collapse + timedelta(hours=3)
    assert "never stayed unchanged" in person[0].explanation
    assert {t.stage for t in person} >= {"attention", "risk", "severe"}


def test_plug_fast_path_equals_the_exact_path_when_the_left_on_test_alone_decides(tmp_path):
    """A TV plug (1 W standby, a 4 h evening on 120/135 W that flickers by 15 W at every
    reading) for 20 days; on day 20 the TV is switched on at 19:00 and never off: every
    reading is a sign of life, and only the left-on test raises the alert (after 8 h) and
    escalates it (16 h), on both paths alike."""
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    left_on = start + timedelta(days=19, hours=19)
    rows = []
    for k in range(21 * 48):
        ts = start + timedelta(minutes=30 * k)
        slot = ts.hour * 2 + ts.minute // 30
        on = 38 <= slot < 46 or ts >= left_on
        rows.append(("t", ts.isoformat(), (120.0 if k % 2 else 135.0) if on else 1.0, ""))
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    person = [t for t in fast if t.rule == "plug_no_change" and t.stage and t.at > left_on]
    assert person and person[0].at == left_on + timedelta(hours=8)
    assert "never stayed above it for longer than 4 h" in person[0].explanation
    assert {t.stage for t in person} == {"attention", "risk"}  # 심각 at 32 h: after the end


@pytest.mark.parametrize("enabled", [True, False])
def test_plug_fast_path_equals_the_exact_path_with_the_level_test(tmp_path, monkeypatch, enabled):
    """With the level test on (the default), the fast path's mirror keeps the recent levels as
    ingest stores them (the held-back readings merged on top): the same transitions as the
    exact path; and with it off, which loads no levels."""
    from dashboard.rules import config

    rules = tmp_path / "rules.toml"
    text = config.DEFAULT_PATH.read_text(encoding="utf-8")
    value = "true" if enabled else "false"
    rules.write_text(re.sub(r"(?m)^level_enabled = \w+", f"level_enabled = {value}", text), "utf-8")
    monkeypatch.setattr(config, "DEFAULT_PATH", rules)
    assert config.current_thresholds().plug_routine.level_enabled is enabled
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    collapse = start + timedelta(days=19, hours=7)
    rows = _routine_home("r", start, 21, collapse)
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    person = [t for t in fast if t.rule == "plug_no_change" and t.stage]
    assert person and collapse < person[0].at < collapse + timedelta(hours=6)


def test_plug_fast_path_equals_the_exact_path_when_the_band_test_alone_decides(tmp_path):
    """A whole-home meter (60/62 W at night, a fridge-like 40 ↔ 110 W cycle by day, a 2 kW
    kettle at 07:30 and 18:00: within 100 W for 13 h at most, 18:30 to 07:30); from 06:00 on
    day 12 only a 30 ↔ 120 W cycle, a sign of life at every reading. The record is first
    learned at midnight on day 14 (14 days), when the band (since 18:30 on day 11) has held
    longer than 3 × 13 h: the next reading raises the alert (the test judges the band up to the
    last report, and ingest's pre-filter keeps the plug by its new record), and a reading
    escalates it at 78 h; both paths alike."""
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    collapse = start + timedelta(days=12, hours=6)
    rows = []
    for k in range(16 * 48):
        ts = start + timedelta(minutes=30 * k)
        slot = ts.hour * 2 + ts.minute // 30
        if ts >= collapse:
            watts = 120.0 if k % 2 else 30.0
        elif slot in (15, 36):
            watts = 2000.0
        else:
            watts = (62.0 if k % 2 else 60.0) if slot < 12 else (110.0 if k % 2 else 40.0)
        rows.append(("b", ts.isoformat(), watts, ""))
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    band_at = start + timedelta(days=11, hours=18, minutes=30)
    person = [(t.at, t.stage) for t in fast if t.rule == "plug_no_change"]
    assert person == [
        (start + timedelta(days=14, minutes=30), "attention"),  # the reading after the learning
        (band_at + timedelta(hours=78), "risk"),
    ]
    first = next(t for t in fast if t.rule == "plug_no_change")
    assert "never stayed within 100 W for longer than 13 h" in first.explanation


def test_plug_level_test_is_judged_at_the_report_that_raises_it(tmp_path):
    """A flat 60 W home lit at a steady 800 W from 18:00 to 23:00 every evening; on day 20 the
    evening never comes. Its last sign of life is the switch-off at 23:00 the night before, so
    neither ingest's pre-filter (quiet under the ladder's 24 h) nor the routine's due time
    judged the plug at the evening's reports: the product raised nothing until the ladder at
    23:00 (위험 at once), while the level test had reached 관심 at 20:00. A report since the
    last scoring now makes a plug with a level model a tick candidate; both paths alike."""
    start = datetime(2024, 3, 1, 0, 0, tzinfo=SEOUL)
    collapse = start + timedelta(days=19, hours=17)
    rows = []
    for k in range(21 * 48):
        ts = start + timedelta(minutes=30 * k)
        slot = ts.hour * 2 + ts.minute // 30
        watts = 800.0 if 36 <= slot < 46 and ts < collapse else 60.0
        rows.append(("e", ts.isoformat(), watts, ""))
    src = write_csv(tmp_path / "plug.csv", ("device_id", "ts", "watts", "lux"), rows)
    fast, exact = _both(src, "plug")
    assert fast == exact
    person = [(t.at, t.stage) for t in fast if t.rule == "plug_no_change"]
    assert person[0] == (collapse + timedelta(hours=3), "attention")
    assert "night level" in next(t for t in fast if t.rule == "plug_no_change").explanation
