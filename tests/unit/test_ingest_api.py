"""HTTP app behaviour that needs a fault injected (the rest runs against a real server)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime

import httpx
import pytest

from dashboard.auth import cli_principal
from dashboard.ingest.api import create_app
from dashboard.ingest.apikeys import create_key
from dashboard.rules.config import RulesConfigError
from tests.ingest_support import VENDOR, seed_catalog


@pytest.fixture
def client_and_key(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn)
        key, _ = create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    return Client(create_app(db_engine)), key


class Client:
    """In-process calls through httpx's ASGI transport (no server needed to inject a fault)."""

    def __init__(self, app) -> None:
        self.app = app

    def post(self, path: str, **kwargs) -> httpx.Response:
        async def call() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
                return await client.post(path, **kwargs)

        return asyncio.run(call())


def test_a_broken_rules_file_is_a_retryable_503_and_stores_nothing(client_and_key, monkeypatch):
    import dashboard.ingest.core as core

    def broken(conn, device_ids, now):
        raise RulesConfigError("rules.toml: invalid thresholds")

    monkeypatch.setattr(core, "evaluate_event_rules", broken)
    client, key = client_and_key
    event = {
        "event_id": "b1",
        "device_id": "plug-1",
        "ts": datetime.now(UTC).isoformat(),
        "type": "heartbeat",
    }
    reply = client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": key})
    assert reply.status_code == 503
    assert reply.headers["Retry-After"] == "5"
    assert "resending the same events is safe" in reply.json()["detail"]
    monkeypatch.undo()
    again = client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": key})
    assert again.json()["accepted"] == 1  # nothing was stored the first time


def test_a_full_connection_pool_is_a_retryable_503_not_a_500(client_and_key, db_engine):
    """150 concurrent batches on one server held its 15 pooled connections for over 30 s; the
    others got SQLAlchemy's pool TimeoutError, a plain-text 500, after waiting a minute. It is
    the database being busy: a 503 with Retry-After, whether it strikes looking up the key or
    storing the batch."""
    from sqlalchemy import create_engine
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    import dashboard.ingest.api as api

    _client, key = client_and_key
    url = db_engine.url.render_as_string(hide_password=False)
    small = create_engine(url, pool_size=1, max_overflow=0, pool_timeout=0.2)
    client = Client(create_app(small))
    event = {"event_id": "t1", "device_id": "plug-1", "ts": _ts(), "type": "heartbeat"}
    with small.connect():  # the pool's only connection, busy
        reply = client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": key})
    assert (reply.status_code, reply.headers.get("Retry-After")) == (503, "5")
    assert "retry later" in reply.json()["detail"]

    def exhausted(*args, **kwargs):
        raise PoolTimeout("QueuePool limit of size 5 overflow 10 reached")

    original, api.ingest_events = api.ingest_events, exhausted
    try:
        reply = client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": key})
    finally:
        api.ingest_events = original
    assert (reply.status_code, reply.headers.get("Retry-After")) == (503, "5")
    assert (
        client.post("/v1/events", json={"events": [event]}, headers={"X-API-Key": key}).json()[
            "accepted"
        ]
        == 1
    )
    small.dispose()


def _ts() -> str:
    return datetime.now(UTC).isoformat()


def test_deep_json_is_a_422_and_kept_as_a_dead_letter(client_and_key, db_engine):
    from sqlalchemy import select

    from dashboard.db.schema import DeadLetter

    client, key = client_and_key
    for body in (
        b'{"events": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        b'{"events": [' + b'{"a":' * 1000 + b"1" + b"}" * 1000 + b"]}",
        b"[" * 100_000 + b"]" * 100_000,
    ):
        reply = client.post("/v1/events", content=body, headers={"X-API-Key": key})
        assert reply.status_code == 422, reply.text
        assert "nested more than 32 levels deep" in reply.json()["detail"]
    with db_engine.connect() as conn:
        rows = conn.execute(select(DeadLetter.source, DeadLetter.vendor, DeadLetter.reason)).all()
    assert len(rows) == 3
    assert {(source, vendor) for source, vendor, _ in rows} == {("http", VENDOR)}


def test_one_impossible_event_never_fails_its_batch(client_and_key):
    client, key = client_and_key

    def event(uid: str, **fields) -> dict:
        return {"event_id": uid, "device_id": "plug-1", "ts": _ts(), "type": "power"} | fields

    events = [
        event("h1", watts=50),
        event("h2", type="sos", ts="0001-01-01T00:00:00+14:00"),
        event("h3", type="sos", ts="9999-12-31T23:59:59-14:00"),
        event("h4", watts="HUGE"),
        event("h5", watts="50"),
        event("h6\ud800", type="sos"),
    ]
    # json.dumps cannot write a 4,301-digit number; a vendor can.
    body = json.dumps({"events": events}).replace('"HUGE"', "1" * 4301)
    reply = client.post("/v1/events", content=body.encode(), headers={"X-API-Key": key})
    assert reply.status_code == 200, reply.text
    result = reply.json()
    assert result["accepted"] == 1
    reasons = {r["index"]: r["reason"] for r in result["rejected"]}
    assert reasons[1].startswith("ts: out of range once converted to UTC")
    assert reasons[2].startswith("ts: out of range once converted to UTC")
    assert reasons[3].startswith("watts: number out of range")
    assert reasons[4].startswith("watts: must be a number, not a string")
    assert reasons[5].startswith("event_id: contains a NUL character or an unpaired surrogate")


@pytest.mark.parametrize("encoding", ["utf-16-le", "utf-16-be", "utf-16", "utf-32"])
def test_a_body_that_is_not_utf8_is_a_422_and_a_dead_letter(client_and_key, db_engine, encoding):
    """json.loads(bytes) guessed UTF-16/32 and the batch was stored, though the contract says
    UTF-8. Now refused as a whole, like every other envelope error."""
    from sqlalchemy import func, select

    from dashboard.db.schema import DeadLetter, DeviceEvent

    client, key = client_and_key
    event = {"event_id": "u1", "device_id": "plug-1", "ts": _ts(), "type": "heartbeat"}
    body = json.dumps({"events": [event]}).encode(encoding)
    reply = client.post(
        "/v1/events",
        content=body,
        headers={"X-API-Key": key, "Content-Type": f"application/json; charset={encoding}"},
    )
    assert reply.status_code == 422, reply.text
    assert reply.json()["detail"].startswith("body is not UTF-8 JSON: it looks like UTF-")
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceEvent)) == 0
        (row,) = conn.execute(select(DeadLetter)).all()
    assert (row.source, row.vendor, row.payload_bytes) == ("http", VENDOR, len(body))
    assert row.reason == reply.json()["detail"]
    assert "\x00" not in row.payload  # stored as text any database takes


def test_a_utf8_body_with_korean_text_and_a_bom_is_stored(client_and_key):
    client, key = client_and_key
    event = {"event_id": "k1", "device_id": "aicall-1", "ts": _ts(), "type": "ai_call_result",
             "outcome": "concern", "note": "무릎 통증"}  # fmt: skip
    for prefix, event_id in ((b"", "k1"), (b"\xef\xbb\xbf", "k2")):
        body = prefix + json.dumps({"events": [event | {"event_id": event_id}]}).encode()
        raw = json.dumps({"events": [event | {"event_id": event_id}]}, ensure_ascii=False)
        for content in (body, prefix + raw.encode("utf-8")):
            reply = client.post("/v1/events", content=content, headers={"X-API-Key": key})
            assert reply.status_code == 200, reply.text
            assert reply.json()["rejected"] == []


def test_an_sos_with_an_unset_clock_is_stored_and_the_reply_says_so(client_and_key, db_engine):
    """The reply names each sos stamped at its receipt (clock_corrected); any other type with
    the same clock is rejected as before."""
    from sqlalchemy import select

    from dashboard.db.schema import DeviceEvent

    client, key = client_and_key
    unset = "1970-01-01T00:00:05Z"
    body = {
        "events": [
            {"event_id": "s1", "device_id": "robot-1", "ts": unset, "type": "sos"},
            {"event_id": "h1", "device_id": "robot-1", "ts": unset, "type": "heartbeat"},
        ]
    }
    reply = client.post("/v1/events", json=body, headers={"X-API-Key": key})
    assert reply.status_code == 200, reply.text
    data = reply.json()
    assert (data["accepted"], data["duplicates"]) == (1, 0)
    assert data["rejected"] == [
        {"index": 1, "reason": "ts: before 2000-01-01; the device clock is probably not set"}
    ]
    [note] = data["clock_corrected"]
    assert note["index"] == 0
    assert note["reason"].startswith("ts: before 2000-01-01; the device clock is probably not set")
    assert "stored at the server's receive time" in note["reason"]
    with db_engine.connect() as conn:
        ts, data = conn.execute(select(DeviceEvent.ts, DeviceEvent.data)).one()
    assert ts.year == datetime.now(UTC).year
    assert data == {"device_ts": "1970-01-01T00:00:05+00:00", "clock_corrected": True}
