"""Dead letters: what ingest acknowledged without storing, kept for an administrator.

An MQTT message that cannot be processed (not JSON, nested too deep, not a batch, a crash while
validating) is acknowledged anyway: left unacknowledged it would be redelivered forever and,
with about 20 of them, fill the broker's in-flight window and stop ingestion for every vendor.
So the bridge writes it here, logs one line, and acknowledges. Events rejected one by one in an
MQTT message are kept here too (at most ``MAX_EVENTS_PER_MESSAGE`` per message), because MQTT
has no reply a vendor must read. An HTTP body refused as a whole (422) is kept as well; HTTP
per-event rejections are only in the reply, which the vendor receives.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert

from dashboard.db.schema import DeadLetter

log = logging.getLogger(__name__)

PAYLOAD_MAX_BYTES = 64 * 1024  # stored from a message of up to 5 MiB; payload_bytes is the size
MAX_EVENTS_PER_MESSAGE = 20  # per-event dead letters per message; the rest are counted in the log
_REASON_MAX = 2_000


def record_message(
    conn: Connection,
    *,
    source: str,
    vendor: str | None,
    topic: str | None,
    reason: str,
    payload: bytes,
    now: datetime,
) -> None:
    """Keep one whole message that was refused; the caller commits (and then acknowledges)."""
    text = payload[:PAYLOAD_MAX_BYTES].decode("utf-8", "replace")
    conn.execute(
        insert(DeadLetter),
        [_row(source, vendor, topic, None, reason, text, len(payload), now)],
    )
    log.warning(
        "dead letter: source=%s vendor=%s topic=%s bytes=%d reason=%s",
        source,
        vendor or "-",
        topic or "-",
        len(payload),
        _clean(reason, 300),
    )


def record_rejections(
    conn: Connection,
    *,
    source: str,
    vendor: str,
    topic: str | None,
    events: Sequence[Any],
    rejected: Sequence[tuple[int, str]],
    now: datetime,
) -> int:
    """Keep the rejected events of a processed message, each with its reason; returns how many."""
    rows = []
    for index, reason in rejected[:MAX_EVENTS_PER_MESSAGE]:
        text = json.dumps(events[index], ensure_ascii=False, default=repr)
        size = len(_clean(text, None).encode("utf-8"))
        rows.append(_row(source, vendor, topic, index, reason, text[:PAYLOAD_MAX_BYTES], size, now))
    if rows:
        conn.execute(insert(DeadLetter), rows)
        log.warning(
            "dead letters: source=%s vendor=%s topic=%s rejected=%d kept=%d first: #%d %s",
            source,
            vendor,
            topic or "-",
            len(rejected),
            len(rows),
            rejected[0][0],
            _clean(rejected[0][1], 300),
        )
    return len(rows)


def _row(
    source: str,
    vendor: str | None,
    topic: str | None,
    index: int | None,
    reason: str,
    payload: str,
    size: int,
    now: datetime,
) -> dict[str, Any]:
    return {
        "received_at": now,
        "source": source,
        "vendor": _clean(vendor, 60) if vendor else None,
        "topic": _clean(topic, 200) if topic else None,
        "event_index": index,
        "reason": _clean(reason, _REASON_MAX),
        "payload": _clean(payload, None),
        "payload_bytes": size,
    }


def _clean(text: str, limit: int | None) -> str:
    """Text any database stores: no NUL (PostgreSQL refuses it), no lone surrogates."""
    text = text[:limit] if limit else text
    return text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
