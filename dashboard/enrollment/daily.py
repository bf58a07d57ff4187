"""The worker's daily privacy purge: at most once per Asia/Seoul day across every process
(``dashboard.once_a_day``: the ``privacy_purge`` audit row is the guard)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from dashboard.auth.principal import system_principal
from dashboard.enrollment.privacy import PURGE_ACTION, PurgeReport, purge_ended
from dashboard.once_a_day import run_once_a_day
from dashboard.settings import get_settings

PURGE_LOCK_CLASS = 0x616E_6270  # "anbp": not the tick's key
WORKER_PART = "privacy"


def daily_purge(
    engine: Engine, now: datetime, retention_days: int | None = None
) -> PurgeReport | None:
    """Run the purge unless one already ran today (Seoul); None when skipped. Never raises:
    a failure is logged and retried on the next worker pass."""
    days = get_settings().privacy_retention_days if retention_days is None else retention_days
    return run_once_a_day(
        engine,
        now,
        PURGE_ACTION,
        PURGE_LOCK_CLASS,
        lambda conn: purge_ended(conn, system_principal(WORKER_PART), now, days),
    )
