"""The system's health read from the database: for the 시스템 상태 page and the worker's gauges.

Every read here is meant to stay cheap on a national database (tens of millions of events):
alert counts use ``ix_alerts_status_stage``, the outbox its ``(status, next_attempt_at)``
index, dead letters their ``received_at`` index. Events have no index on ``received_at``, so
:func:`events_by_vendor` finds the first event of the window by bisecting the primary key
(ids grow with ``received_at``) and counts only the window's rows.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pandas as pd
from sqlalchemy import Connection, case, func, literal, select, text

from dashboard.db.schema import Alert, AppMeta, DeadLetter, DeviceEvent, NotificationOutbox
from dashboard.ops.heartbeat import LAST_TICK_KEY  # app_meta key the worker writes each tick
from dashboard.ops.leader import WORKER_LOCK_KEY

STAGES = ("attention", "risk", "severe")
WINDOWS = {"5m": timedelta(minutes=5), "1h": timedelta(hours=1)}
# The PostgreSQL advisory lock the elected worker holds for as long as it leads ("Anbu").
LEADER_LOCK_KEY = WORKER_LOCK_KEY  # the worker's election (dashboard.ops.leader)
# Rows committed a little out of id order (concurrent ingest transactions) are still counted.
ORDER_SLACK = timedelta(minutes=1)
VENDOR_COLUMNS = ["vendor", "events_5m", "events_1h", "dead_letters_5m", "dead_letters_1h"]


def open_alerts_by_stage(conn: Connection) -> dict[str, int]:
    """Alerts not closed (open, acknowledged, dispatched), per stage; every stage present."""
    rows = conn.execute(
        select(Alert.stage, func.count())
        .where(Alert.status.in_(("open", "acknowledged", "dispatched")))
        .group_by(Alert.stage)
    ).all()
    counts = dict.fromkeys(STAGES, 0)
    counts.update({stage: int(n) for stage, n in rows})
    return counts


@dataclass(frozen=True)
class Outbox:
    pending: int  # notifications not delivered yet (including ones waiting for a retry)
    failed: int  # refused by the gateway for good
    oldest_pending_at: datetime | None  # created_at of the oldest undelivered one

    def oldest_age_s(self, now: datetime) -> float:
        """Seconds the oldest undelivered notification has waited; 0 when none waits."""
        if self.oldest_pending_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_pending_at).total_seconds())


def outbox_backlog(conn: Connection) -> Outbox:
    o = NotificationOutbox
    row = conn.execute(
        select(
            func.count().filter(o.status == "pending"),
            func.count().filter(o.status == "failed"),
            func.min(case((o.status == "pending", o.created_at))),
        ).where(o.status.in_(("pending", "failed")))
    ).one()
    oldest = row[2]
    if isinstance(oldest, str):  # SQLite hands an aggregate's datetime back as text
        oldest = pd.Timestamp(oldest).tz_localize("UTC").to_pydatetime()
    return Outbox(pending=int(row[0]), failed=int(row[1]), oldest_pending_at=oldest)


def dead_letter_count(conn: Connection, since: datetime | None = None) -> int:
    stmt = select(func.count()).select_from(DeadLetter)
    if since is not None:
        stmt = stmt.where(DeadLetter.received_at >= since)
    return int(conn.scalar(stmt) or 0)


def _first_event_id_since(conn: Connection, since: datetime) -> int | None:
    """The smallest event id received at or after ``since`` (None: none), in about
    log2(rows) primary-key lookups instead of a scan of the table."""
    # Two statements: SQLite answers min() or max() alone from the key, both together by a scan.
    hi = conn.scalar(select(func.max(DeviceEvent.id)))
    if hi is None:
        return None
    lo = conn.scalar(select(func.min(DeviceEvent.id)))

    def received_from(event_id: int):
        return conn.scalar(
            select(DeviceEvent.received_at)
            .where(DeviceEvent.id >= event_id)
            .order_by(DeviceEvent.id)
            .limit(1)
        )

    if received_from(hi) < since:
        return None
    while lo < hi:
        mid = (lo + hi) // 2
        if received_from(mid) >= since:
            hi = mid
        else:
            lo = mid + 1
    return lo


def events_by_vendor(conn: Connection, now: datetime) -> pd.DataFrame:
    """Per vendor: events stored and dead letters kept in the last 5 minutes and hour.

    Vendors with neither in the hour are left out. Counts are exact for rows committed in
    ``received_at`` order and for rows out of order by up to ``ORDER_SLACK``.
    """
    hour, five = now - WINDOWS["1h"], now - WINDOWS["5m"]
    counts: dict[str, list[int]] = {}
    first = _first_event_id_since(conn, hour - ORDER_SLACK)
    if first is not None:
        e = DeviceEvent
        # Grouped by an expression, not the bare column: SQLite would otherwise walk the whole
        # (vendor, event_uid) index to get the groups in order instead of the id range.
        by = func.coalesce(e.vendor, literal(""))
        for vendor, n5, n60 in conn.execute(
            select(by, func.count().filter(e.received_at >= five), func.count())
            .where(e.id >= first, e.received_at >= hour, e.received_at <= now)
            .group_by(by)
        ):
            counts.setdefault(vendor, [0, 0, 0, 0])[:2] = [int(n5), int(n60)]
    d = DeadLetter
    vendor = func.coalesce(d.vendor, literal("?"))
    for name, n5, n60 in conn.execute(
        select(vendor, func.count().filter(d.received_at >= five), func.count())
        .where(d.received_at >= hour, d.received_at <= now)
        .group_by(vendor)
    ):
        counts.setdefault(name, [0, 0, 0, 0])[2:] = [int(n5), int(n60)]
    rows = [[name, *values] for name, values in sorted(counts.items())]
    return pd.DataFrame(rows, columns=VENDOR_COLUMNS).astype(
        {c: "int64" for c in VENDOR_COLUMNS[1:]}
    )


@dataclass(frozen=True)
class LastTick:
    at: datetime
    seconds: float
    candidates: int
    host: str | None
    pid: int | None


def last_tick(conn: Connection) -> LastTick | None:
    """The last rule tick a worker ran (written by ``dashboard.ops.heartbeat``), if any."""
    value = conn.scalar(select(AppMeta.value).where(AppMeta.key == LAST_TICK_KEY))
    if value is None:
        return None
    try:
        data = json.loads(value)
        return LastTick(
            at=datetime.fromisoformat(data["at"]),
            seconds=float(data.get("seconds", 0.0)),
            candidates=int(data.get("candidates", 0)),
            host=data.get("host"),
            pid=data.get("pid"),
        )
    except (ValueError, KeyError, TypeError):  # a hand-edited row: say "unknown", not crash
        return None


@dataclass(frozen=True)
class DatabaseSize:
    backend: str  # "sqlite" | "postgresql"
    total_bytes: int
    wal_bytes: int | None = None  # SQLite: the -wal file beside the database
    free_bytes: int | None = None  # SQLite: free space on the file's volume
    disk_bytes: int | None = None  # SQLite: size of that volume


def database_size(conn: Connection) -> DatabaseSize:
    """PostgreSQL: ``pg_database_size``; SQLite: the file, its WAL and the volume's free space."""
    if conn.dialect.name == "postgresql":
        size = conn.scalar(text("SELECT pg_database_size(current_database())"))
        return DatabaseSize("postgresql", int(size or 0))
    name = conn.engine.url.database
    if not name or name == ":memory:":
        pages = conn.exec_driver_sql("PRAGMA page_count").scalar() or 0
        page = conn.exec_driver_sql("PRAGMA page_size").scalar() or 0
        return DatabaseSize("sqlite", int(pages) * int(page), wal_bytes=0)
    path = Path(name)
    wal = Path(f"{name}-wal")
    usage = os.statvfs(path.parent) if hasattr(os, "statvfs") else None
    return DatabaseSize(
        "sqlite",
        path.stat().st_size if path.exists() else 0,
        wal_bytes=wal.stat().st_size if wal.exists() else 0,
        free_bytes=usage.f_bavail * usage.f_frsize if usage else None,
        disk_bytes=usage.f_blocks * usage.f_frsize if usage else None,
    )


LEADER_COLUMNS = ["pid", "application_name", "client_addr", "backend_start", "state"]


def leader_lock_holders(conn: Connection) -> pd.DataFrame | None:
    """Sessions holding the worker's leader lock (PostgreSQL); None on SQLite (one machine,
    no election). The key is matched both as one bigint and as the pair (key, this schema's
    hash), the two forms ``pg_advisory_lock`` takes, in this database only."""
    if conn.dialect.name != "postgresql":
        return None
    rows = conn.execute(
        text(
            """
            SELECT a.pid, a.application_name, host(a.client_addr) AS client_addr,
                   a.backend_start, a.state
            FROM pg_locks l
            JOIN pg_stat_activity a ON a.pid = l.pid
            WHERE l.locktype = 'advisory' AND l.granted
              AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
              AND ((l.objsubid = 1 AND l.classid::bigint = 0 AND l.objid::bigint = :key)
                OR (l.objsubid = 2 AND l.classid::bigint = :key
                    AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295)))
            ORDER BY a.backend_start
            """
        ),
        {"key": LEADER_LOCK_KEY},
    ).all()
    frame = pd.DataFrame([tuple(r) for r in rows], columns=LEADER_COLUMNS)
    frame["backend_start"] = pd.to_datetime(frame["backend_start"], utc=True)
    return frame


@dataclass(frozen=True)
class Snapshot:
    """Everything the 시스템 상태 page shows, read in one connection."""

    now: datetime
    vendors: pd.DataFrame
    alerts: dict[str, int]
    outbox: Outbox
    dead_letters_1h: int
    dead_letters_total: int
    last_tick: LastTick | None
    size: DatabaseSize
    leaders: pd.DataFrame | None


def system_snapshot(conn: Connection, now: datetime) -> Snapshot:
    return Snapshot(
        now=now,
        vendors=events_by_vendor(conn, now),
        alerts=open_alerts_by_stage(conn),
        outbox=outbox_backlog(conn),
        dead_letters_1h=dead_letter_count(conn, now - WINDOWS["1h"]),
        dead_letters_total=dead_letter_count(conn),
        last_tick=last_tick(conn),
        size=database_size(conn),
        leaders=leader_lock_holders(conn),
    )
