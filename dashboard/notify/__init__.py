"""Outbox delivery (webhook and log transports, retries, idempotency) and escalation.

See docs/notifications.md.
"""

from dashboard.notify.channels import LogTransport, Message, Outcome, WebhookTransport
from dashboard.notify.escalation import escalate_unacknowledged, escalation_key
from dashboard.notify.outbox import backoff_s, claim_due, deliver_due, requeue
from dashboard.notify.status import delivery_status
from dashboard.notify.worker import NotifySummary, notify_tick, run_notify

__all__ = [
    "LogTransport",
    "Message",
    "NotifySummary",
    "Outcome",
    "WebhookTransport",
    "backoff_s",
    "claim_due",
    "deliver_due",
    "delivery_status",
    "escalate_unacknowledged",
    "escalation_key",
    "notify_tick",
    "requeue",
    "run_notify",
]
