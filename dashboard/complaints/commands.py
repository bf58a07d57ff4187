"""CLI: ``complaints import FILE [--dry-run] [--radius M]``.

Exit codes as the other imports (``recipients import``, ``import-events``): 0 stored, nothing to
change, or a valid dry run; 1 refused (every problem printed by row and column, nothing
stored); 2 a usage problem (no such file, no tables yet, a bad radius).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import clock


def cmd_import(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from dashboard.auth.principal import cli_principal
    from dashboard.complaints import import_complaints
    from dashboard.db.engine import make_engine
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.settings import get_settings

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    if args.radius is not None and not 0 < args.radius <= 5000:
        print("error: --radius must be between 0 and 5000 metres", file=sys.stderr)
        return 2
    engine = make_engine(get_settings().resolved_database_url)
    if not inspect(engine).has_table("complaints") or "source_ref" not in {
        c["name"] for c in inspect(engine).get_columns("complaints")
    }:
        print(
            "error: the database's schema is not up to date; run `python -m dashboard db "
            "upgrade` (or `python -m dashboard init`) first",
            file=sys.stderr,
        )
        return 2
    with path.open("rb") as file:  # a file over the limit is refused without reading it all
        data = file.read(MAX_FILE_BYTES + 1)
    report = import_complaints(
        engine,
        data,
        path.name,
        cli_principal(),
        clock.now(),
        dry_run=args.dry_run,
        radius_m=args.radius,
    )
    print(report.summary())
    return 0 if report.ok else 1


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser(
        "complaints", help="complaints from the complaint system (새올, 국민신문고 exports)"
    )
    actions = parser.add_subparsers(dest="action", required=True)
    imp = actions.add_parser(
        "import",
        help="import complaints (CSV or .xlsx, Korean headers), all or nothing; matched to "
        "complaint sites by distance, duplicates recognised",
    )
    imp.add_argument("file")
    imp.add_argument("--dry-run", action="store_true", help="check and preview only; store nothing")
    imp.add_argument(
        "--radius",
        type=float,
        default=None,
        help="metres to the nearest complaint site (default ANBU_COMPLAINT_MATCH_RADIUS_M, 100)",
    )
    imp.set_defaults(func=cmd_import)
