"""The worker's refresh of the stored reaches (``plug_reaches``): how soon each active plug
would notice a stop (``detection.reach``), for the leads' list of plugs slow to notice one and
the weekly review's shares.

A reach costs about 12 ms a plug (the 24 hours of a weekday, which its verdict, median and
worst hour read, judged with the rule's own functions), so a Seoul-scale city (32,000 plugs) is
about 6 minutes of work: too much for the nightly learning
(60 s) or a page. Each worker pass spends at most ``PASS_BUDGET_S`` on the plugs whose stored
reach is missing or out of date, oldest first: the city is covered in a few hours, then each
plug once a week (its routine moves slowly over its 28-day window), and daily while it had no
usable routine (a new plug becomes judgeable after ``min_days`` days). A change of the
district's thresholds reaches the stored figures with the next refresh; the device page always
computes its plug's reach anew.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, and_, or_, select
from sqlalchemy.exc import SQLAlchemyError

from dashboard.db.schema import Device, DeviceRoutine, PlugReachRecord
from dashboard.ingest.bulk import bulk_write
from dashboard.rules.config import current_thresholds
from dashboard.settings import LOCAL_TZ
from queries.reach import PLUG, plug_reaches

log = logging.getLogger(__name__)

REFRESH_DAYS = 7  # a judged plug's reach is recomputed once its routine is this much newer
BATCH = 50  # plugs read, judged and written together (one short write transaction)
PASS_BUDGET_S = 5.0  # at most this much of a worker pass (60 s) goes to the refresh


@dataclass(frozen=True)
class RefreshSummary:
    refreshed: int
    seconds: float


def stale_plugs(conn: Connection, today: date, limit: int) -> list[int]:
    """Active plugs with a learned routine whose stored reach is missing, or older than the
    routine by ``REFRESH_DAYS`` (by a day while it was ``none``); missing ones first, then the
    oldest. A routine not learned again (a plug without days) never makes its reach stale."""
    d, r, p = Device.__table__, DeviceRoutine.__table__, PlugReachRecord.__table__
    cutoff = today - timedelta(days=REFRESH_DAYS)
    stmt = (
        select(d.c.id)
        .join(r, r.c.device_id == d.c.id)
        .outerjoin(p, p.c.device_id == d.c.id)
        .where(d.c.type_code == PLUG, d.c.status == "active")
        .where(
            or_(
                p.c.device_id.is_(None),
                and_(
                    r.c.learned_on > p.c.learned_on,
                    or_(p.c.learned_on <= cutoff, p.c.verdict == "none"),
                ),
            )
        )
        .order_by(p.c.device_id.is_not(None), p.c.learned_on, d.c.id)
        .limit(limit)
    )
    return [row[0] for row in conn.execute(stmt)]


def refresh_batch(engine: Engine, now: datetime, batch: int | None = None) -> int:
    """Compute and store the reach of up to ``batch`` (``BATCH``) stale plugs; the number
    stored. The reads and the judging run outside any write transaction (SQLite's one writer
    is held only for the upsert)."""
    today = now.astimezone(LOCAL_TZ).date()
    with engine.connect() as conn:
        ids = stale_plugs(conn, today, BATCH if batch is None else batch)
        if not ids:
            return 0
        records = judged_records(conn, ids, today, now)
    if not records:
        return 0
    with engine.begin() as conn:
        store_records(conn, records)
    return len(records)


def store_records(conn: Connection, records: list[dict]) -> None:
    """Upsert ``judged_records``' rows."""
    bulk_write(conn, PlugReachRecord.__table__, records, _replace, key="plug_reaches")


def judged_records(conn: Connection, ids: list[int], today: date, now: datetime) -> list[dict]:
    """The ``plug_reaches`` rows of the plugs ``ids`` (a plug without a routine has none). A
    plug whose stored routine cannot be judged (an error in its model) is stored as ``none``
    for its routine's day and logged, so it does not hold the refresh at the head of the
    queue: it is tried again after the next learning. A rules file that cannot be read is no
    plug's fault: it raises (the pass stops, the next one tries again), storing no ``none``."""
    current_thresholds()
    try:
        rows = plug_reaches(conn, device_ids=ids, with_weekend=False)  # the verdict's day
    except SQLAlchemyError:
        raise
    except Exception:
        if len(ids) == 1:
            log.exception("reach of plug %d could not be computed; stored as none", ids[0])
            # the routine's day, as a judged plug's (the list shows it as the day learned)
            learned = conn.scalar(
                select(DeviceRoutine.learned_on).where(DeviceRoutine.device_id == ids[0])
            )
            return [_record(ids[0], learned or today, "none", None, None, now)]
        return [r for i in ids for r in judged_records(conn, [i], today, now)]
    return [
        _record(
            row.device_id,
            row.reach.learned_on,
            row.reach.verdict,
            row.reach.median_h,
            row.reach.worst_h,
            now,
        )
        for row in rows
        if row.reach is not None
    ]


def _record(
    device_id: int,
    learned_on: date,
    verdict: str,
    median_h: float | None,
    worst_h: float | None,
    now: datetime,
) -> dict:
    return {
        "device_id": device_id,
        "learned_on": learned_on,
        "verdict": verdict,
        "median_h": median_h,
        "worst_h": worst_h,
        "computed_at": now,
    }


def _replace(stmt):
    new, table = stmt.excluded, PlugReachRecord.__table__
    columns = ("learned_on", "verdict", "median_h", "worst_h", "computed_at")
    # Never back to an older routine: a batch judged before the night's learning (the embedded
    # live loop and a separate worker both refresh on SQLite) may be written after a batch
    # judged with the new routine, which then would not be stale again for a week.
    return stmt.on_conflict_do_update(
        index_elements=["device_id"],
        set_={c: getattr(new, c) for c in columns},
        where=new.learned_on >= table.c.learned_on,
    )


def refresh_reaches(
    engine: Engine, now: datetime, budget_s: float = PASS_BUDGET_S
) -> RefreshSummary | None:
    """Refresh stale reaches batch by batch until none is left or ``budget_s`` is spent (a
    batch started is finished); None when nothing was stale. Never raises: a failure is
    logged and the next worker pass goes on where this one stopped."""
    started = time.perf_counter()
    refreshed = 0
    try:
        while time.perf_counter() - started < budget_s:
            done = refresh_batch(engine, now)
            if done == 0:
                break
            refreshed += done
    except Exception:
        log.exception("reach refresh failed; the next worker pass retries")
    if refreshed == 0:
        return None
    summary = RefreshSummary(refreshed, time.perf_counter() - started)
    log.info("reach refreshed for %d plugs in %.1f s", summary.refreshed, summary.seconds)
    return summary
