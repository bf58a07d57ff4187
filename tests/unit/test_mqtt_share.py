"""The MQTT bridges' shared subscription: its topic filter, its setting, and the docs."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.cli import build_parser
from dashboard.db.engine import make_engine
from dashboard.ingest import commands
from dashboard.ingest.mqtt import DEFAULT_SHARE_GROUP, Bridge, check_share_group
from dashboard.ops.leader import WORKER_LOCK_KEY
from dashboard.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture
def engine(sqlite_url):
    engine = make_engine(sqlite_url)
    yield engine
    engine.dispose()


def test_bridges_subscribe_shared_by_default(engine):
    bridge = Bridge(engine, "mqtt://127.0.0.1:1883")
    assert bridge.subscription == "$share/anbu/anbu/+/events"
    custom = Bridge(engine, "mqtt://127.0.0.1:1883", root="t1", share_group="city-a")
    assert custom.subscription == "$share/city-a/t1/+/events"
    assert Bridge(engine, "mqtt://127.0.0.1:1883", share_group="").subscription == "anbu/+/events"


@pytest.mark.parametrize("group", ["a/b", "a+", "#", "x\x00"])
def test_a_bad_group_is_refused_with_the_reason(group):
    with pytest.raises(ValueError, match="one topic level without"):
        check_share_group(group)


def test_the_setting_and_the_option(monkeypatch):
    assert Settings().mqtt_share_group == DEFAULT_SHARE_GROUP
    monkeypatch.setenv("ANBU_MQTT_SHARE_GROUP", "bad/group")
    with pytest.raises(ValidationError, match="ANBU_MQTT_SHARE_GROUP"):
        Settings()
    monkeypatch.delenv("ANBU_MQTT_SHARE_GROUP")
    args = build_parser().parse_args(["mqtt-bridge", "--share-group", "", "--client-id", "b2"])
    assert (args.share_group, args.client_id, args.url) == ("", "b2", None)
    assert args.func is commands.cmd_mqtt


def test_the_docs_state_what_the_code_does():
    ingest = (DOCS / "ingest-api.md").read_text(encoding="utf-8")
    deployment = (DOCS / "deployment.md").read_text(encoding="utf-8")
    operations = (DOCS / "operations.md").read_text(encoding="utf-8")
    assert f"$share/{DEFAULT_SHARE_GROUP}/anbu/+/events" in ingest
    assert f"$share/{DEFAULT_SHARE_GROUP}/anbu/+/events" in deployment
    for doc in (deployment, operations):
        assert f"pg_try_advisory_lock({WORKER_LOCK_KEY}" in deployment
        assert f"l.classid = {WORKER_LOCK_KEY}" in operations
        assert str(WORKER_LOCK_KEY) in doc
