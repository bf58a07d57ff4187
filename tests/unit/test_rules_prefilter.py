"""The rules' pre-filter on ingested batches: it skips only devices where no rule can act.

Through ``ingest_events`` on SQLite and PostgreSQL: a trigger hidden in a large batch of plain
plug readings still opens or closes its alert, while the plain readings are not evaluated. And a
property test over random facts: whenever the pre-filter skips a device, no rule fires for it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

import dashboard.rules.engine as engine_module
from dashboard.db.schema import Alert
from dashboard.ingest import ingest_events
from dashboard.rules import current_thresholds, evaluate_device, run_silence_tick
from dashboard.rules.model import DeviceFacts, Reading
from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)
BULK = 999


@pytest.fixture
def devices(db_engine) -> dict[str, int]:
    with db_engine.begin() as conn:
        return seed_catalog(conn, extra_plugs=BULK)


@pytest.fixture
def evaluated(monkeypatch) -> list[set[int]]:
    """The device ids the rules actually load facts for, per call."""
    calls: list[set[int]] = []
    real = engine_module.load_facts_by_id

    def spy(conn, ids):
        calls.append(set(ids))
        return real(conn, ids)

    monkeypatch.setattr(engine_module, "load_facts_by_id", spy)
    return calls


def ingest(db_engine, events, now=NOW):
    with db_engine.begin() as conn:
        result = ingest_events(conn, VENDOR, events, now=now)
    assert result.rejected == []
    return result


def reading(uid: str, device: str, at: datetime, watts: float, **extra) -> dict:
    return {
        "event_id": uid,
        "device_id": device,
        "ts": at.isoformat(),
        "type": "power",
        "watts": watts,
    } | extra


def plug_readings(tag: str, at: datetime, watts: float, **extra) -> list[dict]:
    return [reading(f"{tag}-{i}", f"bulk-{i:05d}", at, watts, **extra) for i in range(BULK)]


def warm_up(db_engine) -> None:
    """Every bulk plug reports twice with a change: recently active, nothing to alert."""
    ingest(db_engine, plug_readings("w1", NOW - timedelta(minutes=30), 10), now=NOW)
    ingest(db_engine, plug_readings("w2", NOW - timedelta(minutes=20), 80), now=NOW)


def alerts(db_engine, device_id: int, rule: str | None = None) -> list:
    query = select(Alert.rule, Alert.stage, Alert.status).where(Alert.device_id == device_id)
    if rule is not None:
        query = query.where(Alert.rule == rule)
    with db_engine.connect() as conn:
        return conn.execute(query.order_by(Alert.id)).all()


def test_an_sos_among_999_plug_readings_opens_its_alert(db_engine, devices, evaluated):
    warm_up(db_engine)
    evaluated.clear()
    batch = plug_readings("b", NOW - timedelta(minutes=5), 81)
    batch.insert(500, {"event_id": "sos-1", "device_id": "robot-1",
                       "ts": (NOW - timedelta(minutes=5)).isoformat(), "type": "sos"})  # fmt: skip
    assert len(batch) == 1000
    result = ingest(db_engine, batch)
    assert result.accepted == 1000
    assert alerts(db_engine, devices["robot-1"]) == [("robot_sos", "severe", "open")]
    # The plain readings (no change, recently active, no alert) were not evaluated.
    assert evaluated == [{devices["robot-1"]}]


def test_activity_returning_clears_an_open_plug_alert(db_engine, devices, evaluated):
    plug = devices["plug-1"]
    long_ago = NOW - timedelta(hours=30)
    ingest(
        db_engine,
        [
            reading("p1", "plug-1", long_ago - timedelta(minutes=1), 5),
            reading("p2", "plug-1", long_ago, 60),  # a change: last sign of life 30 h ago
            # still reporting, unchanged: quiet the plug watched (not a silent plug's fault)
            reading("p2b", "plug-1", NOW - timedelta(minutes=10), 61),
        ],
    )
    with db_engine.begin() as conn:
        run_silence_tick(conn, NOW)
    assert ("plug_no_change", "attention", "open") in alerts(db_engine, plug)
    warm_up(db_engine)

    # A reading without a change keeps the alert open (and is evaluated: it has an alert).
    evaluated.clear()
    batch = plug_readings("n", NOW - timedelta(minutes=4), 81)
    batch.append(reading("p3", "plug-1", NOW - timedelta(minutes=4), 62))
    ingest(db_engine, batch)
    assert ("plug_no_change", "attention", "open") in alerts(db_engine, plug)
    assert evaluated == [{plug}]

    # A change beyond the margin is a sign of life: the alert closes, inside a batch of 1,000.
    batch = plug_readings("c", NOW - timedelta(minutes=3), 82)
    batch.append(reading("p4", "plug-1", NOW - timedelta(minutes=3), 150))
    ingest(db_engine, batch)
    assert ("plug_no_change", "attention", "closed") in alerts(db_engine, plug)
    assert not any(
        a.status != "closed" and a.rule == "plug_no_change" for a in alerts(db_engine, plug)
    )


def test_a_battery_crossing_the_threshold_inside_a_large_batch(db_engine, devices, evaluated):
    warm_up(db_engine)
    low = devices["bulk-00500"]
    evaluated.clear()
    batch = plug_readings("b", NOW - timedelta(minutes=5), 81, battery_pct=80)
    batch[500]["battery_pct"] = 15
    ingest(db_engine, batch)
    assert alerts(db_engine, low, "low_battery") == [("low_battery", "attention", "open")]
    assert evaluated == [{low}]
    # Charged again: the open ticket makes the device a candidate, and the reading closes it.
    batch = plug_readings("c", NOW - timedelta(minutes=4), 82, battery_pct=80)
    ingest(db_engine, batch)
    assert alerts(db_engine, low, "low_battery") == [("low_battery", "attention", "closed")]
    assert evaluated[-1] == {low}


def test_ai_call_results_and_late_batches_are_evaluated(db_engine, devices, evaluated):
    warm_up(db_engine)
    evaluated.clear()
    batch = plug_readings("b", NOW - timedelta(minutes=5), 81)
    batch.append({"event_id": "ai-1", "device_id": "aicall-1", "ts": NOW.isoformat(),
                  "type": "ai_call_result", "outcome": "concern", "note": "무릎"})  # fmt: skip
    # A backlog from a plug silent for a day: the device is past its timeout even after it.
    batch.append(reading("late-1", "plug-2", NOW - timedelta(hours=20), 50))
    ingest(db_engine, batch)
    assert alerts(db_engine, devices["aicall-1"]) == [("ai_call_concern", "attention", "open")]
    assert evaluated == [{devices["aicall-1"], devices["plug-2"]}]
    assert ("device_silent", "attention", "open") in alerts(db_engine, devices["plug-2"])


# -- the superset property, over random facts --------------------------------------------------

TYPES = ("smart_plug", "phone_line", "ai_call_line", "care_robot", "wandering_detector",
         "smoking_detector", "park_machine")  # fmt: skip
HOME = (37.6486, 126.7868)


def random_facts(rng: random.Random, now: datetime) -> DeviceFacts:
    def moment(max_h: float) -> datetime | None:
        return None if rng.random() < 0.05 else now - timedelta(hours=rng.uniform(-0.05, max_h))

    type_code = rng.choice(TYPES)
    seen = moment(60)
    near = rng.random() < 0.5
    return DeviceFacts(
        device_id=1,
        type_code=type_code,
        program_id=1,
        region_id=1,
        heartbeat_timeout_s=rng.choice((3600, 7200, 93600)),
        recipient_id=1,
        installed_at=now - timedelta(days=rng.uniform(0, 30)),
        last_seen_at=seen,
        last_activity_at=moment(120),
        last_power_w=rng.uniform(0, 200),
        last_lux=rng.uniform(0, 500),
        battery_pct=None if rng.random() < 0.3 else rng.uniform(0, 100),
        last_lat=None if rng.random() < 0.2 else HOME[0] + rng.uniform(-0.01, 0.01) * near,
        last_lon=HOME[1],
        no_change_hours=rng.choice((None, 24, 30, 50)),
        safe_zone_m=rng.choice((None, 300, 500)),
        home_lat=HOME[0],
        home_lon=HOME[1],
        human_closed_at={} if rng.random() < 0.7 else {"plug_no_change": moment(40) or now},
    )


def test_a_skipped_device_has_no_rule_that_fires():
    th = current_thresholds()
    quiet = quiet_hours(th)
    rng = random.Random(20241201)
    skipped = 0
    for _ in range(20_000):
        now = NOW + timedelta(minutes=rng.uniform(0, 600))
        f = random_facts(rng, now)
        timeouts = {f.type_code: th.device_silent.timeout_s.get(f.type_code, f.heartbeat_timeout_s)}
        touched = Touched(
            type_code=f.type_code,
            event_types=frozenset(rng.sample(("power", "lux", "heartbeat", "call"), 2)),
            last_seen_at=f.last_seen_at,
            last_activity_at=f.last_activity_at,
            battery_pct=f.battery_pct,
            last_lat=f.last_lat,
        )
        if needs_rules(touched, th, now, timeouts, quiet):
            continue
        skipped += 1
        # A wanderer's fixes are where device_state's last position came from.
        fixes = ()
        if f.last_lat is not None and f.last_seen_at is not None:
            data = {"lat": f.last_lat, "lon": f.last_lon}
            fixes = (Reading(f.last_seen_at, "position", None, data),)
        fired = [d for d in evaluate_device(f, th, now, fixes) if d.stage is not None]
        assert fired == [], (f, fired)
    assert skipped > 1_000  # the property was exercised, not vacuous
