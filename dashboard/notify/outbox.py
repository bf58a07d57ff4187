"""Deliver due outbox rows: claim safely, send, mark; retry with capped exponential backoff.

Guarantees, with any number of workers:

* **No loss.** A row leaves ``pending`` only as ``sent`` (after a 2xx) or ``failed`` (the gateway
  refused the request itself: 400/413/422). Transient errors retry for ever, backoff capped.
* **No double send by us.** A claim moves ``next_attempt_at`` a lease ahead and bumps
  ``attempts`` in one conditional write (PostgreSQL: ``FOR UPDATE SKIP LOCKED``; SQLite: the
  ``UPDATE … WHERE attempts = :seen`` claim), so one worker holds a row at a time.
* **A crash between send and mark** re-sends after the lease with the same ``Idempotency-Key``;
  the gateway's idempotency makes that one message.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, select, update

from dashboard.actions.routing import Retry, RoutingConfig
from dashboard.db.schema import Alert, CareRecipient, NotificationOutbox, Responder
from dashboard.notify.channels import Message, Outcome, Transport
from dashboard.notify.redact import mask_phones

log = logging.getLogger("anbu.notify")
_o = NotificationOutbox.__table__


def backoff_s(attempts: int, key: str, retry: Retry) -> float:
    """Seconds before the next try after ``attempts`` failed tries: base·2ⁿ⁻¹, capped.

    The jitter spreads a burst of rows over time but is derived from the idempotency key,
    so the schedule is reproducible (tests, audits) rather than random.
    """
    n = max(1, attempts)
    delay = min(retry.cap_s, retry.base_s * 2 ** min(n - 1, 30))
    spread = (zlib.crc32(key.encode("utf-8")) % 1000) / 1000 * retry.jitter
    return min(retry.cap_s * (1 + retry.jitter), delay * (1 + spread))


@dataclass(frozen=True)
class Claimed:
    id: int
    idempotency_key: str
    alert_id: int | None
    channel: str
    recipient: str
    payload: dict
    attempts: int  # after this claim: the fencing token for marking it
    created_at: datetime


@dataclass
class DeliveryReport:
    claimed: int = 0
    sent: int = 0
    retried: int = 0
    failed: int = 0
    released: int = 0  # claimed but not tried: their transport was down in this pass
    errors: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return (
            f"notify: {self.claimed} claimed, {self.sent} sent, {self.retried} to retry, "
            f"{self.failed} failed, {self.released} deferred"
        )


def _due(now: datetime):
    return (_o.c.status == "pending") & (_o.c.next_attempt_at <= now)


def claim_due(
    engine: Engine, now: datetime, *, limit: int, lease_s: float, channels: set[str] | None = None
) -> list[Claimed]:
    """Claim up to ``limit`` due rows (oldest due first) for this worker, in one transaction."""
    lease_until = now + timedelta(seconds=lease_s)
    cols = (
        _o.c.id,
        _o.c.idempotency_key,
        _o.c.alert_id,
        _o.c.channel,
        _o.c.recipient,
        _o.c.payload,
        _o.c.attempts,
        _o.c.created_at,
    )
    where = _due(now)
    if channels is not None:
        where = where & _o.c.channel.in_(sorted(channels))
    pick = select(*cols).where(where).order_by(_o.c.next_attempt_at, _o.c.id).limit(limit)
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            rows = conn.execute(pick.with_for_update(skip_locked=True)).all()
            if rows:
                conn.execute(
                    update(_o)
                    .where(_o.c.id.in_([r.id for r in rows]))
                    .values(attempts=_o.c.attempts + 1, next_attempt_at=lease_until)
                )
            won = rows
        else:
            won = []
            for r in conn.execute(pick).all():
                # Another worker that claimed it first bumped attempts or moved the due time.
                hit = conn.execute(
                    update(_o)
                    .where(_o.c.id == r.id, _o.c.attempts == r.attempts, _due(now))
                    .values(attempts=r.attempts + 1, next_attempt_at=lease_until)
                )
                if hit.rowcount == 1:
                    won.append(r)
    return [Claimed(*r[:6], attempts=r.attempts + 1, created_at=r.created_at) for r in won]


def stored_error(error: str) -> str:
    """What ``last_error`` keeps of an error: a gateway's reply may repeat the phone number it
    was sent, and the outbox keeps no phone number (``redact.mask_phones``)."""
    return mask_phones(error)[:2000]


def mark_sent(conn: Connection, row: Claimed, now: datetime) -> None:
    # Not fenced on attempts: a 2xx is the truth even if our lease ran out meanwhile.
    conn.execute(
        update(_o)
        .where(_o.c.id == row.id, _o.c.status == "pending")
        .values(status="sent", sent_at=now, last_error=None)
    )


def mark_retry(conn: Connection, row: Claimed, next_at: datetime, error: str) -> None:
    conn.execute(
        update(_o)
        .where(_o.c.id == row.id, _o.c.status == "pending", _o.c.attempts == row.attempts)
        .values(next_attempt_at=next_at, last_error=stored_error(error))
    )


def mark_failed(conn: Connection, row: Claimed, error: str) -> None:
    conn.execute(
        update(_o)
        .where(_o.c.id == row.id, _o.c.status == "pending", _o.c.attempts == row.attempts)
        .values(status="failed", last_error=stored_error(error))
    )


def release(conn: Connection, row: Claimed, next_at: datetime, error: str) -> None:
    """Give back a claim that was never tried: it does not count as an attempt."""
    conn.execute(
        update(_o)
        .where(_o.c.id == row.id, _o.c.status == "pending", _o.c.attempts == row.attempts)
        .values(attempts=row.attempts - 1, next_attempt_at=next_at, last_error=stored_error(error))
    )


def requeue(conn: Connection, outbox_id: int, now: datetime) -> bool:
    """Send a ``failed`` row again (after someone fixed the gateway or the address)."""
    hit = conn.execute(
        update(_o)
        .where(_o.c.id == outbox_id, _o.c.status == "failed")
        .values(status="pending", next_attempt_at=now)
    )
    return hit.rowcount == 1


def _resolve_to(engine: Engine, row: Claimed) -> str | None:
    """Phone numbers are looked up at send time, so the outbox holds no personal data."""
    if row.payload.get("resolve") == "responder_phone":
        with engine.connect() as conn:
            return conn.execute(
                select(Responder.phone).where(Responder.id == row.payload.get("responder_id"))
            ).scalar_one_or_none()
    if row.payload.get("resolve") != "guardian_phone" or row.alert_id is None:
        return None
    person = CareRecipient.__table__
    with engine.connect() as conn:
        return conn.execute(
            select(person.c.pii_guardian_phone)
            .join(Alert, Alert.recipient_id == person.c.id)
            .where(Alert.id == row.alert_id)
        ).scalar_one_or_none()


def deliver_due(
    engine: Engine,
    now: datetime,
    *,
    routing: RoutingConfig,
    demo: bool,
    transports: Mapping[str, Transport],
    clock: Callable[[], float] = time.monotonic,
) -> DeliveryReport:
    """One delivery pass: claim and send until nothing is due or a pass budget is spent.

    ``transports`` maps transport name (``webhook``, ``log``) to an instance; rows whose
    channel maps to a missing transport are left pending (delayed, never dropped) and named
    in ``errors``. Claims are small enough that every claimed row is tried within its lease.
    """
    retry = routing.delivery.retry
    report = DeliveryReport()
    per_claim = max(1, int(retry.lease_s // (2 * retry.timeout_s)))
    started = clock()
    down: dict[str, tuple[datetime, str]] = {}
    while report.claimed < retry.batch and clock() - started < retry.lease_s / 2:
        limit = min(per_claim, retry.batch - report.claimed)
        claimed = claim_due(engine, now, limit=limit, lease_s=retry.lease_s)
        if not claimed:
            break
        report.claimed += len(claimed)
        for row in claimed:
            _deliver_one(engine, row, now, routing, demo, transports, down, report)
    return report


def _deliver_one(engine, row: Claimed, now, routing, demo, transports, down, report) -> None:
    retry = routing.delivery.retry
    name = routing.delivery.transport(row.channel, demo=demo)
    transport = transports.get(name)
    if transport is None:
        error = f"transport {name!r} for channel {row.channel!r} is not configured"
        if error not in report.errors:
            report.errors.append(error)
            log.error("notify: %s; messages wait in the outbox", error)
        with engine.begin() as conn:
            release(conn, row, now + timedelta(seconds=retry.cap_s), error)
        report.released += 1
        return
    if name in down:
        # The gateway is unreachable: do not spend a timeout per row; retry with the first.
        next_at, error = down[name]
        with engine.begin() as conn:
            release(conn, row, next_at, f"deferred: {error}")
        report.released += 1
        return
    message = Message(
        idempotency_key=row.idempotency_key,
        channel=row.channel,
        recipient=row.recipient,
        payload=row.payload,
        alert_id=row.alert_id,
        attempt=row.attempts,
        created_at=row.created_at,
        to=_resolve_to(engine, row),
    )
    if row.payload.get("resolve") == "guardian_phone" and not message.to:
        outcome = Outcome(ok=False, retry=False, error="no guardian phone on file")
    else:
        try:
            outcome = transport.send(message)
        except Exception as exc:  # a transport bug must not lose the row: retry it
            log.exception("notify: transport %s raised", name)
            outcome = Outcome(ok=False, error=f"{exc.__class__.__name__}: {exc}")
    # Logged as stored: the log keeps no phone number either.
    error = stored_error(outcome.error) if outcome.error else None
    with engine.begin() as conn:
        if outcome.ok:
            mark_sent(conn, row, now)
            report.sent += 1
        elif not outcome.retry:
            mark_failed(conn, row, error or "refused")
            report.failed += 1
            log.error("notify: %s failed for good: %s", row.idempotency_key, error)
        else:
            next_at = now + timedelta(seconds=backoff_s(row.attempts, row.idempotency_key, retry))
            mark_retry(conn, row, next_at, error or "error")
            report.retried += 1
            log.warning(
                "notify: %s attempt %d: %s; next at %s",
                row.idempotency_key,
                row.attempts,
                error,
                next_at.isoformat(),
            )
            if outcome.transport_down:
                down[name] = (next_at, error or "down")
