"""Loading what the pure rules need, in a handful of set-based queries.

Facts come from ``devices`` + ``device_state`` + the person; only the few devices that need
them get a look at raw ``device_events``, always through the ``(device_id, ts)`` index.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import UTC, datetime, time, timedelta

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    case,
    func,
    literal,
    or_,
    select,
)

from dashboard.clock import as_utc
from dashboard.db.inlist import bound_values, in_bound, in_values
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceAssignment,
    DeviceEvent,
    DeviceState,
    DeviceType,
    Region,
)
from dashboard.detection.records import load_away, load_levels, load_routines
from dashboard.rules.config import Thresholds, position_lookback_min
from dashboard.rules.geofence import fixes_of, usable
from dashboard.rules.model import HELP_EVENTS, STICKY_RULES, DeviceFacts, Reading
from dashboard.rules.wandering import zone_of
from dashboard.settings import LOCAL_TZ

CHUNK = 5_000  # ids per IN list: far below SQLite's and PostgreSQL's parameter limits
RESULTS_PER_LINE = 10  # latest call results read per line (the ladders need at most 4)
RESULTS_LOOKBACK = timedelta(days=120)  # weekly AI calls: a run of 4 spans a month
CLOCK_SKEW = timedelta(minutes=5)  # ignore events stamped further ahead than this
# Wandering fixes read per evaluation: the geofence's lookback before the newest fix, at most
# this many (the longest lookback the thresholds allow, 30 min, at one fix a second).
POSITIONS_MAX = 1_800
POSITION_CHUNK = 400  # devices per statement: two parameters each in the per-device window
# … for a detector none of whose fixes is usable (``enrich``): its longer look back, at one fix
# every 2 s (the cap hits first for a detector reporting every second)
BLIND_POSITIONS_MAX = 3 * POSITIONS_MAX

_region = Region.__table__.alias("person_region")


def chunks(ids: Sequence[int], size: int = CHUNK) -> Iterable[list[int]]:
    for start in range(0, len(ids), size):
        yield list(ids[start : start + size])


def fact_query(where: ColumnElement[bool]):
    """Devices with their type, latest state, person and dong, filtered by ``where``."""
    r, d = CareRecipient.__table__, Device.__table__
    return (
        _fact_select(d.c.recipient_id)
        # Out-of-service devices and ended enrollments are watched by nobody: no rule runs.
        # (Ending an enrollment retires the devices; the person check keeps the rule true even
        # for a device someone left active by hand.) A call for help is the exception, loaded
        # by ``help_fact_query``.
        .where(d.c.status == "active", or_(r.c.id.is_(None), r.c.ended_on.is_(None)), where)
    )


def help_fact_query(where: ColumnElement[bool]):
    """``fact_query`` for a person's call for help: devices of any status, with the person of
    their current assignment or, once released (retired, replaced, enrollment ended), of their
    last one, and the columns that say so (status, release, end of enrollment)."""
    d, da, r = Device.__table__, DeviceAssignment.__table__, CareRecipient.__table__
    last = (
        select(da.c.id)
        .where(da.c.device_id == d.c.id, da.c.recipient_id.is_not(None))
        .order_by(da.c.id.desc())
        .limit(1)
        .correlate(d)
        .scalar_subquery()
    )
    last_person = select(da.c.recipient_id).where(da.c.id == last).scalar_subquery()
    released = select(da.c.released_at).where(da.c.id == last).scalar_subquery()
    person = func.coalesce(d.c.recipient_id, last_person)
    return (
        _fact_select(person)
        .add_columns(
            d.c.status.label("device_status"),
            case((d.c.recipient_id.is_(None), released), else_=None).label("released_at"),
            r.c.ended_on.label("enrollment_ended_on"),
        )
        .where(where)
    )


def _fact_select(person: ColumnElement):
    """The facts' columns, the person being ``person`` (an expression of ``devices``)."""
    s, r = DeviceState.__table__, CareRecipient.__table__
    d, t = Device.__table__, DeviceType.__table__
    return (
        select(
            d.c.id,
            d.c.type_code,
            d.c.program_id,
            d.c.region_id,
            person.label("recipient_id"),
            d.c.installed_on,
            d.c.registered_at,
            t.c.heartbeat_timeout_s,
            s.c.state,
            s.c.last_seen_at,
            s.c.last_activity_at,
            s.c.last_change_at,
            s.c.last_power_w,
            s.c.last_lux,
            s.c.battery_pct,
            s.c.last_lat,
            s.c.last_lon,
            s.c.first_seen_at,
            s.c.first_received_at,
            s.c.above_since,
            s.c.band_since,
            s.c.band_low_w,
            s.c.band_high_w,
            s.c.band_gap_h,
            r.c.no_change_hours,
            r.c.safe_zone_m,
            r.c.quiet_start_min,
            r.c.quiet_end_min,
            r.c.pii_zone_polygon,
            r.c.pii_home_lat,
            r.c.pii_home_lon,
            _region.c.name_ko.label("region_name"),
            _region.c.code.label("region_code"),
        )
        .select_from(d)
        .join(t, t.c.code == d.c.type_code)
        .outerjoin(s, s.c.device_id == d.c.id)
        .outerjoin(r, r.c.id == person)
        .outerjoin(_region, _region.c.id == func.coalesce(r.c.region_id, d.c.region_id))
    )


def to_facts(row) -> DeviceFacts:
    installed = (
        datetime.combine(row.installed_on, time(0), LOCAL_TZ).astimezone(UTC)
        if row.installed_on
        else None
    )
    dong = row.region_name.split()[-1] if row.region_name else None
    return DeviceFacts(
        device_id=row.id,
        type_code=row.type_code,
        program_id=row.program_id,
        region_id=row.region_id,
        heartbeat_timeout_s=row.heartbeat_timeout_s,
        recipient_id=row.recipient_id,
        installed_at=installed,
        registered_at=row.registered_at,
        state=row.state,
        last_seen_at=row.last_seen_at,
        last_activity_at=row.last_activity_at,
        last_change_at=row.last_change_at,
        last_power_w=row.last_power_w,
        last_lux=row.last_lux,
        battery_pct=row.battery_pct,
        last_lat=row.last_lat,
        last_lon=row.last_lon,
        first_seen_at=row.first_seen_at,
        first_received_at=row.first_received_at,
        above_since=row.above_since,
        band_since=row.band_since,
        band_low_w=row.band_low_w,
        band_high_w=row.band_high_w,
        band_gap_h=row.band_gap_h,
        no_change_hours=row.no_change_hours,
        safe_zone_m=row.safe_zone_m,
        home_lat=row.pii_home_lat,
        home_lon=row.pii_home_lon,
        dong_name=dong,
        region_code=row.region_code,
        zone_polygon=stored_polygon(row.pii_zone_polygon),
        quiet_start_min=row.quiet_start_min,
        quiet_end_min=row.quiet_end_min,
    )


def to_help_facts(row) -> DeviceFacts:
    """``to_facts`` of a ``help_fact_query`` row: with the device's status and release."""
    return replace(
        to_facts(row),
        device_status=row.device_status,
        released_at=as_utc(row.released_at) if row.released_at is not None else None,
        enrollment_ended_on=row.enrollment_ended_on,
    )


def stored_polygon(value) -> tuple[tuple[float, float], ...] | None:
    """The stored ``[[lat, lon], …]`` (validated when saved); anything unusable is no polygon."""
    if not isinstance(value, list) or len(value) < 3:
        return None
    try:
        return tuple((float(lat), float(lon)) for lat, lon in value)
    except (TypeError, ValueError):
        return None


def load_facts(conn: Connection, where: ColumnElement[bool]) -> list[DeviceFacts]:
    return [to_facts(row) for row in conn.execute(fact_query(where))]


def load_facts_by_id(conn: Connection, ids: Sequence[int]) -> list[DeviceFacts]:
    d = Device.__table__
    # Built once: every evaluation runs it (building the 28-column join costs more than the
    # read itself on SQLite).
    query = prebuilt(conn, "facts.by_id", lambda c: fact_query(in_bound(c, d.c.id, "ids")))
    out: list[DeviceFacts] = []
    for part in chunks(ids):
        rows = conn.execute(query, {"ids": bound_values(conn, d.c.id, part)})
        out.extend(to_facts(row) for row in rows)
    return out


def load_help_facts(conn: Connection, ids: Sequence[int]) -> list[DeviceFacts]:
    """The facts of devices a person asked for help on, whatever their status (few: only the
    devices of a batch with an SOS that the usual facts leave out)."""
    d = Device.__table__
    out: list[DeviceFacts] = []
    for part in chunks(sorted(set(ids))):
        rows = conn.execute(help_fact_query(in_values(conn, d.c.id, part)))
        out.extend(to_help_facts(row) for row in rows)
    return out


def routine_quiet(th: Thresholds) -> timedelta:
    """How long a plug must be quiet before its routine is scored (``min_quiet_h``)."""
    return timedelta(hours=th.plug_routine.min_quiet_h)


def _held(since: datetime | None, enabled: bool, hours: float, now: datetime) -> bool:
    """A run test's run (or band) that began at least ``hours`` before ``now``."""
    return enabled and since is not None and since <= now - timedelta(hours=hours)


def enrich(
    conn: Connection, facts: list[DeviceFacts], th: Thresholds, now: datetime
) -> tuple[list[DeviceFacts], dict[int, list[Reading]]]:
    """Add each wanderer's open episode, each quiet plug's or phone line's routine and each
    person's away period, and
    load the event rules' readings (the wanderers' recent fixes among them)."""
    wanderers = [f.device_id for f in facts if f.type_code == "wandering_detector"]
    episodes = _wander_episodes(conn, wanderers)
    # The routine score needs the home's routine only once the quiet has lasted a while.
    quiet_plugs = [
        f.device_id
        for f in facts
        if f.type_code == "smart_plug"
        and th.plug_routine.enabled
        and (
            f.last_activity_at is None
            or f.last_activity_at <= now - routine_quiet(th.for_region(f.region_code))
        )
    ]
    # A regular caller's habit can move 관심 from the fixed days to its own (min_quiet_h on).
    quiet_lines = [
        f.device_id
        for f in facts
        if f.type_code == "phone_line"
        and th.call_routine.enabled
        and (
            f.last_activity_at is None
            or f.last_activity_at <= now - timedelta(hours=th.call_routine.min_quiet_h)
        )
    ]
    # The run tests read the routine's record once a plug has been above its ceiling (left on)
    # or within its band (band) for half of their minimum (the watch list shows a home halfway
    # to 관심), however recent its last sign of life (each flicker, each fridge cycle is one).
    cfg = th.plug_routine
    listed = set(quiet_plugs)
    run_plugs = [
        f.device_id
        for f in facts
        if f.type_code == "smart_plug"
        and cfg.enabled
        and f.device_id not in listed
        and (
            _held(f.above_since, cfg.on_enabled, cfg.on_min_h / 2, now)
            or _held(f.band_since, cfg.band_enabled, cfg.band_min_h / 2, now)
        )
    ]
    routines = load_routines(conn, quiet_plugs + run_plugs + quiet_lines)
    # The level test reads the same quiet plugs' level models and recent levels, for plugs
    # whose region (the person's) has it on.
    quiet = set(quiet_plugs)
    level_plugs = [
        f.device_id
        for f in facts
        if f.device_id in quiet and f.device_id in routines and th.level_enabled_in(f.region_code)
    ]
    levels = load_levels(conn, level_plugs, now.astimezone(LOCAL_TZ).date())
    people = sorted({f.recipient_id for f in facts if f.recipient_id is not None})
    away = load_away(conn, people, now.astimezone(LOCAL_TZ).date())
    # Every plug's (not only the quiet ones'): the replay's mirror keeps what was loaded after
    # an alert's write for the moments after it, as the engine would load it then. Only the
    # routine-aware rule reads it (rules.plug.steps_stage).
    plugs = [f for f in facts if f.type_code == "smart_plug" and cfg.enabled]
    alerted = _plug_alerts(conn, [f.device_id for f in plugs if f.recipient_id is None])
    by_person = _plug_alerts(conn, [f.recipient_id for f in plugs if f.recipient_id], "people")
    enriched = []
    for f in facts:
        extra: dict = {}
        found = alerted.get(f.device_id) or by_person.get(f.recipient_id or 0)
        if f.type_code == "smart_plug" and found is not None:
            extra["plug_alert"] = found
        if f.device_id in episodes:
            extra["wander_episode"], extra["wander_since"] = episodes[f.device_id]
        if f.device_id in routines:
            extra["routine"] = routines[f.device_id]
        if f.device_id in levels:
            extra["levels"] = levels[f.device_id]
        if f.recipient_id in away:
            extra["away_until"], extra["left_on"], extra["back_on"] = away[f.recipient_id]
        enriched.append(replace(f, **extra) if extra else f)
    readings = _readings(conn, facts, th, now)
    positions = _positions(conn, wanderers, th, now)
    # A detector none of whose loaded fixes locates anyone (inaccurate, implausible) needs a
    # longer look back: to tell a blind spell of ``bad_fix_min`` (wander_bad_fix), and to keep
    # its last usable fixes in view until a lost alert outside is due (the stopped case's
    # 90 min: coarse network fixes indoors are what such a detector sends). Only such
    # detectors pay for it; past it, the open episode's last fix stands (``track_of``).
    blind = [
        f.device_id
        for f in enriched
        if f.device_id in positions and _blind(f, positions[f.device_id], th)
    ]
    if blind:
        positions.update(
            _positions(conn, blind, th, now, blind_lookback_min(th), BLIND_POSITIONS_MAX)
        )
    for device_id, fixes in positions.items():
        readings[device_id].extend(fixes)
    return enriched, readings


def blind_lookback_min(th: Thresholds) -> float:
    """Minutes of fixes before the newest one loaded for a blind detector (see ``enrich``)."""
    w = th.wandering
    return max(2 * w.bad_fix_min, w.no_position_stopped_min) + position_lookback_min(w)


def _blind(facts: DeviceFacts, readings: list[Reading], th: Thresholds) -> bool:
    """Whether none of a wanderer's loaded fixes is usable (``geofence.usable``)."""
    zone = zone_of(facts, th)
    return zone.usable and not any(usable(f, zone, th.wandering) for f in fixes_of(readings))


def with_history(conn: Connection, facts: list[DeviceFacts]) -> list[DeviceFacts]:
    """Add each device's alert history: operator closes and the newest sticky-rule evidence.

    History only ever holds a rule back (a restarted clock, an event already alerted), so
    callers need it only for devices where some rule fires without it.
    """
    ids = [f.device_id for f in facts]
    closed = _human_closed_at(conn, ids)
    # A person alert closed by staff was a check of the person: every device of theirs that
    # shares the alert (a second plug) restarts its clock from it, not only the one that opened
    # it (rules.household).
    people = _human_closed_at(conn, [f.recipient_id for f in facts if f.recipient_id], "people")
    for f in facts:
        for rule, at in people.get(f.recipient_id or 0, {}).items():
            mine = closed[f.device_id]  # a defaultdict: created only for a person with closes
            if rule not in mine or at > mine[rule]:
                mine[rule] = at
    evidence = last_evidence(
        conn, [f.device_id for f in facts if f.type_code in ("care_robot", "ai_call_line")]
    )
    return [
        replace(
            f,
            human_closed_at=closed.get(f.device_id, {}),
            last_evidence=evidence.get(f.device_id, {}),
        )
        if f.device_id in closed or f.device_id in evidence
        else f
        for f in facts
    ]


def _human_closed_at(
    conn: Connection, ids: Sequence[int], by: str = "devices"
) -> dict[int, dict[str, datetime]]:
    """Device id (``by`` "devices") or person id ("people": their person alerts) → rule →
    when staff last closed such an alert."""
    a = Alert.__table__
    out: dict[int, dict[str, datetime]] = defaultdict(dict)
    if not ids:
        return out
    column = a.c.recipient_id if by == "people" else a.c.device_id
    query = prebuilt(
        conn,
        f"facts.human_closed_at.{by}",
        lambda c: (
            select(column.label("subject"), a.c.rule, func.max(a.c.closed_at).label("closed_at"))
            .where(
                in_bound(c, column, "ids"),
                a.c.status == "closed",
                func.coalesce(a.c.closed_by, "") != "system",
            )
            .group_by(column, a.c.rule)
        ),
    )
    for part in chunks(sorted(set(ids))):
        rows = conn.execute(query, {"ids": bound_values(conn, column, part)})
        for row in rows:
            out[row.subject][row.rule] = as_utc(row.closed_at)
    return out


def last_evidence(conn: Connection, ids: Sequence[int]) -> dict[int, dict[str, dict]]:
    a = Alert.__table__
    out: dict[int, dict[str, dict]] = defaultdict(dict)
    for part in chunks(ids):
        rows = conn.execute(
            select(a.c.device_id, a.c.rule, a.c.evidence)
            .where(in_values(conn, a.c.device_id, part), a.c.rule.in_(sorted(STICKY_RULES)))
            .order_by(a.c.opened_at, a.c.id)
        )
        for row in rows:
            out[row.device_id][row.rule] = row.evidence or {}
    return out


def _plug_alerts(
    conn: Connection, ids: Sequence[int], by: str = "devices"
) -> dict[int, tuple[str | None, datetime | None]]:
    """The open ``plug_no_change`` alerts by the device that raised them (``by`` "devices")
    or by person ("people": a person's alert, whichever of their plugs raised it; every plug of
    theirs reads it, ``rules.household``): (the quiet spell's start it was last written with,
    when a test of that spell first raised it)."""
    a = Alert.__table__
    out: dict[int, tuple[str | None, datetime | None]] = {}
    if not ids:
        return out
    column = a.c.recipient_id if by == "people" else a.c.device_id
    query = prebuilt(
        conn,
        f"facts.plug_alerts.{by}",
        lambda c: select(column, a.c.evidence).where(
            in_bound(c, column, "ids"),
            a.c.rule == "plug_no_change",
            a.c.status != "closed",
        ),
    )
    for part in chunks(sorted(set(ids))):
        for subject, evidence in conn.execute(query, {"ids": bound_values(conn, column, part)}):
            evidence = evidence or {}
            # None for an alert written before alerted_at existed: its steps count from the
            # first decision that raises it again, not from its opening (which would make an
            # alert held for days 심각 at once)
            at = evidence.get("alerted_at")
            out[subject] = (evidence.get("since"), datetime.fromisoformat(at) if at else None)
    return out


def _wander_episodes(
    conn: Connection, ids: Sequence[int]
) -> dict[int, tuple[dict | None, datetime | None]]:
    """Each wanderer's open left-zone alert (evidence, opened at) or, without one, when its
    last one closed: (episode evidence or None, since)."""
    a = Alert.__table__
    out: dict[int, tuple[dict | None, datetime | None]] = {}
    if not ids:  # most evaluations: no wanderer (and no statement to build)
        return out
    left = a.c.rule == "wander_left_zone"
    for part in chunks(ids):
        closed = conn.execute(
            select(a.c.device_id, func.max(a.c.closed_at))
            .where(in_values(conn, a.c.device_id, part), left, a.c.status == "closed")
            .group_by(a.c.device_id)
        )
        for device_id, closed_at in closed:
            out[device_id] = (None, as_utc(closed_at) if closed_at else None)
        rows = conn.execute(
            select(a.c.device_id, a.c.evidence, a.c.opened_at).where(
                in_values(conn, a.c.device_id, part), left, a.c.status != "closed"
            )
        )
        for row in rows:
            out[row.device_id] = (dict(row.evidence or {}), as_utc(row.opened_at))
    return out


def _positions(
    conn: Connection,
    ids: Sequence[int],
    th: Thresholds,
    now: datetime,
    minutes: float | None = None,
    most: int = POSITIONS_MAX,
) -> dict[int, list[Reading]]:
    """Each wanderer's fixes from ``position_lookback_min`` (or ``minutes``) before its newest
    fix (at most ``most``): the geofence's dwell times, and where it was last seen however
    long ago."""
    e = DeviceEvent.__table__
    out: dict[int, list[Reading]] = defaultdict(list)
    if not ids:
        return out
    lookback = timedelta(minutes=minutes or position_lookback_min(th.wandering))
    newest_allowed = now + CLOCK_SKEW
    position = e.c.type == "position"
    for part in chunks(ids, POSITION_CHUNK):
        newest = conn.execute(
            select(e.c.device_id, func.max(e.c.ts))
            .where(in_values(conn, e.c.device_id, part), position, e.c.ts <= newest_allowed)
            .group_by(e.c.device_id)
        ).all()
        if not newest:
            continue
        since = or_(
            *(
                and_(e.c.device_id == device_id, e.c.ts >= min(as_utc(ts), now) - lookback)
                for device_id, ts in newest
            )
        )
        ranked = (
            select(
                e.c.device_id,
                e.c.ts,
                e.c.type,
                e.c.data,
                func.row_number()
                .over(partition_by=e.c.device_id, order_by=e.c.ts.desc())
                .label("rn"),
            )
            .where(since, position, e.c.ts <= newest_allowed)
            .subquery()
        )
        for row in conn.execute(select(ranked).where(ranked.c.rn <= literal(most))):
            out[row.device_id].append(Reading(as_utc(row.ts), row.type, None, row.data))
    return out


def _readings(
    conn: Connection, facts: list[DeviceFacts], th: Thresholds, now: datetime
) -> dict[int, list[Reading]]:
    e = DeviceEvent.__table__
    out: dict[int, list[Reading]] = defaultdict(list)
    lines = [f.device_id for f in facts if f.type_code in ("phone_line", "ai_call_line")]
    robots = [f.device_id for f in facts if f.type_code == "care_robot"]
    newest = now + CLOCK_SKEW
    for part in chunks(lines):
        ranked = (
            select(
                e.c.device_id,
                e.c.ts,
                e.c.type,
                e.c.value,
                e.c.data,
                func.row_number()
                .over(partition_by=e.c.device_id, order_by=e.c.ts.desc())
                .label("rn"),
            )
            .where(
                in_values(conn, e.c.device_id, part),
                e.c.type == "ai_call_result",
                e.c.ts >= now - RESULTS_LOOKBACK,
                e.c.ts <= newest,
            )
            .subquery()
        )
        rows = conn.execute(select(ranked).where(ranked.c.rn <= literal(RESULTS_PER_LINE)))
        for row in rows:
            out[row.device_id].append(Reading(as_utc(row.ts), row.type, row.value, row.data))
    for device_id, found in sos_readings(conn, robots, th, now).items():
        out[device_id].extend(found)
    return out


def sos_readings(
    conn: Connection, ids: Sequence[int], th: Thresholds, now: datetime
) -> dict[int, list[Reading]]:
    """Each device's calls for help (``HELP_EVENTS``) of the last ``sos_max_age_h``."""
    e = DeviceEvent.__table__
    out: dict[int, list[Reading]] = defaultdict(list)
    oldest, newest = now - timedelta(hours=th.robot.sos_max_age_h), now + CLOCK_SKEW
    for part in chunks(ids):
        rows = conn.execute(
            select(e.c.device_id, e.c.ts, e.c.type, e.c.value, e.c.data).where(
                and_(in_values(conn, e.c.device_id, part), e.c.ts >= oldest, e.c.ts <= newest),
                e.c.type.in_(sorted(HELP_EVENTS)),
            )
        )
        for row in rows:
            out[row.device_id].append(Reading(as_utc(row.ts), row.type, row.value, row.data))
    return out
