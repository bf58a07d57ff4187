"""The worker's data-lifecycle jobs (``dashboard.rules.worker.daily_jobs``): partitions ahead,
retention of raw events and, on SQLite, a WAL checkpoint. None of them ever raises.

Retention is at most once per Asia/Seoul day across every worker: ``run_once_a_day`` claims
the day with an ``events_expire_daily`` audit row (under an advisory lock on PostgreSQL; on
SQLite two claims cannot both commit), and only the worker that claimed it runs
``expire_events``, whose small transactions then follow outside the claim. A run that fails
after its claim is finished by the next day's run, which expires everything due by then.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, select, text

from dashboard.audit import write_audit
from dashboard.auth.principal import system_principal
from dashboard.db import partitions
from dashboard.db.engine import Checkpoint, checkpoint_wal
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AuditLog
from dashboard.once_a_day import run_once_a_day
from dashboard.ops.retention import RetentionReport, expire_events, retention_cutoff
from dashboard.settings import LOCAL_TZ, get_settings

log = logging.getLogger(__name__)


class _Claimed(Exception):
    """Another worker claimed today's retention first."""

    def __str__(self) -> str:
        return "another worker claimed today's retention first"


RETENTION_LOCK_CLASS = 0x616E_6265  # "anbe": not the tick's, purge's, learning's or reminders'
PARTITION_LOCK_CLASS = 0x616E_6264  # "anbd"
PARTITION_LOCK_TIMEOUT = "2s"
DAILY_ACTION = "events_expire_daily"
# SQLite: how often the worker truncates the WAL (``wal_checkpoint``). Between two runs the
# file stays under ``dashboard.db.engine.SQLITE_JOURNAL_SIZE_LIMIT`` whenever SQLite can start
# it over; the checkpoint also catches the WAL that readers kept from starting over.
WAL_CHECKPOINT_EVERY = timedelta(hours=1)
_last_checkpoint: dict[str, datetime] = {}
WORKER_PART = "retention"


def daily_partitions(engine: Engine, now: datetime) -> list[str]:
    """Create the missing partitions of today and the next week (PostgreSQL); every pass, as
    it costs one catalog query when nothing is missing. Never raises."""
    if engine.dialect.name != "postgresql":
        return []
    try:
        with engine.begin() as conn:
            if not conn.execute(
                text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
                {"k": PARTITION_LOCK_CLASS},
            ).scalar():
                return []  # another worker is creating them now
            # Attaching waits for a long report on the default partition; give up and retry on
            # the next pass rather than queue ingest behind the wait (a week of slack ahead).
            conn.execute(text(f"SET LOCAL lock_timeout = '{PARTITION_LOCK_TIMEOUT}'"))
            created = partitions.ensure_partitions(conn, now)
    except Exception:
        log.exception("creating the partitions ahead failed; the next worker pass retries")
        return []
    if created:
        log.info("created partitions %s", ", ".join(created))
    return created


def daily_retention(
    engine: Engine, now: datetime, days: int | None = None
) -> RetentionReport | None:
    """Expire raw events older than ``days`` (``ANBU_EVENT_RETENTION_DAYS``) unless a worker
    already did today (Seoul); None when skipped or failed. Never raises."""
    days = get_settings().event_retention_days if days is None else days
    principal = system_principal(WORKER_PART)

    def claim(conn: Connection) -> bool:
        write_audit(
            conn,
            at=now,
            actor=principal.username,
            action=DAILY_ACTION,
            entity_type="device_events",
            entity_id=None,
            detail={"days": days, "cutoff": retention_cutoff(now, days).isoformat()},
        )
        # Holding the write lock now (SQLite) or the advisory lock (PostgreSQL), count the
        # claims of today: pysqlite reads outside a transaction, so two workers may both have
        # found none above; the one that sees another's committed claim gives way.
        claims = conn.execute(
            prebuilt(conn, "ops.daily_claims", _claims_query),
            {"action": DAILY_ACTION, "since": seoul_day_start(now)},
        ).scalar_one()
        if claims > 1:
            raise _Claimed
        return True

    # A claim that gives way raises inside run_once_a_day, which rolls it back and returns None.
    if run_once_a_day(engine, now, DAILY_ACTION, RETENTION_LOCK_CLASS, claim) is None:
        return None
    try:
        return expire_events(engine, principal, now, days)
    except Exception:
        log.exception("daily retention failed; tomorrow's run expires what is due then")
        return None


def _claims_query(_conn: Connection):
    at = AuditLog.__table__.c.at
    return select(func.count()).where(
        AuditLog.action == bindparam("action", type_=AuditLog.__table__.c.action.type),
        AuditLog.at >= bindparam("since", type_=at.type),
    )


def wal_checkpoint(engine: Engine, now: datetime, *, force: bool = False) -> Checkpoint | None:
    """SQLite: checkpoint and truncate the WAL (``checkpoint_wal``) when this process has not
    done so for ``WAL_CHECKPOINT_EVERY`` (or ``force``); None when not due or not SQLite.
    Per process, not per day: a checkpoint is harmless to repeat. Never raises."""
    if engine.dialect.name != "sqlite":
        return None
    key = str(engine.url)
    last = _last_checkpoint.get(key)
    if not force and last is not None and abs(now - last) < WAL_CHECKPOINT_EVERY:
        return None
    _last_checkpoint[key] = now
    try:
        result = checkpoint_wal(engine)
    except Exception:
        log.exception("WAL checkpoint failed; the next run retries")
        return None
    if result is not None:
        log.info("%s", result)
    return result


def seoul_day_start(now: datetime) -> datetime:
    """00:00 Asia/Seoul of ``now``'s day, in UTC."""
    local = now.astimezone(LOCAL_TZ)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(UTC)
