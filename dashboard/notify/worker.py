"""One notification pass: escalate unacknowledged 심각 alerts, then deliver due outbox rows.

``notify_tick`` is the hook the rule worker (``python -m dashboard worker``) calls after each
silence tick; ``python -m dashboard.notify`` runs the same pass alone on a shorter interval.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Engine

from dashboard.actions.routing import RoutingConfig, current_routing
from dashboard.notify.channels import LogTransport, Transport, WebhookTransport
from dashboard.notify.escalation import escalate_unacknowledged
from dashboard.notify.outbox import DeliveryReport, deliver_due
from dashboard.settings import Settings, get_settings

log = logging.getLogger("anbu.notify")


@dataclass
class NotifySummary:
    now: datetime
    escalated: list[int] = field(default_factory=list)
    delivery: DeliveryReport = field(default_factory=DeliveryReport)

    def __str__(self) -> str:
        return f"{self.now.isoformat()} escalated {len(self.escalated)}; {self.delivery}"


@lru_cache(maxsize=4)
def _webhook(url: str, token: str, timeout_s: float) -> WebhookTransport:
    return WebhookTransport(url, token, timeout_s=timeout_s)  # one HTTP connection pool


_LOG = LogTransport()


def build_transports(settings: Settings, routing: RoutingConfig) -> dict[str, Transport]:
    """The transports available with these settings; webhook only when its URL is set."""
    transports: dict[str, Transport] = {"log": _LOG}
    if settings.notify_webhook_url:
        transports["webhook"] = _webhook(
            settings.notify_webhook_url,
            settings.notify_webhook_token.get_secret_value(),
            routing.delivery.retry.timeout_s,
        )
    return transports


def run_notify(
    engine: Engine,
    now: datetime,
    *,
    settings: Settings | None = None,
    routing: RoutingConfig | None = None,
    transports: dict[str, Transport] | None = None,
) -> NotifySummary:
    """Escalate (one transaction), then deliver; raises on database errors."""
    settings = settings or get_settings()
    routing = routing or current_routing()
    transports = transports if transports is not None else build_transports(settings, routing)
    summary = NotifySummary(now)
    with engine.begin() as conn:
        escalated = escalate_unacknowledged(
            conn, now, after_min=settings.escalate_severe_after_min, routing=routing
        )
    summary.escalated = [e.alert_id for e in escalated]
    for e in escalated:
        log.warning(
            "alert %s: 심각 unacknowledged %.1f min, on-duty lead told",
            e.alert_id,
            e.minutes_unacknowledged,
        )
    summary.delivery = deliver_due(
        engine, now, routing=routing, demo=settings.demo_enabled, transports=transports
    )
    return summary


def notify_tick(engine: Engine, now: datetime) -> NotifySummary | None:
    """The worker hook: never raises, so a notification problem cannot stop the rule ticks.

    A failed pass leaves every row pending; the next pass picks them up.
    """
    try:
        summary = run_notify(engine, now)
    except Exception:
        log.exception("notification pass failed; rows stay pending for the next pass")
        return None
    if summary.escalated or summary.delivery.claimed:
        log.info("%s", summary)
    return summary


def run_notify_loop(
    engine: Engine, *, interval_s: float, stop: threading.Event, clock, once: bool = False
) -> int:
    """Run :func:`notify_tick` every ``interval_s`` until ``stop``; returns the passes run."""
    passes = 0
    while not stop.is_set():
        started = clock()
        notify_tick(engine, started)
        passes += 1
        if once:
            break
        stop.wait(max(0.0, interval_s - (clock() - started).total_seconds()))
    return passes
