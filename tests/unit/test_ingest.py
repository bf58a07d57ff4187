"""``ingest_events`` on SQLite and PostgreSQL: storage, idempotency, time rules, state, rollups."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.db.schema import DeviceDaily, DeviceEvent, DeviceState
from dashboard.ingest import ingest_events
from tests.ingest_support import OTHER_VENDOR, VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul


@pytest.fixture
def devices(db_engine) -> dict[str, int]:
    with db_engine.begin() as conn:
        return seed_catalog(conn)


def event(eid: str, device: str = "plug-1", minutes_ago: float = 10, **fields) -> dict:
    fields.setdefault("type", "heartbeat")
    ts = NOW - timedelta(minutes=minutes_ago)
    return {"event_id": eid, "device_id": device, "ts": ts.isoformat()} | fields


def ingest(engine, events, vendor=VENDOR, now=NOW):
    with engine.begin() as conn:
        return ingest_events(conn, vendor, events, now=now)


def stored(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(DeviceEvent).order_by(DeviceEvent.event_uid)).all()


def state_of(engine, device_id: int):
    with engine.connect() as conn:
        return conn.execute(select(DeviceState).where(DeviceState.device_id == device_id)).one()


def test_valid_events_are_stored_with_value_and_data(db_engine, devices):
    result = ingest(
        db_engine,
        [
            event("p1", type="power", watts=55.5),
            event("c1", device="phone-1", type="call", direction="out", duration_s=120),
            event("g1", device="walker-1", type="position", lat=37.65, lon=126.78, accuracy_m=5),
        ],
    )
    assert (result.accepted, result.duplicates, result.rejected) == (3, 0, [])
    assert result.device_ids == {devices["plug-1"], devices["phone-1"], devices["walker-1"]}
    rows = {r.event_uid: r for r in stored(db_engine)}
    assert rows["p1"].value == 55.5 and rows["p1"].data is None
    assert rows["p1"].device_id == devices["plug-1"]
    assert rows["p1"].ts == NOW - timedelta(minutes=10)
    assert rows["p1"].received_at == NOW
    assert rows["c1"].value == 120 and rows["c1"].data == {"direction": "out"}
    assert rows["g1"].data == {"lat": 37.65, "lon": 126.78, "accuracy_m": 5}


def test_partial_batch_keeps_valid_events_and_explains_each_rejection(db_engine, devices):
    result = ingest(
        db_engine,
        [
            event("ok1", type="power", watts=10),
            event("bad1", type="power", watts=-3),
            event("ok2", type="lux", lux=100),
            "garbage",
            event("bad2", device="nobody-99", type="sos"),
            event("bad3", device="other-1", type="power", watts=1),
            event("bad4", minutes_ago=-6, type="heartbeat"),
        ],
    )
    assert result.accepted == 2
    assert dict(result.rejected) == {
        1: "watts: Input should be greater than or equal to 0 (got -3)",
        3: "event must be a JSON object",
        4: "device_id: unknown device 'nobody-99'",
        5: f"device_id: device 'other-1' is not registered to vendor {VENDOR!r}",
        6: "ts: 360 s ahead of the server clock (at most 300 s allowed); check the device clock",
    }
    assert [r.event_uid for r in stored(db_engine)] == ["ok1", "ok2"]


def test_other_vendors_device_is_accepted_for_its_own_vendor(db_engine, devices):
    result = ingest(db_engine, [event("o1", device="other-1")], vendor=OTHER_VENDOR)
    assert result.accepted == 1


def test_duplicates_within_a_batch_are_counted_not_stored_twice(db_engine, devices):
    result = ingest(
        db_engine,
        [
            event("d1", type="power", watts=10),
            event("d1", type="power", watts=99),  # same id, other content: the first wins
            event("d2"),
        ],
    )
    assert (result.accepted, result.duplicates, result.rejected) == (2, 1, [])
    assert stored(db_engine)[0].value == 10


def test_duplicates_across_batches_are_idempotent(db_engine, devices):
    batch = [event("r1", type="call", device="phone-1", direction="out", duration_s=5), event("r2")]
    first = ingest(db_engine, batch)
    again = ingest(db_engine, [*batch, event("r3")])
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates, again.rejected) == (1, 2, [])
    assert len(stored(db_engine)) == 3
    with db_engine.connect() as conn:
        daily = conn.execute(
            select(DeviceDaily.events, DeviceDaily.calls).where(
                DeviceDaily.device_id == devices["phone-1"]
            )
        ).one()
    assert tuple(daily) == (1, 1)  # the retried call was not counted twice


def test_an_id_reused_for_another_device_or_type_is_rejected_not_a_silent_duplicate(
    db_engine, devices
):
    """A vendor numbering events per device (each device's "1", "2", …), or reusing ids after
    a reset, sent ids that are not unique per vendor. Such an id cannot be a resend: before,
    the second device's events (here a robot's SOS) were counted as duplicates and dropped with
    no error. Now each is rejected naming the id's first use; a real resend stays a duplicate."""
    first = ingest(db_engine, [event("7"), event("8", device="robot-1", type="heartbeat")])
    assert first.accepted == 2
    result = ingest(
        db_engine,
        [
            event("7", device="plug-2", type="power", watts=40),  # another device, stored id
            event("8", device="robot-1", type="sos"),  # the same device, another type
            event("9", device="phone-1", type="call", direction="out", duration_s=3),
            event("9", device="plug-2", type="power", watts=40),  # reused within the batch
            event("7", minutes_ago=9),  # a real resend (its ts re-serialised): a duplicate
        ],
    )
    assert (result.accepted, result.duplicates) == (1, 1)
    reasons = dict(result.rejected)
    assert sorted(reasons) == [0, 1, 3]
    assert reasons[0] == (
        "event_id: '7' is already stored (device 'plug-1', heartbeat); an event_id must be "
        "unique per vendor, not per device"
    )
    assert reasons[1].startswith("event_id: '8' is already stored (device 'robot-1', heartbeat)")
    assert reasons[3].startswith("event_id: '9' is already used by event 2 of this batch")
    assert len(stored(db_engine)) == 3
    with db_engine.connect() as conn:
        count = conn.scalar(select(func.count()).where(DeviceEvent.type == "sos"))
    assert count == 0  # not stored, but no longer silent: the vendor must fix its ids


def test_same_event_id_from_another_vendor_is_a_different_event(db_engine, devices):
    ingest(db_engine, [event("same")])
    result = ingest(db_engine, [event("same", device="other-1")], vendor=OTHER_VENDOR)
    assert result.accepted == 1


def test_invalid_first_occurrence_does_not_hide_a_valid_retry(db_engine, devices):
    result = ingest(db_engine, [event("x1", type="power"), event("x1", type="power", watts=3)])
    assert (result.accepted, result.duplicates) == (1, 0)
    assert [i for i, _ in result.rejected] == [0]


def test_future_events_within_the_tolerance_are_accepted(db_engine, devices):
    result = ingest(db_engine, [event("f1", minutes_ago=-4.9)])
    assert result.accepted == 1


def test_events_before_2000_are_rejected_as_an_unset_clock(db_engine, devices):
    result = ingest(db_engine, [{**event("old"), "ts": "1970-01-01T00:00:05Z"}])
    assert result.rejected == [(0, "ts: before 2000-01-01; the device clock is probably not set")]


def test_device_state_tracks_the_newest_readings(db_engine, devices):
    ingest(
        db_engine,
        [
            event("a", minutes_ago=30, type="power", watts=2),
            event("b", minutes_ago=20, type="lux", lux=400),
            event("c", minutes_ago=10, type="power", watts=90),  # TV on: a sign of life
            event("d", minutes_ago=5, type="heartbeat", battery_pct=77),
        ],
    )
    state = state_of(db_engine, devices["plug-1"])
    assert state.state == "normal" and state.state_since == NOW
    assert state.last_seen_at == NOW - timedelta(minutes=5)
    assert state.last_activity_at == NOW - timedelta(minutes=10)
    assert (state.last_power_w, state.last_lux, state.battery_pct) == (90, 400, 77)
    assert state.last_event_type == "heartbeat"
    assert state.updated_at == NOW


def test_out_of_order_and_very_old_events_are_stored_but_never_move_state_back(db_engine, devices):
    ingest(db_engine, [event("new", minutes_ago=1, type="power", watts=60)])
    later = NOW + timedelta(minutes=1)
    result = ingest(
        db_engine,
        [
            event("late", minutes_ago=30, type="power", watts=0),
            {**event("ancient", type="lux", lux=5), "ts": "2021-03-01T10:00:00+09:00"},
        ],
        now=later,
    )
    assert result.accepted == 2
    assert len(stored(db_engine)) == 3
    state = state_of(db_engine, devices["plug-1"])
    assert state.last_seen_at == NOW - timedelta(minutes=1)
    assert state.last_power_w == 60 and state.last_lux is None
    assert state.last_event_type == "power"
    assert state.updated_at == later
    with db_engine.connect() as conn:
        days = dict(
            conn.execute(
                select(DeviceDaily.day, DeviceDaily.events).where(
                    DeviceDaily.device_id == devices["plug-1"]
                )
            ).all()
        )
    assert days == {date(2024, 12, 1): 2, date(2021, 3, 1): 1}


def test_a_late_sign_of_life_still_advances_last_activity(db_engine, devices):
    phone = devices["phone-1"]
    ingest(db_engine, [event("hb", device="phone-1", minutes_ago=1)])
    ingest(
        db_engine,
        [event("c", device="phone-1", minutes_ago=40, type="call", direction="out", duration_s=30)],
    )
    state = state_of(db_engine, phone)
    assert state.last_seen_at == NOW - timedelta(minutes=1)
    assert state.last_activity_at == NOW - timedelta(minutes=40)
    ingest(
        db_engine,
        [event("c0", device="phone-1", minutes_ago=90, type="call", direction="in", duration_s=12)],
    )
    assert state_of(db_engine, phone).last_activity_at == NOW - timedelta(minutes=40)


def test_unanswered_calls_and_heartbeats_are_not_signs_of_life(db_engine, devices):
    ingest(
        db_engine,
        [
            event("u1", device="aicall-1", type="ai_call_result", outcome="unanswered"),
            event("u2", device="phone-1", type="call", direction="in", duration_s=0),
            event("u3", device="robot-1", type="heartbeat"),
        ],
    )
    for uid in ("aicall-1", "phone-1", "robot-1"):
        assert state_of(db_engine, devices[uid]).last_activity_at is None


def test_daily_rollups_use_seoul_days_and_count_by_kind(db_engine, devices):
    def at(iso: str, eid: str, device: str, **fields) -> dict:
        return {"event_id": eid, "device_id": device, "ts": iso} | fields

    ingest(
        db_engine,
        [
            # 23:50 UTC on 30 Nov is 08:50 on 1 Dec in Seoul
            at("2024-11-30T23:50:00Z", "s1", "smoke-1", type="trigger"),
            at("2024-11-30T14:59:00Z", "s2", "smoke-1", type="trigger"),  # 23:59 on 30 Nov KST
            at("2024-12-01T01:00:00Z", "k1", "park-1", type="session", duration_s=300),
            at("2024-12-01T01:10:00Z", "k2", "park-1", type="session", duration_s=200),
            at("2024-12-01T01:00:00Z", "r1", "robot-1", type="interaction"),
            at("2024-12-01T01:00:00Z", "r2", "robot-1", type="sos"),
            at("2024-12-01T01:00:00Z", "a1", "aicall-1", type="ai_call_result", outcome="answered"),
        ],
    )
    with db_engine.connect() as conn:
        rows = conn.execute(
            select(
                DeviceDaily.device_id,
                DeviceDaily.day,
                DeviceDaily.events,
                DeviceDaily.calls,
                DeviceDaily.interactions,
                DeviceDaily.triggers,
                DeviceDaily.sessions,
            ).order_by(DeviceDaily.device_id, DeviceDaily.day)
        ).all()
    got = {(r.device_id, r.day): tuple(r)[2:] for r in rows}
    d1, n30 = date(2024, 12, 1), date(2024, 11, 30)
    assert got == {
        (devices["robot-1"], d1): (2, 0, 1, 0, 0),
        (devices["smoke-1"], n30): (1, 0, 0, 1, 0),
        (devices["smoke-1"], d1): (1, 0, 0, 1, 0),
        (devices["park-1"], d1): (2, 0, 0, 0, 2),
        (devices["aicall-1"], d1): (1, 1, 0, 0, 0),
    }
    ingest(db_engine, [at("2024-12-01T02:00:00Z", "k3", "park-1", type="session", duration_s=9)])
    with db_engine.connect() as conn:
        sessions = conn.scalar(
            select(DeviceDaily.sessions).where(
                DeviceDaily.device_id == devices["park-1"], DeviceDaily.day == d1
            )
        )
    assert sessions == 3


def test_rules_run_once_per_batch_in_the_same_transaction(db_engine, devices, monkeypatch):
    import dashboard.rules

    calls = []

    def on_events(conn, device_ids, now):
        seen = conn.scalar(select(func.count()).select_from(DeviceEvent))
        calls.append((set(device_ids), now, seen))

    monkeypatch.setattr(dashboard.rules, "on_events", on_events)
    ingest(db_engine, [event("r1"), event("r2", device="plug-2"), event("bad", type="power")])
    ingest(db_engine, [event("r1")])  # only duplicates: nothing new, no rule run
    assert calls == [({devices["plug-1"], devices["plug-2"]}, NOW, 2)]


def test_a_failing_rule_rolls_the_whole_batch_back(db_engine, devices, monkeypatch):
    import dashboard.rules

    def on_events(conn, device_ids, now):
        raise RuntimeError("rules broke")

    monkeypatch.setattr(dashboard.rules, "on_events", on_events)
    with pytest.raises(RuntimeError):
        ingest(db_engine, [event("x1", type="power", watts=10)])
    assert stored(db_engine) == []
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceState)) == 0


def test_now_must_be_timezone_aware(db_engine, devices):
    with pytest.raises(ValueError, match="timezone-aware"):
        ingest(db_engine, [event("n1")], now=NOW.replace(tzinfo=None))


def test_a_thousand_event_batch_in_one_call(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn, extra_plugs=300)
    batch = [
        event(
            f"bulk{i}",
            device=f"bulk-{i % 300:05d}",
            minutes_ago=i / 100,
            type="power",
            watts=float(i % 40),
        )
        for i in range(1000)
    ]
    result = ingest(db_engine, batch)
    assert (result.accepted, result.duplicates, result.rejected) == (1000, 0, [])
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceState)) == 300
        assert conn.scalar(select(func.sum(DeviceDaily.events))) == 1000
