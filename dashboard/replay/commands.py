"""``python -m dashboard replay --type plug|wandering --input FILE.csv --json OUT``."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

DEFAULT_TZ = "Asia/Seoul"


def _usage(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def cmd_replay(args: argparse.Namespace) -> int:
    from dashboard.ingest.vendors import VendorError, check_timezone
    from dashboard.replay import InputError, read_recording, replay
    from dashboard.replay.output import write_json
    from dashboard.replay.timeline import check_tick
    from dashboard.rules.config import RulesConfigError, current_thresholds

    try:
        zone = check_timezone(args.tz)
    except VendorError as exc:
        return _usage(f"--tz: {exc}")
    try:
        check_tick(args.tick_min)
        current_thresholds()  # a bad rules.toml is the user's to fix, named here
    except (ValueError, RulesConfigError) as exc:
        return _usage(str(exc))
    if args.type == "plug" and args.homes:
        return _usage("--homes is for --type wandering (a plug replay has no homes)")
    out = Path(args.json)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir() or not os.access(parent, os.W_OK):
        return _usage(f"--json {out}: the folder {parent} does not exist or is not writable")
    if out.is_dir():
        return _usage(f"--json {out}: is a folder; give a file name")
    try:
        recording = read_recording(args.input, args.type, zone, args.homes)
    except InputError as exc:
        print(f"error: the input cannot be replayed:\n{exc}", file=sys.stderr)
        return 2
    for warning in recording.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    result = replay(recording, timezone=args.tz, tick_min=args.tick_min, exact=args.exact)
    write_json(out, result.transitions, zone)
    c = result.counts
    repeated = len(recording.readings) - result.readings  # the autumn hour's second occurrence
    print(
        f"replayed {result.readings:,} readings of {result.devices} device(s), "
        f"{result.start.astimezone(zone):%Y-%m-%d %H:%M} to "
        f"{result.end.astimezone(zone):%Y-%m-%d %H:%M} {args.tz}, in {result.seconds:.1f} s "
        f"({'exact' if result.exact else 'fast'} path: {result.moments:,} moments, "
        f"{c.batches:,} ingest batches, {c.ticks:,} ticks, {c.days:,} daily runs); "
        f"{len(result.transitions)} transition(s) written to {out}"
        + (f"; {recording.skipped:,} row(s) without a reading skipped" if recording.skipped else "")
        + (
            f"; {repeated:,} reading(s) of the repeated hour at a clock change dropped"
            if repeated
            else ""
        )
    )
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "replay",
        help="replay recorded readings through the real ingest and rules; write every alert "
        "transition as JSON (docs/replay.md)",
    )
    p.add_argument("--type", required=True, choices=["plug", "wandering"])
    p.add_argument(
        "--input",
        required=True,
        help="CSV: device_id, ts, watts[, lux] (plug) or device_id, ts, lat, lon[, accuracy_m]",
    )
    p.add_argument("--homes", help="wandering: CSV device_id, lat, lon, radius_m")
    p.add_argument(
        "--tz",
        default=DEFAULT_TZ,
        help=f"IANA zone of timestamps without an offset, and of the output (default {DEFAULT_TZ})",
    )
    p.add_argument("--tick-min", type=int, default=10, help="minutes between rule ticks (10)")
    p.add_argument("--json", required=True, help="write the transitions to this file")
    p.add_argument(
        "--exact",
        action="store_true",
        help="run every moment through the database (slow; the reference for the fast path)",
    )
    p.set_defaults(func=cmd_replay)
