"""Prometheus metrics of the ingest server (``GET /metrics``) and of the MQTT bridge.

Each app owns its ``CollectorRegistry`` rather than the process-wide default, so tests and
several apps in one process (the bench, replay) never see each other's counts or fail on
"Duplicated timeseries". Labels stay bounded: ``vendor`` is only ever an authenticated vendor
code (from its API key, never from the request body), ``status`` an HTTP status code, and
``outcome`` one of three words.
"""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest

from dashboard.ingest.core import IngestResult

# Seconds; a batch of 1,000 events takes ~0.1 s on a quiet machine (docs/ingest-api.md).
BATCH_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("accepted", "duplicate", "rejected")


class IngestMetrics:
    """The counters and the histogram one ingest app updates."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.events = Counter(
            "anbu_ingest_events",
            "Events received through POST /v1/events, by vendor and outcome "
            "(accepted: stored; duplicate: already stored; rejected: refused one by one).",
            ["vendor", "outcome"],
            registry=self.registry,
        )
        self.batch_seconds = Histogram(
            "anbu_ingest_batch_seconds",
            "Time to validate, store and evaluate the rules of one batch (one transaction).",
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.requests = Counter(
            "anbu_ingest_requests",
            "Replies of POST /v1/events, by HTTP status.",
            ["status"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            "anbu_ingest_dead_letters",
            "Dead letters written (bodies refused as a whole with 422), by vendor.",
            ["vendor"],
            registry=self.registry,
        )

    def batch(self, vendor: str, result: IngestResult) -> None:
        """Count one stored batch's events."""
        counts = (result.accepted, result.duplicates, len(result.rejected))
        for outcome, count in zip(OUTCOMES, counts, strict=True):
            # inc(0) still creates the series, so a vendor's rate starts from a known zero.
            self.events.labels(vendor=vendor, outcome=outcome).inc(count)

    def reply(self, status: int) -> None:
        self.requests.labels(status=str(status)).inc()

    def exposition(self) -> tuple[bytes, str]:
        """The text format a Prometheus server scrapes, and its content type."""
        return generate_latest(self.registry), CONTENT_TYPE_LATEST


MESSAGE_OUTCOMES = ("stored", "rejected", "retried")
UNKNOWN_VENDOR = "unknown"  # a topic whose vendor level is not a vendor code


class BridgeMetrics:
    """The MQTT bridge's counters and connection state (served with ``--metrics-port``).

    ``vendor`` comes from the topic, which the broker's ACLs authenticate (each vendor may
    publish only to its own topic); a topic without a valid vendor code counts as ``unknown``.
    """

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.received = Counter(
            "anbu_mqtt_messages_received",
            "MQTT messages received on <root>/+/events, by vendor (a redelivery counts again).",
            ["vendor"],
            registry=r,
        )
        self.messages = Counter(
            "anbu_mqtt_messages",
            "Messages by vendor and outcome (stored: its batch committed; rejected: kept whole "
            "as a dead letter; retried: left unacknowledged for redelivery, e.g. during a "
            "database outage).",
            ["vendor", "outcome"],
            registry=r,
        )
        self.events = Counter(
            "anbu_mqtt_events",
            "Events of stored messages, by vendor and outcome (accepted, duplicate, rejected).",
            ["vendor", "outcome"],
            registry=r,
        )
        self.dead_letters = Counter(
            "anbu_mqtt_dead_letters",
            "Dead letters written (whole messages and rejected events), by vendor.",
            ["vendor"],
            registry=r,
        )
        self.db_errors = Counter(
            "anbu_mqtt_database_errors",
            "Failed attempts to store a message or a dead letter (each is retried).",
            registry=r,
        )
        self.connected = Gauge(
            "anbu_mqtt_connected", "1 while the bridge is connected to the broker.", registry=r
        )
        self.broker_dropped = Gauge(
            "anbu_mqtt_broker_dropped_messages",
            "Messages the broker dropped since it started because a client's queue was full "
            "(Mosquitto's $SYS/broker/publish/messages/dropped, as last reported).",
            registry=r,
        )

    def message(self, vendor: str | None, outcome: str) -> None:
        self.messages.labels(vendor=vendor or UNKNOWN_VENDOR, outcome=outcome).inc()

    def batch(self, vendor: str, result: IngestResult, dead_letters: int) -> None:
        counts = (result.accepted, result.duplicates, len(result.rejected))
        for outcome, count in zip(OUTCOMES, counts, strict=True):
            self.events.labels(vendor=vendor, outcome=outcome).inc(count)
        self.dead_letters.labels(vendor=vendor).inc(dead_letters)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
