"""Retention of raw device events: ``python -m dashboard retention [--dry-run] [--days N]``.

Raw ``device_events`` are kept for ``ANBU_EVENT_RETENTION_DAYS`` (default 90) Asia/Seoul
calendar days; everything learned from them stays: ``device_daily`` rollups (the routine model
and every trend page read these), ``device_state``, alerts, dispatches, the outbox and the audit
log. Nothing but ``device_events`` is touched.

Deletion runs in small transactions (``BATCH_ROWS`` rows each) so ingest, which needs the write
lock on SQLite, waits at most one short batch. Rows are found through the ``(device_id, ts)``
index, a chunk of devices at a time: the table has no index on ``ts`` alone, and walking it in
id order would rescan every kept row for each batch. The work is proportional to the rows
deleted plus the number of devices, not to the size of the table.

On PostgreSQL, where ``device_events`` is partitioned by Seoul day (``dashboard.db.partitions``),
every partition wholly before the cutoff is detached and dropped instead, one transaction each:
no row-by-row delete, no dead rows for vacuum. Only rows the partitions do not split at the
cutoff (the default partition, a month-long history partition from migration 0011) are then
deleted in batches as above.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from sqlalchemy import Connection, Engine, Integer, bindparam, delete, func, select, text
from sqlalchemy.exc import OperationalError

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.clock import as_utc, require_aware
from dashboard.db import partitions
from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Device, DeviceEvent
from dashboard.settings import LOCAL_TZ

log = logging.getLogger(__name__)

# The rules read raw events at most this far back for the few devices they evaluate: four
# weekly AI-call results (28 days), a 7-day-old concern, minutes of positions. A shorter period
# would change what the rules decide, so it is refused.
MIN_RETENTION_DAYS = 30
BATCH_ROWS = 5_000  # rows per transaction: milliseconds of write lock, far below busy timeouts
DEVICE_CHUNK = 500  # devices per statement (one parameter each)
ACTION = "events_expire"
PERMISSION = "import_data"  # whoever may bring vendor events in may let old ones expire
# PostgreSQL: how long detaching a partition may wait for its lock (a long report holding the
# table) before that partition is left for the next run; ingest queues behind a waiting DETACH.
DETACH_LOCK_TIMEOUT = "2s"


@dataclass(frozen=True)
class RetentionReport:
    cutoff: datetime  # events with ts before this (00:00 Asia/Seoul) are expired, aware UTC
    days: int
    events: int  # deleted, or that a dry run would delete
    oldest: datetime | None  # the oldest such event's ts (dry run only)
    dry_run: bool
    partitions: tuple[str, ...] = ()  # PostgreSQL partitions dropped (or that would be)

    def __str__(self) -> str:
        local = self.cutoff.astimezone(LOCAL_TZ)
        verb = "would delete" if self.dry_run else "deleted"
        oldest = (
            f" (the oldest from {self.oldest.astimezone(LOCAL_TZ):%Y-%m-%d})"
            if self.oldest is not None
            else ""
        )
        parts = (
            f" ({len(self.partitions)} whole partitions {'would be ' if self.dry_run else ''}"
            "dropped)"
            if self.partitions
            else ""
        )
        return (
            f"{verb} {self.events:,} raw device events before {local:%Y-%m-%d %H:%M} "
            f"Asia/Seoul{oldest}{parts}, keeping {self.days} days; daily rollups, device state, "
            "alerts, dispatches and the audit log are kept"
        )


def retention_cutoff(now: datetime, days: int) -> datetime:
    """Midnight (Asia/Seoul) ``days`` days before today: whole local days expire together,
    as whole days are what ``device_daily`` rolls up."""
    require_aware(now, "now")
    day = now.astimezone(LOCAL_TZ).date() - timedelta(days=days)
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ).astimezone(now.tzinfo)


def expire_events(
    engine: Engine,
    principal: SessionUser,
    now: datetime,
    days: int,
    *,
    dry_run: bool = False,
    batch_rows: int = BATCH_ROWS,
    progress: Callable[[int], None] | None = None,
) -> RetentionReport:
    """Delete the raw events older than ``days`` whole days, a small transaction at a time.

    A dry run only counts. A real run writes one audit row at the end (also when nothing was
    due); an interrupted run leaves the batches it committed deleted, and the next run finishes
    the job. ``progress`` is called with the running total after each batch.
    """
    actor = require(principal, PERMISSION).username
    if isinstance(days, bool) or not isinstance(days, int):
        raise TypeError("days must be an int")
    if days < MIN_RETENTION_DAYS:
        raise ValueError(
            f"retention of {days} days refused: at least {MIN_RETENTION_DAYS} days, because the "
            "rules read raw events that far back"
        )
    if batch_rows < 1:
        raise ValueError("batch_rows must be at least 1")
    cutoff = retention_cutoff(now, days)
    e = DeviceEvent.__table__
    with engine.connect() as conn:
        every = prebuilt(conn, "retention.devices", lambda _: select(Device.id).order_by(Device.id))
        devices = list(conn.execute(every).scalars())
        expired = [
            p.name
            for p in (partitions.list_partitions(conn) if partitions.is_partitioned(conn) else [])
            if not p.is_default and p.upper <= cutoff
        ]
    total, oldest = 0, None
    if not dry_run:
        dropped = []
        for name in expired:
            count = _drop_partition(engine, name)
            if count is None:
                continue
            dropped.append(name)
            total += count
            if progress is not None:
                progress(total)
        expired = dropped
    for start in range(0, len(devices), DEVICE_CHUNK):
        chunk = devices[start : start + DEVICE_CHUNK]
        if dry_run:
            due = (e.c.device_id.in_(chunk), e.c.ts < cutoff)
            with engine.connect() as conn:
                query = select(func.count(), func.min(e.c.ts)).where(*due)
                count, first = conn.execute(query).one()
            total += count
            if first is not None and (oldest is None or as_utc(first) < oldest):
                oldest = as_utc(first)
            continue
        while True:
            with engine.begin() as conn:
                params = {
                    "ids": bound_values(conn, e.c.device_id, chunk),
                    "cutoff": cutoff,
                    "rows": batch_rows,
                }
                deleted = conn.execute(_expire_batch(conn), params).rowcount
            total += deleted
            if deleted and progress is not None:
                progress(total)
            if deleted < batch_rows:
                break
    report = RetentionReport(cutoff, days, total, oldest, dry_run, tuple(expired))
    if not dry_run:
        with engine.begin() as conn:
            write_audit(
                conn,
                at=now,
                actor=actor,
                action=ACTION,
                entity_type="device_events",
                entity_id=None,
                detail={
                    "days": days,
                    "cutoff": cutoff.isoformat(),
                    "deleted": total,
                    "partitions_dropped": len(expired),
                },
            )
        log.info("%s", report)
    return report


def _expire_batch(conn: Connection):
    """Up to ``rows`` events of the devices ``ids`` from before ``cutoff``: built once per
    process (the worker's daily pass runs it), the values bound at execution."""
    e = DeviceEvent.__table__

    def build(c: Connection):
        cutoff = bindparam("cutoff", type_=e.c.ts.type)
        batch = (
            select(e.c.id)
            .where(in_bound(c, e.c.device_id, "ids"), e.c.ts < cutoff)
            .limit(bindparam("rows", type_=Integer()))
        )
        # ts < cutoff again outside: PostgreSQL then visits only the partitions left
        return delete(e).where(e.c.ts < cutoff, e.c.id.in_(batch))

    return prebuilt(conn, "retention.expire_batch", build)


def _drop_partition(engine: Engine, name: str) -> int | None:
    """Detach and drop one expired partition in one transaction; returns its row count, or
    None when its lock did not come within ``DETACH_LOCK_TIMEOUT`` (the next run retries).

    DETACH ... CONCURRENTLY would not block readers, but PostgreSQL refuses it on a table with
    a default partition; a plain DETACH holds its lock for milliseconds once it has it.
    """
    try:
        with engine.begin() as conn:
            conn.execute(text(f"SET LOCAL lock_timeout = '{DETACH_LOCK_TIMEOUT}'"))
            conn.execute(text(f'ALTER TABLE {partitions.TABLE} DETACH PARTITION "{name}"'))
            count = conn.execute(text(f'SELECT count(*) FROM "{name}"')).scalar_one()
            conn.execute(text(f'DROP TABLE "{name}"'))
    except OperationalError as exc:
        log.warning("partition %s not dropped this time: %s", name, exc.orig or exc)
        return None
    log.info("dropped partition %s (%s events)", name, count)
    return count
