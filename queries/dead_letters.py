"""Dead letters for the administrators' 수신 오류 tab: how many, and the latest ones."""

from __future__ import annotations

import pandas as pd
from sqlalchemy import Connection, func, select

from dashboard.db.schema import DeadLetter

PREVIEW_CHARS = 2_000  # of a payload of up to 64 KiB: enough to see what the vendor sent
COLUMNS = [
    "id",
    "received_at",
    "source",
    "vendor",
    "topic",
    "event_index",
    "reason",
    "payload_bytes",
    "preview",
]


def dead_letter_count(conn: Connection) -> int:
    return int(conn.scalar(select(func.count()).select_from(DeadLetter)) or 0)


def recent_dead_letters(conn: Connection, limit: int = 200) -> pd.DataFrame:
    """The latest ``limit`` dead letters, newest first; ``preview`` is the payload's start."""
    query = (
        select(
            DeadLetter.id,
            DeadLetter.received_at,
            DeadLetter.source,
            DeadLetter.vendor,
            DeadLetter.topic,
            DeadLetter.event_index,
            DeadLetter.reason,
            DeadLetter.payload_bytes,
            func.substr(DeadLetter.payload, 1, PREVIEW_CHARS).label("preview"),
        )
        .order_by(DeadLetter.received_at.desc(), DeadLetter.id.desc())
        .limit(limit)
    )
    rows = [tuple(row) for row in conn.execute(query)]
    frame = pd.DataFrame(rows, columns=COLUMNS)
    return frame.astype({"event_index": "Int64"}) if not frame.empty else frame
