"""``python -m dashboard simulate [--url URL] [--speed 1] [--once]``."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import threading
from pathlib import Path

from dashboard import clock


def cmd_simulate(args: argparse.Namespace) -> int:
    from dashboard.cli import _engine
    from dashboard.rules.worker import install_stop_handlers
    from dashboard.settings import get_settings
    from dashboard.simulate.feed import LiveFeed, run_feed
    from dashboard.simulate.keys import create_demo_keys, revoke_demo_keys
    from dashboard.simulate.roster import load_roster
    from dashboard.simulate.sinks import HttpSink

    if args.speed < 1:
        print("error: --speed must be at least 1", file=sys.stderr)
        return 2
    settings = get_settings()
    engine = _engine()
    with engine.connect() as conn:
        roster = load_roster(conn)
    if not len(roster):
        print("error: no active devices; build the demo city first (python -m dashboard init)")
        return 2
    vendors = set(roster.vendors)
    if args.key_file:
        keys = json.loads(Path(args.key_file).read_text(encoding="utf-8"))
        owned = False
    elif settings.demo_enabled:
        keys = create_demo_keys(engine, vendors, now=clock.now())
        owned = True
    else:
        print(
            "error: outside demo mode the simulator needs the vendors' keys: "
            "--key-file FILE with {vendor: key}",
            file=sys.stderr,
        )
        return 2
    missing = vendors - set(keys)
    if missing:
        print(f"error: no key for vendor(s) {', '.join(sorted(missing))}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per request is noise
    sink = HttpSink(args.url, keys)
    feed = LiveFeed(roster, sink, seed=args.seed, clock=clock.now, speed=args.speed)
    print(
        f"simulating {len(roster)} devices of {len(vendors)} vendors from "
        f"{feed.origin.isoformat(timespec='seconds')} into {args.url} "
        "(demo keys for this run only, stored hashed)",
        flush=True,
    )

    def report(stats) -> None:
        if stats.batches:
            played = feed.sim.played_until.isoformat(timespec="seconds")
            print(
                f"{played}: {stats.accepted} accepted, {stats.duplicates} duplicates, "
                f"{stats.rejected} rejected in {stats.batches} requests",
                flush=True,
            )

    stop = threading.Event()
    install_stop_handlers(stop)
    try:
        run_feed(feed, interval_s=args.interval, once=args.once, stop=stop, report=report)
    finally:
        sink.close()
        if owned:
            revoke_demo_keys(engine, keys, now=clock.now())
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    from dashboard.settings import get_settings

    sim = sub.add_parser("simulate", help="feed live demo-city events through the HTTP ingest API")
    sim.add_argument("--url", default="http://127.0.0.1:8765", help="the ingest API")
    sim.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="replay the time since the city's last signal N× faster, then run in real time",
    )
    sim.add_argument("--once", action="store_true", help="send what is due now and exit")
    sim.add_argument("--interval", type=float, default=5.0, help="seconds between sends")
    sim.add_argument("--seed", type=int, default=get_settings().demo_seed)
    sim.add_argument("--key-file", help="JSON {vendor: key} (required outside demo mode)")
    sim.set_defaults(func=cmd_simulate)
