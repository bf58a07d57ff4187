"""The MQTT bridge's message handling, without a broker (the broker is in tests/integration)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard.db.schema import DeviceEvent
from dashboard.ingest.mqtt import Bridge, BrokerUrl, parse_url
from tests.ingest_support import seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)


@pytest.fixture
def bridge(db_engine) -> Bridge:
    with db_engine.begin() as conn:
        seed_catalog(conn)
    return Bridge(db_engine, "mqtt://127.0.0.1:1883", client_id="unit", clock=lambda: NOW)


def batch(*ids: str) -> bytes:
    ts = (NOW - timedelta(minutes=1)).isoformat()
    events = [{"event_id": i, "device_id": "robot-1", "ts": ts, "type": "interaction"} for i in ids]
    return json.dumps({"events": events}).encode()


@pytest.mark.parametrize(
    ("topic", "payload", "words"),
    [
        ("anbu/acme/events", b"{not json", "not valid JSON"),
        ("anbu/acme/events", b"\xc3\x28", "not UTF-8"),
        ("anbu/acme/events", b'{"events": 5}', "'events' must be a list"),
        ("anbu/acme/events", b"[]", "must be a JSON object"),
        ("anbu/ACME corp/events", batch("x"), "vendor 'ACME corp'"),
        ("anbu/acme/extra/events", batch("x"), "is not anbu/+/events"),
    ],
)
def test_malformed_messages_are_counted_and_answered(bridge, topic, payload, words):
    reply = bridge.handle(topic, payload)
    assert words in reply["error"]
    assert (bridge.stats.messages, bridge.stats.malformed) == (1, 1)


def test_valid_messages_are_ingested_with_the_topic_vendor(bridge, db_engine):
    assert bridge.handle("anbu/acme/events", batch("m1", "m2")) == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [],
        "timezone": "Asia/Seoul",
        "naive_ts": 0,
        "clock_corrected": [],
    }
    reply = bridge.handle("anbu/othercare/events", batch("m3"))  # robot-1 is acme's
    assert reply["rejected"][0]["reason"].startswith("device_id: device 'robot-1' is not")
    assert bridge.handle("anbu/acme/events", batch("m1"))["duplicates"] == 1  # redelivery
    assert (bridge.stats.accepted, bridge.stats.duplicates, bridge.stats.rejected) == (2, 1, 1)
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceEvent)) == 2


def test_a_database_outage_is_retried_then_left_for_redelivery(bridge, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import dashboard.ingest.mqtt as module

    def broken(*args, **kwargs):
        bridge.stop()  # stop after the first failure so the test does not wait
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(module, "ingest_events", broken)
    assert bridge.handle("anbu/acme/events", batch("d1")) is None  # not acknowledged
    assert bridge.stats.db_errors == 1


def test_a_full_connection_pool_is_an_outage_not_a_bad_message(bridge, monkeypatch):
    """SQLAlchemy's pool timeout says the database is busy, not that the message is bad: it is
    retried and left for redelivery like an outage, never dead-lettered with its good events."""
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    import dashboard.ingest.mqtt as module

    calls = []

    def busy(*args, **kwargs):
        calls.append(1)
        if len(calls) > module.UNPROCESSABLE_AFTER:
            bridge.stop()
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    monkeypatch.setattr(module, "ingest_events", busy)
    monkeypatch.setattr(bridge.stopping, "wait", lambda _delay: bridge.stopping.is_set())
    assert bridge.handle("anbu/acme/events", batch("d1")) is None  # not acknowledged
    assert bridge.stats.db_errors == len(calls) > module.UNPROCESSABLE_AFTER
    assert (bridge.stats.unprocessable, bridge.stats.dead_letters) == (0, 0)


def test_broker_urls():
    assert parse_url("mqtt://127.0.0.1:1883") == BrokerUrl("127.0.0.1", 1883, None, None)
    assert parse_url("mqtt://bridge:p%40ss@broker.local") == BrokerUrl(
        "broker.local", 1883, "bridge", "p@ss"
    )
    with pytest.raises(ValueError, match="expected mqtt://"):
        parse_url("http://127.0.0.1:1883")


def test_a_broken_rules_file_is_retried_not_dropped(bridge, monkeypatch):
    import dashboard.ingest.mqtt as module
    from dashboard.rules.config import RulesConfigError

    def broken(*args, **kwargs):
        bridge.stop()
        raise RulesConfigError("rules.toml: invalid thresholds")

    monkeypatch.setattr(module, "ingest_events", broken)
    assert bridge.handle("anbu/acme/events", batch("r1")) is None


def dead_letters(db_engine) -> list:
    from dashboard.db.schema import DeadLetter

    with db_engine.connect() as conn:
        return conn.execute(select(DeadLetter).order_by(DeadLetter.id)).all()


def stored(db_engine) -> set[str]:
    with db_engine.connect() as conn:
        return set(conn.scalars(select(DeviceEvent.event_uid)))


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        (b'{"events": ' + b"[" * 1000 + b"]" * 1000 + b"}", "nested more than 32 levels"),
        (b'{"events": [{"x": ' + b"[" * 40 + b"]" * 40 + b"}]}", "(at events[0].x)"),
        (b"{not json\x00\xff", "not UTF-8"),
        (b"{not json\x00", "not valid JSON"),
        (batch("x").decode().encode("utf-16-le"), "not UTF-8 JSON: it looks like UTF-16-LE"),
        (batch("x").decode().encode("utf-32"), "not UTF-8 JSON: it looks like UTF-32"),
    ],
)
def test_unreadable_messages_become_dead_letters_and_are_answered(
    bridge, db_engine, payload, words
):
    reply = bridge.handle("anbu/acme/events", payload)
    assert words in reply["error"]  # a reply, so the message is acknowledged
    (row,) = dead_letters(db_engine)
    assert (row.source, row.vendor, row.topic, row.event_index) == (
        "mqtt",
        "acme",
        "anbu/acme/events",
        None,
    )
    assert words in row.reason
    assert row.payload_bytes == len(payload)
    assert "\x00" not in row.payload
    assert bridge.stats.dead_letters == 1


def test_a_bad_topic_is_a_dead_letter_without_a_vendor(bridge, db_engine):
    assert "vendor 'ACME corp'" in bridge.handle("anbu/ACME corp/events", batch("x"))["error"]
    (row,) = dead_letters(db_engine)
    assert (row.vendor, row.topic) == (None, "anbu/ACME corp/events")


def test_a_big_message_is_kept_cut_to_the_limit(bridge, db_engine):
    from dashboard.ingest.deadletters import PAYLOAD_MAX_BYTES

    payload = b"[" + b'"x",' * 400_000 + b'"y"]'
    assert "must be a JSON object" in bridge.handle("anbu/acme/events", payload)["error"]
    (row,) = dead_letters(db_engine)
    assert row.payload_bytes == len(payload)
    assert len(row.payload) == PAYLOAD_MAX_BYTES


def test_bad_events_are_kept_and_their_neighbours_stored(bridge, db_engine):
    ts = (NOW - timedelta(minutes=1)).isoformat()
    good = {"event_id": "ok1", "device_id": "plug-1", "ts": ts, "type": "power", "watts": 5}
    body = (
        '{"events": ['
        + json.dumps(good)
        + ', {"event_id": "b1", "device_id": "plug-1", "ts": "0001-01-01T00:00:00+14:00",'
        ' "type": "power", "watts": 1}'
        + ', {"event_id": "b2", "device_id": "plug-1", "ts": "'
        + ts
        + '", "type": "power",'
        ' "watts": '
        + "9" * 4301
        + "}"
        + ', {"event_id": "b3", "device_id": "plug-1", "ts": "'
        + ts
        + '", "type": "power",'
        ' "watts": "50"}' + "]}"
    ).encode()
    reply = bridge.handle("anbu/acme/events", body)
    assert reply["accepted"] == 1
    reasons = {r["index"]: r["reason"] for r in reply["rejected"]}
    assert reasons[1].startswith("ts: out of range once converted to UTC")
    assert reasons[2].startswith("watts: number out of range")
    assert reasons[3].startswith("watts: must be a number, not a string")
    assert stored(db_engine) == {"ok1"}
    rows = dead_letters(db_engine)
    assert [(r.event_index, r.reason) for r in rows] == sorted(reasons.items())
    assert json.loads(rows[2].payload)["watts"] == "50"  # the event itself, not the message
    assert bridge.stats.dead_letters == 3


def test_rejected_events_kept_per_message_are_capped(bridge, db_engine):
    from dashboard.ingest.deadletters import MAX_EVENTS_PER_MESSAGE

    ts = (NOW - timedelta(minutes=1)).isoformat()
    events = [
        {"event_id": f"g{i}", "device_id": "ghost", "ts": ts, "type": "sos"} for i in range(50)
    ]
    reply = bridge.handle("anbu/acme/events", json.dumps({"events": events}).encode())
    assert len(reply["rejected"]) == 50
    assert len(dead_letters(db_engine)) == MAX_EVENTS_PER_MESSAGE


def test_a_message_that_keeps_failing_to_store_becomes_a_dead_letter(
    bridge, db_engine, monkeypatch
):
    from sqlalchemy.exc import DataError

    import dashboard.ingest.mqtt as module

    calls = []

    def broken(*args, **kwargs):
        calls.append(1)
        raise DataError("INSERT", {}, Exception("invalid byte sequence"))

    monkeypatch.setattr(module, "ingest_events", broken)
    monkeypatch.setattr(bridge.stopping, "wait", lambda _delay: False)  # no real waiting
    reply = bridge.handle("anbu/acme/events", batch("d1"))
    assert "could not be ingested (DataError" in reply["error"]
    assert len(calls) == module.UNPROCESSABLE_AFTER
    assert dead_letters(db_engine)[0].reason == reply["error"]
    assert bridge.stats.unprocessable == 1


def test_a_dead_letter_the_database_cannot_take_is_not_acknowledged(bridge, monkeypatch):
    from sqlalchemy.exc import OperationalError

    import dashboard.ingest.mqtt as module

    def broken(*args, **kwargs):
        bridge.stop()
        raise OperationalError("INSERT", {}, Exception("database is locked"))

    monkeypatch.setattr(module, "record_message", broken)
    assert bridge.handle("anbu/acme/events", b"{not json") is None  # redelivered later


def test_the_brokers_drop_count_is_reported_when_it_grows(bridge, caplog):
    """Mosquitto's $SYS count of dropped messages: the first report names any earlier drops,
    a growth is an error with the number dropped since, a restarted broker counts from 0."""
    gauge = bridge.metrics.broker_dropped
    bridge.broker_dropped_report(b"0")
    bridge.broker_dropped_report(b"0")
    assert not caplog.records and gauge._value.get() == 0
    bridge.broker_dropped_report(b"12")
    bridge.broker_dropped_report(b"not a number")  # ignored
    bridge.broker_dropped_report(b"12")
    bridge.broker_dropped_report(b"3")  # the broker restarted and dropped 3 since
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert [e.split(" (")[0] for e in errors] == [
        "the MQTT broker dropped 12 message(s)",
        "the MQTT broker dropped 3 message(s)",
    ]
    assert "raise max_queued_messages" in errors[0] and gauge._value.get() == 3
    caplog.clear()
    fresh = Bridge(bridge.engine, "mqtt://127.0.0.1:1883", client_id="unit2")
    fresh.broker_dropped_report(b"40")
    assert [r.levelname for r in caplog.records] == ["WARNING"]
    assert "has dropped 40 message(s) since it started" in caplog.records[0].getMessage()
