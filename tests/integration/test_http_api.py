"""The vendor HTTP API against a real server process (uvicorn), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest
from sqlalchemy import Engine, func, select

from dashboard.auth import cli_principal
from dashboard.clock import as_utc
from dashboard.db.engine import make_engine
from dashboard.db.schema import DeviceEvent, DeviceState, metadata
from dashboard.ingest.apikeys import create_key, revoke_key
from tests.conftest import fresh_postgres_schema
from tests.ingest_support import VENDOR, seed_catalog
from tests.integration.servers import Process, free_port
from tests.waiting import wait_until


@dataclass
class Server:
    url: str
    key: str
    prefix: str
    engine: Engine
    process: Process

    def post(self, body, key: str | None = "default", **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if key is not None:
            headers["X-API-Key"] = self.key if key == "default" else key
        if not isinstance(body, bytes | str) and "content" not in kwargs:
            kwargs["json"] = body
        elif "content" not in kwargs:
            kwargs["content"] = body
        return httpx.post(f"{self.url}/v1/events", headers=headers, timeout=30, **kwargs)


@contextmanager
def running_server(db_url: str, log: Path) -> Iterator[Server]:
    """A real ``serve-ingest`` process on a fresh database with the catalog and one key."""
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
        key, prefix = create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    port = free_port()
    process = Process(["serve-ingest", "--port", str(port), "--log-level", "warning"], db_url, log)
    url = f"http://127.0.0.1:{port}"
    try:
        process.wait_until(
            lambda: httpx.get(f"{url}/v1/health", timeout=1).status_code == 200,
            "the health check",
        )
        yield Server(url, key, prefix, engine, process)
    finally:
        process.stop()
        engine.dispose()


@pytest.fixture
def server(db_url, tmp_path) -> Iterator[Server]:
    """A server of this test's own: for tests that store events or change keys."""
    with running_server(db_url, tmp_path / "server.log") as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def refusing(request, tmp_path_factory, postgres_unavailable) -> Iterator[Server]:
    """One server per backend shared by the tests that only read or refuse (a process start
    costs seconds): none of them stores an event or changes a key, so none sees another."""
    tmp = tmp_path_factory.mktemp(f"refusing-{request.param}")
    with ExitStack() as stack:
        if request.param == "sqlite":
            db_url = f"sqlite:///{tmp / 'anbu-test.sqlite3'}"
        else:
            db_url = stack.enter_context(fresh_postgres_schema(postgres_unavailable))
        server = stack.enter_context(running_server(db_url, tmp / "server.log"))
        yield server
        assert events_stored(server) == 0, "a refusing test stored an event"


def now_iso(minutes: float = 0) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def events_stored(server: Server) -> int:
    with server.engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(DeviceEvent))


def test_health(refusing):
    reply = httpx.get(f"{refusing.url}/v1/health")
    assert reply.status_code == 200
    assert reply.json() == {"status": "ok", "database": "ok"}


def test_a_partial_batch_is_stored_and_each_rejection_explained(server):
    body = {
        "events": [
            {
                "event_id": "h1",
                "device_id": "plug-1",
                "ts": now_iso(-1),
                "type": "power",
                "watts": 61.5,
            },
            {"event_id": "h2", "device_id": "plug-1", "ts": now_iso(-1), "type": "power"},
            {"event_id": "h3", "device_id": "ghost", "ts": now_iso(-1), "type": "heartbeat"},
            {"event_id": "h4", "device_id": "plug-1", "ts": now_iso(60), "type": "heartbeat"},
        ]
    }
    reply = server.post(body)
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert (data["accepted"], data["duplicates"]) == (1, 0)
    reasons = {r["index"]: r["reason"] for r in data["rejected"]}
    assert reasons[1] == "watts: required"
    assert reasons[2] == "device_id: unknown device 'ghost'"
    assert reasons[3].startswith("ts: ") and "ahead of the server clock" in reasons[3]
    assert events_stored(server) == 1
    with server.engine.connect() as conn:
        assert conn.scalar(select(DeviceState.last_power_w)) == 61.5

    again = server.post(body).json()  # a vendor retry is safe
    assert (again["accepted"], again["duplicates"]) == (0, 1)
    assert events_stored(server) == 1


def test_empty_batch_is_fine(refusing):
    reply = refusing.post({"events": []})
    assert reply.json() == {
        "accepted": 0,
        "duplicates": 0,
        "rejected": [],
        "timezone": "Asia/Seoul",
        "naive_ts": 0,
        "clock_corrected": [],
    }


def test_a_time_without_an_offset_is_read_in_the_vendors_zone(server):
    """The vendor declared no zone: a naive ts is Seoul time, stored as UTC."""
    sent = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    local = sent.astimezone(ZoneInfo("Asia/Seoul")).replace(tzinfo=None).isoformat()
    body = {"events": [{"event_id": "n1", "device_id": "plug-1", "ts": local, "type": "heartbeat"}]}
    reply = server.post(body).json()
    assert (reply["accepted"], reply["timezone"], reply["naive_ts"]) == (1, "Asia/Seoul", 1)
    with server.engine.connect() as conn:
        assert as_utc(conn.scalar(select(DeviceEvent.ts))) == sent


@pytest.mark.parametrize(
    "key",
    [None, "", "nonsense", "anbu_00000000_" + "A" * 43],
    ids=["none", "empty", "bad", "unknown"],
)
def test_401_without_a_valid_key(refusing, key):
    reply = refusing.post({"events": []}, key=key)
    assert reply.status_code == 401
    assert reply.json() == {"detail": "missing or invalid X-API-Key"}


def test_a_revoked_key_stops_working_at_once(server):
    assert server.post({"events": []}).status_code == 200
    with server.engine.begin() as conn:
        assert revoke_key(conn, server.prefix, principal=cli_principal(), now=datetime.now(UTC))
    assert server.post({"events": []}).status_code == 401


def test_a_tampered_key_with_a_real_prefix_is_refused(refusing):
    tampered = refusing.key[:-1] + ("A" if refusing.key[-1] != "A" else "B")
    assert refusing.post({"events": []}, key=tampered).status_code == 401


def test_413_for_a_declared_oversized_body(refusing):
    body = b'{"events": [' + b" " * (5 * 1024 * 1024) + b"]}"
    reply = refusing.post(body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 413
    assert "over the limit" in reply.json()["detail"]


def test_413_for_an_oversized_chunked_body_without_content_length(refusing):
    def chunks():
        yield b'{"events": ['
        for _ in range(6):
            yield b" " * (1024 * 1024)
        yield b"]}"

    reply = refusing.post(None, content=chunks(), headers={"Content-Type": "application/json"})
    assert reply.status_code == 413


def test_a_client_that_hangs_up_mid_body_is_one_log_line_not_a_traceback(refusing):
    """A vendor whose upload times out half-way (or a client that sends part of a body and
    leaves) gets nothing stored and costs one warning. Before, every such request logged
    "Exception in ASGI application" with a 40-line ClientDisconnect traceback at ERROR."""
    with socket.create_connection(("127.0.0.1", int(refusing.url.rsplit(":", 1)[1]))) as sock:
        sock.sendall(
            b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"X-API-Key: " + refusing.key.encode() + b"\r\nContent-Length: 1000\r\n\r\n"
            b'{"events": ['
        )
        time.sleep(0.2)  # the server is reading the body when the client goes
    if not wait_until(lambda: "disconnected" in refusing.process.log(), timeout=10):
        pytest.fail(f"no line about the disconnect:\n{refusing.process.log()}")
    log = refusing.process.log()
    assert "Traceback" not in log and "Exception in ASGI application" not in log
    line = next(ln for ln in log.splitlines() if "disconnected" in ln)
    assert "WARNING" in line and "12 of 1000 bytes" in line and "vendor acme" in line
    assert refusing.post({"events": []}).status_code == 200  # the server is fine
    metrics = httpx.get(f"{refusing.url}/metrics").text
    assert 'anbu_ingest_requests_total{status="499"} 1.0' in metrics


def test_413_for_too_many_events(refusing):
    events = [
        {"event_id": f"e{i}", "device_id": "plug-1", "ts": now_iso(), "type": "sos"}
        for i in range(5001)
    ]
    reply = refusing.post({"events": events})
    assert reply.status_code == 413
    assert "5001 events" in reply.json()["detail"]
    assert events_stored(refusing) == 0


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"events": [', "body is not valid JSON"),
        (b'{"events": ["\xc3\x28"]}', "not UTF-8 JSON"),
        ('{"events": []}'.encode("utf-16"), "not UTF-8 JSON: it looks like UTF-16"),
        (b"[]", "must be a JSON object"),
        (b'{"event": []}', "'events' is missing"),
        (b'{"events": {}}', "'events' must be a list"),
        (b'{"events": [], "vendor": "x"}', "unknown field(s) 'vendor'"),
    ],
)
def test_422_for_malformed_bodies(refusing, body, words):
    reply = refusing.post(body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 422
    assert words in reply.json()["detail"]


def test_a_thousand_event_batch(server):
    events = [
        {
            "event_id": f"k{i}",
            "device_id": "plug-2",
            "ts": now_iso(-i / 100),
            "type": "lux",
            "lux": float(i % 500),
        }
        for i in range(1000)
    ]
    reply = server.post({"events": events})
    assert reply.status_code == 200
    assert reply.json()["accepted"] == 1000
    assert json.loads(reply.text)["rejected"] == []


def test_concurrent_overlapping_batches_store_each_event_once(server):
    """Vendors retry in parallel: no errors, no double counting, on either backend. A retry
    resends the same events, times included (on PostgreSQL the stored key contains ts; an id
    racing with another time is the one case docs/operations.md#partitions-postgresql lists)."""
    from concurrent.futures import ThreadPoolExecutor

    at = now_iso(-1)

    def batch(n: int) -> dict:
        # Batches n and n+1 share half their events, in opposite orders.
        ids = list(range(n * 100, n * 100 + 200))
        if n % 2:
            ids.reverse()
        return {
            "events": [
                {
                    "event_id": f"c{i}",
                    # by the id, so a retry names the same device (an id moving to another
                    # device is refused as reused, tests/unit/test_ingest.py)
                    "device_id": "plug-1" if i % 2 else "plug-2",
                    "ts": at,
                    "type": "heartbeat",
                }
                for i in ids
            ]
        }

    with ThreadPoolExecutor(max_workers=6) as pool:
        replies = list(pool.map(lambda n: server.post(batch(n)), range(6)))
    assert [r.status_code for r in replies] == [200] * 6, [r.text for r in replies]
    bodies = [r.json() for r in replies]
    assert sum(b["accepted"] for b in bodies) == 700  # c0 … c699
    assert sum(b["accepted"] + b["duplicates"] for b in bodies) == 1200
    assert events_stored(server) == 700


def test_hostile_bodies_get_422_and_hostile_events_never_fail_the_batch(server):
    for body in (
        b'{"events": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"events": [' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"]}",
    ):
        reply = server.post(body, headers={"Content-Type": "application/json"})
        assert reply.status_code == 422, reply.text
        assert "nested more than 32 levels deep" in reply.json()["detail"]

    def event(uid: str, **fields) -> dict:
        return {"event_id": uid, "device_id": "plug-1", "ts": now_iso(-1), "type": "power"} | fields

    events = [
        event("x1", type="sos", ts="0001-01-01T00:00:00+14:00"),
        event("x2", type="sos", ts="9999-12-31T23:59:59-14:00"),
        event("x3", watts="HUGE"),
        event("x4", watts="50"),
        event("x5", watts=12),
    ]
    body = json.dumps({"events": events}).replace('"HUGE"', "1" * 4301)
    reply = server.post(body, headers={"Content-Type": "application/json"})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert data["accepted"] == 1
    assert [r["reason"].split(":")[0] for r in data["rejected"]] == ["ts", "ts", "watts", "watts"]
    assert events_stored(server) == 1
    assert "Traceback" not in server.process.log()


def test_probes_and_metrics_of_the_running_server(server):
    """What a load balancer and Prometheus see from the real process (issue 13)."""
    assert httpx.get(f"{server.url}/healthz").json() == {"status": "ok"}
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ready", "database": "ok"}
    events = [
        {"event_id": f"p{i}", "device_id": "plug-1", "ts": now_iso(-1), "type": "heartbeat"}
        for i in range(3)
    ]
    assert server.post({"events": events}).json()["accepted"] == 3
    metrics = httpx.get(f"{server.url}/metrics")
    assert metrics.status_code == 200
    assert 'anbu_ingest_events_total{outcome="accepted",vendor="acme"} 3.0' in metrics.text
    assert "anbu_ingest_batch_seconds_count 1.0" in metrics.text
