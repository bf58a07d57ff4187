"""The MQTT bridge end to end: a real broker, the bridge as a real process, a real database.

Each test uses its own topic root and client ids, so parallel runs on one broker do not mix.
"""

from __future__ import annotations

import json
import queue
import shutil
import socket
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta

import paho.mqtt.client as mqtt
import pytest
from sqlalchemy import select

from dashboard.db.engine import make_engine
from dashboard.db.schema import DeviceEvent, metadata
from tests.conftest import missing_service
from tests.ingest_support import VENDOR, seed_catalog
from tests.integration.servers import Process, free_port
from tests.waiting import wait_until

pytestmark = pytest.mark.mqtt
HOST, PORT = "127.0.0.1", 1883
SYNC_VENDOR = "probe-sync"  # the probe's "are you there?" batches go to this vendor's topic


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def is_sync_reply(topic: str) -> bool:
    return topic.split("/")[1] == SYNC_VENDOR


class Probe:
    """A vendor-side client: publishes batches and collects the bridge's replies.

    To learn that the bridge is listening it publishes empty batches as vendor ``SYNC_VENDOR``
    until one is answered; ``reply`` skips the answers on that vendor's topic, however late they
    come, so no test waits a guessed time for them to stop.
    """

    def __init__(self, port: int, root: str) -> None:
        self.root = root
        self.replies: queue.Queue = queue.Queue()
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=f"probe-{root}")
        self.subscribed = threading.Event()
        self.client.on_connect = lambda c, *_: c.subscribe(f"{root}/+/results", qos=1)
        self.client.on_subscribe = lambda *_: self.subscribed.set()
        self.client.on_disconnect = lambda *_: self.subscribed.clear()
        self.client.on_message = lambda _c, _u, m: self.replies.put(
            (m.topic, json.loads(m.payload))
        )
        self.client.reconnect_delay_set(1, 2)
        self.client.connect(HOST, port)
        self.client.loop_start()
        assert self.subscribed.wait(10), "probe could not subscribe"

    def publish(self, payload: bytes | dict, vendor: str = VENDOR) -> None:
        if isinstance(payload, dict):
            payload = json.dumps(payload).encode()
        info = self.client.publish(f"{self.root}/{vendor}/events", payload, qos=1)
        info.wait_for_publish(timeout=10)

    def reply(self, timeout: float = 20) -> tuple[str, dict]:
        """The next answer to a batch a test published (answers to sync batches are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            topic, reply = self.replies.get(timeout=max(0.0, deadline - time.monotonic()))
            if not is_sync_reply(topic):
                return topic, reply

    def wait_for_bridge(self, process: Process, timeout: float = 30) -> None:
        """Publish sync batches until the bridge answers one: then it is subscribed."""

        def answered() -> bool:
            if process.proc.poll() is not None:
                pytest.fail(f"bridge exited early:\n{process.log()}")
            if not self.subscribed.wait(0.5):
                return False  # the probe is itself reconnecting
            try:
                self.publish({"events": []}, vendor=SYNC_VENDOR)
            except RuntimeError:  # not connected at this instant
                return False
            try:
                topic, reply = self.replies.get(timeout=0.5)
            except queue.Empty:
                return False
            if not is_sync_reply(topic):
                pytest.fail(f"unexpected reply on {topic} before any batch: {reply}")
            return True

        if not wait_until(answered, timeout, interval=0):
            pytest.fail(f"the bridge never answered:\n{process.log()}")

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


def forget_session(port: int, client_id: str) -> None:
    """Drop the bridge's persistent session so the broker does not queue for it forever."""
    client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()  # the broker has dropped the old session
    try:
        client.connect(HOST, port)
        client.loop_start()
        connected.wait(10)
        client.disconnect()
        client.loop_stop()
    except OSError:
        pass


def events(*ids: str, device: str = "robot-1") -> dict:
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    return {
        "events": [
            {"event_id": i, "device_id": device, "ts": ts, "type": "interaction"} for i in ids
        ]
    }


def stored_ids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.scalars(select(DeviceEvent.event_uid)))


@pytest.fixture
def database(db_url):
    engine = make_engine(db_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    yield db_url, engine
    engine.dispose()


def start_bridge(db_url: str, port: int, root: str, client_id: str, log_path) -> Process:
    return Process(
        ["mqtt-bridge", "--url", f"mqtt://{HOST}:{port}", "--client-id", client_id, "--root", root],
        db_url,
        log_path,
    )


def test_malformed_messages_do_not_stop_the_bridge_and_valid_ones_land(database, tmp_path):
    if not reachable(HOST, PORT):
        missing_service(f"no MQTT broker at {HOST}:{PORT}")
    db_url, engine = database
    root, client_id = f"t{uuid.uuid4().hex[:10]}", f"bridge-{uuid.uuid4().hex[:10]}"
    bridge = start_bridge(db_url, PORT, root, client_id, tmp_path / "bridge.log")
    probe = Probe(PORT, root)
    try:
        probe.wait_for_bridge(bridge)
        probe.publish(b"{this is not json")
        assert "not valid JSON" in probe.reply()[1]["error"]
        probe.publish({"events": "nope"})
        assert "'events' must be a list" in probe.reply()[1]["error"]
        probe.publish(events("m1", "m2"))
        topic, reply = probe.reply()
        assert topic == f"{root}/{VENDOR}/results"
        assert reply == {
            "accepted": 2,
            "duplicates": 0,
            "rejected": [],
            "timezone": "Asia/Seoul",
            "naive_ts": 0,
            "clock_corrected": [],
        }
        probe.publish({"events": events("m2")["events"] + events("m3", device="ghost")["events"]})
        reply = probe.reply()[1]
        assert (reply["accepted"], reply["duplicates"]) == (0, 1)
        assert reply["rejected"] == [{"index": 1, "reason": "device_id: unknown device 'ghost'"}]
        assert stored_ids(engine) == {"m1", "m2"}
        assert bridge.proc.poll() is None
    finally:
        probe.close()
        code = bridge.stop()
        forget_session(PORT, client_id)
    log = bridge.log()
    assert code == 0, log  # SIGTERM is a clean stop
    assert "dead letter: source=mqtt" in log
    assert "bridge stopped; stats: messages=" in log and "malformed=2" in log


@pytest.fixture
def private_broker(tmp_path):
    """A broker of our own that the test may stop and restart."""
    binary = shutil.which("mosquitto")
    if binary is None:
        missing_service("mosquitto is not installed (needed to restart a broker)")
    port = free_port()

    def start() -> subprocess.Popen:
        proc = subprocess.Popen(
            [binary, "-p", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        if wait_until(lambda: reachable(HOST, port), timeout=10):
            return proc
        proc.kill()
        pytest.fail("private mosquitto did not start")

    procs = [start()]
    yield port, procs, start
    for proc in procs:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(5)


def test_the_bridge_reconnects_after_a_broker_restart(sqlite_url, private_broker, tmp_path):
    port, procs, start = private_broker
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    root = f"t{uuid.uuid4().hex[:10]}"
    bridge = start_bridge(sqlite_url, port, root, f"bridge-{root}", tmp_path / "bridge.log")
    probe = Probe(port, root)
    try:
        probe.wait_for_bridge(bridge)
        probe.publish(events("before"))
        probe.reply()
        procs[0].terminate()
        procs[0].wait(5)
        # Restart only once the bridge has seen the broker go, so it truly reconnects.
        if not wait_until(lambda: "reconnecting" in bridge.log(), timeout=30):
            pytest.fail(f"the bridge did not notice the broker stop:\n{bridge.log()}")
        procs.append(start())
        probe.wait_for_bridge(bridge, timeout=60)  # the probe reconnects too
        probe.publish(events("after"))
        assert probe.reply()[1]["accepted"] == 1
        assert stored_ids(engine) == {"before", "after"}
    finally:
        probe.close()
        code = bridge.stop()
        engine.dispose()
    assert code == 0
    assert "reconnecting" in bridge.log()


def poison(i: int) -> bytes:
    """Messages that used to stay unacknowledged (and, 20 of them, stop the bridge)."""
    ts = (datetime.now(UTC) - timedelta(seconds=5)).isoformat()
    kinds = [
        b'{"events": ' + b"[" * 1000 + b"]" * 1000 + b"}",
        json.dumps(
            {
                "events": [
                    {
                        "event_id": f"p{i}",
                        "device_id": "robot-1",
                        "ts": "0001-01-01T00:00:00+14:00",
                        "type": "interaction",
                    }
                ]
            }
        ).encode(),
        b'{"events": [{"event_id": "q%d", "device_id": "plug-1", "ts": "%s", "type": "power", '
        b'"watts": %s}]}' % (i, ts.encode(), b"7" * 4301),
        b"\xff{not json",
    ]
    return kinds[i % len(kinds)]


def wait_for(check, what: str, process: Process, timeout: float = 30) -> float:
    """Poll until ``check()``; returns the seconds it took."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if check():
            return time.monotonic() - start
        if process.proc.poll() is not None:
            pytest.fail(f"bridge exited while waiting for {what}:\n{process.log()}")
        time.sleep(0.1)
    pytest.fail(f"{what} not within {timeout} s:\n{process.log()}")


def dead_letter_count(engine) -> int:
    from sqlalchemy import func

    from dashboard.db.schema import DeadLetter

    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(DeadLetter))


def test_poison_messages_are_dead_letters_and_never_stop_ingestion(database, tmp_path):
    """25 unprocessable messages, then a valid one: stored within seconds, with the bridge
    running and after a restart with the poison queued by the broker while it was down."""
    if not reachable(HOST, PORT):
        missing_service(f"no MQTT broker at {HOST}:{PORT}")
    db_url, engine = database
    root, client_id = f"t{uuid.uuid4().hex[:10]}", f"bridge-{uuid.uuid4().hex[:10]}"
    bridge = start_bridge(db_url, PORT, root, client_id, tmp_path / "bridge.log")
    probe = Probe(PORT, root)
    try:
        probe.wait_for_bridge(bridge)
        for i in range(25):
            probe.publish(poison(i))
        probe.publish(events("live"))
        wait_for(lambda: "live" in stored_ids(engine), "the valid event", bridge)
        wait_for(lambda: dead_letter_count(engine) == 25, "25 dead letters", bridge)

        assert bridge.stop() == 0
        for i in range(25):  # queued by the broker for the bridge's persistent session
            probe.publish(poison(100 + i))
        probe.publish(events("after-restart"))
        bridge = start_bridge(db_url, PORT, root, client_id, tmp_path / "bridge2.log")
        wait_for(lambda: "after-restart" in stored_ids(engine), "the queued valid event", bridge)
        # At least once: a poison message the first bridge kept but whose acknowledgement had
        # not reached the broker when it stopped comes back and is kept again (seen in CI,
        # 2026-12-06: 31 kept by the second bridge); none may be lost.
        wait_for(lambda: dead_letter_count(engine) >= 50, "50 dead letters", bridge)
        assert stored_ids(engine) == {"live", "after-restart"}
    finally:
        probe.close()
        code = bridge.stop()
        forget_session(PORT, client_id)
    assert code == 0
    assert "dead letter: source=mqtt vendor=acme" in bridge.log()


@pytest.fixture
def small_queue_broker(tmp_path):
    """A broker of our own that queues at most 5 messages per client (Mosquitto's default is
    1,000) and reports its counters every second."""
    binary = shutil.which("mosquitto")
    if binary is None:
        missing_service("mosquitto is not installed (needed for a broker with a small queue)")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(
        f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
        "max_queued_messages 5\nsys_interval 1\n"
    )
    proc = subprocess.Popen(
        [binary, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    if not wait_until(lambda: reachable(HOST, port), timeout=10):
        proc.kill()
        pytest.fail("mosquitto with a small queue did not start")
    yield port
    proc.terminate()
    proc.wait(5)


def test_messages_the_broker_drops_are_never_silent(sqlite_url, small_queue_broker, tmp_path):
    """Mosquitto keeps ``max_queued_messages`` per client and drops the rest; only its $SYS
    counter says so. Messages dropped while the bridge was stopped are reported when it
    returns, those dropped while it runs at once, as an error naming the setting. Before, 500
    of 1,500 messages published while a bridge was stopped (the default queue of 1,000)
    vanished without a line in any Anbu log."""
    port = small_queue_broker
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    root = f"t{uuid.uuid4().hex[:10]}"
    client_id = f"bridge-{root}"
    bridge = start_bridge(sqlite_url, port, root, client_id, tmp_path / "bridge.log")
    probe = Probe(port, root)
    try:
        probe.wait_for_bridge(bridge)
        assert bridge.stop() == 0
        for i in range(20):  # 5 queued for the stopped bridge's session, 15 dropped
            probe.publish(events(f"away-{i}"))
        bridge = start_bridge(sqlite_url, port, root, client_id, tmp_path / "bridge2.log")
        wait_for(lambda: "has dropped" in bridge.log(), "the report of the drops", bridge)
        for i in range(100):  # far faster than the bridge stores them: more drops
            probe.client.publish(f"{root}/{VENDOR}/events", json.dumps(events(f"busy-{i}")), 1)
        wait_for(lambda: "ERROR" in bridge.log(), "the error about the new drops", bridge)
    finally:
        probe.close()
        code = bridge.stop()
        engine.dispose()
    assert code == 0
    log = bridge.log()
    assert "raise max_queued_messages" in log and "docs/ingest-api.md#mqtt" in log
    assert 0 < len(stored_ids(engine)) < 120  # some of each burst were stored, some dropped
