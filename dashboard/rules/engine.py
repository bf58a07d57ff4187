"""The two ways rules run: on each ingested batch, and on the silence tick.

Both load facts set-based, call the pure rules, apply the decisions and make ``device_state``
follow the alerts, all on the caller's connection (one transaction).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Connection, Select, and_, bindparam, case, false, or_, select, text

from dashboard.clock import require_aware
from dashboard.db.device_counts import fold
from dashboard.db.schema import Alert, Device, DeviceRoutine, DeviceState
from dashboard.detection import left_on
from dashboard.detection.levels import first_report_to_reach, level_due
from dashboard.detection.records import mark_checked
from dashboard.detection.routine import next_stage_at
from dashboard.rules.calls import first_call_signal_h
from dashboard.rules.clock import quiet_since
from dashboard.rules.config import Thresholds, current_thresholds
from dashboard.rules.due import basis, device_due
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.facts import (
    enrich,
    last_evidence,
    load_facts_by_id,
    load_help_facts,
    routine_quiet,
    sos_readings,
    with_history,
)
from dashboard.rules.household import (
    lendable_signs,
    lenders,
    sibling_plugs,
    with_person_activity,
)
from dashboard.rules.lifecycle import Changes, apply_decisions
from dashboard.rules.model import HELP_EVENTS, DeviceFacts, Reading
from dashboard.rules.plug import NO_LOAD_H, NO_LOAD_W, plug_ladder, still_threshold
from dashboard.rules.prefilter import Touched, select_devices, silence_timeouts
from dashboard.rules.robot import sos_alert
from dashboard.rules.schedule import check_basis, judge_again, store_due
from dashboard.rules.state import sync_device_states
from dashboard.settings import LOCAL_TZ

log = logging.getLogger(__name__)

# Any constant 64-bit key; every worker takes the same one so only one ticks at a time.
# Advisory locks are per database, not per schema: the second key is the schema's hash, so
# installations (or parallel tests) in different schemas of one database never block each other.
TICK_LOCK_CLASS = 0x616E_6275  # "anbu"


@dataclass(frozen=True)
class TickSummary:
    now: datetime
    candidates: int = 0
    opened: int = 0
    escalated: int = 0
    updated: int = 0
    closed: int = 0
    outbox: int = 0
    states_changed: int = 0
    seconds: float = 0.0
    skipped: bool = False  # another worker held the tick lock

    def __str__(self) -> str:
        if self.skipped:
            return f"{self.now.isoformat()} tick skipped: another worker is ticking"
        return (
            f"{self.now.isoformat()} tick: {self.candidates} candidates, {self.opened} opened, "
            f"{self.escalated} escalated, {self.updated} updated, {self.closed} closed, "
            f"{self.outbox} outbox, {self.states_changed} states changed in {self.seconds:.3f} s"
        )


def evaluate(
    conn: Connection, facts: Sequence[DeviceFacts], th: Thresholds, now: datetime
) -> tuple[Changes, int]:
    """Run every applicable rule over ``facts`` and apply the result; (changes, states changed)."""
    changes, states, _seen, _readings = _evaluate(conn, facts, th, now)
    return changes, states


def _evaluate(
    conn: Connection, facts: Sequence[DeviceFacts], th: Thresholds, now: datetime
) -> tuple[Changes, int, list[DeviceFacts], dict[int, list[Reading]]]:
    """``evaluate``, also returning the facts as the rules last saw them (routines loaded,
    history where a rule fired) and the readings they read."""
    # A person's plugs are judged together, on the person's spell (rules.household).
    facts, siblings = list(facts), sibling_plugs(conn, facts)
    if siblings:
        facts += load_facts_by_id(conn, siblings)
    lending = lenders(conn, facts, th)
    lent = lendable_signs(facts, lending)
    enriched, readings = enrich(conn, with_person_activity(facts, lent), th, now)
    # Each device with its district's thresholds (the city's where the district has none).
    decided = {
        f.device_id: evaluate_device(
            f, th.for_region(f.region_code), now, readings.get(f.device_id, ())
        )
        for f in enriched
    }
    by_id = {f.device_id: f for f in enriched}
    # Second pass, with alert history, only where a rule fires: history can only hold back.
    firing = [f for f in enriched if any(d.stage for d in decided[f.device_id])]
    for f in with_history(conn, firing):
        by_id[f.device_id] = f
        decided[f.device_id] = evaluate_device(
            f, th.for_region(f.region_code), now, readings.get(f.device_id, ())
        )
    items = [(by_id[i], d) for i, decisions in decided.items() for d in decisions]
    # (a sign of life another plug of the person commits meanwhile makes a decision stale)
    changes = apply_decisions(conn, items, now, lending)
    if changes.devices:
        # A person's alert is shared by their devices: the others judge it again next tick.
        judge_again(conn, recipient_ids=[by_id[i].recipient_id for i in changes.devices])
    states = sync_device_states(conn, changes.devices, now)
    return changes, states, list(by_id.values()), readings


def on_events(
    conn: Connection,
    device_ids: Iterable[int] | Mapping[int, Touched],
    now: datetime,
    thresholds: Thresholds | None = None,
) -> None:
    """Evaluate every rule for the devices of a freshly stored batch, in the caller's transaction.

    Opens SOS, left-zone, AI-call, call-ladder and low-battery alerts, and closes the alerts
    whose condition the new events cleared (activity returned, device reporting again, back
    in the zone, battery charged).

    Ingestion passes a mapping device id → :class:`~dashboard.rules.prefilter.Touched` (what the
    batch did to the device); only the devices where some rule could change an alert are then
    evaluated (``prefilter.select_devices``), with the same result as evaluating all of them.
    Plain ids are all evaluated.
    """
    require_aware(now)
    if not device_ids:
        return
    th = thresholds or current_thresholds()
    if isinstance(device_ids, Mapping):
        ids = select_devices(conn, device_ids, th, now)
        asked = {i for i, t in device_ids.items() if t.event_types & HELP_EVENTS}
    else:
        ids = sorted(set(device_ids))
        asked = set(ids)
    facts = load_facts_by_id(conn, ids) if ids else []
    if facts:
        evaluate(conn, facts, th, now)
    # A call for help the rules above did not read: a device out of service or whose person's
    # enrollment ended (the usual facts leave it out), or one that is no care robot.
    watched = {f.device_id for f in facts if f.type_code == "care_robot"}
    if asked - watched:
        answer_help(conn, sorted(asked - watched), th, now)


def answer_help(conn: Connection, ids: Sequence[int], th: Thresholds, now: datetime) -> None:
    """Alert the person behind each of ``ids`` that holds a fresh SOS (``robot.sos_alert``),
    whatever the device's status or type; only that rule runs (a device out of service gets
    no fault tickets). The tick never selects these devices: the alert is sticky and needs
    no clock. A device with nobody to alert for (never with a person, or at a site) is logged.
    """
    readings = sos_readings(conn, ids, th, now)
    found = load_help_facts(conn, [i for i in ids if readings.get(i)])
    evidence = last_evidence(conn, [f.device_id for f in found])
    items = []
    for f in found:
        if f.recipient_id is None:
            log.warning(
                "SOS from device %s (%s, %s) not alerted: it has no person, now or in its "
                "last assignment; the event is stored",
                f.device_id,
                f.type_code,
                f.device_status,
            )
            continue
        f = replace(f, last_evidence=evidence.get(f.device_id, {}))
        local = th.for_region(f.region_code)
        decision = sos_alert(f, local, now, readings[f.device_id])
        if decision is not None:
            items.append((f, decision))
    if items:
        changes = apply_decisions(conn, items, now)
        sync_device_states(conn, changes.devices, now)


# The routine condition's own view of device_state, made once (an alias copies every column).
_ROUTINE_STATE = DeviceState.__table__.alias("routine_state")


class _Cuts:
    """The times the candidates' conditions compare with, ``now`` less a threshold: literal
    values (``now`` given), or bound parameters of a statement built once per basis, whose
    values each tick binds (``values``)."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now
        self.deltas: dict[str, timedelta] = {}

    def at(self, column, delta: timedelta = timedelta(0)):
        if self.now is not None:
            return self.now - delta
        name = f"cut_{len(self.deltas)}"
        self.deltas[name] = delta
        return bindparam(name, type_=column.type)

    def values(self, now: datetime) -> dict[str, datetime]:
        return {name: now - delta for name, delta in self.deltas.items()}


# The tick's candidate query per (dialect, ``due.basis``): everything it is built from besides
# ``now`` (the thresholds, the types' timeouts). Building it and its cache key took longer
# than running it on a small installation, at every tick.
_TICK_QUERIES: dict[tuple[str, str], tuple[Select, _Cuts]] = {}


def _candidate_query(conn: Connection, th: Thresholds, timeouts: dict[str, int], key: str):
    found = _TICK_QUERIES.get((conn.dialect.name, key))
    if found is None:
        if len(_TICK_QUERIES) > 16:  # thresholds edited many times in one process
            _TICK_QUERIES.clear()
        d, st, cuts = Device.__table__, DeviceState.__table__, _Cuts()
        query = (
            select(d.c.id)
            .select_from(d.outerjoin(st, st.c.device_id == d.c.id))
            .where(d.c.status == "active", _condition(th, timeouts, cuts))
            .order_by(d.c.id)
        )
        found = _TICK_QUERIES[(conn.dialect.name, key)] = (query, cuts)
    return found


def _candidates(conn: Connection, th: Thresholds, now: datetime):
    """Devices where some silence rule could hold or clear (a condition on ``devices`` joined
    with ``device_state``, at ``now``): :func:`_condition` with literal times."""
    return _condition(th, silence_timeouts(conn, th), _Cuts(now))


def _condition(th: Thresholds, timeouts: dict[str, int], cuts: _Cuts):
    """Devices where some silence rule could hold or clear: a superset, judged by the pure rules.

    Most devices are fine and never leave the database; the conditions mirror the rules with
    their most sensitive thresholds; of those, only the devices whose due time has come. The
    conditions of each device type sit in one ``CASE`` on the type: every device's row is
    tested against its own type's few conditions, not against every type's (at 250,000 devices
    the database's time went into evaluating the whole list row by row).
    """
    d, s, a = Device.__table__, DeviceState.__table__, Alert.__table__
    by_type: dict[str, list] = {
        code: [s.c.last_seen_at < cuts.at(s.c.last_seen_at, timedelta(seconds=seconds))]
        for code, seconds in timeouts.items()
    }

    def quiet(hours: float):
        cut = cuts.at(s.c.last_activity_at, timedelta(hours=hours))
        return or_(s.c.last_activity_at.is_(None), s.c.last_activity_at <= cut)

    first_plug_signal = plug_ladder(th.plug_no_change.min_hours, th)[0]
    # Quiet homes with a usable routine, each at most every ``score_every_min`` (staggered).
    # A district may score sooner (its own min_quiet_h): the superset takes the shortest.
    cfg, rt = th.plug_routine, DeviceRoutine.__table__
    own_state = _ROUTINE_STATE
    min_quiet_h = min(v.plug_routine.min_quiet_h for v in th.district_variants())
    routine_due = (
        and_(
            s.c.last_activity_at <= cuts.at(s.c.last_activity_at, timedelta(hours=min_quiet_h)),
            d.c.id.in_(
                # Its own view of device_state: a subquery that referred to the outer one would
                # be evaluated once per device.
                select(rt.c.device_id)
                .join(own_state, own_state.c.device_id == rt.c.device_id)
                .where(
                    # a usable routine, or a level model while the level test is on in the
                    # city or a district (the nightly job stores one only where it is on;
                    # the facts load the levels only for plugs of such a region)
                    or_(
                        rt.c.reference_days >= cfg.min_days,
                        rt.c.level_model.is_not(None) if th.level_enabled_anywhere else false(),
                        # a still record while the stillness test is on (city-wide)
                        rt.c.still_h.is_not(None) if cfg.still_enabled else false(),
                    ),
                    or_(
                        rt.c.checked_at.is_(None),
                        rt.c.checked_at
                        <= cuts.at(rt.c.checked_at, timedelta(minutes=cfg.score_every_min)),
                    ),
                    # Not before the spell can first reach a stage, unless the home showed a
                    # sign of life since it was scored (a new spell), or, with a level model,
                    # something was stored since the tick last judged it (ingest clears
                    # rules_due_at; the tick stores it after judging) and the newest report is
                    # stamped late enough to raise the level test (level_due_at): its S moves
                    # with each stored half-hour, and ingest's pre-filter does not judge a plug
                    # quiet for less than the ladder's first stage (levels.level_due). Not
                    # ``checked_at < last_seen_at``: a reading stored after the scoring may be
                    # stamped before its mark (mark_checked sets the mark back).
                    or_(
                        rt.c.score_due_at.is_(None),
                        rt.c.score_due_at <= cuts.at(rt.c.score_due_at),
                        rt.c.checked_at < own_state.c.last_activity_at,
                        and_(
                            rt.c.level_model.is_not(None),
                            own_state.c.rules_due_at.is_(None),
                            or_(
                                rt.c.level_due_at.is_(None),
                                own_state.c.last_seen_at >= rt.c.level_due_at,
                            ),
                        )
                        if th.level_enabled_anywhere
                        else false(),
                    ),
                )
            ),
        )
        if cfg.enabled
        else false()
    )
    # A plug above its ceiling for on_min_h with a record of such runs (the left-on test,
    # city-wide): its line moves at every reading, so it is never quiet for the others.
    # Only a standby's plug (left_on.judges; a superset in SQL).
    standby = rt.c.background_high_w <= left_on.standby_high_max(th.plug_no_change.power_margin_w)
    on_due = (
        and_(
            s.c.above_since <= cuts.at(s.c.above_since, timedelta(hours=cfg.on_min_h)),
            d.c.id.in_(select(rt.c.device_id).where(rt.c.on_h.is_not(None), standby)),
        )
        if cfg.enabled and cfg.on_enabled
        else false()
    )
    # A plug reading 0 W, quiet for plug_no_load's 12 h: a report at 0 W that comes after the
    # 12 h clears the due time but reaches neither ingest's pre-filter (quiet under 24 h) nor,
    # within score_every_min of its last scoring or without a usable routine, the routine's
    # branch: the device ticket waited for them (8 min at a 1-min tick, 2026-12-06 replays).
    no_load_due = and_(
        s.c.last_power_w <= NO_LOAD_W,
        s.c.last_activity_at <= cuts.at(s.c.last_activity_at, timedelta(hours=NO_LOAD_H)),
    )
    for code, conditions in (
        ("smart_plug", [quiet(first_plug_signal), routine_due, on_due, no_load_due]),
        ("phone_line", [quiet(first_call_signal_h(th))]),
        ("care_robot", [quiet(th.robot.no_interaction_h)]),
        ("wandering_detector", [s.c.last_lat.is_not(None)]),
    ):
        by_type.setdefault(code, []).extend(conditions)
    has_open_alert = d.c.id.in_(
        select(a.c.device_id).where(a.c.status != "closed", a.c.device_id.is_not(None))
    )
    # Judged again only once a rule's threshold is reached or something cleared the due time
    # (an event, a staff edit): nothing else can change a decision (``rules.due``).
    due = or_(s.c.rules_due_at.is_(None), s.c.rules_due_at <= cuts.at(s.c.rules_due_at))
    return and_(
        due,
        or_(
            s.c.device_id.is_(None),
            s.c.last_seen_at.is_(None),
            case(
                {code: or_(*conditions) for code, conditions in by_type.items()},
                value=d.c.type_code,
                else_=false(),
            ),
            s.c.battery_pct < th.battery.low_pct,
            has_open_alert,
        ),
    )


def _try_tick_lock(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return True  # SQLite has one writer at a time; the unique index does the rest
    return bool(
        conn.execute(
            text("SELECT pg_try_advisory_xact_lock(:k, hashtext(current_schema()))"),
            {"k": TICK_LOCK_CLASS},
        ).scalar()
    )


def level_watch(facts: DeviceFacts, th: Thresholds) -> datetime | None:
    """The earliest stamp a report must carry to raise this quiet plug's level test to 관심
    (``levels.first_report_to_reach``, on the rule's own spell as ``plug_no_change`` scores
    it); None: the test does not judge the plug now, or any report may raise it."""
    cfg = th.for_region(facts.region_code).plug_routine
    levels = facts.levels
    if not (cfg.enabled and cfg.level_enabled) or levels is None or facts.last_seen_at is None:
        return None
    since = quiet_since(facts, "plug_no_change", facts.last_activity_at)
    if since is None:
        return None
    return first_report_to_reach(
        levels.model, levels.days, facts.last_seen_at, LOCAL_TZ, since, cfg.level_h
    )


def routine_due(facts: DeviceFacts, th: Thresholds, now: datetime) -> datetime | None:
    """When this quiet home's spell can first reach 관심 by its routine, or the level test can
    next move without a report (a report stamped ahead past a half-hour boundary, or the moment
    the rule's own quiet spell reaches ``min_quiet_h``); None: neither applies, or already there:
    score it every ``score_every_min`` as before."""
    cfg = th.for_region(facts.region_code).plug_routine
    routine = facts.routine
    if not cfg.enabled:
        return None
    # The level test moves with each stored half-hour's level, so with a report (which clears
    # the due time), or at a boundary a report stamped ahead of the clock has passed.
    level_at = None
    if cfg.level_enabled and facts.levels is not None:
        level_at = level_due(facts.last_seen_at, now)
        # and from when it judges: the rule's own quiet spell (later than the last sign of life
        # after a staff close) at min_quiet_h
        since = quiet_since(facts, "plug_no_change", facts.last_activity_at)
        gate = since + timedelta(hours=cfg.min_quiet_h) if since is not None else None
        if gate is not None and gate > now:
            level_at = min(level_at, gate) if level_at is not None else gate
    still_at = still_threshold(facts, cfg)
    if routine is None or len(routine.reference_days) < cfg.min_days:
        if still_at is None:
            return level_at
        # a new record comes with the nightly learning
        tomorrow = now.astimezone(LOCAL_TZ).date() + timedelta(days=1)
        due = level_at or datetime.combine(tomorrow, datetime.min.time(), LOCAL_TZ)
    else:
        due = next_stage_at(
            routine,
            facts.last_activity_at,
            now,
            LOCAL_TZ,
            quantile=cfg.min_share,
            attention_slots=cfg.attention_slots,
            min_quiet_h=cfg.min_quiet_h,
        )
    if level_at is not None:
        due = min(due, level_at)
    if still_at is not None and facts.last_activity_at is not None:
        # The stillness test's 관심, on the fixed rule's clock (errs early: a change since only
        # moves it later), not before the routine's min_quiet_h.
        changed = max(facts.last_change_at or facts.last_activity_at, facts.last_activity_at)
        earliest = facts.last_activity_at + timedelta(hours=cfg.min_quiet_h)
        due = min(due, max(changed + timedelta(hours=still_at), earliest))
    return due if due > now else None


def run_silence_tick(
    conn: Connection, now: datetime, thresholds: Thresholds | None = None
) -> TickSummary:
    """One pass of every silence rule over all active devices, in the caller's transaction.

    Several workers may call this at once: on PostgreSQL the first takes a transaction-scoped
    advisory lock and the others skip this tick; on SQLite writers are serialised anyway.
    """
    require_aware(now)
    started = time.perf_counter()
    if not _try_tick_lock(conn):
        return TickSummary(now=now, skipped=True)
    th = thresholds or current_thresholds()
    timeouts = silence_timeouts(conn, th)
    key = basis(th, timeouts)
    check_basis(conn, key, now)
    # The ids first, on devices and their state alone; then the facts of those few by id (a
    # join of every device with its person and dong would cost more than the rest of the tick).
    query, cuts = _candidate_query(conn, th, timeouts, key)
    ids = conn.execute(query, cuts.values(now)).scalars()
    facts = load_facts_by_id(conn, list(ids))
    changes, states, judged, readings = _evaluate(conn, facts, th, now)
    if th.plug_routine.enabled:
        scored = [
            f
            for f in judged
            if f.type_code == "smart_plug"
            and f.last_activity_at is not None
            and f.last_activity_at <= now - routine_quiet(th.for_region(f.region_code))
        ]
        mark_checked(
            conn,
            [f.device_id for f in scored],
            now,
            th.plug_routine.score_every_min,
            {f.device_id: due for f in scored if (due := routine_due(f, th, now)) is not None},
            {f.device_id: at for f in scored if (at := level_watch(f, th)) is not None},
        )
    # Each judged device is due again at its rules' next threshold; not one whose alert write
    # must be retried, nor one whose person's shared alert changed in this pass.
    people = {f.recipient_id for f in judged if f.device_id in changes.devices}
    store_due(
        conn,
        [
            (f.device_id, f.last_seen_at, device_due(f, th, now, readings.get(f.device_id, ())))
            for f in judged
            if f.device_id not in changes.retry
            and (f.recipient_id is None or f.recipient_id not in people)
            and f.state is not None  # a device without a state row is judged every tick
        ],
    )
    fold(conn)  # the wall screen's device counts: one row per group again
    return TickSummary(
        now=now,
        candidates=len(facts),
        opened=changes.opened,
        escalated=changes.escalated,
        updated=changes.updated,
        closed=changes.closed,
        outbox=changes.outbox,
        states_changed=states,
        seconds=time.perf_counter() - started,
    )
