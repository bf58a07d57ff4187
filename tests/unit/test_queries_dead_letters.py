"""Dead letters as written by ingest and read back for the 수신 오류 tab, on both backends."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd

from dashboard.ingest.deadletters import (
    MAX_EVENTS_PER_MESSAGE,
    PAYLOAD_MAX_BYTES,
    record_message,
    record_rejections,
)
from queries.dead_letters import PREVIEW_CHARS, dead_letter_count, recent_dead_letters

T0 = datetime(2024, 12, 1, 0, 0, tzinfo=UTC)


def test_empty(db_engine):
    with db_engine.connect() as conn:
        assert dead_letter_count(conn) == 0
        frame = recent_dead_letters(conn)
    assert frame.empty and "preview" in frame.columns


def test_messages_and_events_newest_first_with_a_bounded_preview(db_engine):
    big = ("가" * 40_000).encode()  # 120,000 bytes of three-byte characters
    with db_engine.begin() as conn:
        record_message(
            conn,
            source="http",
            vendor="acme",
            topic=None,
            reason="body is not valid JSON",
            payload=big + b"\x00\xff",
            now=T0,
        )
        kept = record_rejections(
            conn,
            source="mqtt",
            vendor="acme",
            topic="anbu/acme/events",
            events=[{"event_id": f"e{i}", "note": "a\x00b"} for i in range(30)],
            rejected=[(i, f"note: bad #{i}") for i in range(30)],
            now=T0 + timedelta(minutes=1),
        )
    assert kept == MAX_EVENTS_PER_MESSAGE
    with db_engine.connect() as conn:
        assert dead_letter_count(conn) == 1 + MAX_EVENTS_PER_MESSAGE
        frame = recent_dead_letters(conn, limit=5)
    assert len(frame) == 5
    assert frame["received_at"].iloc[0] == T0 + timedelta(minutes=1)  # aware UTC, newest first
    assert frame["source"].iloc[0] == "mqtt"
    assert json.loads(frame["preview"].iloc[0])["note"] == "a\x00b"  # JSON escapes NUL: \u0000
    assert frame["event_index"].iloc[0] == MAX_EVENTS_PER_MESSAGE - 1
    with db_engine.connect() as conn:
        oldest = recent_dead_letters(conn).iloc[-1]
    assert oldest["source"] == "http" and pd.isna(oldest["topic"])
    assert oldest["payload_bytes"] == len(big) + 2
    assert len(oldest["preview"]) == PREVIEW_CHARS
    assert len(big) > PAYLOAD_MAX_BYTES
