"""Where simulated batches go: the vendor HTTP API, or (in-process) the function behind it."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from sqlalchemy import Engine

from dashboard.clock import Clock
from dashboard.ingest.core import ingest_events


@dataclass
class SendStats:
    batches: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    first_rejection: str | None = None
    by_vendor: dict[str, int] = field(default_factory=dict)

    def add(self, vendor: str, accepted: int, duplicates: int, rejected: list[Any]) -> None:
        self.batches += 1
        self.accepted += accepted
        self.duplicates += duplicates
        self.rejected += len(rejected)
        self.by_vendor[vendor] = self.by_vendor.get(vendor, 0) + accepted
        if rejected and self.first_rejection is None:
            self.first_rejection = str(rejected[0])


class Sink(Protocol):
    def send(self, vendor: str, events: list[dict[str, Any]], stats: SendStats) -> None: ...


class HttpSink:
    """``POST /v1/events`` with the vendor's key: exactly what a vendor's system does."""

    def __init__(self, url: str, keys: dict[str, str], *, timeout_s: float = 60.0) -> None:
        self.keys = keys
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout_s)

    def send(self, vendor: str, events: list[dict[str, Any]], stats: SendStats) -> None:
        for attempt in range(5):
            reply = self.client.post(
                "/v1/events", json={"events": events}, headers={"X-API-Key": self.keys[vendor]}
            )
            if reply.status_code != 503:
                break
            # The database is busy or restarting; resending the same events is safe.
            time.sleep(float(reply.headers.get("Retry-After", "1")) * (attempt + 1) / 5)
        reply.raise_for_status()
        body = reply.json()
        rejected = [f"{r['index']}: {r['reason']}" for r in body["rejected"]]
        stats.add(vendor, body["accepted"], body["duplicates"], rejected)

    def close(self) -> None:
        self.client.close()


class IngestSink:
    """In-process delivery through ``ingest_events``, the same function ``POST /v1/events``
    calls, with the same one-transaction-per-batch and the same clock for ``now``."""

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self.engine = engine
        self.clock = clock

    def send(self, vendor: str, events: list[dict[str, Any]], stats: SendStats) -> None:
        with self.engine.begin() as conn:
            result = ingest_events(conn, vendor, events, now=self.clock())
        rejected = [f"{i}: {reason}" for i, reason in result.rejected]
        stats.add(vendor, result.accepted, result.duplicates, rejected)

    def close(self) -> None:
        return None
