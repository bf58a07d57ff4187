"""Outbox delivery against a real local HTTP gateway that fails and recovers: no loss, no doubles.

The gateway is ``http.server`` on 127.0.0.1 (a free port) in a thread. It records every request
by idempotency key and, like the SMS/messenger gateways we target, treats a repeated key as the
same message (counted once as delivered).
"""

from __future__ import annotations

import json
import socket
import threading
from collections import Counter
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from sqlalchemy import Engine, insert, select, update
from test_actions_support import T0, add_alert, seed, who

from dashboard.actions import load_routing, perform
from dashboard.actions.routing import Retry
from dashboard.db.schema import NotificationOutbox
from dashboard.notify import (
    LogTransport,
    WebhookTransport,
    backoff_s,
    claim_due,
    deliver_due,
    delivery_status,
    requeue,
    run_notify,
)
from dashboard.notify.channels import Message
from dashboard.settings import Settings

KIM = who("kim")

RETRY = Retry(base_s=10, cap_s=80, jitter=0, lease_s=60, timeout_s=2, batch=100)
TOKEN = "s3cret-token"


def routing_with(retry: Retry = RETRY):
    cfg = load_routing()
    return cfg.model_copy(update={"delivery": cfg.delivery.model_copy(update={"retry": retry})})


class Gateway:
    """A fake SMS gateway: answers with the status codes queued in ``script`` (then 200)."""

    def __init__(self, port: int = 0) -> None:
        self.requests: list[tuple[str, dict, dict]] = []
        self.delivered: Counter[str] = Counter()  # unique messages accepted per key
        self.script: list[int] = []
        # The error reply's body; "{to}" is replaced by the number the request was sent to,
        # as gateways that repeat it in their errors do.
        self.reply = '{{"error": "busy"}}'
        self.lock = threading.Lock()
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("Idempotency-Key")
                with gateway.lock:
                    gateway.requests.append((key, dict(self.headers), body))
                    code = gateway.script.pop(0) if gateway.script else 200
                    if 200 <= code < 300 and not gateway.delivered[key]:
                        gateway.delivered[key] += 1  # a repeated key is the same message
                self.send_response(code)
                self.end_headers()
                error = gateway.reply.format(to=body.get("to", ""))
                self.wfile.write(b'{"ok": true}' if code < 300 else error.encode("utf-8"))

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1/messages"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def per_key(self) -> Counter[str]:
        return Counter(key for key, _, _ in self.requests)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def gateway():
    gw = Gateway()
    yield gw
    gw.stop()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    return db_engine


def production(url: str) -> Settings:
    return Settings(demo=False, notify_webhook_url=url, notify_webhook_token=TOKEN)


def outbox(db: Engine) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(NotificationOutbox.__table__).order_by(NotificationOutbox.id)
        ).all()


def make_notifications(db: Engine, alerts: int = 3) -> set[str]:
    """Field visits and a 119 call: a handful of outbox rows on the webhook channels."""
    keys: set[str] = set()
    for i in range(alerts):
        alert_id = add_alert(db)
        if i == 0:
            r = perform(db, "emergency_119", alert_id, principal=KIM, seen_version=1, now=T0,
                        confirmed=True)  # fmt: skip
        else:
            r = perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
        keys |= set(r.notifications)
    return keys


def deliver(db, now, url, routing=None):
    webhook = WebhookTransport(url, TOKEN, timeout_s=2)
    try:
        return deliver_due(db, now, routing=routing or routing_with(), demo=False,
                           transports={"webhook": webhook, "log": LogTransport()})  # fmt: skip
    finally:
        webhook.close()


def test_gateway_down_then_failing_then_back_loses_nothing_and_doubles_nothing(db):
    keys = make_notifications(db)
    assert len(keys) == 4
    port = free_port()
    url = f"http://127.0.0.1:{port}/v1/messages"

    # 1. Connection refused: the first row is tried, the rest wait with it (no timeout per row).
    report = deliver(db, T0, url)
    assert (report.sent, report.retried, report.released) == (0, 1, 3)
    rows = outbox(db)
    assert all(r.status == "pending" for r in rows)
    assert sorted(r.attempts for r in rows) == [0, 0, 0, 1]
    assert all(r.next_attempt_at == T0 + timedelta(seconds=10) for r in rows)
    assert all("unreachable" in (r.last_error or "") for r in rows)
    # Not due yet: nothing happens before the backoff ends.
    assert deliver(db, T0 + timedelta(seconds=9), url).claimed == 0

    gw = Gateway(port)
    try:
        # 2. The gateway answers 500 twice: still pending, backoff doubling.
        gw.script = [500, 500]
        t1 = T0 + timedelta(seconds=10)
        report = deliver(db, t1, url)
        assert report.sent == 0 and report.retried == 1
        t2 = t1 + timedelta(seconds=20)  # second failure of that row: 10·2 s
        report = deliver(db, t2, url)
        assert report.sent == 0 and report.retried == 1
        assert all(r.status == "pending" for r in outbox(db))

        # 3. It recovers: everything goes out, each message once.
        t3 = t2 + timedelta(seconds=80)
        report = deliver(db, t3, url)
        assert report.sent == 4, report
        rows = outbox(db)
        assert {r.idempotency_key for r in rows if r.status == "sent"} == keys
        assert all(r.sent_at == t3 and r.last_error is None for r in rows)
        assert set(gw.delivered) == keys and set(gw.delivered.values()) == {1}
        # Only the row that met the failures was sent more than once; nothing else repeated.
        assert sorted(gw.per_key().values()) == [1, 1, 1, 3]
        assert deliver(db, t3 + timedelta(hours=1), url).claimed == 0
    finally:
        gw.stop()


def test_the_request_carries_the_key_the_token_and_the_message(db, gateway):
    alert_id = add_alert(db)
    perform(db, "guardian_call", alert_id, principal=KIM, seen_version=1, now=T0)
    assert deliver(db, T0, gateway.url).sent == 1
    [(key, headers, body)] = gateway.requests
    assert key == f"alert{alert_id}:v1:guardian_call:guardian_call" == body["idempotency_key"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["Content-Type"].startswith("application/json")
    assert body["channel"] == "guardian_call" and body["alert_id"] == alert_id
    assert body["to"] == "010-1111-2222"  # resolved at send time, not stored in the outbox
    assert body["message"].startswith("[안부]") and body["attempt"] == 1
    assert "010-1111-2222" not in json.dumps(outbox(db)[0].payload)


def test_a_crash_between_send_and_mark_is_covered_by_the_key(db, gateway):
    keys = make_notifications(db, alerts=1)
    routing = routing_with()
    # A worker claims and sends, then dies before marking the rows sent.
    claimed = claim_due(db, T0, limit=10, lease_s=RETRY.lease_s)
    webhook = WebhookTransport(gateway.url, TOKEN)
    for row in claimed:
        message = Message(row.idempotency_key, row.channel, row.recipient, row.payload,
                          row.alert_id, row.attempts, row.created_at)  # fmt: skip
        assert webhook.send(message).ok
    webhook.close()
    # Within the lease nobody touches them; after it, another worker sends them again.
    assert deliver(db, T0 + timedelta(seconds=59), gateway.url, routing).claimed == 0
    report = deliver(db, T0 + timedelta(seconds=60), gateway.url, routing)
    assert report.sent == len(keys) == 2
    assert all(n == 2 for n in gateway.per_key().values())  # sent twice …
    assert set(gateway.delivered.values()) == {1}  # … delivered once, by the gateway's key
    assert all(r.status == "sent" and r.attempts == 2 for r in outbox(db))


def test_several_workers_never_send_the_same_row(db, gateway):
    keys = set()
    for _ in range(12):
        keys |= make_notifications(db, alerts=1)
    errors: list = []
    barrier = threading.Barrier(4)

    def worker() -> None:
        barrier.wait()
        try:
            deliver(db, T0, gateway.url, routing_with(RETRY.model_copy(update={"batch": 7})))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    # Whatever the first pass left (batch limits), a second pass finishes.
    deliver(db, T0, gateway.url)
    assert set(gateway.per_key()) == keys and set(gateway.per_key().values()) == {1}
    assert all(r.status == "sent" and r.attempts == 1 for r in outbox(db))


def test_a_refused_request_fails_visibly_and_can_be_requeued(db, gateway):
    alert_id = add_alert(db)
    perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
    gateway.script = [422]
    report = deliver(db, T0, gateway.url)
    assert report.failed == 1
    [row] = outbox(db)
    assert row.status == "failed" and "HTTP 422" in row.last_error
    with db.connect() as conn:
        status = delivery_status(conn, alert_id, T0)
    assert list(status["state"]) == ["failed"]
    assert deliver(db, T0 + timedelta(hours=1), gateway.url).claimed == 0  # not retried alone
    with db.begin() as conn:
        assert requeue(conn, row.id, T0 + timedelta(hours=1))
    assert deliver(db, T0 + timedelta(hours=1), gateway.url).sent == 1
    assert outbox(db)[0].status == "sent"


@pytest.mark.parametrize("code", [401, 404, 408, 429, 502, 503])
def test_errors_someone_can_fix_are_retried_not_dropped(db, gateway, code):
    alert_id = add_alert(db)
    perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
    gateway.script = [code]
    assert deliver(db, T0, gateway.url).retried == 1
    [row] = outbox(db)
    assert row.status == "pending" and f"HTTP {code}" in row.last_error
    with db.connect() as conn:
        assert list(delivery_status(conn, alert_id, T0)["state"]) == ["delayed"]
    assert deliver(db, T0 + timedelta(seconds=10), gateway.url).sent == 1


@pytest.mark.parametrize("code", [422, 503])
def test_a_gateway_reply_repeating_the_guardians_phone_is_stored_and_logged_masked(
    db, gateway, caplog, code
):
    """The guardian's phone is looked up at delivery and never stored; a gateway that repeats it
    in its error reply must not leave it in ``last_error`` (shown on the alert page) or the log."""
    alert_id = add_alert(db)
    perform(db, "guardian_call", alert_id, principal=KIM, seen_version=1, now=T0)
    gateway.script = [code]
    gateway.reply = '{{"error": "수신 거부 번호", "to": "{to}", "intl": "+82 10-1111-2222"}}'
    with caplog.at_level("WARNING", logger="anbu.notify"):
        deliver(db, T0, gateway.url)
    [row] = outbox(db)
    assert row.status == ("failed" if code == 422 else "pending")
    assert row.last_error == (
        f'HTTP {code}: {{"error": "수신 거부 번호", "to": "***-****-****", '
        '"intl": "+** **-****-****"}'
    )
    assert "2222" not in caplog.text and "***-****-****" in caplog.text
    with db.connect() as conn:
        assert "2222" not in str(delivery_status(conn, alert_id, T0).to_dict("records"))


def test_a_number_cut_by_the_length_limit_is_masked_before_the_cut(db, gateway):
    alert_id = add_alert(db)
    perform(db, "guardian_call", alert_id, principal=KIM, seen_version=1, now=T0)
    gateway.script = [422]
    # The reply is cut at 200 characters, in the middle of the number.
    gateway.reply = "x" * 190 + " to {to}"
    deliver(db, T0, gateway.url)
    [row] = outbox(db)
    assert row.last_error.endswith(" to ***-**") and "010-11" not in row.last_error


def test_backoff_is_exponential_capped_and_deterministic():
    assert [backoff_s(n, "k", RETRY) for n in range(1, 7)] == [10, 20, 40, 80, 80, 80]
    jittery = RETRY.model_copy(update={"jitter": 0.2})
    a = [backoff_s(n, "alert1:v1:x", jittery) for n in range(1, 30)]
    assert a == [backoff_s(n, "alert1:v1:x", jittery) for n in range(1, 30)]
    assert all(10 <= d <= 80 * 1.2 for d in a)
    assert backoff_s(1, "alert1:v1:x", jittery) != backoff_s(1, "alert2:v1:x", jittery)


def test_demo_mode_logs_everything_and_auto_call_goes_to_the_log(db, caplog):
    alert_id = add_alert(db)
    perform(db, "ai_recall", alert_id, principal=KIM, seen_version=1, now=T0)
    perform(db, "field_visit", alert_id, principal=KIM, seen_version=2, now=T0)
    log = LogTransport()
    summary = run_notify(db, T0, settings=Settings(demo=True, notify_webhook_url=""),
                         routing=routing_with(), transports={"log": log})  # fmt: skip
    assert summary.delivery.sent == 2
    assert sorted(m.channel for m in log.sent) == ["auto_call", "field_visit"]
    assert all(r.status == "sent" for r in outbox(db))


def test_auto_call_rows_written_by_the_rules_are_delivered_too(db):
    alert_id = add_alert(db, rule="call_no_activity")
    with db.begin() as conn:  # the shape dashboard.rules.lifecycle writes
        conn.execute(insert(NotificationOutbox), {
            "idempotency_key": f"auto_call:1:alert{alert_id}", "alert_id": alert_id,
            "channel": "auto_call", "recipient": "device:1",
            "payload": {"rule": "call_no_activity", "alert_id": alert_id, "attempt": 1},
            "status": "pending", "attempts": 0, "next_attempt_at": T0, "created_at": T0,
        })  # fmt: skip
    log = LogTransport()
    run_notify(db, T0, settings=Settings(demo=True), routing=routing_with(),
               transports={"log": log})  # fmt: skip
    assert [m.idempotency_key for m in log.sent] == [f"auto_call:1:alert{alert_id}"]


def test_production_without_a_webhook_url_keeps_rows_waiting_and_says_so(db):
    make_notifications(db, alerts=1)
    summary = run_notify(db, T0, settings=Settings(demo=False, notify_webhook_url=""),
                         routing=routing_with(), transports=None)  # fmt: skip
    assert summary.delivery.sent == 0 and summary.delivery.released == 2
    assert any("webhook" in e for e in summary.delivery.errors)
    rows = outbox(db)
    assert all(r.status == "pending" and r.attempts == 0 for r in rows)
    assert all("not configured" in r.last_error for r in rows)


def test_a_server_database_never_uses_the_demo_transports_by_default(db):
    """ANBU_DEMO unset on a server database is production: nothing goes to the log as sent."""
    make_notifications(db, alerts=1)
    log = LogTransport()
    server = Settings(database_url="postgresql+psycopg://anbu@db.example/anbu")
    summary = run_notify(db, T0, settings=server, routing=routing_with(),
                         transports={"log": log})  # fmt: skip
    assert log.sent == [] and summary.delivery.sent == 0
    assert all(r.status == "pending" for r in outbox(db))


def test_delivery_status_lists_an_alerts_rows_in_order(db, gateway):
    alert_id = add_alert(db, stage="severe")
    perform(db, "emergency_119", alert_id, principal=KIM, seen_version=1, now=T0, confirmed=True)
    with db.begin() as conn:  # the lead's row is due later: queued, not yet tried
        conn.execute(
            update(NotificationOutbox)
            .where(NotificationOutbox.channel == "lead")
            .values(next_attempt_at=T0 + timedelta(minutes=1))
        )
    deliver(db, T0, gateway.url)
    with db.connect() as conn:
        df = delivery_status(conn, alert_id, T0)
        empty = delivery_status(conn, 999, T0)
    assert list(df["channel"]) == ["emergency_119", "lead"]
    assert list(df["state"]) == ["sent", "queued"]
    assert str(df["sent_at"].dt.tz) == "UTC" and df["sent_at"].iloc[0] == T0
    assert empty.empty and list(empty.columns) == list(df.columns)


def test_per_key_counts_are_what_the_gateway_saw(gateway):
    # Guard for the fake itself: a repeated key is counted as one delivered message.
    webhook = WebhookTransport(gateway.url)
    msg = Message("k1", "lead", "lead:on_duty", {"message": "x"}, None, 1, T0)
    assert webhook.send(msg).ok and webhook.send(msg).ok
    webhook.close()
    assert gateway.per_key() == Counter({"k1": 2}) and gateway.delivered == Counter({"k1": 1})
