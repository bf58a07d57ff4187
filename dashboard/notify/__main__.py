"""``python -m dashboard.notify [--once] [--interval 5]``: delivery and escalation on their own.

The rule worker already runs a notification pass after each tick; run this as well when
notifications must leave faster than the rule interval (several may run: claims are safe).
"""

from __future__ import annotations

import argparse
import logging
import threading

from dashboard.cli import _engine
from dashboard.clock import now
from dashboard.notify.worker import run_notify_loop
from dashboard.rules.worker import install_stop_handlers


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m dashboard.notify", description=__doc__)
    parser.add_argument("--once", action="store_true", help="run one pass and exit")
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between passes")
    args = parser.parse_args(argv)
    if args.interval <= 0:
        parser.error("--interval must be positive")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    stop = threading.Event()
    install_stop_handlers(stop)
    run_notify_loop(_engine(), interval_s=args.interval, stop=stop, clock=now, once=args.once)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
