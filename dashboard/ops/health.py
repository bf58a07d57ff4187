"""The 시스템 상태 page's verdicts: each line of the system's health is ok, warning or critical.

Plain functions of figures read by ``queries.system`` and of ``now``; the thresholds are the
constants below, stated in docs/operations.md#system-status-page (a test keeps the two in step).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from queries.system import DatabaseSize, LastTick, Outbox

OK, WARNING, CRITICAL = "ok", "warning", "critical"
LEVELS = (OK, WARNING, CRITICAL)

# The rule worker ticks every 60 s by default: a tick older than 3 intervals is late, one
# older than 10 minutes means no worker is running (silence rules and escalations stopped).
TICK_WARNING = timedelta(minutes=3)
TICK_CRITICAL = timedelta(minutes=10)
# Notifications normally leave within a tick; retries back off up to minutes.
OUTBOX_WARNING = timedelta(minutes=5)
OUTBOX_CRITICAL = timedelta(minutes=30)
# Dead letters received in the last hour (all vendors).
DEAD_LETTERS_WARNING = 1
DEAD_LETTERS_CRITICAL = 100
# A vendor's share of dead letters among what it sent in the last hour.
VENDOR_REJECTED_WARNING = 0.05
VENDOR_REJECTED_CRITICAL = 0.5
# SQLite: free space left on the database's volume, and the WAL file's size.
DISK_FREE_WARNING = 0.15
DISK_FREE_CRITICAL = 0.05
WAL_WARNING_BYTES = 256 * 1024**2
WAL_CRITICAL_BYTES = 1024**3


@dataclass(frozen=True)
class Verdict:
    status: str  # OK | WARNING | CRITICAL
    reason: str  # a key of why (the page translates it as system.reason.<reason>)


def worst(*statuses: str) -> str:
    return max(statuses, key=LEVELS.index, default=OK)


def tick_verdict(tick: LastTick | None, now: datetime) -> Verdict:
    if tick is None:
        return Verdict(CRITICAL, "tick_never")
    age = now - tick.at
    if age > TICK_CRITICAL:
        return Verdict(CRITICAL, "tick_stopped")
    if age > TICK_WARNING:
        return Verdict(WARNING, "tick_late")
    return Verdict(OK, "tick_ok")


def outbox_verdict(outbox: Outbox, now: datetime) -> Verdict:
    age = timedelta(seconds=outbox.oldest_age_s(now))
    if age >= OUTBOX_CRITICAL:
        return Verdict(CRITICAL, "outbox_stuck")
    if age >= OUTBOX_WARNING:
        return Verdict(WARNING, "outbox_slow")
    if outbox.failed:
        return Verdict(WARNING, "outbox_failed")
    return Verdict(OK, "outbox_ok")


def dead_letters_verdict(last_hour: int) -> Verdict:
    if last_hour >= DEAD_LETTERS_CRITICAL:
        return Verdict(CRITICAL, "dead_many")
    if last_hour >= DEAD_LETTERS_WARNING:
        return Verdict(WARNING, "dead_some")
    return Verdict(OK, "dead_none")


def vendor_status(events_5m: int, events_1h: int, dead_5m: int, dead_1h: int) -> str:
    """One vendor's line: most of what it sends refused, or silent for 5 minutes after
    sending in the hour."""
    sent = events_1h + dead_1h
    share = dead_1h / sent if sent else 0.0
    if share >= VENDOR_REJECTED_CRITICAL:
        return CRITICAL
    if share >= VENDOR_REJECTED_WARNING or (events_5m + dead_5m == 0 and sent > 0):
        return WARNING
    return OK


def vendor_statuses(vendors: pd.DataFrame) -> list[str]:
    return [
        vendor_status(r.events_5m, r.events_1h, r.dead_letters_5m, r.dead_letters_1h)
        for r in vendors.itertuples()
    ]


def ingest_verdict(vendors: pd.DataFrame) -> Verdict:
    if vendors.empty or int(vendors["events_1h"].sum() + vendors["dead_letters_1h"].sum()) == 0:
        return Verdict(WARNING, "ingest_none")  # nothing in an hour: devices or vendors down
    status = worst(*vendor_statuses(vendors))
    return Verdict(status, "ingest_ok" if status == OK else "ingest_vendor")


def alerts_verdict(by_stage: dict[str, int]) -> Verdict:
    """Open 심각 alerts want a person now; the page says so, the system itself is fine."""
    if by_stage.get("severe", 0) > 0:
        return Verdict(WARNING, "alerts_severe")
    return Verdict(OK, "alerts_ok")


def database_verdict(size: DatabaseSize) -> Verdict:
    if size.backend != "sqlite":
        return Verdict(OK, "db_ok")
    free = size.free_bytes / size.disk_bytes if size.free_bytes and size.disk_bytes else None
    wal = size.wal_bytes or 0
    if (free is not None and free < DISK_FREE_CRITICAL) or wal >= WAL_CRITICAL_BYTES:
        return Verdict(CRITICAL, "db_full" if free is not None and free < DISK_FREE_CRITICAL
                       else "db_wal")  # fmt: skip
    if free is not None and free < DISK_FREE_WARNING:
        return Verdict(WARNING, "db_low")
    if wal >= WAL_WARNING_BYTES:
        return Verdict(WARNING, "db_wal")
    return Verdict(OK, "db_ok")


def leader_verdict(holders: pd.DataFrame | None) -> Verdict:
    if holders is None:
        return Verdict(OK, "leader_single")
    if len(holders) == 1:
        return Verdict(OK, "leader_ok")
    if holders.empty:
        return Verdict(WARNING, "leader_none")
    return Verdict(CRITICAL, "leader_many")  # two sessions "holding" one lock: not possible
