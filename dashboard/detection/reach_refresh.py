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

import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from dashboard.db.schema import Device, DeviceRoutine, PlugReachRecord
from dashboard.ingest.bulk import bulk_write
from dashboard.rules.config import Thresholds, current_thresholds
from dashboard.settings import LOCAL_TZ
from queries.reach import placed_plugs, plug_reaches

log = logging.getLogger(__name__)

REFRESH_DAYS = 7  # a judged plug's reach is recomputed once its routine is this much newer
BATCH = 50  # plugs read, judged and written together (one short write transaction)
PASS_BUDGET_S = 5.0  # at most this much of a worker pass (60 s) goes to the refresh


@dataclass(frozen=True)
class RefreshSummary:
    refreshed: int
    seconds: float


def reach_basis(th: Thresholds, region_code: str | None, no_change_hours: float | None) -> str:
    """What a plug's reach was judged with besides its routine: the person's district, their
    own first hours and the district's plug thresholds (a digest); a stored reach whose basis
    differs from today's is stale (a lead changed the district's settings, the person moved
    or got another ladder, the plug went to another person)."""
    local = th.for_region(region_code)
    settings = local.plug_routine.model_dump_json() + local.plug_no_change.model_dump_json()
    digest = hashlib.sha1(settings.encode(), usedforsecurity=False).hexdigest()[:16]
    hours = "-" if no_change_hours is None else f"{no_change_hours:g}"
    return f"{region_code or '-'}|{hours}|{digest}"


def stale_plugs(
    conn: Connection, today: date, limit: int | None = None, th: Thresholds | None = None
) -> list[int]:
    """Active plugs with a learned routine whose stored reach is missing, judged on another
    basis (``reach_basis``), or older than the routine by ``REFRESH_DAYS`` (by a day while it
    was ``none``); missing ones first, then those whose basis changed, then the oldest; at
    most ``limit``. A routine not learned again (a plug without days) never makes its reach
    stale by age."""
    th = th or current_thresholds()
    d, r, p = Device.__table__, DeviceRoutine.__table__, PlugReachRecord.__table__
    cutoff = today - timedelta(days=REFRESH_DAYS)
    rows = conn.execute(
        _placed_plugs(
            p.c.device_id.label("stored"), p.c.learned_on, p.c.verdict, p.c.basis,
            r.c.learned_on.label("routine_on"),
        ).join(r, r.c.device_id == d.c.id).outerjoin(p, p.c.device_id == d.c.id)
    )  # fmt: skip
    ranked = []
    bases: dict[tuple[str | None, float | None], str] = {}  # a few districts × ladders
    for row in rows:
        key = (row.code, row.no_change_hours)
        if key not in bases:
            bases[key] = reach_basis(th, *key)
        if row.stored is None:
            rank = 0
        elif row.basis != bases[key]:
            rank = 1
        elif row.routine_on > row.learned_on and (
            row.learned_on <= cutoff or row.verdict == "none"
        ):
            rank = 2
        else:
            continue
        ranked.append((rank, row.learned_on or today, row.id))
    ranked.sort()
    return [device_id for _rank, _on, device_id in ranked[:limit]]


def _placed_plugs(*columns):
    """Active plugs placed as ``plug_reaches`` judges them (``queries.reach.placed_plugs``)."""
    return placed_plugs(*columns).where(Device.__table__.c.status == "active")


def refresh_batch(engine: Engine, now: datetime, batch: int | None = None) -> int:
    """Compute and store the reach of the first ``batch`` (``BATCH``) stale plugs; the number
    stored."""
    th = current_thresholds()
    today = now.astimezone(LOCAL_TZ).date()
    with engine.connect() as conn:
        ids = stale_plugs(conn, today, BATCH if batch is None else batch, th)
    return _refresh(engine, ids, now, th)


def _refresh(engine: Engine, ids: list[int], now: datetime, th: Thresholds) -> int:
    """Judge and store ``ids``: the reads and the judging outside any write transaction
    (SQLite's one writer is held only for the upsert)."""
    if not ids:
        return 0
    with engine.connect() as conn:
        records = judged_records(conn, ids, now, th)
    if not records:
        return 0
    with engine.begin() as conn:
        store_records(conn, records)
    return len(records)


def store_records(conn: Connection, records: list[dict]) -> None:
    """Upsert ``judged_records``' rows."""
    bulk_write(conn, PlugReachRecord.__table__, records, _replace, key="plug_reaches")


def judged_records(
    conn: Connection, ids: list[int], now: datetime, th: Thresholds | None = None
) -> list[dict]:
    """The ``plug_reaches`` rows of the plugs ``ids`` (a plug without a routine has none),
    judged with ``th`` (default: the current thresholds; a file that cannot be read raises,
    no plug's fault: the pass stops and the next one tries again). A plug whose stored routine
    cannot be judged (an error in its model) is stored as ``none`` for its routine's day and
    its basis, and logged, so it does not hold the refresh at the head of the queue: it is
    tried again after the next learning."""
    th = th or current_thresholds()
    try:
        rows = plug_reaches(conn, device_ids=ids, with_weekend=False, th=th)  # the verdict's day
    except SQLAlchemyError:
        raise
    except Exception:
        if len(ids) > 1:
            return [r for i in ids for r in judged_records(conn, [i], now, th)]
        log.exception("reach of plug %d could not be computed; stored as none", ids[0])
        r = DeviceRoutine.__table__
        plug = conn.execute(
            _placed_plugs(r.c.learned_on)
            .join(r, r.c.device_id == Device.__table__.c.id)
            .where(Device.__table__.c.id == ids[0])
        ).first()
        if plug is None:  # retired or its routine gone meanwhile: nothing to store
            return []
        # the routine's day, as a judged plug's (the list shows it as the day learned)
        basis = reach_basis(th, plug.code, plug.no_change_hours)
        return [_record(ids[0], plug.learned_on, "none", None, None, basis, now)]
    return [
        _record(
            row.device_id,
            row.reach.learned_on,
            row.reach.verdict,
            row.reach.median_h,
            row.reach.worst_h,
            reach_basis(th, row.region_code, row.no_change_hours),
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
    basis: str,
    now: datetime,
) -> dict:
    return {
        "device_id": device_id,
        "learned_on": learned_on,
        "verdict": verdict,
        "median_h": median_h,
        "worst_h": worst_h,
        "basis": basis,
        "computed_at": now,
    }


def _replace(stmt):
    new, table = stmt.excluded, PlugReachRecord.__table__
    columns = ("learned_on", "verdict", "median_h", "worst_h", "basis", "computed_at")
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
    """Refresh the stale reaches (``stale_plugs``, read once a pass) batch by batch until none
    is left or ``budget_s`` is spent (a batch started is finished); None when nothing was
    refreshed. Never raises: a failure is logged and the next pass goes on from there."""
    started = time.perf_counter()
    refreshed = 0
    try:
        if budget_s <= 0:
            return None
        th = current_thresholds()
        with engine.connect() as conn:
            queue = stale_plugs(conn, now.astimezone(LOCAL_TZ).date(), th=th)
        for start in range(0, len(queue), BATCH):
            if time.perf_counter() - started >= budget_s:
                break
            refreshed += _refresh(engine, queue[start : start + BATCH], now, th)
    except Exception:
        log.exception("reach refresh failed; the next worker pass retries")
    if refreshed == 0:
        return None
    summary = RefreshSummary(refreshed, time.perf_counter() - started)
    log.info("reach refreshed for %d plugs in %.1f s", summary.refreshed, summary.seconds)
    return summary
