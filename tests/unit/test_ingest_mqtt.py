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
