"""Learning every active plug's and phone line's routine once a day from ``device_daily`` (the
worker's job). A phone line's routine is its calling habit (``detection.calls``)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

from sqlalchemy import Connection, Engine, bindparam, func, null, or_, select

from dashboard.audit import write_audit
from dashboard.auth.principal import system_principal
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import (
    CareRecipient,
    Device,
    DeviceDaily,
    DeviceRoutine,
    Region,
)
from dashboard.detection.background import Background, learn_background
from dashboard.detection.band import band_days
from dashboard.detection.levels import LevelModel, carry_over, learn_levels
from dashboard.detection.light import learn_light_course
from dashboard.detection.records import away_days
from dashboard.detection.routine import Routine, learn_routine
from dashboard.detection.slow_risk import update_slow_risk
from dashboard.detection.timer_load import MIN_GAP_W as TIMER_MIN_GAP_W
from dashboard.detection.timer_load import (
    TimerLoad,
    carry_timer,
    judged_with_timer,
    learn_timer_load,
)
from dashboard.ingest.bulk import bulk_write
from dashboard.once_a_day import run_once_a_day
from dashboard.rules.config import PlugRoutine, Thresholds, current_thresholds
from dashboard.rules.schedule import judge_again
from dashboard.settings import LOCAL_TZ

LEARN_ACTION = "routine_learn"
LEARN_LOCK_CLASS = 0x616E_6272  # "anbr": not the tick's or the purge's key
CHUNK = 5_000
ROUTINE_TYPES = ("smart_plug", "phone_line")


@dataclass(frozen=True)
class LearnSummary:
    learned_on: date
    devices: int  # plugs and phone lines with any day in the window
    usable: int  # of which with enough reference days for the routine score
    with_background: int
    seconds: float
    with_levels: int = 0  # plugs with a level model (detection.levels)

    def __str__(self) -> str:
        return (
            f"routines learned for {self.learned_on}: {self.devices} plugs and phone lines, "
            f"{self.usable} with "
            f"a usable routine, {self.with_background} with a background, "
            f"{self.with_levels} with a level model, "
            f"in {self.seconds:.1f} s"
        )


def _routine_devices(conn: Connection) -> list[tuple[int, str | None, str, int | None]]:
    """(device id, region code, type code, person id) of every active plug and phone line,
    placed by the person's region (the device's when it has no person), as the rules place
    them."""
    query = prebuilt(conn, "learning.devices", _devices_query)
    return [(row[0], row[1], row[2], row[3]) for row in conn.execute(query)]


# The nightly statements are built once (``db.prebuilt``), their values bound at execution;
# ``IN`` lists as expanding parameters, rendered as ``column.in_(list)`` renders them.
def _devices_query(_conn: Connection):
    d, r, region = Device.__table__, CareRecipient.__table__, Region.__table__
    return (
        select(d.c.id, region.c.code, d.c.type_code, d.c.recipient_id)
        .select_from(
            d.outerjoin(r, r.c.id == d.c.recipient_id).outerjoin(
                region, region.c.id == func.coalesce(r.c.region_id, d.c.region_id)
            )
        )
        .where(
            d.c.type_code.in_(ROUTINE_TYPES),
            d.c.status == "active",
            or_(r.c.id.is_(None), r.c.ended_on.is_(None)),
        )
        .order_by(d.c.id)
    )


def _learned_query(_conn: Connection):
    routines = DeviceRoutine.__table__
    return select(
        routines.c.device_id,
        routines.c.model,
        routines.c.background_high_w,
        routines.c.level_model,
    ).where(
        routines.c.device_id.in_(bindparam("ids", expanding=True)),
        or_(routines.c.background_high_w.is_not(None), routines.c.level_model.is_not(None)),
    )


def _days_query(read_levels: bool):
    """The window's days of the ``ids`` plugs; their levels only where ``read_levels``."""
    daily = DeviceDaily.__table__
    return (
        select(
            daily.c.device_id,
            daily.c.day,
            daily.c.activity_slots,
            daily.c.night_low_w,
            daily.c.night_high_w,
            daily.c.night_step_w,
            daily.c.level_slots if read_levels else null().label("level_slots"),
            daily.c.light_min,
            daily.c.change_slots,
            daily.c.above_slots,
            daily.c.band_slots,
        )
        .where(
            daily.c.device_id.in_(bindparam("ids", expanding=True)),
            daily.c.day >= bindparam("first", type_=daily.c.day.type),
            daily.c.day < bindparam("today", type_=daily.c.day.type),
        )
        .order_by(daily.c.device_id, daily.c.day.desc())
    )


def learn_routines(
    conn: Connection, now: datetime, th: Thresholds | PlugRoutine | None = None
) -> LearnSummary:
    """Learn (or re-learn) every active plug's and phone line's routine from ``device_daily``;
    one upsert. The level model only for plugs whose region has the level test on
    (``Thresholds.level_enabled_in``); a bare ``PlugRoutine`` is the city's, no districts."""
    import time as timer

    started = timer.perf_counter()
    if th is None:
        th = current_thresholds()
    elif isinstance(th, PlugRoutine):
        th = Thresholds(plug_routine=th)
    cfg = th.plug_routine  # the learning window is city-wide (not a district key)
    today = now.astimezone(LOCAL_TZ).date()
    first = today - timedelta(days=cfg.window_days)
    rows_out = []
    usable = with_bg = with_levels = 0
    devices = _routine_devices(conn)
    ids = [device_id for device_id, _code, _type, _person in devices]
    # Phone lines have no level model; reading their (NULL) levels costs nothing.
    level_ids = {i for i, code, _type, _person in devices if th.level_enabled_in(code)}
    plugs = {i for i, _code, kind, _person in devices if kind == "smart_plug"}  # a still record
    # Days the person was marked away are not theirs: left out of the routine's days and its
    # records (the longest gap, still run, run left on, band), as a day without a row, so a
    # week away neither makes the net wait its longest nor the stillness test sleep for the
    # 28 days after (docs/detection.md, "Away").
    away = away_days(conn, first, today - timedelta(days=1))
    person = {i: p for i, _code, _type, p in devices if p is not None and p in away}
    for start in range(0, len(ids), CHUNK):
        part = ids[start : start + CHUNK]
        since: dict[int, date | None] = {}
        old_timers: dict[int, TimerLoad | None] = {}
        old_levels: dict[int, LevelModel] = {}
        for device_id, model, high, level_model in conn.execute(
            prebuilt(conn, "learning.learned", _learned_query), {"ids": part}
        ):
            if high is not None:
                before = Routine.from_json(model)
                since[device_id] = before.background_since
                if before.background is not None:
                    old_timers[device_id] = before.background.timer
            if level_model is not None:
                old_levels[device_id] = LevelModel.from_bytes(bytes(level_model))
        days: dict[int, dict[date, int]] = defaultdict(dict)
        changes: dict[int, dict[date, int]] = defaultdict(dict)
        above: dict[int, dict[date, int]] = defaultdict(dict)
        band: dict[int, dict[date, int | None]] = defaultdict(dict)
        nights: dict[int, list] = defaultdict(list)
        day_levels: dict[int, dict[date, bytes]] = defaultdict(dict)
        day_light: dict[int, list[bytes]] = defaultdict(list)
        with_levels_part = [i for i in part if i in level_ids]
        without = [i for i in part if i not in level_ids]
        # 96 bytes a plug-day (86 MB a night at Seoul scale): read only for the plugs whose
        # region's level test learns from them; the others' query leaves the column out.
        for group, read_levels in ((with_levels_part, True), (without, False)):
            if not group:
                continue
            query = prebuilt(
                conn, f"learning.days.{read_levels}", lambda _, r=read_levels: _days_query(r)
            )
            params = {"ids": group, "first": first, "today": today}
            rows = conn.execute(query, params)
            for device_id, day, slots, low, high, step, lv, light, changed, up, broke in rows:
                nights[device_id].append((low, high, step))
                if lv is not None:
                    day_levels[device_id][day] = bytes(lv)
                if light is not None:
                    day_light[device_id].append(bytes(light))
                device_days = days[device_id]  # kept even if every day is left out below
                if device_id in person and day in away[person[device_id]]:
                    continue
                device_days[day] = int(slots or 0)
                # every sign of life is a change; a day stored without its change bits (the
                # demo builder's, before 0015) counts its signs of life only
                changes[device_id][day] = int(slots or 0) | int(changed or 0)
                if up is not None:  # a day judged against a ceiling (a background then)
                    above[device_id][day] = int(up)
                band[device_id][day] = broke  # read by band_days
        backgrounds = {i: learn_background(nights[i]) for i in days}
        if cfg.timer_enabled:
            _read_timer_levels(conn, backgrounds, without, day_levels, first, today)
        for device_id, device_days in days.items():
            background = backgrounds[device_id]
            if background is not None and cfg.timer_enabled:
                levels = day_levels.get(device_id, {})
                found = learn_timer_load(levels, th.plug_no_change.power_margin_w)
                timed = carry_timer(old_timers.get(device_id), found, today)
                background = replace(background, timer=timed)
                device_days = judged_with_timer(device_days, timed)
            # Beside the unattended load only: ingest reads both from the background's row.
            course = learn_light_course(day_light[device_id]) if background else None
            routine = learn_routine(
                device_days,
                today,
                window_days=cfg.window_days,
                half_life_days=cfg.half_life_days,
                background=background,
                # ingest uses a background from the day after it is first stored
                background_since=(since.get(device_id) or today)
                if background is not None
                else None,
                min_days=cfg.min_days,
                changes=changes[device_id] if device_id in plugs else None,
                above=above[device_id] if device_id in plugs else None,
                band=band_days(band[device_id]) if device_id in plugs else None,
                band_factor=cfg.band_factor,
            )
            refs = len(routine.reference_days)
            model = None
            if device_id in level_ids and device_id in day_levels:
                stored = day_levels[device_id]
                model = learn_levels(stored, today, cfg.window_days, cfg.min_days)
                if model is not None:  # the S yesterday ended on, by yesterday's model
                    model = carry_over(old_levels.get(device_id), model, stored, LOCAL_TZ)
            with_levels += model is not None
            usable += refs >= cfg.min_days
            with_bg += background is not None
            rows_out.append(
                {
                    "device_id": device_id,
                    "learned_on": today,
                    "reference_days": refs,
                    "model": routine.to_json(),
                    "background_low_w": background.low_w if background else None,
                    "background_high_w": background.high_w if background else None,
                    "background_step_w": background.step_w if background else None,
                    "checked_at": None,
                    "score_due_at": None,
                    "level_due_at": None,
                    "level_model": model.to_bytes() if model is not None else None,
                    "light_course": course,
                    "still_h": routine.still_h,
                    "on_h": routine.on_h,
                    "band_h": routine.band_h,
                    "updated_at": now,
                }
            )
    bulk_write(conn, DeviceRoutine.__table__, rows_out, _replace_routine, key="device_routines")
    # A new routine may move a decision (the score, the no-load check): judged again.
    judge_again(conn, [row["device_id"] for row in rows_out])
    return LearnSummary(
        today, len(rows_out), usable, with_bg, timer.perf_counter() - started, with_levels
    )


def _read_timer_levels(
    conn: Connection,
    backgrounds: dict[int, Background | None],
    read: list[int],
    day_levels: dict[int, dict[date, bytes]],
    first: date,
    today: date,
) -> None:
    """The stored levels of the plugs among ``read`` (those the level test did not read) whose
    nights could hold a timed load: a night step of ``MIN_GAP_W`` or more (a timed load's
    nights step that much further than its days); a half-hourly fridge home's never are."""
    wanted = [
        i for i in read if (bg := backgrounds.get(i)) is not None and bg.step_w >= TIMER_MIN_GAP_W
    ]
    if not wanted:
        return
    daily = DeviceDaily.__table__
    query = select(daily.c.device_id, daily.c.day, daily.c.level_slots).where(
        daily.c.device_id.in_(wanted),
        daily.c.day >= first,
        daily.c.day < today,
        daily.c.level_slots.is_not(None),
    )
    for device_id, day, lv in conn.execute(query):
        day_levels[device_id][day] = bytes(lv)


def _replace_routine(stmt):
    new = stmt.excluded
    columns = (
        "learned_on",
        "reference_days",
        "model",
        "background_low_w",
        "background_high_w",
        "background_step_w",
        "checked_at",
        "score_due_at",
        "level_due_at",
        "level_model",
        "light_course",
        "still_h",
        "on_h",
        "band_h",
        "updated_at",
    )
    return stmt.on_conflict_do_update(
        index_elements=["device_id"], set_={c: getattr(new, c) for c in columns}
    )


def daily_learn(engine: Engine, now: datetime) -> LearnSummary | None:
    """Learn routines and judge the slow-risk flags (``detection.slow_risk``) unless that already
    happened today (Seoul); None when skipped. Never raises (``dashboard.once_a_day``: the
    ``routine_learn`` audit row is the guard)."""

    def job(conn: Connection) -> LearnSummary:
        summary = learn_routines(conn, now)
        slow = update_slow_risk(conn, now)  # the case workers' slow-risk flag, same day's guard
        write_audit(
            conn,
            at=now,
            actor=system_principal("detection").username,
            action=LEARN_ACTION,
            entity_type="device_routines",
            entity_id=None,
            detail={
                "learned_on": summary.learned_on.isoformat(),
                "devices": summary.devices,
                "usable": summary.usable,
                "slow_risk": {"flagged": slow.flagged, "set": slow.set, "cleared": slow.cleared},
            },
        )
        return summary

    return run_once_a_day(engine, now, LEARN_ACTION, LEARN_LOCK_CLASS, job)
