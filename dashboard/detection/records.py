"""Reading what the rules need from detection's tables: routines, away periods, and noting
when a quiet home was last scored. (No ingest imports: the rules load this.)"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import Connection, and_, bindparam, case, func, select, update

from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AwayPeriod, DeviceDaily, DeviceRoutine
from dashboard.detection.levels import LOOKBACK_DAYS, LevelFacts, LevelModel
from dashboard.detection.routine import Routine

CHUNK = 5_000
# The statements below are built once (``db.prebuilt``): every rule evaluation of a quiet plug
# runs them, and building one costs more than the indexed read itself.


@lru_cache(maxsize=4096)
def parse_routine(model: str) -> Routine:
    return Routine.from_json(model)


def load_routines(conn: Connection, device_ids: Sequence[int]) -> dict[int, Routine]:
    """The stored routine of each of these devices that has one."""
    table = DeviceRoutine.__table__
    query = prebuilt(
        conn,
        "records.routines",
        lambda c: select(table.c.device_id, table.c.model).where(
            in_bound(c, table.c.device_id, "ids")
        ),
    )
    out: dict[int, Routine] = {}
    for start in range(0, len(device_ids), CHUNK):
        part = list(device_ids[start : start + CHUNK])
        ids = bound_values(conn, table.c.device_id, part)
        for device_id, model in conn.execute(query, {"ids": ids}):
            out[device_id] = parse_routine(model)
    return out


@lru_cache(maxsize=4096)
def _parse_levels(blob: bytes) -> LevelModel:
    return LevelModel.from_bytes(blob)


def load_levels(conn: Connection, device_ids: Sequence[int], today: date) -> dict[int, LevelFacts]:
    """Each of these plugs' level model with its stored days of the last ``LOOKBACK_DAYS``
    local days up to ``today`` (two indexed reads); plugs without a model are left out."""
    routines, daily = DeviceRoutine.__table__, DeviceDaily.__table__
    models: dict[int, LevelModel] = {}
    days: dict[int, dict[date, bytes]] = {}
    first = today - timedelta(days=LOOKBACK_DAYS - 1)
    model_query = prebuilt(
        conn,
        "records.level_models",
        lambda c: select(routines.c.device_id, routines.c.level_model).where(
            in_bound(c, routines.c.device_id, "ids"), routines.c.level_model.is_not(None)
        ),
    )
    days_query = prebuilt(
        conn,
        "records.level_days",
        lambda c: select(daily.c.device_id, daily.c.day, daily.c.level_slots).where(
            in_bound(c, daily.c.device_id, "ids"),
            daily.c.day >= bindparam("first", type_=daily.c.day.type),
            daily.c.day <= bindparam("today", type_=daily.c.day.type),
            daily.c.level_slots.is_not(None),
        ),
    )
    for start in range(0, len(device_ids), CHUNK):
        part = list(device_ids[start : start + CHUNK])
        ids = bound_values(conn, routines.c.device_id, part)
        for device_id, blob in conn.execute(model_query, {"ids": ids}):
            models[device_id] = _parse_levels(bytes(blob))
        with_model = [i for i in part if i in models]
        if not with_model:
            continue
        params = {
            "ids": bound_values(conn, daily.c.device_id, with_model),
            "first": first,
            "today": today,
        }
        for device_id, day, blob in conn.execute(days_query, params):
            days.setdefault(device_id, {})[day] = bytes(blob)
    return {i: LevelFacts(m, days.get(i, {})) for i, m in models.items()}


def load_away(
    conn: Connection, recipient_ids: Sequence[int], today: date
) -> dict[int, tuple[date | None, date | None, date | None]]:
    """Recipient id → (the return date of a period they are marked away in today, the first
    day and the return date of their latest period that has ended by ``today``); cancelled
    periods left out, and an ended one only if at least a day long. One grouped query on the
    away index."""
    a = AwayPeriod.__table__
    param = bindparam("today", type_=a.c.ends_on.type)

    def query(c):
        away = and_(a.c.starts_on <= param, a.c.ends_on > param)
        back = and_(a.c.ends_on <= param, a.c.starts_on < a.c.ends_on)
        return (
            select(
                a.c.recipient_id,
                func.max(case((away, a.c.ends_on))),
                # the latest ended period's first day (periods do not overlap in practice)
                func.max(case((back, a.c.starts_on))),
                func.max(case((back, a.c.ends_on))),
            )
            .where(
                in_bound(c, a.c.recipient_id, "ids"),
                a.c.cancelled_at.is_(None),
                a.c.starts_on <= param,
            )
            .group_by(a.c.recipient_id)
        )

    statement = prebuilt(conn, "records.away", query)
    out: dict[int, tuple[date | None, date | None, date | None]] = {}
    for start in range(0, len(recipient_ids), CHUNK):
        part = list(recipient_ids[start : start + CHUNK])
        params = {"ids": bound_values(conn, a.c.recipient_id, part), "today": today}
        for recipient_id, until, left, back in conn.execute(statement, params):
            out[recipient_id] = (until, left, back)
    return out


def away_days(conn: Connection, first: date, last: date) -> dict[int, set[date]]:
    """Per person, the days in ``[first, last]`` they were marked away (not cancelled; the
    return date is a day at home): a home left empty says nothing about its person's habits
    (the nightly learning, ``detection.learning``) nor how they are doing (``slow_risk``)."""
    a = AwayPeriod.__table__
    query = prebuilt(
        conn,
        "records.away_days",
        lambda _: select(a.c.recipient_id, a.c.starts_on, a.c.ends_on).where(
            a.c.cancelled_at.is_(None),
            a.c.starts_on <= bindparam("last", type_=a.c.starts_on.type),
            a.c.ends_on > bindparam("first", type_=a.c.ends_on.type),
        ),
    )
    out: dict[int, set[date]] = defaultdict(set)
    for person, starts, ends in conn.execute(query, {"last": last, "first": first}):
        day = max(starts, first)
        while day < ends and day <= last:
            out[person].add(day)
            day += timedelta(days=1)
    return out


def mark_checked(
    conn: Connection,
    device_ids: Sequence[int],
    now: datetime,
    every_min: int,
    due: dict[int, datetime] | None = None,
    level_due: dict[int, datetime] | None = None,
) -> None:
    """Record that these plugs' quiet spells were scored at ``now``, and when each can first
    reach a stage (``due``, from ``routine.next_stage_at``; absent: score again as usual), and
    the earliest stamp of a report that could raise the level test (``level_due``, from
    ``levels.first_report_to_reach``; absent: any report may).

    Each device's mark is set back by (id mod ``every_min``) minutes, so the next checks of a
    city's quiet homes spread over the ``every_min`` ticks instead of falling due together.
    """
    if not device_ids:
        return
    table = DeviceRoutine.__table__
    due = due or {}
    level_due = level_due or {}
    rows = [
        {
            "b_id": device_id,
            "b_checked": now - timedelta(minutes=device_id % every_min),
            "b_due": due.get(device_id),
            "b_level_due": level_due.get(device_id),
        }
        for device_id in device_ids
    ]
    marked = prebuilt(  # built once: the tick runs it for the quiet homes it scored
        conn,
        "records.mark_checked",
        lambda _: (
            update(table)
            .where(table.c.device_id == bindparam("b_id"))
            .values(
                checked_at=bindparam("b_checked"),
                score_due_at=bindparam("b_due"),
                level_due_at=bindparam("b_level_due"),
            )
        ),
    )
    conn.execute(marked, rows)
