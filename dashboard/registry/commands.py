"""CLI: ``recipients import|template`` and ``devices import|template``.

Exit codes as ``import-events``: 0 stored (or a valid dry run), 1 refused (the row errors are
printed), 2 a usage problem (no such file, no tables yet).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from dashboard import clock

# The CLI's group name -> the roster kind it imports.
GROUPS = {"recipients": "people", "devices": "devices"}


def _engine():
    from dashboard.db.engine import make_engine
    from dashboard.settings import get_settings

    return make_engine(get_settings().resolved_database_url)


def cmd_import(args: argparse.Namespace) -> int:
    from sqlalchemy import inspect

    from dashboard.auth.principal import cli_principal
    from dashboard.ingest.files import MAX_FILE_BYTES
    from dashboard.registry import KINDS, import_roster

    path = Path(args.file)
    if not path.is_file():
        print(f"error: no file at {path}", file=sys.stderr)
        return 2
    engine = _engine()
    if not inspect(engine).has_table("care_recipients"):
        print(
            "error: the database has no tables yet; run `python -m dashboard db upgrade` "
            "(or `python -m dashboard init`) first",
            file=sys.stderr,
        )
        return 2
    with path.open("rb") as file:  # a file over the limit is refused without reading it all
        data = file.read(MAX_FILE_BYTES + 1)
    report = import_roster(
        engine,
        KINDS[GROUPS[args.command]],
        data,
        path.name,
        cli_principal(),
        clock.now(),
        dry_run=args.dry_run,
        # Run on the server by whoever holds the database credentials (they can read every
        # row anyway): the preview names the personal fields too, unlike an admin's page.
        personal_fields=True,
    )
    print(report.summary())
    return 0 if report.ok else 1


def cmd_template(args: argparse.Namespace) -> int:
    from dashboard.registry import KINDS, template_csv

    path = Path(args.file)
    if path.suffix.lower() != ".csv":
        print("error: the template is a CSV file; give a name ending in .csv", file=sys.stderr)
        return 2
    if path.exists() and not args.force:
        print(f"error: {path} exists; pass --force to overwrite it", file=sys.stderr)
        return 2
    path.write_bytes(template_csv(KINDS[GROUPS[args.command]]))
    print(f"wrote {path}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    for group, kind in GROUPS.items():
        parser = sub.add_parser(group, help=f"the roster of {kind}: import a CSV or .xlsx list")
        actions = parser.add_subparsers(dest="action", required=True)
        imp = actions.add_parser(
            "import",
            help=f"import {kind} (CSV or .xlsx, Korean or English headers), all or nothing",
        )
        imp.add_argument("file")
        imp.add_argument(
            "--dry-run", action="store_true", help="check and preview only; store nothing"
        )
        imp.set_defaults(func=cmd_import)
        template = actions.add_parser(
            "template", help=f"write the {kind} template (Korean headers, one example row)"
        )
        template.add_argument("file")
        template.add_argument("--force", action="store_true", help="overwrite an existing file")
        template.set_defaults(func=cmd_template)
