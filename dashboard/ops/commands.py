"""CLI: ``backup``, ``retention``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_backup(args: argparse.Namespace) -> int:
    from dashboard.ops import backup
    from dashboard.settings import get_settings

    url = get_settings().resolved_database_url
    try:
        source = backup.sqlite_path(url)
        if source is None:
            print(backup.postgres_instructions(url, args.file), file=sys.stderr)
            return backup.EXIT_USE_PG_DUMP
        result = backup.backup_sqlite(source, Path(args.file), force=args.force)
    except backup.BackupRefused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return backup.EXIT_REFUSED
    except backup.BackupFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return backup.EXIT_FAILED
    except OSError as exc:  # disk full, permissions: nothing was left at FILE
        print(f"error: could not write {args.file}: {exc}", file=sys.stderr)
        return backup.EXIT_FAILED
    print(
        f"backed up {source} to {result.target}: {result.bytes / 1e6:.1f} MB, "
        f"{result.tables} tables, checked"
    )
    return backup.EXIT_OK


def cmd_retention(args: argparse.Namespace) -> int:
    from dashboard import clock
    from dashboard.auth.principal import cli_principal
    from dashboard.cli import UsageError, _schema_ready_engine
    from dashboard.ops.retention import expire_events
    from dashboard.settings import get_settings

    days = args.retention_days
    if days is None:
        days = get_settings().event_retention_days
    engine = _schema_ready_engine()

    def progress(total: int) -> None:
        print(f"  {total:,} deleted so far", flush=True)

    try:
        report = expire_events(
            engine, cli_principal(), clock.now(), days, dry_run=args.dry_run, progress=progress
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    print(report)
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    back = sub.add_parser(
        "backup",
        help="copy the embedded SQLite database to FILE while it runs (PostgreSQL: prints the "
        "pg_dump / pg_restore commands); exit 0 done, 1 failed, 2 refused, 3 use pg_dump",
    )
    back.add_argument("file", help="the backup file to write (not an existing file)")
    back.add_argument("--force", action="store_true", help="replace FILE if it exists")
    back.set_defaults(func=cmd_backup)

    ret = sub.add_parser(
        "retention",
        help="delete raw device events older than ANBU_EVENT_RETENTION_DAYS (90) in small "
        "batches; rollups, alerts, dispatches and the audit log are kept",
    )
    ret.add_argument("--dry-run", action="store_true", help="count what would go; delete nothing")
    ret.add_argument(
        "--days",
        dest="retention_days",
        type=int,
        default=None,
        help="keep this many days instead of the setting (at least 30)",
    )
    ret.set_defaults(func=cmd_retention)
