"""The worker and the MQTT bridge as real processes with ``--metrics-port`` and JSON logs:
scrape their /metrics after known work, and read their log lines (issue 13)."""

from __future__ import annotations

import json
import urllib.request
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata
from tests.conftest import missing_service
from tests.ingest_support import VENDOR, seed_catalog
from tests.integration.servers import Process, free_port
from tests.integration.test_mqtt import HOST, PORT, Probe, events, forget_session, reachable
from tests.waiting import wait_until


def scrape(port: int) -> dict[tuple[str, tuple], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as reply:
        body = reply.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


@pytest.fixture
def database(sqlite_url):
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    yield sqlite_url
    engine.dispose()


def _json_lines(log: str) -> list[dict]:
    return [json.loads(line) for line in log.splitlines() if line.startswith("{")]


def test_worker_process_serves_metrics_and_logs_json(database, tmp_path, monkeypatch):
    monkeypatch.setenv("ANBU_LOG_FORMAT", "json")
    port = free_port()
    worker = Process(["worker", "--interval", "3600", "--metrics-port", str(port)], database,
                     tmp_path / "worker.log")  # fmt: skip
    try:
        worker.wait_until(
            lambda: scrape(port)[("anbu_worker_ticks_total", (("outcome", "ran"),))] == 1,
            "the first tick",
        )
        got = scrape(port)
        assert got[("anbu_worker_leader", ())] == 1
        assert got[("anbu_worker_tick_seconds_count", ())] == 1
        opened = sum(got[("anbu_open_alerts", (("stage", s),))] for s in ("attention", "risk",
                                                                          "severe"))  # fmt: skip
        assert opened > 0  # the seeded devices were never heard from
    finally:
        assert worker.stop() == 0
    lines = _json_lines(worker.log())
    ticks = [line for line in lines if (line["request_id"] or "").startswith("tick-")]
    assert ticks, worker.log()
    assert any("Prometheus metrics on http://127.0.0.1" in line["message"] for line in lines)


def test_bridge_process_serves_metrics(database, tmp_path, monkeypatch):
    if not reachable(HOST, PORT):
        missing_service(f"no MQTT broker at {HOST}:{PORT}")
    monkeypatch.setenv("ANBU_LOG_FORMAT", "json")
    root, client_id = f"t{uuid.uuid4().hex[:10]}", f"bridge-{uuid.uuid4().hex[:10]}"
    port = free_port()
    args = ["mqtt-bridge", "--url", f"mqtt://{HOST}:{PORT}", "--client-id", client_id,
            "--root", root, "--metrics-port", str(port)]  # fmt: skip
    bridge = Process(args, database, tmp_path / "bridge.log")
    probe = Probe(PORT, root)
    try:
        probe.wait_for_bridge(bridge)
        probe.publish(b"{not json")
        probe.reply()
        probe.publish(events("p1", "p2"))
        probe.reply()
        assert wait_until(lambda: scrape(port)[("anbu_mqtt_connected", ())] == 1, 10)
        got = scrape(port)
        assert got[("anbu_mqtt_messages_received_total", (("vendor", VENDOR),))] == 2
        assert got[("anbu_mqtt_messages_total", (("outcome", "stored"), ("vendor", VENDOR)))] == 1
        key = ("anbu_mqtt_messages_total", (("outcome", "rejected"), ("vendor", VENDOR)))
        assert got[key] == 1
        key = ("anbu_mqtt_events_total", (("outcome", "accepted"), ("vendor", VENDOR)))
        assert got[key] == 2
        assert got[("anbu_mqtt_dead_letters_total", (("vendor", VENDOR),))] == 1
    finally:
        probe.close()
        code = bridge.stop()
        forget_session(PORT, client_id)
    assert code == 0, bridge.log()
    dead = [line for line in _json_lines(bridge.log()) if "dead letter" in line["message"]]
    assert dead and dead[0]["request_id"].startswith("mqtt-")


def test_ingest_server_access_lines_carry_the_request_id(database, tmp_path, monkeypatch):
    monkeypatch.setenv("ANBU_LOG_FORMAT", "json")
    port = free_port()
    server = Process(["serve-ingest", "--port", str(port)], database, tmp_path / "ingest.log")
    url = f"http://127.0.0.1:{port}/healthz"
    try:
        server.wait_until(lambda: urllib.request.urlopen(url, timeout=2).status == 200, "startup")
        request = urllib.request.Request(url, headers={"X-Request-ID": "support-7"})
        with urllib.request.urlopen(request, timeout=5) as reply:
            assert reply.headers["X-Request-ID"] == "support-7"
    finally:
        server.stop()
    access = [
        line
        for line in _json_lines(server.log())
        if line["logger"] == "uvicorn.access" and line["request_id"] == "support-7"
    ]
    assert len(access) == 1 and '"GET /healthz HTTP/1.1" 200' in access[0]["message"]
