"""Time partitions of ``device_events`` on PostgreSQL (native declarative partitioning).

Layout (docs/operations.md#partitions): ``device_events`` is partitioned by ``RANGE (ts)``.
Each Asia/Seoul day has its own partition ``device_events_pYYYYMMDD`` from 00:00 to the next
00:00 Seoul time, so the retention cutoff (a Seoul midnight) always falls on a partition
boundary and expiry drops whole partitions. Migration 0011 gives the history that existed
before it month-long partitions (named after their first day) to keep their number small.
``device_events_default`` takes any row no partition covers (a clock years off, a day not
created yet), so an insert never fails for want of a partition.

The worker creates the partitions of today and the next ``AHEAD_DAYS`` days every day
(``ensure_partitions``); migration 0011 creates them for its first week. SQLite has no
partitions: every function here is a no-op there.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, text

from dashboard.clock import seoul_midnight
from dashboard.settings import LOCAL_TZ

TABLE = "device_events"
DEFAULT_PARTITION = f"{TABLE}_default"
AHEAD_DAYS = 7  # days created ahead: a week without a worker still finds its partitions
_NAME = re.compile(rf"^{TABLE}_(p\d{{8}}|default)$")
_BOUND = re.compile(r"FROM \('([^']+)'\) TO \('([^']+)'\)")


@dataclass(frozen=True)
class Partition:
    name: str
    lower: datetime | None  # None for the default partition
    upper: datetime | None

    @property
    def is_default(self) -> bool:
        return self.lower is None


def is_partition_name(name: str) -> bool:
    """True for the tables that are partitions of ``device_events`` (not models of their own)."""
    return bool(_NAME.match(name))


def partition_name(day: date) -> str:
    return f"{TABLE}_p{day:%Y%m%d}"


def is_partitioned(conn: Connection) -> bool:
    """Whether ``device_events`` is a partitioned table here (PostgreSQL only)."""
    if conn.dialect.name != "postgresql":
        return False
    kind = conn.execute(
        text(
            "SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE c.relname = :t AND n.nspname = current_schema()"
        ),
        {"t": TABLE},
    ).scalar()
    return kind == "p"


def list_partitions(conn: Connection) -> list[Partition]:
    """The partitions of ``device_events`` in time order, the default partition last."""
    rows = conn.execute(
        text(
            "SELECT c.relname, pg_get_expr(c.relpartbound, c.oid) FROM pg_inherits i"
            " JOIN pg_class c ON c.oid = i.inhrelid"
            " JOIN pg_class p ON p.oid = i.inhparent"
            " JOIN pg_namespace n ON n.oid = p.relnamespace"
            " WHERE p.relname = :t AND n.nspname = current_schema()"
        ),
        {"t": TABLE},
    ).all()
    out: list[Partition] = []
    for name, bound in rows:
        found = _BOUND.search(bound or "")
        if found is None:  # "DEFAULT"
            out.append(Partition(name, None, None))
            continue
        lower, upper = (datetime.fromisoformat(_iso(v)) for v in found.groups())
        out.append(Partition(name, lower, upper))
    return sorted(
        out, key=lambda p: (p.is_default, p.lower or datetime.max.replace(tzinfo=LOCAL_TZ))
    )


def _iso(value: str) -> str:
    # pg_get_expr prints timestamptz bounds in the session's zone, e.g. '2026-12-01 15:00:00+00'
    return value if re.search(r"[+-]\d\d:\d\d$", value) else value + ":00"


def create_day(conn: Connection, day: date, existing: list[Partition] | None = None) -> str | None:
    """Create the partition of one Seoul day unless a partition already covers any of it.

    Returns its name, or None when nothing was created. Rows of that day already in the default
    partition are moved into the new partition in the same transaction (PostgreSQL refuses a
    partition whose rows sit in the default one).
    """
    lower, upper = seoul_midnight(day), seoul_midnight(day + timedelta(days=1))
    for p in list_partitions(conn) if existing is None else existing:
        if not p.is_default and p.lower < upper and lower < p.upper:
            return None
    name = partition_name(day)
    bounds = {"lo": lower, "hi": upper}
    # A standalone table attached afterwards: ATTACH locks the parent only against schema
    # changes (SHARE UPDATE EXCLUSIVE), while CREATE TABLE ... PARTITION OF would lock it
    # against every read and write, ingest included.
    conn.execute(text(f'CREATE TABLE "{name}" (LIKE {TABLE} INCLUDING DEFAULTS)'))
    conn.execute(
        text(
            f'WITH moved AS (DELETE FROM "{DEFAULT_PARTITION}" WHERE ts >= :lo AND ts < :hi'
            f' RETURNING *) INSERT INTO "{name}" SELECT * FROM moved'
        ),
        bounds,
    )
    lo, hi = lower.isoformat(), upper.isoformat()
    conn.execute(
        text(
            f"ALTER TABLE {TABLE} ATTACH PARTITION \"{name}\" FOR VALUES FROM ('{lo}') TO ('{hi}')"
        )
    )
    return name


def ensure_partitions(conn: Connection, now: datetime, ahead_days: int = AHEAD_DAYS) -> list[str]:
    """Create the partitions of today and the next ``ahead_days`` Seoul days that are missing;
    returns the names created. A no-op on SQLite and on an unpartitioned table."""
    if not is_partitioned(conn):
        return []
    today = now.astimezone(LOCAL_TZ).date()
    existing = list_partitions(conn)
    created = []
    for offset in range(ahead_days + 1):
        name = create_day(conn, today + timedelta(days=offset), existing)
        if name is not None:
            created.append(name)
    return created
