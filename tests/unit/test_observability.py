"""Issue 13, observability: the worker's and the MQTT bridge's Prometheus metrics, JSON logs with
a request id, and the system-status reads (``queries.system``) on both backends."""

from __future__ import annotations

import io
import json
import logging
import threading
import urllib.request
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pandas as pd
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import Engine, create_engine, insert, text

from dashboard.auth import cli_principal
from dashboard.cli import build_parser
from dashboard.db.schema import Alert, DeviceEvent, NotificationOutbox
from dashboard.ingest.api import create_app
from dashboard.ingest.apikeys import create_key
from dashboard.ingest.deadletters import record_message
from dashboard.ingest.mqtt import Bridge
from dashboard.ops import health
from dashboard.ops.logs import (
    JSON_FIELDS,
    JsonFormatter,
    TextFormatter,
    configure_logging,
    request_context,
    request_id,
)
from dashboard.ops.metrics import WorkerMetrics, serve_metrics
from dashboard.rules.worker import run_worker, tick_once
from queries import system
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)


def samples(exposition: bytes | str) -> dict[tuple[str, tuple], float]:
    body = exposition.decode() if isinstance(exposition, bytes) else exposition
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body)
        for s in family.samples
    }


def add_alert(conn, key: str, stage: str, status: str = "open") -> None:
    conn.execute(
        insert(Alert).values(
            dedup_key=key,
            kind="person",
            rule="test_rule",
            stage=stage,
            status=status,
            program_id=1,
            region_id=1,
            opened_at=NOW,
            updated_at=NOW,
            closed_at=NOW if status == "closed" else None,
        )
    )


def add_outbox(conn, key: str, status: str, created: datetime) -> None:
    conn.execute(
        insert(NotificationOutbox).values(
            idempotency_key=key,
            channel="sms",
            recipient="010-0000-0000",
            payload={"action": "test"},
            status=status,
            next_attempt_at=NOW + timedelta(days=1),  # not due: the tick leaves it waiting
            created_at=created,
        )
    )


@pytest.fixture
def known_state(db_engine) -> Engine:
    """Alerts 2 관심 + 1 심각 open (1 closed), 2 undelivered notifications (the oldest 12 min
    old), one failed, and 3 dead letters."""
    with db_engine.begin() as conn:
        seed_catalog(conn)
        add_alert(conn, "a1", "attention")
        add_alert(conn, "a2", "attention", status="acknowledged")
        add_alert(conn, "a3", "severe", status="dispatched")
        add_alert(conn, "a4", "risk", status="closed")
        add_outbox(conn, "o1", "pending", NOW - timedelta(minutes=12))
        add_outbox(conn, "o2", "pending", NOW - timedelta(minutes=1))
        add_outbox(conn, "o3", "failed", NOW - timedelta(hours=2))
        add_outbox(conn, "o4", "sent", NOW - timedelta(hours=3))
        for i, minutes in enumerate((2, 30, 300)):
            record_message(
                conn,
                source="mqtt",
                vendor=VENDOR,
                topic="anbu/acme/events",
                reason=f"bad {i}",
                payload=b"{",
                now=NOW - timedelta(minutes=minutes),
            )
    return db_engine


# --- the worker's metrics -----------------------------------------------------------------


def test_worker_metrics_after_a_known_tick(known_state) -> None:
    metrics, ticks = WorkerMetrics(), []
    assert run_worker(known_state, once=True, clock=lambda: NOW, report=ticks.append,
                      metrics=metrics) == 1  # fmt: skip
    with known_state.connect() as conn:  # the seeded devices were never heard: alerts opened
        alerts, outbox = system.open_alerts_by_stage(conn), system.outbox_backlog(conn)
    assert ticks[0].opened > 0 and sum(alerts.values()) == 3 + ticks[0].opened
    server, _ = serve_metrics(metrics.registry, 0)  # prometheus-client's server, a free port
    try:
        url = f"http://127.0.0.1:{server.server_port}/metrics"
        with urllib.request.urlopen(url, timeout=5) as reply:
            got = samples(reply.read())
    finally:
        server.shutdown()
        server.server_close()
    assert got[("anbu_worker_tick_seconds_count", ())] == 1
    assert got[("anbu_worker_ticks_total", (("outcome", "ran"),))] == 1
    assert got[("anbu_worker_ticks_total", (("outcome", "skipped"),))] == 0
    assert got[("anbu_worker_last_tick_timestamp_seconds", ())] == NOW.timestamp()
    assert {s: got[("anbu_open_alerts", (("stage", s),))] for s in system.STAGES} == alerts
    assert got[("anbu_outbox_pending", ())] == outbox.pending >= 2
    assert got[("anbu_outbox_failed", ())] == 1
    assert got[("anbu_outbox_oldest_pending_age_seconds", ())] == 12 * 60
    assert got[("anbu_dead_letters", ())] == 3
    assert got[("anbu_worker_leader", ())] == 0  # run_worker returned: no longer acting


def test_worker_is_leader_while_it_runs_and_the_setter_is_a_callback(db_engine) -> None:
    metrics, seen = WorkerMetrics(), []
    stop = threading.Event()

    def report(_summary) -> None:
        seen.append(samples(metrics.exposition())[("anbu_worker_leader", ())])
        stop.set()

    run_worker(db_engine, interval_s=0.01, clock=lambda: NOW, stop=stop, report=report,
               metrics=metrics)  # fmt: skip
    assert seen == [1]
    metrics.set_leader(True)
    assert samples(metrics.exposition())[("anbu_worker_leader", ())] == 1
    metrics.set_leader(False)
    assert samples(metrics.exposition())[("anbu_worker_leader", ())] == 0


def test_a_failed_database_read_keeps_the_worker_alive(tmp_path) -> None:
    metrics = WorkerMetrics()
    broken = create_engine(f"sqlite:///{tmp_path / 'missing' / 'x.sqlite3'}")
    metrics.refresh(broken, NOW)  # no raise
    assert samples(metrics.exposition())[("anbu_worker_metrics_read_errors_total", ())] == 1


def test_worker_and_bridge_take_a_metrics_port() -> None:
    args = build_parser().parse_args(["worker", "--metrics-port", "9464"])
    assert (args.metrics_port, args.metrics_host) == (9464, "127.0.0.1")
    assert build_parser().parse_args(["worker"]).metrics_port is None  # off by default
    bridge = build_parser().parse_args(["mqtt-bridge", "--metrics-port", "9465"])
    assert bridge.metrics_port == 9465


# --- the MQTT bridge's metrics ------------------------------------------------------------


def _batch(*ids: str, device: str = "robot-1") -> bytes:
    ts = (NOW - timedelta(minutes=1)).isoformat()
    return json.dumps(
        {
            "events": [
                {"event_id": i, "device_id": device, "ts": ts, "type": "interaction"} for i in ids
            ]
        }
    ).encode()


def test_bridge_metrics_after_known_messages(db_engine) -> None:
    with db_engine.begin() as conn:
        seed_catalog(conn)
    bridge = Bridge(db_engine, "mqtt://127.0.0.1:1883", client_id="unit", clock=lambda: NOW)
    bridge.handle("anbu/acme/events", _batch("m1", "m2"))
    bridge.handle("anbu/acme/events", _batch("m1"))  # a redelivery: one duplicate
    bridge.handle("anbu/othercare/events", _batch("m3"))  # robot-1 is acme's: rejected event
    bridge.handle("anbu/acme/events", b"{not json")  # kept whole as a dead letter
    bridge.handle("anbu/BAD VENDOR/events", _batch("m4"))
    got = samples(bridge.metrics.exposition())

    def get(name: str, **labels: str) -> float:
        return got[(name, tuple(sorted(labels.items())))]

    assert get("anbu_mqtt_messages_received_total", vendor="acme") == 3
    assert get("anbu_mqtt_messages_received_total", vendor="othercare") == 1
    assert get("anbu_mqtt_messages_received_total", vendor="unknown") == 1
    assert get("anbu_mqtt_messages_total", vendor="acme", outcome="stored") == 2
    assert get("anbu_mqtt_messages_total", vendor="acme", outcome="rejected") == 1
    assert get("anbu_mqtt_messages_total", vendor="othercare", outcome="stored") == 1
    assert get("anbu_mqtt_messages_total", vendor="unknown", outcome="rejected") == 1
    assert get("anbu_mqtt_events_total", vendor="acme", outcome="accepted") == 2
    assert get("anbu_mqtt_events_total", vendor="acme", outcome="duplicate") == 1
    assert get("anbu_mqtt_events_total", vendor="othercare", outcome="rejected") == 1
    assert get("anbu_mqtt_dead_letters_total", vendor="acme") == 1
    assert get("anbu_mqtt_dead_letters_total", vendor="othercare") == 1  # the rejected event
    assert get("anbu_mqtt_dead_letters_total", vendor="unknown") == 1
    assert get("anbu_mqtt_connected") == 0


class _Code:
    def __init__(self, failure: bool) -> None:
        self.is_failure = failure


class _Client:
    def __init__(self) -> None:
        self.subscribed, self.acked = [], []

    def subscribe(self, topic, qos=0) -> None:
        self.subscribed.append(topic)

    def ack(self, mid, qos) -> None:
        self.acked.append(mid)

    def publish(self, *args, **kwargs) -> None:
        pass


class _Message:
    def __init__(self, topic: str, payload: bytes) -> None:
        self.topic, self.payload, self.mid, self.qos = topic, payload, 7, 1


def test_bridge_connection_state_and_a_request_id_per_message(db_engine) -> None:
    with db_engine.begin() as conn:
        seed_catalog(conn)
    bridge = Bridge(db_engine, "mqtt://127.0.0.1:1883", client_id="unit", clock=lambda: NOW)
    client = _Client()
    bridge._on_connect(client, None, None, _Code(False), None)
    assert samples(bridge.metrics.exposition())[("anbu_mqtt_connected", ())] == 1
    ids: list[str | None] = []
    handle = bridge.handle
    bridge.handle = lambda topic, payload: (ids.append(request_id.get()), handle(topic, payload))[1]
    bridge._on_message(client, None, _Message("anbu/acme/events", _batch("r1")))
    bridge._on_message(client, None, _Message("anbu/acme/events", _batch("r2")))
    assert client.acked == [7, 7]
    assert all(i and i.startswith("mqtt-") for i in ids) and ids[0] != ids[1]
    assert request_id.get() is None  # reset after each message
    bridge._on_disconnect(client, None, None, _Code(False), None)
    assert samples(bridge.metrics.exposition())[("anbu_mqtt_connected", ())] == 0


# --- logs and request ids -------------------------------------------------------------------


def _capture(fmt: logging.Formatter) -> tuple[logging.Handler, io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(fmt)
    return handler, out


def test_a_json_log_line_has_its_fields() -> None:
    handler, out = _capture(JsonFormatter())
    logger = logging.getLogger("anbu.test.json")
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        with request_context("req-42"):
            logger.info("stored %d events for %s", 3, "김안부")
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("outside a request")
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in out.getvalue().splitlines())
    assert list(first) == list(JSON_FIELDS)
    assert first["message"] == "stored 3 events for 김안부"  # UTF-8, not \\u escapes
    assert "김안부" in out.getvalue()
    assert (first["level"], first["logger"], first["request_id"]) == (
        "INFO",
        "anbu.test.json",
        "req-42",
    )
    assert datetime.fromisoformat(first["ts"]).tzinfo is not None
    assert second["request_id"] is None and "ValueError: boom" in second["exc"]


def test_text_lines_stay_human_readable_with_the_id_appended() -> None:
    record = logging.LogRecord("anbu", logging.WARNING, __file__, 1, "hello", None, None)
    assert TextFormatter().format(record).endswith("WARNING anbu hello")
    with request_context("abc"):
        assert TextFormatter().format(record).endswith("WARNING anbu hello [request_id=abc]")


def test_log_format_comes_from_the_setting(monkeypatch) -> None:
    from pydantic import ValidationError

    from dashboard.settings import Settings, get_settings

    root = logging.getLogger()
    before = list(root.handlers), root.level
    try:
        monkeypatch.setenv("ANBU_LOG_FORMAT", "json")
        get_settings.cache_clear()
        handler = configure_logging()
        assert isinstance(handler.formatter, JsonFormatter)
        assert configure_logging() is not handler
        assert [h.get_name() for h in root.handlers].count("anbu") == 1  # replaced, not doubled
        monkeypatch.setenv("ANBU_LOG_FORMAT", "yaml")
        with pytest.raises(ValidationError, match="ANBU_LOG_FORMAT must be 'text' or 'json'"):
            Settings()
    finally:
        root.handlers[:], root.level = before
        get_settings.cache_clear()


def _call(app, method: str, path: str, **kwargs) -> httpx.Response:
    import asyncio

    async def run() -> httpx.Response:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            return await client.request(method, path, **kwargs)

    return asyncio.run(run())


def test_request_id_round_trip_and_in_every_log_line(db_engine) -> None:
    with db_engine.begin() as conn:
        seed_catalog(conn)
        key, _ = create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    app = create_app(db_engine)
    handler, out = _capture(JsonFormatter())
    logger = logging.getLogger("dashboard.ingest.api")
    logger.addHandler(handler)
    previous = logger.level
    logger.setLevel(logging.INFO)
    ts = datetime.now(UTC).isoformat()
    body = {"events": [{"event_id": "x", "device_id": "ghost", "ts": ts, "type": "heartbeat"}]}
    try:
        sent = _call(app, "POST", "/v1/events", json=body,
                     headers={"X-API-Key": key, "X-Request-ID": "vendor-batch.0042"})  # fmt: skip
        made = _call(app, "POST", "/v1/events", json=body,
                     headers={"X-API-Key": key, "X-Request-ID": "bad id\nforged"})  # fmt: skip
        probe = _call(app, "GET", "/healthz")
    finally:
        logger.removeHandler(handler)
        logger.setLevel(previous)
    assert sent.status_code == 200 and sent.headers["X-Request-ID"] == "vendor-batch.0042"
    generated = made.headers["X-Request-ID"]
    assert len(generated) == 32 and int(generated, 16) >= 0  # a fresh id, not the forged one
    assert len(probe.headers["X-Request-ID"]) == 32
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["request_id"] for line in lines] == ["vendor-batch.0042", generated]
    assert all("1 rejected" in line["message"] for line in lines)


def test_a_request_id_per_worker_tick(db_engine) -> None:
    ids: list[str | None] = []
    stop = threading.Event()

    def report(_summary) -> None:
        ids.append(request_id.get())
        if len(ids) == 2:
            stop.set()

    run_worker(db_engine, interval_s=0.01, clock=lambda: NOW, stop=stop, report=report)
    assert all(i and i.startswith("tick-") for i in ids) and ids[0] != ids[1]


# --- what the status page reads ----------------------------------------------------------


def test_status_reads_on_both_backends(known_state) -> None:
    engine = known_state
    with engine.begin() as conn:
        rows = []
        # 4 events of acme over the last 2 hours, 1 of othercare 3 minutes ago.
        for i, (vendor, minutes) in enumerate(
            [("acme", 90), ("acme", 50), ("acme", 4), ("acme", 1), ("othercare", 3)]
        ):
            at = NOW - timedelta(minutes=minutes)
            rows.append({"vendor": vendor, "event_uid": f"e{i}", "device_id": 1, "ts": at,
                         "received_at": at, "type": "heartbeat"})  # fmt: skip
        conn.execute(insert(DeviceEvent), rows)
    with engine.connect() as conn:
        vendors = system.events_by_vendor(conn, NOW)
        assert vendors.to_dict("records") == [
            {
                "vendor": "acme",
                "events_5m": 2,
                "events_1h": 3,
                "dead_letters_5m": 1,
                "dead_letters_1h": 2,
            },
            {
                "vendor": "othercare",
                "events_5m": 1,
                "events_1h": 1,
                "dead_letters_5m": 0,
                "dead_letters_1h": 0,
            },
        ]
        assert system.events_by_vendor(conn, NOW + timedelta(days=1)).empty
        assert system.open_alerts_by_stage(conn) == {"attention": 2, "risk": 0, "severe": 1}
        outbox = system.outbox_backlog(conn)
        assert (outbox.pending, outbox.failed) == (2, 1)
        assert outbox.oldest_pending_at == NOW - timedelta(minutes=12)
        assert system.dead_letter_count(conn) == 3
        assert system.dead_letter_count(conn, NOW - timedelta(hours=1)) == 2
        assert system.last_tick(conn) is None
        size = system.database_size(conn)
        assert size.backend == engine.dialect.name and size.total_bytes > 0
    summary = tick_once(engine, NOW)
    with engine.connect() as conn:
        tick = system.last_tick(conn)
    assert tick.at == NOW and tick.candidates == summary.candidates and tick.pid > 0
    tick_once(engine, NOW + timedelta(minutes=1))  # the same row, rewritten
    with engine.connect() as conn:
        assert system.last_tick(conn).at == NOW + timedelta(minutes=1)
        # One row for the tick, rewritten (the rules' due-time basis has a row of its own).
        key = text("SELECT count(*) FROM app_meta WHERE key = :k")
        assert conn.scalar(key, {"k": system.LAST_TICK_KEY}) == 1


def test_events_by_vendor_bisects_the_ids(sqlite_url) -> None:
    """Thousands of events over a day: only the hour's are counted, found by bisection."""
    from dashboard.db.engine import make_engine
    from dashboard.db.schema import metadata

    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
        start = NOW - timedelta(hours=24)
        conn.execute(
            insert(DeviceEvent),
            [{"vendor": "acme", "event_uid": f"e{i}", "device_id": 1,
              "ts": start + timedelta(seconds=30 * i),
              "received_at": start + timedelta(seconds=30 * i), "type": "heartbeat"}
             for i in range(2880)],
        )  # fmt: skip
    with engine.connect() as conn:
        (row,) = system.events_by_vendor(conn, NOW - timedelta(seconds=1)).to_dict("records")
    assert (row["events_5m"], row["events_1h"]) == (10, 120)
    engine.dispose()


def test_leader_lock_holder_on_postgresql(db_engine) -> None:
    with db_engine.connect() as conn:
        holders = system.leader_lock_holders(conn)
    if db_engine.dialect.name == "sqlite":
        assert holders is None  # one machine: no election
        assert health.leader_verdict(holders) == health.Verdict(health.OK, "leader_single")
        return
    leader = db_engine.connect()
    try:
        leader.execute(text("SET application_name = 'anbu-worker-test'"))
        leader.execute(
            text("SELECT pg_advisory_lock(:k, hashtext(current_schema()))"),
            {"k": system.LEADER_LOCK_KEY},
        )
        pid = leader.scalar(text("SELECT pg_backend_pid()"))
        with db_engine.connect() as conn:
            holders = system.leader_lock_holders(conn)
        mine = holders[holders["pid"] == pid]  # the pair form names this schema: ours alone
        assert mine["application_name"].tolist() == ["anbu-worker-test"]
        assert mine["backend_start"].iloc[0].tzinfo is not None
        assert health.leader_verdict(mine).status == health.OK
        leader.execute(text("SELECT pg_advisory_unlock_all()"))
        leader.execute(text("SELECT pg_advisory_lock(:k)"), {"k": system.LEADER_LOCK_KEY})
        with db_engine.connect() as conn:  # the one-bigint form of the same key
            # (other test sessions on this server may hold the bigint form too: no schema in it)
            assert pid in system.leader_lock_holders(conn)["pid"].tolist()
    finally:
        leader.execute(text("SELECT pg_advisory_unlock_all()"))
        leader.close()


# --- the status page's verdicts ------------------------------------------------------------


def _tick(age: timedelta) -> system.LastTick:
    return system.LastTick(at=NOW - age, seconds=0.1, candidates=1, host="h", pid=1)


@pytest.mark.parametrize(
    ("age", "status"),
    [
        (health.TICK_WARNING, health.OK),
        (health.TICK_WARNING + timedelta(seconds=1), health.WARNING),
        (health.TICK_CRITICAL, health.WARNING),
        (health.TICK_CRITICAL + timedelta(seconds=1), health.CRITICAL),
    ],
)
def test_tick_verdict_thresholds(age, status) -> None:
    assert health.tick_verdict(_tick(age), NOW).status == status
    assert health.tick_verdict(None, NOW) == health.Verdict(health.CRITICAL, "tick_never")


def test_outbox_dead_letter_vendor_and_database_verdicts() -> None:
    def box(age: timedelta | None, failed: int = 0) -> system.Outbox:
        return system.Outbox(pending=0 if age is None else 1, failed=failed,
                             oldest_pending_at=None if age is None else NOW - age)  # fmt: skip

    assert health.outbox_verdict(box(None), NOW).status == health.OK
    assert health.outbox_verdict(box(None, failed=1), NOW).status == health.WARNING
    assert health.outbox_verdict(box(health.OUTBOX_WARNING), NOW).status == health.WARNING
    assert health.outbox_verdict(box(health.OUTBOX_CRITICAL), NOW).status == health.CRITICAL
    assert [health.dead_letters_verdict(n).status for n in (0, 1, 99, 100)] == [
        health.OK,
        health.WARNING,
        health.WARNING,
        health.CRITICAL,
    ]
    assert health.vendor_status(100, 1000, 0, 0) == health.OK
    assert health.vendor_status(0, 1000, 0, 0) == health.WARNING  # quiet for 5 minutes
    assert health.vendor_status(10, 95, 0, 5) == health.WARNING  # 5 % refused
    assert health.vendor_status(10, 50, 5, 50) == health.CRITICAL  # 50 % refused
    empty = pd.DataFrame(columns=system.VENDOR_COLUMNS)
    assert health.ingest_verdict(empty) == health.Verdict(health.WARNING, "ingest_none")
    gib = 1024**3
    sqlite = system.DatabaseSize("sqlite", gib, wal_bytes=0, free_bytes=50 * gib,
                                 disk_bytes=100 * gib)  # fmt: skip
    assert health.database_verdict(sqlite).status == health.OK
    assert health.database_verdict(replace(sqlite, free_bytes=10 * gib)).reason == "db_low"
    assert health.database_verdict(replace(sqlite, free_bytes=4 * gib)).reason == "db_full"
    assert health.database_verdict(replace(sqlite, wal_bytes=gib)).status == health.CRITICAL
    assert health.database_verdict(system.DatabaseSize("postgresql", gib)).status == health.OK
    assert health.leader_verdict(pd.DataFrame(columns=system.LEADER_COLUMNS)).reason == (
        "leader_none"
    )
