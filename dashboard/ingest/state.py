"""Latest device state and daily rollups, computed from newly stored events.

The merge is monotonic: ``last_seen_at`` and ``last_activity_at`` only move forward, and the
readings (power, lux, battery, position, event type) only change for events at or after the
stored ``last_seen_at``. Late events are stored and counted but never move the state backwards.
``first_seen_at`` (the oldest event) only moves back, and ``first_received_at`` (when the first
event was stored) never changes; both stay NULL on a row that reported before they existed. With
installation and registration they bound where the rules' silence clocks may start
(``dashboard.rules.clock``), so back-filled history cannot open an alert at 위험 or 심각 by
itself. The upserts repeat these rules in SQL, so two ingest processes racing on one device
cannot regress them.
"""

from __future__ import annotations

import json
import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Select,
    bindparam,
    case,
    func,
    literal_column,
    null,
    or_,
    select,
    update,
)
from sqlalchemy.sql.dml import Insert, Update

from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.background import Background, ceiling, departs, is_night
from dashboard.detection.band import MAX_GAP as SILENCE  # the left-on run's, the same
from dashboard.detection.band import widen
from dashboard.detection.levels import level_byte, merge_levels
from dashboard.detection.light import light_departs, lux_byte, merge_light
from dashboard.detection.routine import slot_of
from dashboard.detection.timer_load import TimerLoad
from dashboard.ingest.bulk import bulk_write
from dashboard.ingest.events import ValidEvent
from dashboard.settings import LOCAL_TZ

# A wandering detector lying still drifts a few metres between GPS fixes.
POSITION_NOISE_M = 25.0


@dataclass(frozen=True)
class Margins:
    """What counts as a sign of life; the plug and call values come from the rules' thresholds
    (``data/rules.toml``, no defaults of their own) so ingestion and the no-change rule agree on
    what "activity" is."""

    power_w: float
    lux: float
    min_answered_s: float
    position_m: float = POSITION_NOISE_M
    # Judge plug power against the home's learned unattended load (``plug_routine.enabled``);
    # off: the margin alone, exactly the fixed rule's definition.
    background: bool = True
    # The width of a plug's band (``plug_routine.band_w``, ``detection.band``).
    band_w: float = 100.0

    @classmethod
    def from_rules(cls) -> Margins:
        from dashboard.rules.config import current_thresholds

        t = current_thresholds()
        return cls(
            power_w=t.plug_no_change.power_margin_w,
            lux=t.plug_no_change.lux_margin,
            min_answered_s=t.call_no_activity.min_answered_s,
            background=t.plug_routine.enabled,
            band_w=t.plug_routine.band_w,
        )


DAILY_COUNTS = ("events", "calls", "interactions", "triggers", "sessions")
READINGS = (
    "last_power_w",
    "last_lux",
    "last_lux_at",
    "battery_pct",
    "last_lat",
    "last_lon",
    "last_event_type",
)


@dataclass
class _State:
    last_seen_at: datetime | None = None
    last_activity_at: datetime | None = None
    # The last sign of life by the fixed margins alone (5 W, 30 lux), whatever the learned
    # background says: the fixed ladder's clock, so the floor is exactly the fixed rule.
    last_change_at: datetime | None = None
    last_power_w: float | None = None
    last_lux: float | None = None
    last_lux_at: datetime | None = None
    battery_pct: float | None = None
    last_lat: float | None = None
    last_lon: float | None = None
    last_event_type: str | None = None
    first_seen_at: datetime | None = None
    first_received_at: datetime | None = None
    # A plug's first reading of its current run above the background's ceiling (an appliance
    # on; ``detection.left_on``); None once a reading is at or under it, or without a ceiling.
    above_since: datetime | None = None
    # A plug's current band of readings (``detection.band``): its first reading, lowest, highest.
    band_since: datetime | None = None
    band_low_w: float | None = None
    band_high_w: float | None = None
    band_gap_h: float | None = None  # its hours without any report: not time in the band


_STATE_FIELDS = tuple(vars(_State()))  # the dataclass's field order


@dataclass
class DaySignals:
    """What one batch adds to a device's day in ``device_daily``: the half-hours with a sign
    of life, and a smart plug's night load (lowest, highest, largest step), its half-hours
    above the background's ceiling (None without a background) and its readings' sum and
    number (the slow-risk flag's figures, ``detection.decline``)."""

    slots: int = 0
    changes: int = 0  # half-hours with a change beyond the margins (the ladder's clock)
    night_low_w: float | None = None
    night_high_w: float | None = None
    night_step_w: float | None = None
    above: int | None = None
    band: int | None = None  # half-hours where a reading broke the band; 0: readings, no break
    watts_sum: float = 0.0
    watts_n: int = 0
    # half-hour → (sum of the readings' level bytes, readings): merged into level_slots
    levels: dict[int, list] = field(default_factory=dict)
    # local hour → the lowest light reading's byte: merged into light_min
    light: dict[int, int] = field(default_factory=dict)

    def add_light(self, lux: float, hour: int) -> None:
        q = lux_byte(lux)
        self.light[hour] = min(self.light.get(hour, q), q)

    def add_reading(self, watts: float, slot: int, top: float | None) -> None:
        """One power reading in half-hour ``slot``; ``top``: the background's ceiling."""
        self.watts_sum += watts
        self.watts_n += 1
        self.band = self.band or 0
        acc = self.levels.get(slot)
        if acc is None:
            self.levels[slot] = [level_byte(watts), 1]
        else:
            acc[0] += level_byte(watts)
            acc[1] += 1
        if top is not None:
            self.above = (self.above or 0) | ((1 << slot) if watts > top else 0)

    def add_night(self, watts: float, step: float | None) -> None:
        self.night_low_w = watts if self.night_low_w is None else min(self.night_low_w, watts)
        self.night_high_w = watts if self.night_high_w is None else max(self.night_high_w, watts)
        if step is not None:
            self.night_step_w = step if self.night_step_w is None else max(self.night_step_w, step)


Signals = dict[date, DaySignals]


def is_sign_of_life(event: ValidEvent, margins: Margins) -> bool:
    """Events that show a person is active on their own, whatever came before them.

    Readings (power, lux, position) are signs of life only as a change; see ``merge_state``.
    An unanswered incoming call or AI call says nothing about the person being well.
    """
    kind, f = event.type, event.fields
    if kind == "call":
        return f["direction"] == "out" or f["duration_s"] >= margins.min_answered_s
    if kind == "ai_call_result":
        return f["outcome"] in ("answered", "concern")
    return kind in ("sos", "interaction", "session", "trigger")


def merge_state(
    previous: _State,
    events: list[ValidEvent],
    margins: Margins,
    background: Background | None = None,
    days: Signals | None = None,
) -> _State:
    """Fold a device's new events (any order) into its state, never moving it backwards.

    ``background`` is a smart plug's learned unattended load: power changes inside it are not
    signs of life (``detection.background.departs``), nor light changes daylight makes
    (``detection.light.light_departs``). ``days``, when given, collects per local
    day the half-hours with a sign of life and the night load, for ``update_device_daily``.
    """
    state = _State(**vars(previous))
    activity = previous.last_activity_at
    change = previous.last_change_at
    top = None if background is None else ceiling(background, margins.power_w)
    ordered = sorted(events, key=lambda e: (e.ts, e.index))
    # A state written before first_seen_at existed (or by the demo builder) has an unknown first
    # event: it stays unknown (the clocks then count as they always did) rather than "now".
    unknown_start = previous.first_seen_at is None and previous.last_seen_at is not None
    older = ordered and (state.first_seen_at is None or ordered[0].ts < state.first_seen_at)
    if older and not unknown_start:
        state.first_seen_at = ordered[0].ts
    for event in ordered:
        active = changed = is_sign_of_life(event, margins)
        # Readings only advance for events at or after what is already known.
        in_order = state.last_seen_at is None or event.ts >= state.last_seen_at
        if in_order:
            before_w = state.last_power_w
            seen_before = state.last_seen_at
            # after a silence (no report of any kind for 90 min): not time in the band, whatever
            # report ends it (a heartbeat too), and the left-on run starts again
            silent = seen_before is not None and event.ts - seen_before > SILENCE
            if silent and state.band_since is not None:
                silence_h = (event.ts - seen_before).total_seconds() / 3600
                state.band_gap_h = (state.band_gap_h or 0.0) + silence_h
            departed, beyond_margin = _apply_reading(state, event, margins, background)
            active, changed = active or departed, changed or beyond_margin
            if event.type == "power":
                # the run is judged against the ceiling the day's above_slots are
                above = top is not None and event.fields["watts"] > top
                # after a silence the run starts again, as the record's runs end at one
                if not above:
                    state.above_since = None
                elif silent or state.above_since is None:
                    state.above_since = event.ts
                # the band (detection.band): a silence is no break (its bit would end a run
                # in the record), only hours left out of the band's time (above)
                state.band_low_w, state.band_high_w, broke = widen(
                    state.band_low_w, state.band_high_w, event.fields["watts"], margins.band_w
                )
                if broke:
                    state.band_since, state.band_gap_h = event.ts, 0.0
                    if days is not None:
                        local = event.ts.astimezone(LOCAL_TZ)
                        day = days.setdefault(local.date(), DaySignals())
                        day.band = (day.band or 0) | (1 << slot_of(local))
            state.last_seen_at = event.ts
            state.last_event_type = event.type
            if days is not None and event.type == "power":
                local = event.ts.astimezone(LOCAL_TZ)
                if is_night(local):
                    step = None if before_w is None else abs(event.fields["watts"] - before_w)
                    days.setdefault(local.date(), DaySignals()).add_night(
                        event.fields["watts"], step
                    )
        if days is not None and event.type in ("power", "lux"):
            # every stored reading, in order or late: a day's figures are its readings'
            local = event.ts.astimezone(LOCAL_TZ)
            day = days.setdefault(local.date(), DaySignals())
            if event.type == "power":
                day.add_reading(event.fields["watts"], slot_of(local), top)
            else:
                day.add_light(event.fields["lux"], local.hour)
        if (active or changed) and days is not None:
            local = event.ts.astimezone(LOCAL_TZ)
            day = days.setdefault(local.date(), DaySignals())
            day.changes |= 1 << slot_of(local)
            if active:
                day.slots |= 1 << slot_of(local)
        if active and (activity is None or event.ts > activity):
            activity = event.ts
        if changed and (change is None or event.ts > change):
            change = event.ts
    state.last_activity_at = activity
    state.last_change_at = change
    return state


def _apply_reading(
    state: _State, event: ValidEvent, margins: Margins, background: Background | None = None
) -> tuple[bool, bool]:
    """Update the readings from one in-order event: (a sign of life, a change beyond the fixed
    margins). The two differ only for a plug's power or light judged against its background
    (the unattended load, ``detection.background``; the light's course, ``detection.light``)."""
    f = event.fields
    changed = False
    if "battery_pct" in f:
        state.battery_pct = f["battery_pct"]
    if event.type == "power":
        previous, state.last_power_w = state.last_power_w, f["watts"]
        if previous is None:
            return False, False
        beyond = abs(f["watts"] - previous) > margins.power_w
        # A timed night load is judged by time of day; every other plug needs no local time.
        timed = background is not None and background.timer is not None
        local = event.ts.astimezone(LOCAL_TZ) if timed else None
        departed = beyond and departs(previous, f["watts"], margins.power_w, background, local)
        return departed, beyond
    elif event.type == "lux":
        previous, state.last_lux = state.last_lux, f["lux"]
        previous_at, state.last_lux_at = state.last_lux_at, event.ts
        if previous is None:
            return False, False
        beyond = abs(f["lux"] - previous) > margins.lux
        course = None if background is None else background.light
        departed = beyond and light_departs(
            previous, previous_at, f["lux"], event.ts, margins.lux, course
        )
        return departed, beyond
    elif event.type == "position":
        if state.last_lat is not None and state.last_lon is not None:
            moved = _distance_m(state.last_lat, state.last_lon, f["lat"], f["lon"])
            changed = moved > margins.position_m
        state.last_lat, state.last_lon = f["lat"], f["lon"]
    return changed, changed


def _distance_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    # Equirectangular approximation: exact enough for a 25 m noise margin.
    x = math.radians(lon2 - lon1) * math.cos(math.radians((lat1 + lat2) / 2))
    y = math.radians(lat2 - lat1)
    return 6_371_000 * math.hypot(x, y)


def update_device_state(
    conn: Connection,
    events: Iterable[ValidEvent],
    device_of: dict[str, int],
    now: datetime,
    margins: Margins,
    signals: dict[int, Signals] | None = None,
    band_records: dict[int, float] | None = None,
) -> dict[int, _State]:
    """Merge stored events into ``device_state`` (one read, one bulk upsert).

    Returns each device's merged state as written (the rules' pre-filter reads it); fills
    ``signals`` (device id → day → :class:`DaySignals`) for ``update_device_daily`` and
    ``band_records`` (device id → ``device_routines.band_h``) for the pre-filter.
    """
    by_device: dict[int, list[ValidEvent]] = defaultdict(list)
    for event in events:
        by_device[device_of[event.device_uid]].append(event)
    if not by_device:
        return {}
    ids = sorted(by_device)
    table = DeviceState.__table__
    query = prebuilt(conn, "ingest.device_state", _state_query)
    params = {"ids": bound_values(conn, table.c.device_id, ids)}
    previous = {row.device_id: row for row in conn.execute(query, params).all()}
    plugs = sorted(
        {i for i, evs in by_device.items() if any(e.type in ("power", "lux") for e in evs)}
    )
    # A plug's band record also when this batch holds only its heartbeats: they move its last
    # report, and the band test's time runs to it (the pre-filter reads the record).
    banded = {i for i, row in previous.items() if row.band_since is not None}
    learned = sorted(set(plugs) | banded) if band_records is not None else plugs
    backgrounds = load_backgrounds(conn, learned, band_records) if margins.background else {}
    rows = []
    merged_states: dict[int, _State] = {}
    for device_id in ids:
        row = previous.get(device_id)
        before = _State(*row[1:]) if row else _State()
        days = signals.setdefault(device_id, {}) if signals is not None else None
        merged = merged_states[device_id] = merge_state(
            before, by_device[device_id], margins, backgrounds.get(device_id), days
        )
        if merged.first_received_at is None and merged.first_seen_at is not None:
            merged.first_received_at = before.first_seen_at or now  # its first batch: now
        rows.append(
            {"device_id": device_id, "state": "normal", "state_since": now, "updated_at": now}
            | vars(merged)
        )
    bulk_write(conn, table, rows, _merge_state_on_conflict, key="device_state")
    # A power reading stamped before the stored last report moves an earlier half-hour's level
    # (S) but not last_seen_at: the level test's bound (device_routines.level_due_at, counted
    # from the report the tick scored) no longer holds, so any report may raise it again.
    late = [
        device_id
        for device_id in ids
        if (row := previous.get(device_id)) is not None
        and row.last_seen_at is not None
        and any(e.type == "power" and e.ts < row.last_seen_at for e in by_device[device_id])
    ]
    if late:
        conn.execute(
            prebuilt(conn, "ingest.level_due", _clear_level_due),
            {"ids": bound_values(conn, DeviceRoutine.__table__.c.device_id, late)},
        )
    return merged_states


def _clear_level_due(conn: Connection) -> Update:
    rt = DeviceRoutine.__table__
    return (
        update(rt)
        .where(in_bound(conn, rt.c.device_id, "ids"), rt.c.level_due_at.is_not(None))
        .values(level_due_at=None)
    )


def _state_query(conn: Connection) -> Select:
    table = DeviceState.__table__
    columns = [table.c.device_id, *(table.c[k] for k in _STATE_FIELDS)]
    query = select(*columns).where(in_bound(conn, table.c.device_id, "ids"))
    query = query.order_by(table.c.device_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()  # serialise concurrent batches per device
    return query


def load_backgrounds(
    conn: Connection, device_ids: list[int], band_records: dict[int, float] | None = None
) -> dict[int, Background]:
    """The learned unattended load of each of these devices that has one; ``band_records``,
    when given, gets each one's band record (``device_routines.band_h``) from the same row, for
    the rules' pre-filter (``Touched.band_h``)."""
    if not device_ids:
        return {}
    table = DeviceRoutine.__table__
    query = prebuilt(
        conn,
        "ingest.backgrounds",
        lambda c: select(
            table.c.device_id,
            table.c.background_low_w,
            table.c.background_high_w,
            table.c.background_step_w,
            table.c.light_course,
            # The routine's JSON only where it holds a timed night load (a few homes): the
            # rest of the batch's plugs send nothing more than before.
            case((table.c.model.contains(TIMER_KEY), table.c.model), else_=null()),
            table.c.band_h,
        ).where(
            in_bound(c, table.c.device_id, "ids"),
            # a band record without a background (a plug never read at night) is read too
            or_(table.c.background_high_w.is_not(None), table.c.band_h.is_not(None)),
        ),
    )
    rows = conn.execute(query, {"ids": bound_values(conn, table.c.device_id, device_ids)}).all()
    if band_records is not None:
        band_records.update((row[0], row[6]) for row in rows if row[6] is not None)
    return {
        row[0]: Background(
            row[1], row[2], row[3] or 0.0, 0, bytes(row[4]) if row[4] else None, _timer(row[5])
        )
        for row in rows
        if row[2] is not None
    }


TIMER_KEY = '"timer":{'  # how a stored background with a timed night load begins


def _timer(model: str | None) -> TimerLoad | None:
    """The timed night load the daily learning stored beside the routine (its JSON's
    background), without parsing the routine's days."""
    if not model:
        return None
    bg = json.loads(model).get("background") or {}
    return TimerLoad.from_dict(bg["timer"]) if bg.get("timer") else None


def _merge_state_on_conflict(stmt: Insert) -> Insert:
    """The monotonic merge in SQL, for a concurrent batch that updated the row meanwhile."""
    table = DeviceState.__table__
    new = stmt.excluded
    newer = or_(table.c.last_seen_at.is_(None), new.last_seen_at >= table.c.last_seen_at)
    later_activity = or_(
        table.c.last_activity_at.is_(None), new.last_activity_at > table.c.last_activity_at
    )
    later_change = or_(
        table.c.last_change_at.is_(None), new.last_change_at > table.c.last_change_at
    )
    set_: dict[str, Any] = {
        "last_seen_at": case((newer, new.last_seen_at), else_=table.c.last_seen_at),
        "last_activity_at": case(
            (later_activity, func.coalesce(new.last_activity_at, table.c.last_activity_at)),
            else_=table.c.last_activity_at,
        ),
        "last_change_at": case(
            (later_change, func.coalesce(new.last_change_at, table.c.last_change_at)),
            else_=table.c.last_change_at,
        ),
        "updated_at": new.updated_at,
        "first_seen_at": case(
            (
                or_(table.c.first_seen_at.is_(None), new.first_seen_at < table.c.first_seen_at),
                new.first_seen_at,
            ),
            else_=table.c.first_seen_at,
        ),
        "first_received_at": func.coalesce(table.c.first_received_at, new.first_received_at),
        # follows the readings: a newer batch's run (or its end, NULL) replaces the stored one
        "above_since": case((newer, new.above_since), else_=table.c.above_since),
        "band_since": case((newer, new.band_since), else_=table.c.band_since),
        "band_low_w": case((newer, new.band_low_w), else_=table.c.band_low_w),
        "band_high_w": case((newer, new.band_high_w), else_=table.c.band_high_w),
        "band_gap_h": case((newer, new.band_gap_h), else_=table.c.band_gap_h),
        # Any event may change a rule's decision: the next silence tick judges the device.
        "rules_due_at": null(),
    }
    for col in READINGS:
        set_[col] = case(
            (newer, func.coalesce(getattr(new, col), table.c[col])), else_=table.c[col]
        )
    # state and state_since belong to the rules; a new row starts as normal.
    return stmt.on_conflict_do_update(index_elements=["device_id"], set_=set_)


def _least(old, new, *, greatest: bool = False):
    """The smaller (or larger) of two nullable values, the same in SQLite and PostgreSQL."""
    better = new > old if greatest else new < old
    return case((old.is_(None), new), (new.is_(None), old), (better, new), else_=old)


def _either(old, new, combine):
    """``combine(old, new)``, or whichever is not NULL: unknown stays unknown only when both are."""
    return case((old.is_(None), new), (new.is_(None), old), else_=combine(old, new))


def _add_daily_on_conflict(stmt: Insert) -> Insert:
    table, new = DeviceDaily.__table__, stmt.excluded
    set_: dict[str, Any] = {col: table.c[col] + getattr(new, col) for col in DAILY_COUNTS}
    zero = literal_column("0")  # not a bound parameter: the SQLite statement is precompiled
    set_["activity_slots"] = func.coalesce(table.c.activity_slots, zero).op("|")(
        func.coalesce(new.activity_slots, zero)
    )
    set_["change_slots"] = _either(
        table.c.change_slots, new.change_slots, lambda a, b: a.op("|")(b)
    )
    set_["above_slots"] = _either(table.c.above_slots, new.above_slots, lambda a, b: a.op("|")(b))
    set_["band_slots"] = _either(table.c.band_slots, new.band_slots, lambda a, b: a.op("|")(b))
    set_["watts_sum"] = _either(table.c.watts_sum, new.watts_sum, lambda a, b: a + b)
    set_["watts_n"] = _either(table.c.watts_n, new.watts_n, lambda a, b: a + b)
    # Already merged with the stored day in Python (``_stored_days``), under the batch's lock
    # on the device's state row.
    set_["level_slots"] = func.coalesce(new.level_slots, table.c.level_slots)
    set_["light_min"] = func.coalesce(new.light_min, table.c.light_min)
    set_["night_low_w"] = _least(table.c.night_low_w, new.night_low_w)
    set_["night_high_w"] = _least(table.c.night_high_w, new.night_high_w, greatest=True)
    set_["night_step_w"] = _least(table.c.night_step_w, new.night_step_w, greatest=True)
    return stmt.on_conflict_do_update(index_elements=["device_id", "day"], set_=set_)


def update_device_daily(
    conn: Connection,
    events: Iterable[ValidEvent],
    device_of: dict[str, int],
    signals: dict[int, Signals] | None = None,
) -> None:
    """Add the stored events to the per-device Asia/Seoul daily counts (one bulk upsert), with
    the activity half-hours and night load that ``update_device_state`` collected."""
    counts: dict[tuple[int, date], dict[str, int]] = {}
    for event in events:
        key = (device_of[event.device_uid], event.ts.astimezone(LOCAL_TZ).date())
        c = counts.setdefault(
            key, {"events": 0, "calls": 0, "interactions": 0, "triggers": 0, "sessions": 0}
        )
        c["events"] += 1
        if event.type in ("call", "ai_call_result"):
            c["calls"] += 1
        elif event.type == "interaction":
            c["interactions"] += 1
        elif event.type == "trigger":
            c["triggers"] += 1
        elif event.type == "session":
            c["sessions"] += 1
    if not counts:
        return
    table = DeviceDaily.__table__
    signals = signals or {}
    stored = _stored_days(
        conn, [key for key in counts if key[1] in signals.get(key[0], {})], signals
    )
    rows = []
    for (device_id, day), c in sorted(counts.items()):
        day_signals = signals.get(device_id, {}).get(day) or DaySignals()
        levels = light = None
        old_levels, old_light = stored.get((device_id, day), (None, None))
        if day_signals.levels:
            levels = merge_levels(old_levels, day_signals.levels)
        if day_signals.light:
            light = merge_light(old_light, day_signals.light)
        rows.append(
            {"device_id": device_id, "day": day, "active_hours": 0}
            | c
            | {
                "activity_slots": day_signals.slots,
                "change_slots": day_signals.changes,
                "night_low_w": day_signals.night_low_w,
                "night_high_w": day_signals.night_high_w,
                "night_step_w": day_signals.night_step_w,
                "above_slots": day_signals.above,
                "band_slots": day_signals.band,
                "watts_sum": day_signals.watts_sum if day_signals.watts_n else None,
                "watts_n": day_signals.watts_n or None,
                "level_slots": levels,
                "light_min": light,
            }
        )
    bulk_write(conn, table, rows, _add_daily_on_conflict, key="device_daily")


def _stored_days(
    conn: Connection, keys: list[tuple[int, date]], signals: dict[int, Signals]
) -> dict[tuple[int, date], tuple[bytes | None, bytes | None]]:
    """The stored ``level_slots`` and ``light_min`` of the device-days this batch adds power or
    light readings to (one indexed read): a half-hour's mean needs the readings already counted,
    an hour's lowest light the lowest already stored. Concurrent batches of
    one device are serialised by ``update_device_state``'s row lock (PostgreSQL) or by SQLite's
    single writer, so the merge does not lose a batch. A plug's very first batches have no row
    to lock, but the state upsert runs before this read: the second one's insert waits for the
    first to commit, and this read (a new statement, READ COMMITTED) then sees its levels."""
    wanted = {k for k in keys if signals[k[0]][k[1]].levels or signals[k[0]][k[1]].light}
    if not wanted:
        return {}
    table = DeviceDaily.__table__
    # Built once per process (``prebuilt``: building the select cost a third of the read's
    # client CPU); the days stay a list, not a range, so a stray old timestamp in the batch
    # does not read years of the devices' rows.
    query = prebuilt(
        conn,
        "ingest.stored_days",
        lambda c: select(
            table.c.device_id, table.c.day, table.c.level_slots, table.c.light_min
        ).where(
            in_bound(c, table.c.device_id, "ids"),
            table.c.day.in_(bindparam("days", expanding=True)),
            or_(table.c.level_slots.is_not(None), table.c.light_min.is_not(None)),
        ),
    )
    ids = bound_values(conn, table.c.device_id, sorted({i for i, _d in wanted}))
    rows = conn.execute(query, {"ids": ids, "days": sorted({day for _id, day in wanted})})
    return {
        (row[0], row[1]): (_bytes(row[2]), _bytes(row[3]))
        for row in rows
        if (row[0], row[1]) in wanted
    }


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)
