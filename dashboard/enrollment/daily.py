"""The worker's daily privacy purge: at most once per Asia/Seoul day across every process.

The audit log is the guard: a run writes its ``privacy_purge`` row in the same transaction as
its changes, so "a row today" means "done today". On PostgreSQL a transaction-scoped advisory
lock makes two workers starting together take turns (the second then finds the first's row);
SQLite serialises writers anyway.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, time

from sqlalchemy import Engine, select, text

from dashboard.auth.principal import system_principal
from dashboard.db.schema import AuditLog
from dashboard.enrollment.privacy import PURGE_ACTION, PurgeReport, purge_ended
from dashboard.settings import LOCAL_TZ, get_settings

log = logging.getLogger(__name__)
PURGE_LOCK_CLASS = 0x616E_6270  # "anbp": not the tick's key
WORKER_PART = "privacy"


def daily_purge(
    engine: Engine, now: datetime, retention_days: int | None = None
) -> PurgeReport | None:
    """Run the purge unless one already ran today (Seoul); None when skipped. Never raises:
    a failure is logged and retried on the next worker pass."""
    try:
        days = get_settings().privacy_retention_days if retention_days is None else retention_days
        midnight = datetime.combine(now.astimezone(LOCAL_TZ).date(), time(0), LOCAL_TZ)
        with engine.begin() as conn:
            if (
                conn.dialect.name == "postgresql"
                and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": PURGE_LOCK_CLASS},
                ).scalar()
            ):
                return None
            done = conn.execute(
                select(AuditLog.id)
                .where(AuditLog.action == PURGE_ACTION, AuditLog.at >= midnight.astimezone(UTC))
                .limit(1)
            ).first()
            if done is not None:
                return None
            report = purge_ended(conn, system_principal(WORKER_PART), now, days)
    except Exception:
        log.exception("daily privacy purge failed; the next worker pass retries")
        return None
    log.info("%s", report)
    return report
