"""Wellbeing-check rules: pure rule functions, alert lifecycle and the silence tick.

Ingestion calls :func:`on_events` in the same transaction as each stored batch; the worker calls
``run_silence_tick`` on a clock. See ``docs/rules.md``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection


def on_events(conn: Connection, device_ids: Iterable[int], now: datetime) -> None:
    """Evaluate the event-driven rules for ``device_ids`` (placeholder until the engine lands)."""
    return None


__all__ = ["on_events"]
