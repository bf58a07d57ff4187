"""HTTP app behaviour that needs a fault injected (the rest runs against a real server)."""

from __future__ import annotations

import asyncio
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
