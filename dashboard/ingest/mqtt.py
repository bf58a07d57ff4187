"""MQTT bridge: ``<root>/<vendor>/events`` messages go through the same ingest function.

Vendor identity comes from the topic, so the broker's ACLs are what authenticate a vendor:
each vendor's MQTT user may publish only to its own ``anbu/<vendor>/events`` (see
docs/ingest-api.md). The bridge subscribes with QoS 1 on a persistent session and acknowledges
a message only after its batch is committed, so a crash or a database outage loses nothing: the
broker redelivers, and ``event_id`` makes redelivery harmless. A message that cannot be processed
(malformed, or failing to store for a reason other than an outage) is kept as a dead letter
(``dashboard.ingest.deadletters``) and then acknowledged: unacknowledged, it would come back
forever and, with a handful more, fill the broker's in-flight window for every vendor.

Any number of bridges may run (each with its own client id): by default they subscribe through
the shared subscription ``$share/<group>/<root>/+/events`` (MQTT 5, and Mosquitto's v3.1.1
support for it), so the broker hands each message to one bridge of the group. Adding a bridge adds
capacity, and no message is processed twice (a redelivery after a crash is a duplicate that
``event_id`` absorbs).

Each processed message gets a reply on ``<root>/<vendor>/results`` (the HTTP reply's JSON, or
``{"error": ...}`` for a message kept as a dead letter), since MQTT has no response of its own.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from dataclasses import asdict, dataclass
from urllib.parse import unquote, urlsplit

import paho.mqtt.client as mqtt
from sqlalchemy import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from dashboard.clock import now as system_now
from dashboard.ingest.apikeys import check_vendor
from dashboard.ingest.core import (
    Clock,
    IngestResult,
    ingest_events,
    tune_engine_for_ingest,
)
from dashboard.ingest.deadletters import record_message, record_rejections
from dashboard.ingest.metrics import BridgeMetrics
from dashboard.ingest.payload import PayloadError, decode_batch
from dashboard.ops.logs import configure_logging, new_request_id, request_context
from dashboard.rules.config import RulesConfigError

log = logging.getLogger(__name__)

DEFAULT_ROOT = "anbu"
DEFAULT_SHARE_GROUP = "anbu"  # the bridges' shared subscription group; "" subscribes directly
RECONNECT_MIN_S, RECONNECT_MAX_S = 1, 30
DB_RETRY_MAX_S = 30.0
STATS_EVERY_S = 60.0
# Errors that say "the database (or the rules) cannot work now", not "this message is bad"
# (a pool timeout: every pooled connection busy).
OUTAGE = (OperationalError, InterfaceError, PoolTimeout, RulesConfigError)
UNPROCESSABLE_AFTER = 3  # attempts before any other error makes the message a dead letter
# Mosquitto drops a QoS 1 message for a subscriber whose queue is full (max_queued_messages,
# 1,000 by default: a bridge away or behind for longer loses the rest) and says so only here.
BROKER_DROPPED_TOPIC = "$SYS/broker/publish/messages/dropped"


@dataclass
class BridgeStats:
    messages: int = 0
    malformed: int = 0
    accepted: int = 0
    duplicates: int = 0
    rejected: int = 0
    unprocessable: int = 0  # whole messages that validated but could not be stored
    dead_letters: int = 0
    db_errors: int = 0

    def line(self) -> str:
        return " ".join(f"{k}={v}" for k, v in asdict(self).items())


@dataclass(frozen=True)
class BrokerUrl:
    host: str
    port: int
    username: str | None
    password: str | None


def parse_url(url: str) -> BrokerUrl:
    parts = urlsplit(url)
    if parts.scheme != "mqtt" or not parts.hostname:
        raise ValueError(f"broker URL {url!r}: expected mqtt://[user:password@]host[:port]")
    return BrokerUrl(
        parts.hostname,
        parts.port or 1883,
        unquote(parts.username) if parts.username else None,
        unquote(parts.password) if parts.password else None,
    )


class Bridge:
    """Subscribes, ingests each message in its own transaction, acknowledges after commit."""

    def __init__(
        self,
        engine: Engine,
        url: str,
        *,
        client_id: str = "anbu-ingest-bridge",
        root: str = DEFAULT_ROOT,
        share_group: str = DEFAULT_SHARE_GROUP,
        clock: Clock = system_now,
    ) -> None:
        self.engine, self.clock, self.root = tune_engine_for_ingest(engine), clock, root
        self.share_group = check_share_group(share_group)
        self.broker = parse_url(url)
        self.stats = BridgeStats()
        self.metrics = BridgeMetrics()
        self.broker_dropped: int | None = None  # the broker's count when last reported
        self.stopping = threading.Event()
        self.client = mqtt.Client(
            mqtt.CallbackAPIVersion.VERSION2,
            client_id=client_id,
            clean_session=False,  # the broker queues QoS 1 messages while we are away
            manual_ack=True,
        )
        if self.broker.username:
            self.client.username_pw_set(self.broker.username, self.broker.password)
        self.client.reconnect_delay_set(RECONNECT_MIN_S, RECONNECT_MAX_S)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message

    @property
    def topic(self) -> str:
        return f"{self.root}/+/events"

    @property
    def subscription(self) -> str:
        """The topic filter subscribed to: shared among the group's bridges unless disabled."""
        if not self.share_group:
            return self.topic
        return f"$share/{self.share_group}/{self.topic}"

    def handle(self, topic: str, payload: bytes) -> dict | None:
        """Process one message; returns the reply, or None when it must be redelivered.

        A message that cannot be processed is kept as a dead letter and answered (so it is
        acknowledged); only a database outage or a broken rules file leaves it unacknowledged.
        """
        self.stats.messages += 1
        vendor: str | None = None
        levels = topic.split("/")
        try:
            if len(levels) != 3:
                raise PayloadError(f"topic {topic!r} is not {self.topic}")
            vendor = check_vendor(levels[1])
        except ValueError as exc:
            self.metrics.received.labels(vendor=vendor or "unknown").inc()
            self.stats.malformed += 1
            return self._reject(topic, vendor, payload, str(exc))
        self.metrics.received.labels(vendor=vendor).inc()
        try:
            events = decode_batch(payload)
        except ValueError as exc:  # PayloadError
            self.stats.malformed += 1
            return self._reject(topic, vendor, payload, str(exc))
        except Exception as exc:  # a parser crash is the message's problem, not the bridge's
            self.stats.malformed += 1
            log.exception("unreadable message on %s", topic)
            return self._reject(topic, vendor, payload, f"unreadable ({type(exc).__name__})")
        outcome = self._ingest_with_retry(vendor, topic, events)
        if outcome is None:
            self.metrics.message(vendor, "retried")
            return None
        if isinstance(outcome, str):
            self.stats.unprocessable += 1
            return self._reject(topic, vendor, payload, outcome)
        result, kept = outcome
        self.stats.accepted += result.accepted
        self.stats.duplicates += result.duplicates
        self.stats.rejected += len(result.rejected)
        self.stats.dead_letters += kept
        self.metrics.message(vendor, "stored")
        self.metrics.batch(vendor, result, kept)
        return {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [{"index": i, "reason": r} for i, r in result.rejected],
            "timezone": result.timezone,
            "naive_ts": result.naive_ts,
            "clock_corrected": [{"index": i, "reason": r} for i, r in result.clock_corrected],
        }

    def _ingest_with_retry(
        self, vendor: str, topic: str, events: list
    ) -> tuple[IngestResult, int] | str | None:
        """(result, dead letters kept), or why the message is unprocessable, or None to stop."""
        delay, failures = 0.5, 0
        while True:
            try:
                with self.engine.begin() as conn:
                    now = self.clock()
                    result = ingest_events(conn, vendor, events, now=now)
                    kept = record_rejections(
                        conn,
                        source="mqtt",
                        vendor=vendor,
                        topic=topic,
                        events=events,
                        rejected=result.rejected,
                        now=now,
                    )
                    return result, kept
            except OUTAGE as exc:
                # Database down or busy, or data/rules.toml broken: wait and retry; the message
                # stays unacknowledged until it is stored and evaluated.
                self.stats.db_errors += 1
                self.metrics.db_errors.inc()
                log.error("cannot ingest, retrying in %.1f s: %s", delay, exc)
            except Exception as exc:  # anything else is about this message
                # Retried a few times in case it was a passing conflict, then given up on:
                # one message must not hold up every vendor behind it.
                failures += 1
                if failures >= UNPROCESSABLE_AFTER:
                    log.exception("message on %s cannot be ingested", topic)
                    return f"could not be ingested ({type(exc).__name__}: {str(exc)[:200]})"
                log.warning("ingest failed (attempt %d), retrying: %r", failures, exc)
            if self.stopping.wait(delay):
                return None
            delay = min(delay * 2, DB_RETRY_MAX_S)

    def _reject(self, topic: str, vendor: str | None, payload: bytes, reason: str):
        """Keep the whole message as a dead letter and count it (see ``_dead_letter``)."""
        reply = self._dead_letter(topic, vendor, payload, reason)
        self.metrics.message(vendor, "rejected" if reply is not None else "retried")
        return reply

    def _dead_letter(self, topic: str, vendor: str | None, payload: bytes, reason: str):
        """Keep the message, then answer it (so it is acknowledged); None while the database
        cannot take it (then it stays unacknowledged and is redelivered)."""
        delay = 0.5
        while True:
            try:
                with self.engine.begin() as conn:
                    record_message(
                        conn,
                        source="mqtt",
                        vendor=vendor,
                        topic=topic,
                        reason=reason,
                        payload=payload,
                        now=self.clock(),
                    )
                self.stats.dead_letters += 1
                self.metrics.dead_letters.labels(vendor=vendor or "unknown").inc()
                return {"error": reason}
            except Exception as exc:  # any failure to keep it means: do not ack
                self.stats.db_errors += 1
                self.metrics.db_errors.inc()
                log.error("cannot keep a dead letter, retrying in %.1f s: %s", delay, exc)
            if self.stopping.wait(delay):
                return None
            delay = min(delay * 2, DB_RETRY_MAX_S)

    def _on_connect(self, client, _userdata, _flags, reason_code, _properties) -> None:
        if reason_code.is_failure:
            log.error("broker refused the connection: %s", reason_code)
            return
        log.info(
            "connected to %s:%d, subscribing to %s",
            self.broker.host,
            self.broker.port,
            self.subscription,
        )
        self.metrics.connected.set(1)
        client.subscribe([(self.subscription, 1), (BROKER_DROPPED_TOPIC, 0)])

    def _on_disconnect(self, _client, _userdata, _flags, reason_code, _properties) -> None:
        self.metrics.connected.set(0)
        if not self.stopping.is_set():
            log.warning("disconnected from the broker (%s); reconnecting", reason_code)

    def _on_message(self, client, _userdata, message) -> None:
        if message.topic == BROKER_DROPPED_TOPIC:  # QoS 0: nothing to acknowledge
            self.broker_dropped_report(message.payload)
            return
        with request_context(new_request_id("mqtt-")):  # every line about this message
            self._process(client, message)

    def _process(self, client, message) -> None:
        try:
            reply = self.handle(message.topic, message.payload)
        except Exception:  # a bug must not kill paho's thread; the message is redelivered
            log.exception("unexpected error on a message from %s", message.topic)
            return
        if reply is None:
            return
        client.ack(message.mid, message.qos)
        vendor_level = message.topic.split("/")
        if len(vendor_level) == 3 and "+" not in vendor_level[1] and "#" not in vendor_level[1]:
            client.publish(f"{self.root}/{vendor_level[1]}/results", json.dumps(reply), qos=1)

    def broker_dropped_report(self, payload: bytes) -> None:
        """Mosquitto's count of messages it dropped since it started (a client's queue was
        full): logged when it grows, so lost events are never silent, and kept as a gauge.

        The count is the broker's, over all its clients: a vendor's own subscriber may fill
        its queue too. Only the broker's log says whose (``Outgoing messages are being dropped
        for client ...``); the bridge cannot tell, so it says what to check.
        """
        try:
            count = int(payload)
        except ValueError:
            return
        self.metrics.broker_dropped.set(count)
        previous, self.broker_dropped = self.broker_dropped, count
        if previous is None:  # first report since the bridge connected
            if count:
                log.warning(
                    "the MQTT broker has dropped %d message(s) since it started (%s): if any "
                    "were this bridge's, their events were lost; see docs/ingest-api.md#mqtt",
                    count,
                    BROKER_DROPPED_TOPIC,
                )
            return
        new = count - previous if count >= previous else count  # lower: the broker restarted
        if new > 0:
            log.error(
                "the MQTT broker dropped %d message(s) (%d since it started): a client's queue "
                "was full; if it was this bridge's (the broker's log names the client), their "
                "events were lost: raise max_queued_messages or add bridges "
                "(docs/ingest-api.md#mqtt)",
                new,
                count,
            )

    def run(self) -> int:
        """Run until ``stop()`` (or SIGTERM/SIGINT via ``run_bridge``); returns an exit code."""
        self.client.connect_async(self.broker.host, self.broker.port, keepalive=30)
        self.client.loop_start()  # paho's thread: connects, reconnects with backoff, dispatches
        next_stats = time.monotonic() + STATS_EVERY_S
        # Poll rather than wait on the Event: a signal handler sets it in this thread, and must
        # never find this thread holding the Event's lock.
        while not self.stopping.is_set():
            time.sleep(0.2)
            if time.monotonic() >= next_stats:
                log.info("bridge stats: %s", self.stats.line())
                next_stats += STATS_EVERY_S
        self.client.disconnect()
        self.client.loop_stop()
        log.info("bridge stopped; stats: %s", self.stats.line())
        return 0

    def stop(self) -> None:
        self.stopping.set()


def check_share_group(group: str) -> str:
    """A shared subscription group name: one topic level, no wildcards ("" = not shared)."""
    group = group.strip()
    if any(c in group for c in "/+#") or "\x00" in group:
        raise ValueError(
            f"MQTT share group {group!r}: one topic level without '/', '+' or '#' "
            "(empty: subscribe without sharing)"
        )
    return group


def run_bridge(
    engine: Engine,
    url: str,
    *,
    client_id: str,
    root: str = DEFAULT_ROOT,
    share_group: str = DEFAULT_SHARE_GROUP,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> int:
    """The ``mqtt-bridge`` command: run in the foreground, stop cleanly on SIGTERM or Ctrl-C;
    with ``metrics_port``, serve Prometheus metrics there."""
    from dashboard.ops.metrics import serve_metrics

    configure_logging()
    try:
        bridge = Bridge(engine, url, client_id=client_id, root=root, share_group=share_group)
    except ValueError as exc:
        log.error("%s", exc)
        return 2
    if metrics_port is not None:
        try:
            serve_metrics(bridge.metrics.registry, metrics_port, metrics_host)
        except OSError as exc:  # port taken, address not local
            log.error("metrics port %d on %s: %s", metrics_port, metrics_host, exc)
            return 2
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: bridge.stop())
    return bridge.run()
