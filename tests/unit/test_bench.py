"""The bench command end to end on a tiny city (speed targets live in the bench, not here)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import text

from dashboard import clock
from dashboard.auth.roles import PAGES
from dashboard.bench import city
from dashboard.cli import main
from dashboard.db.engine import make_engine
from dashboard.settings import LOCAL_TZ
from tests.conftest import POSTGRES_URL, missing_service

# Each test builds and measures a city: over 200 s was seen on PostgreSQL with the cores shared.
pytestmark = pytest.mark.timeout(900)

KEYS = (
    "ingest_events_per_s_sqlite",
    "ingest_events_per_s_postgres",
    "rule_tick_s",
    "live_status_query_s",
    "routine_score_s",
    "routine_learn_s",
    "briefing_export_s",
    "peak_memory_mb",
    "replay_year_s",
    "threshold_preview_s",
    "system_status_query_s",
    "vendor_performance_s",
    "slow_risk_s",
)


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(city, "BENCH_DIR", tmp_path / "bench")


def test_bench_sqlite_writes_every_key(tmp_path, capsys):
    out = tmp_path / "figures.json"
    argv = ["bench", "--devices", "120", "--postgres-url", "none", "--max-events", "1500"]
    started_day = clock.now().astimezone(LOCAL_TZ).date()
    # The cache first, as the bench builds it (``city.sqlite_city``), so that every run below
    # is checked to reuse it and to leave it as built (its mtime).
    cached = city.sqlite_city(120)
    stamp = cached.stat().st_mtime_ns
    assert main([*argv, "--json", str(out)]) == 0
    assert cached.stat().st_mtime_ns == stamp
    # A run across Seoul midnight (the city built on one day, its routines timed on the next)
    # finds yesterday in the window and copies it back, as a real month-old city would.
    same_day = clock.now().astimezone(LOCAL_TZ).date() == started_day
    figures = json.loads(out.read_text())
    assert set(KEYS) <= set(figures)
    assert figures["ingest_events_per_s_sqlite"] > 0
    assert figures["ingest_rejected_sqlite"] == 0
    assert figures["devices_sqlite"] == 120
    # The routine pass ran (the tiny city's few days may give its plugs no routine yet).
    assert figures["routine_households_sqlite"] >= 0 and figures["routine_learn_s_sqlite"] > 0
    # The tiny city has only today: nothing to copy back (test_bench_full_window below).
    assert figures["routine_history_days_sqlite"] == 0 or not same_day
    assert figures["rule_tick_routines_s_sqlite"] > 0
    # the worker's reach refresh, on the city's plugs with a routine (all of them, under 1,000;
    # none where the tiny city's days are too few for a routine)
    plugs, ms = figures["reach_refresh_plugs_sqlite"], figures["reach_refresh_ms_per_plug_sqlite"]
    assert 0 <= plugs <= figures["routine_households_sqlite"]
    assert (ms > 0) == (plugs > 0) and figures["reach_refresh_ms_per_plug"] == ms
    assert figures["ingest_events_per_s_postgres"] is None
    # The deck: each format alone (images rendered afresh) and both from one deck.
    for key in ("pdf_s", "pptx_s", "both_s", "pdf_kb", "pptx_kb"):
        assert figures[f"briefing_export_{key}_sqlite"] > 0, key
    assert figures["briefing_export_s"] == max(
        figures["briefing_export_pdf_s_sqlite"], figures["briefing_export_pptx_s_sqlite"]
    )
    assert figures["briefing_export_slides_sqlite"] >= 9  # 9 without a map
    # Each figure has its naive baseline from the same run, and the ratio between them.
    assert figures["ingest_events_per_s_naive_sqlite"] > 0
    assert figures["rule_tick_s_naive"] == figures["rule_tick_s_naive_sqlite"] > 0
    assert figures["live_status_query_s_naive"] == figures["live_status_query_s_naive_sqlite"] > 0
    assert set(figures["ratios"]) == {
        "ingest_events_per_s_sqlite",
        "ingest_events_per_s_postgres",  # None: PostgreSQL was skipped
        "rule_tick_s",
        "rule_tick_s_sqlite",
        "live_status_query_s",
        "live_status_query_s_sqlite",
    }
    assert figures["ratios"]["ingest_events_per_s_postgres"] is None
    assert all(figures["ratios"][k] > 0 for k in figures["ratios"] if "postgres" not in k)
    printed = capsys.readouterr().out
    assert "live_status_query_s" in printed
    # Every page is timed, first visit and warm, and none showed an error while timed.
    for page in PAGES:
        for kind in ("page_run_s", "page_first_s"):
            assert figures[f"{kind}_{page}_sqlite"] > 0, (kind, page)
            assert figures[f"{kind}_{page}"] == figures[f"{kind}_{page}_sqlite"]
    assert "showed an error" not in printed
    # One server process by default, and what its requests cost in CPU (read from /proc).
    assert figures["ingest_servers_sqlite"] == 1
    assert figures["ingest_cpu_ms_per_1000_sqlite"] > 0
    assert figures["ingest_client_cpu_ms_per_1000_sqlite"] > 0
    # The cache is reused and left as built by a second run too, which posts to two server
    # processes at once, each event accepted once; ``--ingest-only`` measures nothing else.
    two = tmp_path / "two.json"
    argv_two = [*argv, "--ingest-only", "--ingest-servers", "2", "--json", str(two)]
    assert main(argv_two) == 0
    assert cached.stat().st_mtime_ns == stamp
    assert list(city.BENCH_DIR.glob("*.sqlite3")) == [cached]  # the run's copy is gone
    parallel = json.loads(two.read_text())
    assert not {"replay_year_s", "rule_tick_s", "briefing_export_s"} & set(parallel)
    assert not [k for k in parallel if k.startswith("page_run_s_")]
    assert parallel["ingest_servers_sqlite"] == 2
    assert parallel["ingest_events_sqlite"] >= figures["ingest_events_sqlite"] > 0
    assert parallel["ingest_rejected_sqlite"] == 0
    assert parallel["ingest_cpu_ms_per_1000_sqlite"] > 0


def test_bench_replay_only_measures_the_year_of_one_home(tmp_path, capsys):
    out = tmp_path / "figures.json"
    assert main(["bench", "--replay-only", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["replay_year_s"] > 0
    assert figures["replay_year_readings"] == 17_484  # as docs/benchmarks.md and replay.md say
    assert figures["replay_year_transitions"] > 0  # the flat spells and gaps raised alerts
    assert "rule_tick_s" not in figures  # no city was built
    assert "replay_year_s" in capsys.readouterr().out


def test_bench_postgres(tmp_path, postgres_unavailable):
    if postgres_unavailable:
        missing_service(postgres_unavailable)
    out = tmp_path / "figures.json"
    # Every page is timed on SQLite above; here one page shows the page runs work on PostgreSQL.
    argv = ["bench", "--devices", "80", "--max-events", "1000", "--postgres-url", POSTGRES_URL]
    # ``--postgres-only``: the SQLite city is measured by the test above, not again here.
    argv += ["--pages", "live", "--postgres-only"]
    try:
        assert main([*argv, "--json", str(out)]) == 0
        settled = _settled_state(city._with_database(POSTGRES_URL, "anbu_bench_tiny_80"))
    finally:
        admin = make_engine(city._with_database(POSTGRES_URL, "postgres"))
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text('DROP DATABASE IF EXISTS "anbu_bench_tiny_80"'))
        admin.dispose()
    figures = json.loads(out.read_text())
    assert figures["ingest_events_per_s_postgres"] > 0
    assert figures["ingest_rejected_postgres"] == 0
    assert figures["devices_postgres"] == 80
    # The servers and the PostgreSQL backends serving them (a local server: /proc tells).
    assert figures["ingest_cpu_ms_per_1000_postgres"] > 0
    assert figures["page_run_s_live_postgres"] > 0 and figures["page_first_s_live_postgres"] > 0
    assert not [k for k in figures if k.startswith("page_run_s_") and "live" not in k]
    assert not [k for k in figures if k.endswith("_sqlite")]  # no SQLite city measured
    assert figures["rule_tick_s"] == figures["rule_tick_s_postgres"] > 0
    # The cached city as a running deployment keeps it (``city.settle``): the day before the
    # build in its own partition, not in the default one, and the build's dead rows vacuumed.
    assert settled == {"default_rows": 0, "day_partitions": True, "vacuumed": True}


def test_bench_postgres_only_needs_a_server(capsys):
    """Said at once, before the replay or any city is measured."""
    assert main(["bench", "--postgres-only", "--postgres-url", "none"]) == 2
    printed = capsys.readouterr().out
    assert "--postgres-only: cannot measure PostgreSQL (no --postgres-url)" in printed
    assert "[replay]" not in printed


def _settled_state(url: str) -> dict:
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            return {
                "default_rows": conn.execute(
                    text("SELECT count(*) FROM device_events_default")
                ).scalar(),
                # the tiny city's day of history starts on the Seoul day before its end
                "day_partitions": conn.execute(
                    text(
                        "SELECT count(*) = 0 FROM device_events e WHERE NOT EXISTS (SELECT FROM "
                        "pg_class c WHERE c.oid = e.tableoid AND c.relname ~ '_p[0-9]{8}$')"
                    )
                ).scalar(),
                "vacuumed": conn.execute(
                    text(
                        "SELECT last_vacuum IS NOT NULL FROM pg_stat_user_tables "
                        "WHERE relname = 'device_daily'"
                    )
                ).scalar(),
            }
    finally:
        engine.dispose()


def test_the_slower_backend_decides_each_timing():
    """With both backends measured (the bench tests now run them apart), each timing and page
    figure is the slower backend's; one backend alone gives its own; ingest stays per backend."""
    from dashboard.bench.commands import PER_BACKEND_SECONDS, slower_backend

    both = {
        "rule_tick_s_sqlite": 0.4,
        "rule_tick_s_postgres": 0.9,
        "routine_learn_s_sqlite": 30.0,
        "routine_learn_s_postgres": 12.0,
        "rule_tick_s_naive_sqlite": 2.0,
        "rule_tick_s_naive_postgres": 3.0,
        "page_run_s_live_sqlite": 1.5,
        "page_run_s_live_postgres": 0.7,
        "ingest_events_per_s_sqlite": 9000.0,
        "ingest_events_per_s_postgres": 12000.0,
    }
    got = slower_backend(both)
    assert got["rule_tick_s"] == 0.9
    assert got["routine_learn_s"] == 30.0
    assert got["rule_tick_s_naive"] == 3.0
    assert got["page_run_s_live"] == 1.5
    assert got["ingest_events_per_s_postgres"] == 12000.0
    assert "ingest_events_per_s" not in got and "live_status_query_s" not in got
    alone = slower_backend({"rule_tick_s_postgres": 0.9, "page_first_s_week_postgres": 2.0})
    assert alone == {
        "rule_tick_s": 0.9,
        "page_first_s_week": 2.0,
        "ingest_events_per_s_postgres": None,
    }
    assert set(PER_BACKEND_SECONDS) >= {"rule_tick_s", "reach_refresh_ms_per_plug"}


def test_process_cpu_reads_proc():
    import os
    import time

    from dashboard.bench.cpu import process_cpu_s, total_cpu_s

    before = process_cpu_s(os.getpid())
    end = time.process_time() + 0.05
    while time.process_time() < end:  # burn 50 ms of CPU
        pass
    assert process_cpu_s(os.getpid()) > before
    assert process_cpu_s(2**22 + 1) is None  # above Linux's largest pid: no such process
    assert total_cpu_s([os.getpid(), 2**22 + 1]) is None


def test_bench_full_window_copies_a_short_history_back_to_a_month(db_engine):
    """The Seoul bench city has 7 days; routines are learned and scored on 28, its week
    copied back week by week (rows already there are kept)."""
    from datetime import UTC, datetime, timedelta

    from sqlalchemy import insert, select

    from dashboard.bench.timings import _full_window
    from dashboard.db.schema import DeviceDaily
    from dashboard.settings import LOCAL_TZ
    from tests.ingest_support import seed_catalog

    now = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    today = now.astimezone(LOCAL_TZ).date()
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        plug, robot = ids["plug-1"], ids["robot-1"]
        week = [today - timedelta(days=k) for k in range(0, 8)]  # today and 7 days before
        conn.execute(
            insert(DeviceDaily),
            [
                dict(device_id=d, day=day, events=10, activity_slots=(1 << 20) + k)
                for d in (plug, robot)
                for k, day in enumerate(week)
            ],
        )
        assert _full_window(conn, now, 28) == 28
        daily = DeviceDaily.__table__
        rows = conn.execute(
            select(daily.c.device_id, daily.c.day, daily.c.activity_slots).order_by(
                daily.c.device_id, daily.c.day
            )
        ).all()
    days = {day: bits for device_id, day, bits in rows if device_id == plug}
    assert min(days) == today - timedelta(days=28) and len(days) == 29  # the window and today
    # A week back is the same weekday's bits: yesterday's (k=1) on the day 7 days before it.
    assert days[today - timedelta(days=8)] == days[today - timedelta(days=1)] == (1 << 20) + 1
    assert days[today - timedelta(days=28)] == days[today - timedelta(days=7)]
    assert len([r for r in rows if r.device_id == robot]) == 8  # a robot: no routine, not copied


def test_bench_national_scale_copies_the_city_and_reports_baselines(tmp_path, capsys):
    """``--scale national`` on a tiny city (copied to 4 × its devices): tick, live queries and
    ingest with their naive baselines, their ratios and the ingest headroom over the peak."""
    out = tmp_path / "figures.json"
    argv = ["bench", "--scale", "national", "--devices", "60", "--postgres-url", "none"]
    assert main([*argv, "--max-events", "1500", "--pages", "none", "--json", str(out)]) == 0
    figures = json.loads(out.read_text())
    assert figures["scale"] == "tiny-national-60"
    assert figures["devices_sqlite"] == 240  # the 60 devices and three copies of them
    assert figures["ingest_rejected_sqlite"] == 0  # the copies' events are accepted too
    assert "replay_year_s" not in figures and "routine_learn_s_sqlite" not in figures
    eps, naive = figures["ingest_events_per_s_sqlite"], figures["ingest_events_per_s_naive_sqlite"]
    assert eps > 0 and naive > 0 and figures["ingest_events_naive_sqlite"] > 0
    assert figures["ingest_headroom_sqlite"] == round(eps / (250_000 / 300), 1)
    ratios = figures["ratios"]
    assert ratios["ingest_events_per_s_sqlite"] == round(eps / naive, 1)
    tick, tick_naive = figures["rule_tick_s"], figures["rule_tick_s_naive"]
    assert ratios["rule_tick_s"] == round(tick_naive / tick, 1)
    live, live_naive = figures["live_status_query_s"], figures["live_status_query_s_naive"]
    assert ratios["live_status_query_s"] == round(live_naive / live, 1)
    printed = capsys.readouterr().out
    assert "naive baseline" in printed


def test_docs_state_the_national_scale_the_bench_uses():
    """docs/benchmarks.md derives the national peak from the same numbers the bench uses."""
    from pathlib import Path

    from dashboard.bench.commands import NATIONAL_PEAK_EPS, NATIONAL_TARGETS

    doc = (Path(__file__).parents[2] / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    assert f"{city.NATIONAL_DEVICES:,} devices" in doc
    assert f"{city.NATIONAL_DEVICES:,} / 300 s = {round(NATIONAL_PEAK_EPS)} events/s" in doc
    assert NATIONAL_TARGETS["rule_tick_s_postgres"] == (2.0, "max")
    assert "rule tick ≤ 2 s" in doc and "live page queries ≤ 0.2 s" in doc
    for key in ("ingest_events_per_s_naive", "rule_tick_s_naive", "live_status_query_s_naive"):
        assert f"`{key}" in doc, key
    assert "`ratios`" in doc
