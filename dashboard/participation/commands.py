"""CLI: ``participation import FILE [--dry-run]``.

Exit codes as ``budget import``: 0 stored, a valid dry run, or nothing to change; 1 refused
(every problem printed with its row and column, nothing stored); 2 the file cannot be used at
all (no such file, not a readable CSV/XLSX table, no header row) or the database has no tables.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import clock


def cmd_import(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from dashboard.auth.principal import cli_principal
    from dashboard.db.engine import make_engine
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.participation import import_participation
    from dashboard.settings import get_settings

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    engine = make_engine(get_settings().resolved_database_url)
    if not inspect(engine).has_table("participation_weeks"):
        print(
            "error: the database has no participation tables yet; run "
            "`python -m dashboard db upgrade` (or `python -m dashboard init`) first",
            file=sys.stderr,
        )
        return 2
    with path.open("rb") as file:  # a file over the limit is refused without reading it all
        data = file.read(MAX_FILE_BYTES + 1)
    report = import_participation(
        engine, data, path.name, cli_principal(), clock.now(), dry_run=args.dry_run
    )
    print(report.summary())
    if report.ok:
        return 0
    return 2 if report.unreadable else 1


def register(sub: argparse._SubParsersAction) -> None:
    what = "program participation records (enrolment and completion, or weekly activity)"
    parser = sub.add_parser("participation", help=f"{what}: import, all or nothing")
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import", help=f"import {what}; prints the preview, then stores all rows or none"
    )
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="check and preview only; store nothing")
    imp.set_defaults(func=cmd_import)
