"""``python -m dashboard worker [--once] [--interval 60]``."""

from __future__ import annotations

import argparse
import logging
import sys
import threading


def cmd_worker(args: argparse.Namespace) -> int:
    from dashboard.cli import _engine
    from dashboard.rules.config import RulesConfigError, current_thresholds
    from dashboard.rules.worker import install_stop_handlers, run_worker

    if args.interval <= 0:
        print("error: --interval must be positive", file=sys.stderr)
        return 2
    try:
        current_thresholds()  # a bad rules.toml stops us here, with the setting named
    except RulesConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    install_stop_handlers(stop)
    ticks = run_worker(
        _engine(),
        interval_s=args.interval,
        once=args.once,
        stop=stop,
        report=lambda summary: print(summary, flush=True),
    )
    if args.once and ticks == 0:
        print("another worker leads (PostgreSQL worker lock): nothing done", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="run the silence rules on a clock")
    worker.add_argument("--once", action="store_true", help="run one tick and exit")
    worker.add_argument("--interval", type=float, default=60.0, help="seconds between ticks")
    worker.set_defaults(func=cmd_worker)
