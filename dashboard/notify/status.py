"""Delivery status of an alert's notifications, for the alert detail view."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, select

from dashboard.db.schema import NotificationOutbox

if TYPE_CHECKING:
    import pandas as pd

COLUMNS = [
    "id",
    "channel",
    "recipient",
    "action",
    "state",
    "status",
    "attempts",
    "created_at",
    "next_attempt_at",
    "sent_at",
    "last_error",
]


def _state(status: str, attempts: int, last_error: str | None, next_at, now) -> str:
    """``sent`` | ``failed`` | ``delayed`` (tried and failing, will retry) | ``queued``."""
    if status != "pending":
        return status
    if last_error and (attempts > 0 or (now is not None and next_at > now)):
        return "delayed"
    return "queued"


def delivery_status(conn: Connection, alert_id: int, now: datetime | None = None) -> pd.DataFrame:
    """Every outbox row of one alert, oldest first, with a display ``state``."""
    import pandas as pd  # here, not above: the rules worker and a replay import this package

    o = NotificationOutbox.__table__
    rows = conn.execute(
        select(
            o.c.id,
            o.c.channel,
            o.c.recipient,
            o.c.payload,
            o.c.status,
            o.c.attempts,
            o.c.created_at,
            o.c.next_attempt_at,
            o.c.sent_at,
            o.c.last_error,
        )
        .where(o.c.alert_id == alert_id)
        .order_by(o.c.created_at, o.c.id)
    ).all()
    records = [
        {
            "id": r.id,
            "channel": r.channel,
            "recipient": r.recipient,
            "action": (r.payload or {}).get("action"),
            "state": _state(r.status, r.attempts, r.last_error, r.next_attempt_at, now),
            "status": r.status,
            "attempts": r.attempts,
            "created_at": r.created_at,
            "next_attempt_at": r.next_attempt_at if r.status == "pending" else None,
            "sent_at": r.sent_at,
            "last_error": r.last_error,
        }
        for r in rows
    ]
    df = pd.DataFrame.from_records(records, columns=COLUMNS)
    for col in ("created_at", "next_attempt_at", "sent_at"):
        df[col] = pd.to_datetime(df[col], utc=True)
    return df
