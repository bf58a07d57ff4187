"""``python -m dashboard worker [--once] [--interval 60] [--metrics-port N]``."""

from __future__ import annotations

import argparse
import sys
import threading

from dashboard.ops.options import add_metrics_options


def cmd_worker(args: argparse.Namespace) -> int:
    from dashboard.cli import _engine
    from dashboard.ops.logs import configure_logging
    from dashboard.rules.config import RulesConfigError, current_thresholds
    from dashboard.rules.worker import install_stop_handlers, run_worker
    from dashboard.settings import get_settings

    if args.interval <= 0:
        print("error: --interval must be positive", file=sys.stderr)
        return 2
    port = args.metrics_port
    if port is None:
        port = get_settings().worker_metrics_port
    if port is not None and not 0 <= port <= 65535:
        print(f"error: --metrics-port {port}: expected 0-65535 (0: any free port)", file=sys.stderr)
        return 2
    try:
        current_thresholds()  # a bad rules.toml stops us here, with the setting named
    except RulesConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    configure_logging()
    metrics = None
    if port is not None:
        from dashboard.ops.metrics import WorkerMetrics, serve_metrics  # pandas: only for them

        metrics = WorkerMetrics()
        try:
            serve_metrics(metrics.registry, port, args.metrics_host)
        except OSError as exc:  # port taken, address not local
            print(f"error: --metrics-port {port} on {args.metrics_host}: {exc}", file=sys.stderr)
            return 2
    stop = threading.Event()
    install_stop_handlers(stop)
    ticks = run_worker(
        _engine(),
        interval_s=args.interval,
        once=args.once,
        stop=stop,
        # Text: the summary on stdout as before; JSON: a log line, with the tick's request id.
        report=(lambda s: print(s, flush=True)) if get_settings().log_format == "text" else None,
        metrics=metrics,
    )
    if args.once and ticks == 0:
        print("another worker leads (PostgreSQL worker lock): nothing done", flush=True)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    worker = sub.add_parser("worker", help="run the silence rules on a clock")
    worker.add_argument("--once", action="store_true", help="run one tick and exit")
    worker.add_argument("--interval", type=float, default=60.0, help="seconds between ticks")
    add_metrics_options(worker, "ANBU_WORKER_METRICS_PORT")
    worker.set_defaults(func=cmd_worker)
