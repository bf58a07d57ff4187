"""How soon each smart plug would notice a sudden stop (``detection.reach``), for the device and
person panels: the plugs' stored routines and level models (indexed reads of one person's or
one device's rows) judged with the thresholds of the person's district, as the rule tick judges
them, and by the worker's refresh (``detection.reach_refresh``). No pandas here: the worker and
``replay`` import it (the city's view of the stored reaches is ``queries.reach_list``)."""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import Connection, func, select

from dashboard.db.schema import CareRecipient, Device, DeviceDaily, DeviceRoutine, Region
from dashboard.detection.levels import LevelModel
from dashboard.detection.reach import PlugReach, idle_line, plug_reach
from dashboard.detection.records import load_routines
from dashboard.rules.config import Thresholds, current_thresholds
from dashboard.settings import LOCAL_TZ

PLUG = "smart_plug"
MINUTES_PER_DAY = 1440
MAX_INTERVAL_MIN = 120.0  # a plug heard less often is judged on its heartbeat, not its reports


@dataclass(frozen=True)
class PlugReachRow:
    device_id: int
    device_uid: str
    status: str
    reach: PlugReach | None  # None: no routine learned yet (a new plug)
    enabled: bool  # the routine judges in this district (``plug_routine.enabled``)
    region_code: str | None = None  # the person's district (else the device's), as the rule's
    no_change_hours: float | None = None  # the person's own first hours of the ladder


def plug_reaches(
    conn: Connection,
    *,
    device_id: int | None = None,
    recipient_id: int | None = None,
    device_ids: Sequence[int] | None = None,
    with_weekend: bool = True,
    th: Thresholds | None = None,
) -> list[PlugReachRow]:
    """The reach of one plug (``device_id``), of every plug of a person now (``recipient_id``)
    or of the plugs among ``device_ids`` (the worker's refresh), active ones first, then by id,
    each with its person's own ladder (``with_weekend``: as ``detection.reach.plug_reach``),
    judged with ``th`` (default: the current thresholds)."""
    if sum(x is not None for x in (device_id, recipient_id, device_ids)) != 1:
        raise ValueError("give one of device_id, recipient_id or device_ids")
    d = Device.__table__
    if device_id is not None:
        which = d.c.id == device_id
    elif recipient_id is not None:
        which = d.c.recipient_id == recipient_id
    else:
        which = d.c.id.in_(list(device_ids or ()))
    stmt = placed_plugs(d.c.device_uid, d.c.status).where(which)
    rows = conn.execute(stmt.order_by((d.c.status != "active"), d.c.id)).all()
    ids = [row.id for row in rows]
    routines = load_routines(conn, ids)
    models = _level_models(conn, ids)
    th = th or current_thresholds()
    window = max((th.for_region(row.code).plug_routine.window_days for row in rows), default=0)
    daily = _window_days(conn, {i: r.learned_on for i, r in routines.items()}, window)
    out = []
    for row in rows:
        local = th.for_region(row.code)
        routine = routines.get(row.id)
        reach = None
        if routine is not None:
            days = daily.get(row.id, [])
            reach = plug_reach(
                routine,
                local,
                LOCAL_TZ,
                models.get(row.id),
                report_min=_report_minutes(days, routine.learned_on),
                idle=idle_line(
                    {day: levels for day, _n, levels in days},
                    routine,
                    local.plug_routine.window_days,
                ),
                no_change_hours=row.no_change_hours,
                with_weekend=with_weekend,
            )
        out.append(
            PlugReachRow(
                row.id,
                row.device_uid,
                row.status,
                reach,
                local.plug_routine.enabled,
                row.code,
                row.no_change_hours,
            )
        )
    return out


def placed_plugs(*columns):
    """Smart plugs (id, the code of the region whose thresholds judge them: the person's, else
    the device's; the person's own first hours ``no_change_hours``) and ``columns``."""
    d, person = Device.__table__, CareRecipient.__table__
    return (
        select(d.c.id, Region.code, person.c.no_change_hours, *columns)
        .select_from(d)
        .outerjoin(person, person.c.id == d.c.recipient_id)
        .outerjoin(Region, Region.id == func.coalesce(person.c.region_id, d.c.region_id))
        .where(d.c.type_code == PLUG)
    )


def _level_models(conn: Connection, ids: list[int]) -> dict[int, LevelModel]:
    """The plugs' level models (a plug with too few days has none)."""
    if not ids:
        return {}
    r = DeviceRoutine.__table__
    rows = conn.execute(
        select(r.c.device_id, r.c.level_model).where(
            r.c.device_id.in_(ids), r.c.level_model.is_not(None)
        )
    )
    return {device_id: LevelModel.from_bytes(bytes(blob)) for device_id, blob in rows}


Day = tuple[date, int, bytes | None]  # (day, power readings, level_slots)


def _window_days(conn: Connection, learned: dict[int, date], window: int) -> dict[int, list[Day]]:
    """Each plug's stored days of the ``window`` days before the day its routine was learned
    for (``learned``: device → that day)."""
    if not learned:
        return {}
    daily = DeviceDaily.__table__
    rows = conn.execute(
        select(daily.c.device_id, daily.c.day, daily.c.watts_n, daily.c.level_slots).where(
            daily.c.device_id.in_(list(learned)),
            daily.c.day >= min(learned.values()) - timedelta(days=window),
            daily.c.day < max(learned.values()),
        )
    )
    out: dict[int, list[Day]] = {}
    for device_id, day, n, levels in rows:
        if learned[device_id] - timedelta(days=window) <= day < learned[device_id]:
            out.setdefault(device_id, []).append((day, int(n or 0), levels))
    return out


INTERVAL_DAYS = 7  # the reporting interval from the last week's readings


def _report_minutes(days: list[Day], learned_on: date) -> float | None:
    """The plug's usual minutes between two power readings: a day over the median number of
    readings of the last ``INTERVAL_DAYS`` days it reported before its routine was learned
    (days it reported: a plug silent in the week before keeps its interval; the last calendar
    week gave None, judging an hourly plug at every half-hour). The rule judges only reported
    time, so an hourly plug raises up to an hour later."""
    reported = sorted((day, n) for day, n, _levels in days if n > 0 and day < learned_on)
    counts = [n for _day, n in reported[-INTERVAL_DAYS:]]
    if not counts:
        return None
    return min(MINUTES_PER_DAY / statistics.median(counts), MAX_INTERVAL_MIN)
