"""Prometheus metrics of the rule worker, and the small HTTP server the worker and the MQTT
bridge expose them on (``--metrics-port``; see docs/operations.md#prometheus-metrics).

Each process owns a private ``CollectorRegistry`` (never prometheus-client's global one), as the
ingest app does, so tests and several workers in one process never mix their counts. The
database gauges (open alerts, outbox, dead letters) are read after each tick with a handful of
indexed queries (``queries.system``): every worker reports them, so take ``max`` across
instances rather than ``sum``.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.exposition import generate_latest
from sqlalchemy import Engine

from dashboard.rules.engine import TickSummary
from queries.system import STAGES, dead_letter_count, open_alerts_by_stage, outbox_backlog

log = logging.getLogger(__name__)

# Seconds; the national-scale target is a tick within 2 s (issue 13, docs/benchmarks.md).
TICK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0, 120.0)
TICK_OUTCOMES = ("ran", "skipped", "failed")


class WorkerMetrics:
    """The rule worker's metrics; :meth:`observe_tick` and :meth:`refresh` after each tick."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.tick_seconds = Histogram(
            "anbu_worker_tick_seconds",
            "Duration of the rule ticks this worker ran (skipped ticks are not observed).",
            buckets=TICK_BUCKETS,
            registry=r,
        )
        self.ticks = Counter(
            "anbu_worker_ticks",
            "Rule ticks by outcome (ran; skipped: another worker held the tick lock; "
            "failed: a database error, retried next interval).",
            ["outcome"],
            registry=r,
        )
        self.last_tick = Gauge(
            "anbu_worker_last_tick_timestamp_seconds",
            "Unix time of the last rule tick this worker ran.",
            registry=r,
        )
        self.open_alerts = Gauge(
            "anbu_open_alerts",
            "Alerts not closed (open, acknowledged or dispatched), by stage, read from the "
            "database after each tick.",
            ["stage"],
            registry=r,
        )
        self.outbox_pending = Gauge(
            "anbu_outbox_pending",
            "Notifications in the outbox not delivered yet (including ones awaiting a retry).",
            registry=r,
        )
        self.outbox_failed = Gauge(
            "anbu_outbox_failed",
            "Notifications the gateway refused for good (status failed).",
            registry=r,
        )
        self.outbox_oldest = Gauge(
            "anbu_outbox_oldest_pending_age_seconds",
            "Age of the oldest undelivered notification (0 when none waits).",
            registry=r,
        )
        self.dead_letters = Gauge(
            "anbu_dead_letters",
            "Dead letters kept in the database (messages and events ingest could not use).",
            registry=r,
        )
        self.leader = Gauge(
            "anbu_worker_leader",
            "1 while this process acts as the leader worker (ticks, delivers, escalates).",
            registry=r,
        )
        self.db_errors = Counter(
            "anbu_worker_metrics_read_errors",
            "Failed reads of the database gauges (the gauges keep their last values).",
            registry=r,
        )
        for outcome in TICK_OUTCOMES:
            self.ticks.labels(outcome=outcome)  # every series from a known zero
        for stage in STAGES:
            self.open_alerts.labels(stage=stage)

    def set_leader(self, is_leader: bool) -> None:
        """Leadership changed: usable as run_worker's ``on_leadership`` callback."""
        self.leader.set(1 if is_leader else 0)

    def observe_tick(self, summary: TickSummary) -> None:
        if summary.skipped:
            self.ticks.labels(outcome="skipped").inc()
            return
        self.ticks.labels(outcome="ran").inc()
        self.tick_seconds.observe(summary.seconds)
        self.last_tick.set(summary.now.timestamp())

    def tick_failed(self) -> None:
        self.ticks.labels(outcome="failed").inc()

    def refresh(self, engine: Engine, now: datetime) -> None:
        """Read the database gauges; never raises (a failed read keeps the last values)."""
        try:
            with engine.connect() as conn:
                alerts = open_alerts_by_stage(conn)
                outbox = outbox_backlog(conn)
                dead = dead_letter_count(conn)
        except Exception as exc:  # metrics must never stop the worker
            self.db_errors.inc()
            log.warning("could not read the metrics from the database: %s", exc)
            return
        for stage, count in alerts.items():
            self.open_alerts.labels(stage=stage).set(count)
        self.outbox_pending.set(outbox.pending)
        self.outbox_failed.set(outbox.failed)
        self.outbox_oldest.set(outbox.oldest_age_s(now))
        self.dead_letters.set(dead)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


def serve_metrics(
    registry: CollectorRegistry, port: int, host: str = "127.0.0.1"
) -> tuple[WSGIServer, threading.Thread]:
    """Serve ``registry`` at ``http://host:port/metrics`` from a daemon thread (prometheus-
    client's own server). Port 0 picks a free port: read it from ``server.server_port``."""
    server, thread = start_http_server(port, addr=host, registry=registry)
    log.info("Prometheus metrics on http://%s:%d/metrics", host, server.server_port)
    return server, thread
