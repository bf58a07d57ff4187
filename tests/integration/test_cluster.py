"""Several processes, one truth: bridges sharing a subscription, and a whole cluster on one
PostgreSQL schema (two ingest servers, two workers, two bridges) that loses its leader worker.

Every process is a real ``python -m dashboard …`` subprocess, as systemd would start it.
"""

from __future__ import annotations

import os
import re
import signal
import threading
import time
import uuid
from collections import Counter
from datetime import UTC, date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from sqlalchemy import func, insert, select

from dashboard.auth import cli_principal
from dashboard.db.engine import make_engine
from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    Device,
    DeviceEvent,
    NotificationOutbox,
    Region,
    metadata,
)
from dashboard.ingest.apikeys import create_key
from dashboard.notify.escalation import AUDIT_ACTION, escalation_key
from dashboard.ops.leader import leader_backend
from tests.conftest import missing_service
from tests.ingest_support import VENDOR, seed_catalog
from tests.integration.servers import Process, free_port
from tests.integration.test_mqtt import HOST, PORT, Probe, forget_session, reachable
from tests.waiting import wait_until

pytestmark = pytest.mark.mqtt

# Six Python processes starting at once on a busy 2-core machine take a while.
STARTUP_S = 120
STATS = re.compile(r"bridge stopped; stats: messages=(\d+) .*accepted=(\d+) duplicates=(\d+)")


def need_broker() -> None:
    if not reachable(HOST, PORT):
        missing_service(f"no MQTT broker at {HOST}:{PORT}")


def start_bridge(url: str, root: str, client_id: str, log_path) -> Process:
    args = ["mqtt-bridge", "--url", f"mqtt://{HOST}:{PORT}", "--client-id", client_id]
    return Process([*args, "--root", root], url, log_path)


def bridge_stats(process: Process) -> tuple[int, int, int]:
    """(messages, accepted, duplicates) from the stats line a bridge logs when it stops."""
    match = STATS.search(process.log())
    assert match, f"no final stats line:\n{process.log()}"
    return int(match[1]), int(match[2]), int(match[3])


def one_event(event_id: str, device: str, kind: str = "interaction") -> dict:
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    return {"event_id": event_id, "device_id": device, "ts": ts, "type": kind}


@pytest.fixture
def database(postgres_schema_url):
    engine = make_engine(postgres_schema_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    yield postgres_schema_url, engine
    engine.dispose()


def test_two_bridges_share_the_subscription(database, tmp_path):
    """200 messages through two bridges of one share group: each event stored once, and each
    bridge took a real part of the load."""
    need_broker()
    url, engine = database
    root = f"t{uuid.uuid4().hex[:10]}"
    ids = [f"bridge-{root}-{n}" for n in "ab"]
    bridges = [start_bridge(url, root, cid, tmp_path / f"{cid}.log") for cid in ids]
    probe = Probe(PORT, root)
    n = 200
    try:
        for bridge in bridges:
            bridge.wait_until(lambda b=bridge: "to $share/anbu/" in b.log(), "the subscription")
        for bridge in bridges:
            probe.wait_for_bridge(bridge)  # the broker routes to the group
        for i in range(n):
            probe.publish({"events": [one_event(f"s{i}", "robot-1")]})
        replies = [probe.reply() for _ in range(n)]
        assert sum(r["accepted"] for _t, r in replies) == n
    finally:
        probe.close()
        codes = [b.stop() for b in bridges]
        for cid in ids:
            forget_session(PORT, cid)
    assert codes == [0, 0]
    with engine.connect() as conn:
        stored = conn.execute(
            select(DeviceEvent.event_uid, func.count()).group_by(DeviceEvent.event_uid)
        ).all()
    assert len(stored) == n and {c for _u, c in stored} == {1}
    stats = [bridge_stats(b) for b in bridges]
    assert sum(s[1] for s in stats) == n  # accepted: every event once, by one bridge
    assert sum(s[2] for s in stats) == 0  # no message went to both
    for (_messages, accepted, _dup), bridge in zip(stats, bridges, strict=True):
        assert accepted >= n // 5, f"load not spread: {stats}\n{bridge.log()}"


class Gateway:
    """The notification gateway: records every POST's Idempotency-Key."""

    def __init__(self) -> None:
        self.keys: Counter = Counter()
        received = self.keys

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                received[self.headers["Idempotency-Key"]] += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *_args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/notify"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def add_robots(conn, count: int) -> list[str]:
    """Care robots, each with its own person (robot SOS alerts are per person)."""
    conn.execute(
        insert(Region),
        {"id": 2, "code": "4128552000", "level": "dong", "parent_id": 1,
         "name_ko": "백석1동", "name_en": "Baekseok 1-dong"},
    )  # fmt: skip
    uids = []
    for i in range(count):
        rid = conn.execute(
            insert(CareRecipient).returning(CareRecipient.id),
            {"program_id": 1, "region_id": 2, "external_ref": f"C{i}", "birth_year": 1940,
             "sex": "F", "household": "alone", "enrolled_on": date(2024, 1, 1),
             "pii_name": f"이름{i}"},
        ).scalar()  # fmt: skip
        uid = f"cluster-robot-{i:03d}"
        conn.execute(
            insert(Device),
            {"id": 1000 + i, "device_uid": uid, "type_code": "care_robot", "program_id": 1,
             "vendor": VENDOR, "recipient_id": rid, "region_id": 2,
             "installed_on": date(2024, 1, 1), "status": "active"},
        )  # fmt: skip
        uids.append(uid)
    return uids


def test_two_of_everything_lose_the_leader_worker_and_nothing_is_lost_or_doubled(
    database, tmp_path, monkeypatch
):
    """Two ingest servers, two workers, two bridges on one schema. SOS events (HTTP and MQTT,
    some sent twice through different paths) open 심각 alerts that the leader escalates; the
    leader is SIGKILLed between two waves and the follower escalates the second wave."""
    need_broker()
    url, engine = database
    robots = 24  # two waves of 12 robots; half of each wave over HTTP, half over MQTT
    with engine.begin() as conn:
        uids = add_robots(conn, robots)
        key, _prefix = create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    gateway = Gateway()
    monkeypatch.setenv("ANBU_DEMO", "false")
    monkeypatch.setenv("ANBU_NOTIFY_WEBHOOK_URL", gateway.url)
    monkeypatch.setenv("ANBU_ESCALATE_SEVERE_AFTER_MIN", "0.02")  # 1.2 s
    root = f"t{uuid.uuid4().hex[:10]}"
    bridge_ids = [f"bridge-{root}-{n}" for n in "ab"]
    procs: dict[str, Process] = {}
    ports = {n: free_port() for n in "ab"}
    probe = None
    try:
        for n in "ab":
            procs[f"ingest-{n}"] = Process(
                ["serve-ingest", "--port", str(ports[n]), "--log-level", "warning"],
                url,
                tmp_path / f"ingest-{n}.log",
            )
            procs[f"worker-{n}"] = Process(
                ["worker", "--interval", "1"], url, tmp_path / f"worker-{n}.log"
            )
        for n, cid in zip("ab", bridge_ids, strict=True):
            procs[f"bridge-{n}"] = start_bridge(url, root, cid, tmp_path / f"bridge-{n}.log")
        servers = [f"http://127.0.0.1:{ports[n]}" for n in "ab"]
        for n, server in zip("ab", servers, strict=True):
            procs[f"ingest-{n}"].wait_until(
                lambda s=server: httpx.get(f"{s}/readyz", timeout=1).status_code == 200,
                "readyz",
                STARTUP_S,
            )
        probe = Probe(PORT, root)
        for n in "ab":
            procs[f"bridge-{n}"].wait_until(
                lambda b=procs[f"bridge-{n}"]: "subscribing to" in b.log(), "subscribe", STARTUP_S
            )
            probe.wait_for_bridge(procs[f"bridge-{n}"], STARTUP_S)

        def holder_pid() -> int | None:
            with engine.connect() as conn:
                holder = leader_backend(conn)
            return int(holder.application_name.rsplit(":", 1)[1]) if holder else None

        assert wait_until(holder_pid, STARTUP_S), "no worker took the lead"
        pids = {procs[f"worker-{n}"].proc.pid: n for n in "ab"}
        leader = pids[holder_pid()]
        follower = "b" if leader == "a" else "a"

        sent: list[str] = []

        def feed(wave: list[str], tag: str) -> None:
            """SOS and a heartbeat per robot; HTTP alternates servers, every third MQTT message
            is also posted over HTTP (the same event ids: duplicates, not new events)."""
            for i, uid in enumerate(wave):
                batch = {
                    "events": [
                        one_event(f"{tag}-{uid}-sos", uid, "sos"),
                        one_event(f"{tag}-{uid}-hb", uid, "heartbeat"),
                    ]
                }
                sent.extend(e["event_id"] for e in batch["events"])
                if i % 2 == 0:
                    reply = httpx.post(
                        f"{servers[i // 2 % 2]}/v1/events",
                        json=batch,
                        headers={"X-API-Key": key},
                        timeout=30,
                    )
                    assert reply.status_code == 200, reply.text
                else:
                    probe.publish(batch)
                    if i % 3 == 0:
                        httpx.post(
                            f"{servers[1]}/v1/events",
                            json=batch,
                            headers={"X-API-Key": key},
                            timeout=30,
                        ).raise_for_status()

        def escalated(wave: list[str]) -> bool:
            with engine.connect() as conn:
                alert_ids = conn.scalars(
                    select(Alert.id)
                    .join(Device, Device.recipient_id == Alert.recipient_id)
                    .where(Device.device_uid.in_(wave), Alert.rule == "robot_sos")
                ).all()
                if len(alert_ids) < len(wave):
                    return False
                keys = {escalation_key(a) for a in alert_ids}
                rows = conn.execute(
                    select(NotificationOutbox.idempotency_key, NotificationOutbox.status).where(
                        NotificationOutbox.idempotency_key.in_(keys)
                    )
                ).all()
            return len(rows) == len(keys) and all(s == "sent" for _k, s in rows)

        first, second = uids[: robots // 2], uids[robots // 2 :]
        feed(first, "w1")
        if not wait_until(lambda: escalated(first), 60, interval=0.5):
            pytest.fail(f"wave 1 not escalated:\n{procs[f'worker-{leader}'].log()}")

        os.kill(procs[f"worker-{leader}"].proc.pid, signal.SIGKILL)  # mid-run, no goodbye
        killed = time.monotonic()
        procs[f"worker-{leader}"].proc.wait(10)
        took_over = wait_until(
            lambda: "worker leadership acquired" in procs[f"worker-{follower}"].log(), 30, 0.05
        )
        took = time.monotonic() - killed
        # One interval (1 s) of the follower, plus a pass's time with six processes on 2 cores.
        assert took_over and took <= 10, f"take-over: {took:.1f} s"
        print(f"take-over after SIGKILL: {took:.2f} s")
        feed(second, "w2")
        if not wait_until(lambda: escalated(second), 60, interval=0.5):
            pytest.fail(f"wave 2 not escalated:\n{procs[f'worker-{follower}'].log()}")
        assert holder_pid() == procs[f"worker-{follower}"].proc.pid

        # Nothing lost: every event sent is stored before the processes stop.
        def all_stored() -> bool:
            with engine.connect() as conn:
                return conn.scalar(select(func.count()).select_from(DeviceEvent)) >= len(sent)

        if not wait_until(all_stored, 30, interval=0.2):
            pytest.fail("events missing:\n" + "\n".join(procs[f"bridge-{n}"].log() for n in "ab"))
    finally:
        if probe is not None:
            probe.close()
        for proc in procs.values():
            proc.stop()
        for cid in bridge_ids:
            forget_session(PORT, cid)
        gateway.close()

    with engine.connect() as conn:
        events = Counter(dict(conn.execute(
            select(DeviceEvent.event_uid, func.count()).group_by(DeviceEvent.event_uid)
        ).all()))  # fmt: skip
        alerts = conn.execute(
            select(Alert.id, Alert.dedup_key, Alert.rule, Alert.status, Alert.stage).order_by(
                Alert.dedup_key, Alert.opened_at
            )
        ).all()
        outbox = conn.execute(
            select(NotificationOutbox.idempotency_key, NotificationOutbox.status)
        ).all()
        audit = Counter(
            conn.scalars(select(AuditLog.entity_id).where(AuditLog.action == AUDIT_ACTION)).all()
        )
    # Every event stored exactly once, whatever the path and however often it was sent.
    assert set(events) == set(sent) and set(events.values()) == {1}
    # Each alert opened once: one robot SOS alert per person, and never more than one row of a
    # dedup key still open. (The silence tick's device_silent/no_interaction tickets of a robot
    # that had never reported may close and reopen once when its first event lands during a
    # tick that read the device before that event committed: a race of one tick with ingest,
    # which a single worker has too, closed again by the next tick.)
    sos = Counter(a.dedup_key for a in alerts if a.rule == "robot_sos")
    assert len(sos) == robots and set(sos.values()) == {1}, sos
    still_open = Counter(a.dedup_key for a in alerts if a.status != "closed")
    assert set(still_open.values()) <= {1}, still_open
    # Each escalation once in the outbox, audited once, and every notification delivered.
    keys = Counter(k for k, _s in outbox)
    assert set(keys.values()) == {1}
    lead_keys = {k for k in keys if k.endswith(":escalate:lead")}
    severe = {a.id: a.rule for a in alerts if a.stage == "severe"}
    assert lead_keys == {escalation_key(i) for i in severe}, (lead_keys, severe)
    assert {r for r in severe.values()} >= {"robot_sos"}
    assert audit == Counter({str(i): 1 for i in severe})
    assert {s for _k, s in outbox} == {"sent"}
    assert set(gateway.keys) == set(keys)
    # A worker killed between the gateway's 2xx and marking the row sends that row again on
    # the new leader (documented at-least-once delivery): at most the one row in flight.
    assert sum(c - 1 for c in gateway.keys.values()) <= 1, gateway.keys
    # The follower took over and said so; the killed leader never logged a release.
    follower_log = procs[f"worker-{follower}"].log()
    assert "another worker leads" in follower_log
    assert "worker leadership acquired" in follower_log
    assert "leadership released" not in procs[f"worker-{leader}"].log()
    # The bridges shared the MQTT half: their accepted events add up, none seen twice by both.
    stats = [bridge_stats(procs[f"bridge-{n}"]) for n in "ab"]
    assert all(s[0] > 0 for s in stats), stats
