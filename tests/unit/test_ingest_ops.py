"""Liveness, readiness and Prometheus metrics of the ingest server (issue 13), in process."""

from __future__ import annotations

import asyncio
import socket
from datetime import UTC, datetime

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine

from dashboard.auth import cli_principal
from dashboard.ingest.api import create_app
from dashboard.ingest.apikeys import create_key
from tests.ingest_support import OTHER_VENDOR, VENDOR, seed_catalog


def call(app, method: str, path: str, **kwargs) -> httpx.Response:
    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


@pytest.fixture
def app_and_key(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn)
        key, _ = create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    return create_app(db_engine), key


def test_liveness_and_readiness_on_a_working_database(app_and_key):
    app, _ = app_and_key
    live = call(app, "GET", "/healthz")
    assert live.status_code == 200 and live.json() == {"status": "ok"}
    ready = call(app, "GET", "/readyz")
    assert ready.status_code == 200, ready.text
    assert ready.json() == {"status": "ready", "database": "ok"}
    assert call(app, "GET", "/v1/health").json() == {"status": "ok", "database": "ok"}


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # nothing listens there once the socket is closed


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_readiness_is_a_503_with_a_reason_when_the_database_is_down(backend, tmp_path):
    if backend == "sqlite":  # a file in a directory that does not exist cannot be opened
        engine = create_engine(f"sqlite:///{tmp_path / 'missing' / 'anbu.sqlite3'}")
    else:
        engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{_closed_port()}/test")
    app = create_app(engine)
    assert call(app, "GET", "/healthz").status_code == 200  # alive, only not ready
    reply = call(app, "GET", "/readyz")
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert reply.json() == {"status": "not ready", "database": "unreachable (OperationalError)"}
    assert call(app, "GET", "/v1/health").status_code == 503
    engine.dispose()


def test_readiness_gives_up_on_a_database_that_never_answers():
    """A server that accepts the connection and then says nothing (a hung host, a full
    backlog): the probe still gets its 503 instead of hanging with the driver."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # the kernel completes the handshake; nobody ever reads or writes
    port = listener.getsockname()[1]
    engine = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{port}/test")
    try:
        reply = call(create_app(engine), "GET", "/readyz")
    finally:
        listener.close()  # resets the abandoned connection attempt, ending its thread
    assert reply.status_code == 503
    assert reply.json() == {"status": "not ready", "database": "no answer within 2 s"}
    engine.dispose()


def _samples(app) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    reply = call(app, "GET", "/metrics")
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(reply.text)
        for sample in family.samples
    }


def _event(uid: str, device: str = "plug-1", **fields) -> dict:
    ts = datetime.now(UTC).isoformat()
    return {"event_id": uid, "device_id": device, "ts": ts, "type": "heartbeat"} | fields


def test_metrics_count_a_known_batch_exactly(app_and_key, db_engine):
    app, key = app_and_key
    with db_engine.begin() as conn:
        other_key, _ = create_key(
            conn, OTHER_VENDOR, principal=cli_principal(), now=datetime.now(UTC)
        )
    batch = [
        _event("m1"),
        _event("m2"),
        _event("m3", device="plug-2"),
        _event("m3", device="plug-2"),  # the same event again: a duplicate
        _event("m4", device="ghost"),  # unknown device: rejected
        _event("m5", type="power", watts=-3),  # out of range: rejected
    ]
    reply = call(app, "POST", "/v1/events", json={"events": batch}, headers={"X-API-Key": key})
    assert reply.status_code == 200, reply.text
    assert (reply.json()["accepted"], reply.json()["duplicates"]) == (3, 1)
    other = [_event("o1", device="other-1")]
    call(app, "POST", "/v1/events", json={"events": other}, headers={"X-API-Key": other_key})
    call(app, "POST", "/v1/events", json={"events": other}, headers={"X-API-Key": "nope"})
    refused = call(app, "POST", "/v1/events", content=b"not json", headers={"X-API-Key": key})
    assert refused.status_code == 422

    samples = _samples(app)

    def events(vendor: str, outcome: str) -> float:
        return samples[("anbu_ingest_events_total", (("outcome", outcome), ("vendor", vendor)))]

    assert (events(VENDOR, "accepted"), events(VENDOR, "duplicate")) == (3, 1)
    assert events(VENDOR, "rejected") == 2
    assert events(OTHER_VENDOR, "accepted") == 1 and events(OTHER_VENDOR, "rejected") == 0
    assert samples[("anbu_ingest_batch_seconds_count", ())] == 2  # two batches stored
    assert samples[("anbu_ingest_batch_seconds_sum", ())] > 0
    assert samples[("anbu_ingest_dead_letters_total", (("vendor", VENDOR),))] == 1
    assert samples[("anbu_ingest_requests_total", (("status", "200"),))] == 2
    assert samples[("anbu_ingest_requests_total", (("status", "401"),))] == 1
    assert samples[("anbu_ingest_requests_total", (("status", "422"),))] == 1
    vendors = {dict(labels).get("vendor") for _, labels in samples} - {None}
    assert vendors == {VENDOR, OTHER_VENDOR}  # bounded: only authenticated vendor codes


def test_each_app_counts_alone(app_and_key, db_engine):
    """Per-app registries: a second app in the same process starts from zero."""
    app, key = app_and_key
    call(app, "POST", "/v1/events", json={"events": [_event("a1")]}, headers={"X-API-Key": key})
    fresh = create_app(db_engine)
    assert ("anbu_ingest_batch_seconds_count", ()) in _samples(fresh)
    assert _samples(fresh)[("anbu_ingest_batch_seconds_count", ())] == 0
    assert _samples(app)[("anbu_ingest_batch_seconds_count", ())] == 1
