"""CLI: ``budget import FILE [--dry-run]`` and ``incentives import FILE [--dry-run]``.

Exit codes as the other imports (``import-events``, ``recipients import``): 0 stored, a valid
dry run, or nothing to change; 1 refused (every problem printed with its row and column,
nothing stored); 2 the file cannot be used (no such file, not a readable CSV/XLSX table) or
the database has no tables yet.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from dashboard import clock

GROUPS = {
    "budget": ("import_budget", "monthly budget execution (e-호조 style export, CSV or .xlsx)"),
    "incentives": ("import_incentives", "incentive points statement per month × district"),
}


def run_file_import(
    file: str, *, dry_run: bool, table: str, what: str, importer: Callable[..., Any]
) -> int:
    """A file import from the CLI, as ``budget``, ``incentives`` and ``participation import``
    run it: 0 stored, a valid dry run, or nothing to change; 1 refused (every problem printed
    with its row and column, nothing stored); 2 the file cannot be used at all (no such file,
    not a readable table) or the database lacks ``table`` (``what`` names those tables)."""
    from sqlalchemy import inspect

    from dashboard.auth.principal import cli_principal
    from dashboard.db.engine import make_engine
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.settings import get_settings

    path = Path(file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    engine = make_engine(get_settings().resolved_database_url)
    if not inspect(engine).has_table(table):
        print(
            f"error: the database has no {what} tables yet; run `python -m dashboard db upgrade` "
            "(or `python -m dashboard init`) first",
            file=sys.stderr,
        )
        return 2
    with path.open("rb") as handle:  # a file over the limit is refused without reading it all
        data = handle.read(MAX_FILE_BYTES + 1)
    report = importer(engine, data, path.name, cli_principal(), clock.now(), dry_run=dry_run)
    print(report.summary())
    if report.ok:
        return 0
    return 2 if report.unreadable else 1


def cmd_import(args: argparse.Namespace) -> int:
    from dashboard import finance

    importer = getattr(finance, GROUPS[args.command][0])
    return run_file_import(
        args.file, dry_run=args.dry_run, table="budget_execution", what="budget", importer=importer
    )


def register(sub: argparse._SubParsersAction) -> None:
    for group, (_fn, what) in GROUPS.items():
        parser = sub.add_parser(group, help=f"{what}: import, all or nothing")
        actions = parser.add_subparsers(dest="action", required=True)
        imp = actions.add_parser(
            "import", help=f"import {what}; prints the preview, then stores all rows or none"
        )
        imp.add_argument("file")
        imp.add_argument(
            "--dry-run", action="store_true", help="check and preview only; store nothing"
        )
        imp.set_defaults(func=cmd_import)
