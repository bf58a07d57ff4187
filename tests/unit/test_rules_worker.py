"""The rule worker loop: injected clock, --once, a clean stop, and the CLI wiring."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

from dashboard.cli import build_parser
from dashboard.rules.worker import run_worker


def test_worker_ticks_with_the_injected_clock_until_stopped(db_engine):
    times = iter(datetime(2024, 12, 1, tzinfo=UTC) + timedelta(minutes=i) for i in range(100))
    seen: list = []
    stop = threading.Event()

    def report(summary):
        seen.append(summary.now)
        if len(seen) == 3:
            stop.set()

    ticks = run_worker(db_engine, interval_s=0.01, clock=lambda: next(times), stop=stop,
                       report=report)  # fmt: skip
    assert ticks == 3
    assert [t.minute for t in seen] == [0, 2, 4]  # one clock read per tick start and end


def test_worker_once_runs_a_single_tick(db_engine):
    seen: list = []
    now = datetime(2024, 12, 1, tzinfo=UTC)
    assert run_worker(db_engine, once=True, clock=lambda: now, report=seen.append) == 1
    assert seen[0].now == now and not seen[0].skipped


def test_worker_command_is_registered():
    args = build_parser().parse_args(["worker", "--once", "--interval", "5"])
    assert (args.once, args.interval, args.func.__name__) == (True, 5.0, "cmd_worker")
