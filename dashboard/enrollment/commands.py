"""``python -m dashboard privacy purge [--dry-run]``: the privacy purge, as the CLI principal."""

from __future__ import annotations

import argparse


def cmd_privacy(args: argparse.Namespace) -> int:
    from dashboard.auth.principal import cli_principal
    from dashboard.cli import _schema_ready_engine
    from dashboard.clock import now
    from dashboard.enrollment.privacy import purge_ended
    from dashboard.settings import get_settings

    days = get_settings().privacy_retention_days
    engine = _schema_ready_engine()
    with engine.begin() as conn:
        report = purge_ended(conn, cli_principal(), now(), days, dry_run=args.dry_run)
    print(f"{report} (retention {days} days)")
    return 0


def register(sub) -> None:
    privacy = sub.add_parser("privacy", help="personal data of ended enrollments")
    privacy.add_argument("action", choices=["purge"])
    privacy.add_argument(
        "--dry-run", action="store_true", help="list who would be pseudonymised; change nothing"
    )
    privacy.set_defaults(func=cmd_privacy)
