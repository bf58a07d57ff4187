"""CLI: ``budget import FILE [--dry-run]`` and ``incentives import FILE [--dry-run]``.

Exit codes as the other imports (``import-events``, ``recipients import``): 0 stored, a valid
dry run, or nothing to change; 1 refused (every problem printed with its row and column,
nothing stored); 2 a usage problem (no such file, no tables yet).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import clock

GROUPS = {
    "budget": ("import_budget", "monthly budget execution (e-호조 style export, CSV or .xlsx)"),
    "incentives": ("import_incentives", "incentive points statement per month × district"),
}


def cmd_import(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from dashboard import finance
    from dashboard.auth.principal import cli_principal
    from dashboard.db.engine import make_engine
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.settings import get_settings

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    engine = make_engine(get_settings().resolved_database_url)
    if not inspect(engine).has_table("budget_execution"):
        print(
            "error: the database has no budget tables yet; run `python -m dashboard db upgrade` "
            "(or `python -m dashboard init`) first",
            file=sys.stderr,
        )
        return 2
    with path.open("rb") as file:  # a file over the limit is refused without reading it all
        data = file.read(MAX_FILE_BYTES + 1)
    importer = getattr(finance, GROUPS[args.command][0])
    report = importer(engine, data, path.name, cli_principal(), clock.now(), dry_run=args.dry_run)
    print(report.summary())
    return 0 if report.ok else 1


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
