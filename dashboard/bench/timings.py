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
    usable: int  # of which with a usable routine (enough reference days)
    tick_first_s: float  # the first tick with routines: every quiet home is due at once
    tick_s: float  # median of the following one-minute-apart ticks (staggered scoring)
    history_days: int  # days of device_daily each routine was learned from
    slow_risk_s: float  # the nightly slow-risk judgement of every plug (detection.slow_risk)
    slow_risk_plugs: int  # plugs it judged
    reach_ms_per_plug: float  # the worker's reach refresh (detection.reach_refresh), per plug
    reach_plugs: int  # plugs it was measured on (a sample: the whole city takes minutes)


def _full_window(conn, now: datetime, window_days: int) -> int:
    """Give the city a full routine window of ``device_daily`` for its plugs and phone lines:
    the bench city is built with 7 days, so its days are copied further back, week by week
    (inside the caller's transaction, rolled back). Learning and scoring then work on as many
    days as a city that has run for a month. Returns the days the window then holds."""
    from sqlalchemy import func, select

    from dashboard.db.schema import Device, DeviceDaily
    from dashboard.detection.learning import ROUTINE_TYPES
    from dashboard.ingest.bulk import bulk_write
    from dashboard.settings import LOCAL_TZ

    daily, d = DeviceDaily.__table__, Device.__table__
    today = now.astimezone(LOCAL_TZ).date()
    first = conn.execute(select(func.min(daily.c.day))).scalar()
    if first is None:
        return 0
    held = (today - first).days  # whole days before today
    if held >= window_days or held < 1:
        return max(held, 0)
    routine_devices = select(d.c.id).where(d.c.type_code.in_(ROUTINE_TYPES))
    rows = [
        dict(row._mapping)
        for row in conn.execute(
            select(daily).where(daily.c.device_id.in_(routine_devices), daily.c.day < today)
        )
    ]
    shift = held
    while shift < window_days:
        copies = [
            row | {"day": row["day"] - timedelta(days=shift)}
            for row in rows
            if (today - row["day"]).days + shift <= window_days
        ]
        bulk_write(conn, daily, copies, lambda stmt: stmt.on_conflict_do_nothing(), key="pad")
        shift += held
    return window_days


def measure_routines(engine: Engine, now: datetime) -> RoutineFigures:
    """With a full routine window: learn all routines, score every smart-plug home once, then
    run the rule tick with them; all rolled back afterwards."""
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
            days = _full_window(conn, now, th.plug_routine.window_days)
            started = time.perf_counter()
            learned = learn_routines(conn, now, th)
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
            ticks = []
            for k in range(4):
                started = time.perf_counter()
                run_silence_tick(conn, now + timedelta(minutes=k + 1))
                ticks.append(time.perf_counter() - started)
            reach_ms, reach_plugs = _reach_refresh(conn, now)
            slow_s, slow_plugs = _slow_risk(conn, now)
        finally:
            trans.rollback()
    return RoutineFigures(
        learn_s,
        score_s,
        learned.devices,
        learned.usable,
        ticks[0],
        statistics.median(ticks[1:]),
        days,
        slow_s,
        slow_plugs,
        reach_ms,
        reach_plugs,
    )


REACH_SAMPLE = 1_000  # plugs: ≈ 12 s; a Seoul city's 32,000 would take ≈ 6 minutes


def _reach_refresh(conn, now: datetime) -> tuple[float, int]:
    """The worker's reach refresh on the first ``REACH_SAMPLE`` plugs with a routine, batch by
    batch as the worker runs it (reads, the reach, the upsert; inside the caller's transaction,
    rolled back): milliseconds per plug, and the plugs."""
    from sqlalchemy import select

    from dashboard.db.schema import Device, DeviceRoutine
    from dashboard.detection.reach_refresh import BATCH, judged_records, store_records

    d, r = Device.__table__, DeviceRoutine.__table__
    ids = list(
        conn.execute(
            select(d.c.id)
            .join(r, r.c.device_id == d.c.id)
            .where(d.c.type_code == "smart_plug", d.c.status == "active")
            .order_by(d.c.id)
            .limit(REACH_SAMPLE)
        ).scalars()
    )
    if not ids:
        return 0.0, 0
    started = time.perf_counter()
    for start in range(0, len(ids), BATCH):
        store_records(conn, judged_records(conn, ids[start : start + BATCH], now))
    return (time.perf_counter() - started) * 1000 / len(ids), len(ids)


def _slow_risk(conn, now: datetime) -> tuple[float, int]:
    """The nightly slow-risk judgement on the city's days copied back to its 62 days (inside
    the caller's transaction). The bench city is built without ingest, so its days have no
    ``above_slots`` or readings' sums: the copies take the day's activity bits and energy in
    their place. The values decide no cost; the rows read and the plugs judged do."""
    from sqlalchemy import func, update

    from dashboard.db.schema import DeviceDaily
    from dashboard.detection.decline import HISTORY_DAYS
    from dashboard.detection.slow_risk import update_slow_risk

    daily = DeviceDaily.__table__
    _full_window(conn, now, HISTORY_DAYS)
    conn.execute(
        update(daily)
        .where(daily.c.above_slots.is_(None), daily.c.activity_slots.is_not(None))
        .values(
            above_slots=daily.c.activity_slots,
            watts_sum=func.coalesce(daily.c.energy_wh, 0.0),
            watts_n=24,
        )
    )
    started = time.perf_counter()
    summary = update_slow_risk(conn, now)
    return time.perf_counter() - started, summary.plugs


@dataclass(frozen=True)
class PreviewFigures:
    seconds: float  # the settings page's 30-day preview of the largest district, both sets
    district: str
    plugs: int


def measure_threshold_preview(engine: Engine, now: datetime) -> PreviewFigures:
    """The 30-day threshold preview (docs/detection.md) for the district with the most plugs:
    the city's values against a stricter proposal with another ``min_share`` and
    ``attention_slots``. The two sets share each plug's routine arrays, level models, ``S``
    and run tests, as most proposals do; one of another ``window_days``, ``min_days`` or
    ``half_life_days`` shares none and took about 1.7 times as long (docs/detection.md)."""
    from dashboard.detection.preview import DAYS as PREVIEW_DAYS
    from dashboard.detection.preview import district_plugs, preview_district
    from dashboard.rules.config import current_thresholds
    from dashboard.rules.districts import proposed_thresholds
    from queries.filters import districts_with_devices

    th = current_thresholds()
    with engine.connect() as conn:
        trans = conn.begin()
        try:
            # The preview's 30 days and the routine window before them, as a city that ran.
            _full_window(conn, now, PREVIEW_DAYS + th.plug_routine.window_days + 1)
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
            preview = preview_district(
                conn, code, th.for_region(code), stricter.for_region(code), now
            )
            seconds = time.perf_counter() - started
        finally:
            trans.rollback()
    return PreviewFigures(seconds, code, preview.plugs)


def measure_system_status(engine: Engine, now: datetime, repeats: int = 5) -> float:
    """Median seconds of every read behind the 시스템 상태 page (``queries.system``)."""
    from queries.system import system_snapshot

    seconds = []
    with engine.connect() as conn:
        for _ in range(repeats):
            started = time.perf_counter()
            system_snapshot(conn, now)
            seconds.append(time.perf_counter() - started)
        conn.rollback()
    return statistics.median(seconds)


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
