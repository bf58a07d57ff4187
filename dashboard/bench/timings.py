"""Rule tick and live-page query timings on the cached city, at the city's own ``now``.

Both run inside a transaction that is rolled back, so the cache stays exactly as built and a
second run measures the same thing.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Engine

from dashboard.rules.engine import run_silence_tick
from queries.filters import districts_with_devices, programs
from queries.live import live_snapshot


@dataclass(frozen=True)
class TickFigures:
    first_s: float  # the first tick after the build (may open what the build left pending)
    steady_s: float  # median of the following one-minute-apart ticks
    candidates: int


def measure_tick(engine: Engine, now: datetime, ticks: int = 4) -> TickFigures:
    seconds, candidates = [], 0
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            for k in range(ticks):
                started = time.perf_counter()
                summary = run_silence_tick(conn, now + timedelta(minutes=k + 1))
                seconds.append(time.perf_counter() - started)
                candidates = summary.candidates
        finally:
            trans.rollback()
    return TickFigures(seconds[0], statistics.median(seconds[1:]), candidates)


@dataclass(frozen=True)
class LiveFigures:
    snapshot_s: float  # median of the fragment's refresh: every query behind the live page
    filters_s: float  # the filter options (cached by the page, read once a minute or so)


def measure_live(engine: Engine, now: datetime, repeats: int = 5) -> LiveFigures:
    snap, filt = [], []
    with engine.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            live_snapshot(conn, now)
            snap.append(time.perf_counter() - started)
            started = time.perf_counter()
            programs(conn)
            districts_with_devices(conn)
            filt.append(time.perf_counter() - started)
        conn.rollback()
    return LiveFigures(statistics.median(snap), statistics.median(filt))
