"""Command line: ``python -m dashboard COMMAND``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from datetime import UTC, datetime

from dashboard.settings import get_settings


def _engine():
    from dashboard.db.engine import make_engine

    return make_engine(get_settings().resolved_database_url)


def _schema_ready_engine():
    """The configured engine with its schema at head: the embedded file is migrated here, a
    server database only by ``db upgrade`` (``SchemaOutdatedError`` says so otherwise)."""
    from dashboard.bootstrap import check_schema
    from dashboard.db import migrate

    engine, settings = _engine(), get_settings()
    check_schema(engine, settings)
    if settings.is_embedded:
        migrate.upgrade(engine)
    return engine


def _print_progress(fraction: float, message: str) -> None:
    print(f"[{fraction * 100:5.1f}%] {message}", flush=True)


def cmd_db(args: argparse.Namespace) -> int:
    from dashboard.db import migrate

    engine = _engine()
    if args.action == "upgrade":
        before = migrate.current_revision(engine)
        migrate.upgrade(engine)
        print(f"database at {migrate.current_revision(engine)} (was {before or 'empty'})")
    elif args.action == "recount":
        from dashboard.db.device_counts import recount

        if migrate.needs_upgrade(engine):
            raise UsageError("the database needs `python -m dashboard db upgrade` first")
        with engine.begin() as conn:
            print(recount(conn))
    else:
        current = migrate.current_revision(engine)
        head = migrate.head_revision()
        print(f"current: {current or 'empty'}; head: {head}")
    return 0


def cmd_init(_args: argparse.Namespace) -> int:
    from dashboard.bootstrap import ensure_database
    from dashboard.setup_job import POLL_S, Phase, SetupStatus, guard_for

    engine, started = _engine(), time.perf_counter()
    # The app's first start may be building this database: wait for it, never build twice.
    guard = guard_for(engine)
    if not guard.acquire():
        print("another process is preparing this database (the app's first start?); waiting")
        while not guard.acquire():
            time.sleep(POLL_S)

    def progress(fraction: float, message: str) -> None:
        _print_progress(fraction, message)
        guard.publish(SetupStatus(Phase.RUNNING, fraction, message, pid=os.getpid()))

    try:
        ensure_database(engine, get_settings(), progress=progress)
        guard.publish(SetupStatus(Phase.READY, 1.0, "ready", pid=os.getpid()))
    finally:
        guard.release()
    print(f"ready in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    try:
        end = datetime.fromisoformat(args.end) if args.end else None
    except ValueError as exc:
        raise UsageError(f"--end: {exc}") from exc
    if end is not None and end.tzinfo is None:
        raise UsageError("--end needs a time zone, e.g. 2024-12-31T09:00+09:00")

    from dashboard.demo import build_demo

    engine = _schema_ready_engine()
    started = time.perf_counter()
    summary = build_demo(
        engine,
        scale=args.scale,
        seed=args.seed,
        days=args.days,
        end=end.astimezone(UTC) if end else None,
        progress=_print_progress,
    )
    print(summary)
    print(f"demo city built in {time.perf_counter() - started:.1f} s")
    return 0


def cmd_responders(args: argparse.Namespace) -> int:
    """``reference responders load [FILE]``: the police-box list, placed at dong centroids."""
    from pathlib import Path

    from dashboard import clock
    from dashboard.auth.principal import cli_principal
    from dashboard.responders.police import POLICE_CSV, PoliceFileError, load_police_boxes

    if args.rest[:1] != ["load"] or len(args.rest) > 2:
        raise UsageError("use: reference responders load [FILE]")
    path = Path(args.rest[1]) if len(args.rest) == 2 else POLICE_CSV
    if not path.is_file():
        raise UsageError(f"no file at {path}")
    engine = _schema_ready_engine()
    try:
        with engine.begin() as conn:
            report = load_police_boxes(conn, cli_principal(), clock.now(), path)
    except PoliceFileError as exc:
        raise UsageError(str(exc)) from None
    for line in report.unmatched:
        print(f"- unmatched, stored without a position (place it on the 배회 지도): {line}")
    print(report.summary())
    return 0


def cmd_reference(args: argparse.Namespace) -> int:
    from dashboard.reference import checks, csvdata, load

    if args.action == "responders":
        return cmd_responders(args)
    if args.rest:
        raise UsageError(f"reference {args.action} takes no further arguments: {args.rest}")
    if args.action == "check":
        findings = checks.check_budget_tables(csvdata.read_budget_lines())
        findings += checks.check_figure_sums(
            csvdata.read_published_figures(), csvdata.read_figure_sums()
        )
        for finding in findings:
            print(f"- [{finding.kind}] {finding.city} {finding.table}: {finding.message_en}")
        print(f"{len(findings)} finding(s)")
        return 0
    engine = _schema_ready_engine()
    with engine.begin() as conn:
        counts = load.load_reference(conn, replace=args.replace)
    print(counts)
    return 0


# Commands that live beside their domain code, each with the module whose ``register(subparsers)``
# adds it (``set_defaults(func=...)`` returning an exit code), in the order of ``--help``. A run
# imports only its command's module: all of them cost a second at every start.
# tests/unit/test_cli.py checks this map against what the modules register.
COMMANDS: dict[str, str] = {
    "serve-ingest": "dashboard.ingest.commands",
    "apikey": "dashboard.ingest.commands",
    "vendors": "dashboard.ingest.commands",
    "mqtt-bridge": "dashboard.ingest.commands",
    "import-events": "dashboard.ingest.commands",
    "ingest-openapi": "dashboard.ingest.commands",
    "worker": "dashboard.rules.commands",
    "simulate": "dashboard.simulate.commands",
    "bench": "dashboard.bench.commands",
    "users": "dashboard.auth.commands",
    "recipients": "dashboard.registry.commands",
    "devices": "dashboard.registry.commands",
    "complaints": "dashboard.complaints.commands",
    "privacy": "dashboard.enrollment.commands",
    "replay": "dashboard.replay.commands",
    "evaluate-detection": "dashboard.evaluation.commands",
    "budget": "dashboard.finance.commands",
    "incentives": "dashboard.finance.commands",
    "briefing": "dashboard.briefing.commands",
    "backup": "dashboard.ops.commands",
    "retention": "dashboard.ops.commands",
    "participation": "dashboard.participation.commands",
}
COMMAND_MODULES: list[str] = list(dict.fromkeys(COMMANDS.values()))
BUILT_IN = ("db", "init", "demo", "reference")  # added by build_parser itself


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with every command, or, for a ``command`` of a module, with just that module's
    commands beside the built-in ones (``--help``, no command or an unknown one: all of them)."""
    parser = argparse.ArgumentParser(prog="python -m dashboard", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    chosen = COMMANDS.get(command) if command in COMMANDS or command in BUILT_IN else None
    everything = command not in COMMANDS and command not in BUILT_IN
    for module_name in COMMAND_MODULES:
        if everything or module_name == chosen:
            importlib.import_module(module_name).register(sub)
        else:
            # A bare name keeps the usage line of an error listing every command, in order.
            for name, owner in COMMANDS.items():
                if owner == module_name:
                    sub.add_parser(name, add_help=False)  # no actions at all: not the real one

    db = sub.add_parser(
        "db",
        help="database schema; `recount`: rebuild the wall screen's device counts from the "
        "devices (the worker does it daily) and say how many groups had drifted",
    )
    db.add_argument("action", choices=["upgrade", "current", "recount"])
    db.set_defaults(func=cmd_db)

    init = sub.add_parser(
        "init",
        help="load catalog, reference data and (demo mode) the demo city; migrates only the "
        "embedded file (a server database: `db upgrade` first)",
    )
    init.set_defaults(func=cmd_init)

    demo = sub.add_parser("demo", help="build the deterministic demo city")
    demo.add_argument("--scale", choices=["small", "seoul"], default="small")
    demo.add_argument("--seed", type=int, default=get_settings().demo_seed)
    demo.add_argument("--days", type=int, default=90)
    demo.add_argument("--end", help="end of the history, ISO-8601 with zone (default: now)")
    demo.set_defaults(func=cmd_demo)

    ref = sub.add_parser(
        "reference",
        help="published figures and budget tables; `reference responders load [FILE]`: police "
        "boxes (지구대·파출소) placed at their dong's centroid",
    )
    ref.add_argument("action", choices=["check", "load", "responders"])
    ref.add_argument("rest", nargs="*", help="responders: `load [FILE]`")
    ref.add_argument("--replace", action="store_true", help="replace stored reference rows")
    ref.set_defaults(func=cmd_reference)
    return parser


class UsageError(Exception):
    """A problem the user can fix; printed without a traceback."""


def main(argv: list[str] | None = None) -> int:
    from pydantic import ValidationError

    from dashboard.db.errors import SchemaOutdatedError, UnknownDatabaseError

    argv = sys.argv[1:] if argv is None else argv
    try:
        args = build_parser(argv[0] if argv else None).parse_args(argv)
        if getattr(args, "days", 1) < 1:
            raise UsageError("--days must be at least 1")
        return args.func(args)
    except (UsageError, UnknownDatabaseError, SchemaOutdatedError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except ValidationError as exc:  # settings from the environment
        print(f"error in configuration: {exc}", file=sys.stderr)
        return 2
