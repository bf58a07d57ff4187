"""``python -m dashboard bench [--scale seoul|national] [--json FILE] [--postgres-url URL]``."""

from __future__ import annotations

import argparse
import json
import platform
from datetime import datetime
from pathlib import Path
from typing import Any

from dashboard import clock
from dashboard.bench.memory import own_peak_mb

TARGETS = {  # key: (target, "min" = at least / "max" = at most)
    "ingest_events_per_s_sqlite": (10_000, "min"),
    "ingest_events_per_s_postgres": (5_000, "min"),
    "rule_tick_s": (0.5, "max"),
    "live_status_query_s": (0.1, "max"),
    "routine_score_s": (5.0, "max"),
    "routine_learn_s": (60.0, "max"),
    "replay_year_s": (10.0, "max"),  # issue 9: a year of half-hourly readings, one home
    "wandering_map_s": (1.0, "max"),
    "briefing_export_s": (30.0, "max"),  # issue 12: the council deck as PDF or PPTX
    "vendor_performance_s": (1.0, "max"),  # issue 11: the 업체 성과 page's query, 28 days
}
# bench --scale national (issue 13): 250,000 devices, PostgreSQL decides.
NATIONAL_TARGETS = {
    "ingest_events_per_s_postgres": (830, "min"),
    "rule_tick_s_postgres": (2.0, "max"),
    "live_status_query_s_postgres": (0.2, "max"),
}
# 250,000 devices each reporting once every 5 minutes (docs/benchmarks.md): 833 events/s.
NATIONAL_PEAK_EPS = 250_000 / 300
# Figure → its naive baseline; "min": more is better (ratio figure/naive), "max": less is.
NAIVE = {
    "ingest_events_per_s": "min",
    "rule_tick_s": "max",
    "live_status_query_s": "max",
}
PAGE_RUN_TARGET_S = 1.0  # warm server-side run of any page (issue 14)
PAGE_FIRST_TARGET_S = 2.0  # a page's first run in a session
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def run_backend(
    label: str, city_url: str, run_url: str | None, args: argparse.Namespace
) -> dict[str, Any]:
    """Tick and live timings on the cached city, then ingest and page runs on a throw-away
    copy."""
    from dashboard.bench import city, naive, timings
    from dashboard.db.engine import make_engine

    engine = make_engine(city_url)
    now = city.city_end(engine)
    assert now is not None, "the benchmark city is not built"
    out: dict[str, Any] = {f"devices_{label}": city.device_count(engine)}
    if args.ingest_only:
        engine.dispose()
        return out if run_url is None else out | ingest_figures(label, run_url, args)
    print(f"[{label}] rule tick and live queries at the city's end, {now:%Y-%m-%d %H:%M} UTC")
    tick = timings.measure_tick(engine, now)
    live = timings.measure_live(engine, now)
    print(f"[{label}] naive baselines: the rules over every device, the live page in pandas")
    naive_figures = {
        f"rule_tick_s_naive_{label}": round(naive.naive_tick(engine, now), 4),
        f"live_status_query_s_naive_{label}": round(naive.naive_live(engine, now), 4),
    }
    if args.scale == "national":
        # The national figures of issue 13: tick, live page and ingest; the rest is per city.
        engine.dispose()
        out |= {
            f"rule_tick_s_{label}": round(tick.steady_s, 4),
            f"rule_tick_first_s_{label}": round(tick.first_s, 4),
            f"rule_tick_candidates_{label}": tick.candidates,
            f"live_status_query_s_{label}": round(live.snapshot_s, 4),
            f"live_filter_options_s_{label}": round(live.filters_s, 4),
        }
        if run_url is not None:
            out |= ingest_figures(label, run_url, args)
        return out | naive_figures
    print(f"[{label}] learning every plug's routine, then one scoring pass")
    routines = timings.measure_routines(engine, now)
    print(f"[{label}] the wandering map: 200 detectors, their zones, one trail, responders")
    from dashboard.bench.wandering_map import measure_wandering_map

    wmap = measure_wandering_map(engine, now)
    print(f"[{label}] the council deck of the last 30 days, as PDF and as PPTX")
    from dashboard.bench.briefing import measure_briefing_export

    deck = measure_briefing_export(engine, now)
    print(f"[{label}] the 30-day threshold preview of the largest district")
    preview = timings.measure_threshold_preview(engine, now)
    system_s = timings.measure_system_status(engine, now)
    print(f"[{label}] vendor performance over the last 28 days, every vendor and device type")
    vendors_s = timings.measure_vendor_performance(engine, now)
    engine.dispose()
    out |= {
        f"rule_tick_s_{label}": round(tick.steady_s, 4),
        f"rule_tick_first_s_{label}": round(tick.first_s, 4),
        f"rule_tick_candidates_{label}": tick.candidates,
        f"live_status_query_s_{label}": round(live.snapshot_s, 4),
        f"live_filter_options_s_{label}": round(live.filters_s, 4),
        f"routine_learn_s_{label}": round(routines.learn_s, 3),
        f"routine_score_s_{label}": round(routines.score_s, 3),
        f"routine_households_{label}": routines.households,
        f"routine_usable_{label}": routines.usable,
        f"routine_history_days_{label}": routines.history_days,
        f"rule_tick_routines_first_s_{label}": round(routines.tick_first_s, 4),
        f"rule_tick_routines_s_{label}": round(routines.tick_s, 4),
        f"wandering_map_s_{label}": round(wmap.seconds, 3),
        f"wandering_map_kb_{label}": round(wmap.kilobytes, 1),
        f"wandering_map_detectors_{label}": wmap.detectors,
        f"wandering_map_trail_points_{label}": wmap.trail_points,
        f"briefing_export_s_{label}": round(deck.seconds, 2),
        f"briefing_export_pdf_kb_{label}": round(deck.pdf_kb, 1),
        f"briefing_export_pptx_kb_{label}": round(deck.pptx_kb, 1),
        f"threshold_preview_s_{label}": round(preview.seconds, 3),
        f"threshold_preview_plugs_{label}": preview.plugs,
        f"briefing_export_pdf_s_{label}": round(deck.pdf_s, 2),
        f"briefing_export_pptx_s_{label}": round(deck.pptx_s, 2),
        f"briefing_export_both_s_{label}": round(deck.both_s, 2),
        f"briefing_export_slides_{label}": deck.slides,
        f"system_status_query_s_{label}": round(system_s, 4),
        f"vendor_performance_s_{label}": round(vendors_s, 3),
        f"slow_risk_s_{label}": round(routines.slow_risk_s, 3),
        f"slow_risk_plugs_{label}": routines.slow_risk_plugs,
        f"reach_refresh_ms_per_plug_{label}": round(routines.reach_ms_per_plug, 2),
        f"reach_refresh_plugs_{label}": routines.reach_plugs,
    }
    if run_url is not None:
        out |= ingest_figures(label, run_url, args)
    if args.pages != "none":
        # After ingest, on the same copy: the app's start-up and live loop write to it, and a
        # WAL they leave behind would slow the ingest measured after them.
        out |= page_figures(label, run_url or city_url, now, args.pages)
    return out | naive_figures


def ingest_figures(label: str, run_url: str, args: argparse.Namespace) -> dict[str, Any]:
    """Ingest through HTTP on the throw-away copy, then the naive baseline on the same copy."""
    from dashboard.bench.ingest import measure_ingest
    from dashboard.bench.naive import NAIVE_INGEST_EVENTS

    print(
        f"[{label}] ingest through HTTP, 1,000 events per request, {args.ingest_servers} "
        "server process(es); then one ORM insert each"
    )
    figures = measure_ingest(
        run_url,
        max_events=args.max_events,
        max_seconds=args.max_seconds,
        naive_events=min(NAIVE_INGEST_EVENTS, args.max_events),
        servers=args.ingest_servers,
    )
    out: dict[str, Any] = {
        f"ingest_events_per_s_{label}": round(figures.events_per_s),
        f"ingest_events_{label}": figures.events,
        f"ingest_requests_{label}": figures.requests,
        f"ingest_rejected_{label}": figures.rejected,
        f"ingest_server_peak_memory_mb_{label}": figures.server_peak_mb,
        f"ingest_events_per_s_naive_{label}": (
            None if figures.naive_events_per_s is None else round(figures.naive_events_per_s)
        ),
        f"ingest_events_naive_{label}": figures.naive_events,
        f"ingest_servers_{label}": figures.servers,
        f"ingest_cpu_ms_per_1000_{label}": figures.server_cpu_ms_per_1000,
        f"ingest_client_cpu_ms_per_1000_{label}": figures.client_cpu_ms_per_1000,
    }
    if args.scale == "national":
        out[f"ingest_headroom_{label}"] = round(figures.events_per_s / NATIONAL_PEAK_EPS, 1)
    return out


def page_figures(label: str, url: str, now: datetime, which: str) -> dict[str, Any]:
    """``page_run_s_<page>_<label>`` and ``page_first_s_<page>_<label>`` for the chosen pages."""
    from dashboard.bench.pages import measure_pages

    chosen = None if which == "all" else tuple(p.strip() for p in which.split(",") if p.strip())
    print(
        f"[{label}] page runs (AppTest, as a lead; admin-only pages as an admin): first visit, "
        "then median of warm reruns"
    )
    out: dict[str, Any] = {}
    for fig in measure_pages(url, now, chosen):
        out[f"page_first_s_{fig.page}_{label}"] = fig.first_s
        out[f"page_run_s_{fig.page}_{label}"] = fig.warm_s
        for problem in fig.problems:
            print(f"[{label}] {fig.page}: the page showed an error: {problem}")
    return out


def _page_targets(result: dict[str, Any]) -> dict[str, tuple[float, str]]:
    """Targets of the per-page keys present in ``result``."""
    targets: dict[str, tuple[float, str]] = {}
    for key in result:
        if key.startswith("page_run_s_"):
            targets[key] = (PAGE_RUN_TARGET_S, "max")
        elif key.startswith("page_first_s_"):
            targets[key] = (PAGE_FIRST_TARGET_S, "max")
    return targets


# Timings measured on each backend: the slower backend's is the run's figure.
PER_BACKEND_SECONDS = (
    "rule_tick_s",
    "live_status_query_s",
    "routine_score_s",
    "routine_learn_s",
    "wandering_map_s",
    "briefing_export_s",
    "threshold_preview_s",
    "system_status_query_s",
    "vendor_performance_s",
    "slow_risk_s",
    "reach_refresh_ms_per_plug",
    "rule_tick_s_naive",
    "live_status_query_s_naive",
)


def slower_backend(result: dict[str, Any]) -> dict[str, Any]:
    """The run's figures from the per-backend ones (``KEY_sqlite``, ``KEY_postgres``): for each
    timed figure and page the slower backend's, whichever backends were measured; and
    ``ingest_events_per_s_postgres`` None when PostgreSQL was not."""
    out: dict[str, Any] = {
        "ingest_events_per_s_postgres": result.get("ingest_events_per_s_postgres")
    }
    for key in PER_BACKEND_SECONDS:
        values = [result[f"{key}_{b}"] for b in ("sqlite", "postgres") if f"{key}_{b}" in result]
        if values:  # none with --ingest-only
            out[key] = max(values)
    for key in [k for k in result if k.startswith(("page_run_s_", "page_first_s_"))]:
        page_key = key.removesuffix("_sqlite").removesuffix("_postgres")
        if page_key != key:
            out[page_key] = max(out.get(page_key) or 0.0, result[key])
    return out


def cmd_bench(args: argparse.Namespace) -> int:
    from dashboard.bench import city
    from dashboard.bench.replay import measure_replay_year

    pg = None if args.postgres_url.lower() in ("", "none") else args.postgres_url
    if args.postgres_only and not args.replay_only:  # say so before anything is measured
        problem = "no --postgres-url" if pg is None else _postgres_problem(pg)
        if problem:
            print(f"--postgres-only: cannot measure PostgreSQL ({problem})")
            return 2
    result: dict[str, Any] = {
        "scale": args.scale if args.devices is None else city.city_name(args.devices, args.scale),
        "measured_at": clock.now().isoformat(timespec="seconds"),
        "machine": f"{platform.node()} {platform.machine()}, {_cpus()} CPUs, Python "
        f"{platform.python_version()}",
    }
    if args.scale != "national" and not args.ingest_only:  # one home's year: any scale
        print("[replay] a year of half-hourly plug readings for one home, through `replay`")
        result |= measure_replay_year()
    if args.replay_only:
        return _finish(result, args)
    if not args.postgres_only:
        print(f"[city] {args.scale}: building or reusing the cached city")
        path = city.sqlite_city(args.devices, rebuild=args.rebuild, scale=args.scale)
        copy = city.sqlite_copy(path)
        try:
            result |= run_backend("sqlite", f"sqlite:///{path}", f"sqlite:///{copy}", args)
        finally:
            for p in (copy, *city._sidecars(copy)):
                p.unlink(missing_ok=True)

    if pg is not None and not args.postgres_only and (problem := _postgres_problem(pg)):
        print(f"[postgres] skipped: {problem}")
        pg = None
    if pg is not None:
        url = city.postgres_city(pg, args.devices, rebuild=args.rebuild, scale=args.scale)
        run = city.postgres_copy(pg, url)
        try:
            result |= run_backend("postgres", url, run, args)
        finally:
            city.postgres_drop(pg, run)

    result |= slower_backend(result)
    result["ratios"] = ratios(result)
    return _finish(result, args)


def ratios(result: dict[str, Any]) -> dict[str, float | None]:
    """How many times better each figure is than its naive baseline measured in the same run:
    ``figure / naive`` for rates, ``naive / figure`` for seconds; None when either is missing.
    Keyed by the figure's own key (``rule_tick_s``, ``ingest_events_per_s_sqlite``, …)."""
    out: dict[str, float | None] = {}
    for base, kind in NAIVE.items():
        for suffix in ("", "_sqlite", "_postgres"):
            key = f"{base}{suffix}"
            if key not in result or (key == "ingest_events_per_s" and not suffix):
                continue
            value, naive = result[key], result.get(f"{base}_naive{suffix}")
            if not value or not naive:
                out[key] = None
            else:
                out[key] = round(value / naive if kind == "min" else naive / value, 1)
    return out


def _finish(result: dict[str, Any], args: argparse.Namespace) -> int:
    result["peak_memory_mb"] = own_peak_mb()
    _print_table(result)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {args.json}")
    return 0


def _postgres_problem(url: str) -> str | None:
    from sqlalchemy import text

    from dashboard.db.engine import make_engine

    try:
        engine = make_engine(url)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as exc:  # any connection failure: report it, measure SQLite only
        return f"cannot connect to {url}: {exc.__class__.__name__}"
    return None


def _print_table(result: dict[str, Any]) -> None:
    targets = TARGETS | _page_targets(result)
    if "national" in str(result.get("scale")):
        targets = NATIONAL_TARGETS
    print(f"\n{'measure':34} {'value':>12} {'target':>10}  ")
    for key, value in result.items():
        if key in ("scale", "measured_at", "machine", "ratios"):
            continue
        target, verdict = "", ""
        if key in targets and value is not None:
            limit, kind = targets[key]
            ok = value >= limit if kind == "min" else value <= limit
            target = f"{'≥' if kind == 'min' else '≤'} {limit:,}"
            verdict = "ok" if ok else "MISSED"
        shown = "-" if value is None else f"{value:,}" if isinstance(value, int) else str(value)
        print(f"{key:34} {shown:>12} {target:>10}  {verdict}")
    if result.get("ratios"):
        print("\ntimes better than the naive baseline measured in the same run")
        for key, ratio in result["ratios"].items():
            print(f"{key:34} {'-' if ratio is None else f'{ratio:,}×':>12}")


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


def register(sub: argparse._SubParsersAction) -> None:
    import os

    bench = sub.add_parser("bench", help="measure ingest, rule tick and live queries at scale")
    bench.add_argument(
        "--scale",
        choices=["seoul", "national"],
        default="seoul",
        help="seoul: 36,228 devices, every figure; national: 250,000 devices, ingest, rule "
        "tick and live queries only",
    )
    bench.add_argument("--json", help="write the figures to this JSON file")
    bench.add_argument(
        "--postgres-url",
        default=os.environ.get("ANBU_BENCH_POSTGRES_URL", DEFAULT_POSTGRES),
        help="PostgreSQL server for the PostgreSQL figures ('none' to skip); the bench "
        "creates databases anbu_bench_* on it",
    )
    bench.add_argument("--max-events", type=int, default=60_000, help="ingest at most this many")
    bench.add_argument("--max-seconds", type=float, default=60.0, help="ingest for at most this")
    bench.add_argument(
        "--ingest-servers",
        type=int,
        default=1,
        help="ingest server processes, each posted to by its own client thread at once "
        "(default 1: one request at a time)",
    )
    bench.add_argument(
        "--pages",
        default="all",
        help="pages to time by url path, comma-separated ('all', or 'none' to skip page runs)",
    )
    bench.add_argument("--rebuild", action="store_true", help="rebuild the cached city")
    only = bench.add_mutually_exclusive_group()
    only.add_argument(
        "--replay-only", action="store_true", help="measure only replay_year_s (no city)"
    )
    only.add_argument(
        "--ingest-only",
        action="store_true",
        help="measure only ingest on each backend's cached city (no replay, tick, routines, "
        "deck or pages): to compare --ingest-servers or --max-events settings quickly",
    )
    bench.add_argument(
        "--postgres-only",
        action="store_true",
        help="measure PostgreSQL only (--postgres-url): no SQLite city is built or measured",
    )
    bench.add_argument("--devices", type=int, help=argparse.SUPPRESS)  # tiny city, for tests
    bench.set_defaults(func=cmd_bench)
