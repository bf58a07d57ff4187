"""CLI: ``participation import FILE [--dry-run]``.

Exit codes as ``budget import``: 0 stored, a valid dry run, or nothing to change; 1 refused
(every problem printed with its row and column, nothing stored); 2 the file cannot be used at
all (no such file, not a readable CSV/XLSX table, no header row) or the database has no tables.
"""

from __future__ import annotations

import argparse


def cmd_import(args: argparse.Namespace) -> int:
    from dashboard.finance.commands import run_file_import
    from dashboard.participation import import_participation

    return run_file_import(
        args.file,
        dry_run=args.dry_run,
        table="participation_weeks",
        what="participation",
        importer=import_participation,
    )


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
