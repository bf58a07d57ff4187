"""Worker jobs that run at most once per Asia/Seoul day across every process.

The audit log is the guard: a run writes its audit row (``action``) in the same transaction as
its changes, so "a row today" means "done today". On PostgreSQL a transaction-scoped advisory
lock makes two workers starting together take turns (the second then finds the first's row);
SQLite serialises writers anyway.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, time
from typing import TypeVar

from sqlalchemy import Connection, Engine, bindparam, select, text

from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AuditLog
from dashboard.settings import LOCAL_TZ

log = logging.getLogger(__name__)
T = TypeVar("T")


def _done_query(_conn: Connection):
    return (
        select(AuditLog.id)
        .where(
            AuditLog.action == bindparam("action", type_=AuditLog.__table__.c.action.type),
            AuditLog.at >= bindparam("since", type_=AuditLog.__table__.c.at.type),
        )
        .limit(1)
    )


def run_once_a_day(
    engine: Engine, now: datetime, action: str, lock_class: int, job: Callable[[Connection], T]
) -> T | None:
    """``job(conn)`` unless an ``action`` audit row exists for today (Seoul); None when skipped
    or failed. ``job`` must write that audit row itself. Never raises: a failure is logged and
    the next worker pass retries."""
    try:
        midnight = datetime.combine(now.astimezone(LOCAL_TZ).date(), time(0), LOCAL_TZ)
        with engine.begin() as conn:
            if (
                conn.dialect.name == "postgresql"
                and not conn.execute(
                    text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
                    {"k": lock_class},
                ).scalar()
            ):
                return None
            done = conn.execute(
                prebuilt(conn, "once_a_day.done", _done_query),
                {"action": action, "since": midnight.astimezone(UTC)},
            ).first()
            if done is not None:
                return None
            result = job(conn)
    except Exception:
        log.exception("daily job %s failed; the next worker pass retries", action)
        return None
    log.info("%s", result)
    return result
