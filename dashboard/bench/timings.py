"""Rule tick and live-page query timings on the cached city, at the city's own ``now``.

Both run inside a transaction that is rolled back, so the cache stays exactly as built and a
second run measures the same thing.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, replace
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


@dataclass(frozen=True)
class RoutineFigures:
    learn_s: float  # learning every active plug's routine (the worker's nightly job)
    score_s: float  # one scoring pass over every plug: facts, routines and the rule
    households: int


def measure_routines(engine: Engine, now: datetime) -> RoutineFigures:
    """Learn all routines, then score every smart-plug home once, rolled back afterwards."""
    from dashboard.db.schema import Device
    from dashboard.detection.learning import learn_routines
    from dashboard.detection.records import load_routines
    from dashboard.rules.config import current_thresholds
    from dashboard.rules.facts import load_facts
    from dashboard.rules.plug import plug_no_change

    th = current_thresholds()
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            started = time.perf_counter()
            learned = learn_routines(conn, now, th.plug_routine)
            learn_s = time.perf_counter() - started
            started = time.perf_counter()
            facts = load_facts(conn, Device.__table__.c.type_code == "smart_plug")
            routines = load_routines(conn, [f.device_id for f in facts])
            for f in facts:
                if f.device_id in routines:
                    plug_no_change(replace(f, routine=routines[f.device_id]), th, now)
                else:
                    plug_no_change(f, th, now)
            score_s = time.perf_counter() - started
        finally:
            trans.rollback()
    return RoutineFigures(learn_s, score_s, learned.devices)


@dataclass(frozen=True)
class PreviewFigures:
    seconds: float  # the settings page's 30-day preview of the largest district, both sets
    district: str
    plugs: int


def measure_threshold_preview(engine: Engine, now: datetime) -> PreviewFigures:
    """The 30-day threshold preview (docs/detection.md) for the district with the most plugs:
    the city's values against a stricter proposal with another ``min_share`` (no shared
    scores: the costlier case)."""
    from dashboard.detection.preview import district_plugs, preview_district
    from dashboard.rules.config import current_thresholds
    from dashboard.rules.districts import proposed_thresholds
    from queries.filters import districts_with_devices

    th = current_thresholds()
    with engine.connect() as conn:
        codes = list(districts_with_devices(conn)["code"])
        if not codes:
            return PreviewFigures(0.0, "", 0)
        code = max(codes, key=lambda c: len(district_plugs(conn, c)))
        stricter = proposed_thresholds(
            th,
            code,
            {
                "plug_routine.min_share": max(0.5, th.plug_routine.min_share - 0.05),
                "plug_routine.attention_slots": th.plug_routine.attention_slots / 2,
            },
        )
        started = time.perf_counter()
        preview = preview_district(conn, code, th.for_region(code), stricter.for_region(code), now)
        seconds = time.perf_counter() - started
    return PreviewFigures(seconds, code, preview.plugs)


def measure_vendor_performance(engine: Engine, now: datetime, repeats: int = 3) -> float:
    """The 업체 성과 page's one query over the city's last 28 days, every vendor and type
    (faults with their next reading, the silence spans, the data-delay sample): median of
    ``repeats``."""
    from queries.vendor_performance import vendor_performance

    runs = []
    with engine.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            vendor_performance(conn, now - timedelta(days=28), now)
            runs.append(time.perf_counter() - started)
    return statistics.median(runs)
