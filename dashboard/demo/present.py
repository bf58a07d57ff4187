"""The demo city's present, decided by the real rules.

The generators write the history (events, rollups, ``device_state`` readings) and the closed
alerts of the past. Which alerts are open at ``end``, at which stage, with which evidence, and
what ``device_state.state`` says are left to the real rules at ``end`` —
:func:`dashboard.rules.on_events` for the devices with event rules, then
:func:`dashboard.rules.run_silence_tick`, the same code ingestion and the worker run — so the
worker's first tick on a fresh demo database has nothing to open, escalate or close.

Afterwards the open alerts are given a plausible past: ``opened_at`` (and the audit rows) move
back to when the rule first fired, which the rule's own evidence tells (e.g. ``since`` +
``threshold_h``), escalations get their audit rows, and operators acknowledge and dispatch some
of them. None of that changes a rule's decision: the rules read neither ``opened_at`` nor the
status of an open alert (a dispatched alert is only kept open, which it is anyway).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import numpy as np
from sqlalchemy import Connection, bindparam, func, insert, select, update

from dashboard.audit import audit_row
from dashboard.clock import as_utc
from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    Device,
    DeviceDaily,
    DeviceEvent,
    DeviceState,
    Dispatch,
)
from dashboard.demo.alerts import MIN, dispatch_plan
from dashboard.demo.context import OPERATORS, Ctx, to_dt
from dashboard.detection.learning import learn_routines
from dashboard.detection.scan import scan_plug
from dashboard.detection.slow_risk import update_slow_risk
from dashboard.rules import Thresholds, on_events, run_silence_tick
from dashboard.rules.evaluate import EVENT_RULES
from dashboard.rules.geo import haversine_m
from dashboard.rules.lifecycle import ACTOR as SYSTEM
from dashboard.rules.model import STAGE_RANK
from dashboard.rules.plug import NO_LOAD_H
from dashboard.settings import LOCAL_TZ


def _at(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def stage_times(
    rule: str, stage: str, evidence: dict[str, Any], th: Thresholds
) -> list[tuple[str, datetime]] | None:
    """When an open alert's rule first fired and reached each later stage, from its evidence.

    ``None`` when the evidence does not say (low battery: read the positions).
    """
    e = evidence or {}
    first: datetime | None = None
    steps: list[tuple[str, float]] = []  # (stage, hours after first)
    if rule == "plug_no_change" and e.get("since"):
        first = _at(e["since"]) + timedelta(hours=e["threshold_h"])
        steps = [("risk", e["risk_at_h"] - e["threshold_h"])]
        steps.append(("severe", e["severe_at_h"] - e["threshold_h"]))
        alerted = _at(e.get("alerted_at"))
        if alerted is not None and alerted < first:  # raised before the ladder: the steps
            first = alerted  # count from then (rules.plug.steps_stage), sooner than its own
    elif rule == "plug_no_load" and e.get("since") and e.get("risk_at_h"):
        first = _at(e["since"]) + timedelta(hours=NO_LOAD_H)
        steps = [("risk", e["risk_at_h"] - NO_LOAD_H)]
    elif rule == "device_silent" and e.get("last_seen_at"):
        first = _at(e["last_seen_at"]) + timedelta(seconds=e["timeout_s"])
        steps = [("risk", th.device_silent.risk_after_h)]
    elif rule == "call_no_activity" and e.get("since"):
        hours = e.get("threshold_h") or e["threshold_days"] * 24  # a regular caller's habit
        first = _at(e["since"]) + timedelta(hours=hours)
    elif rule == "call_auto_unanswered" and e.get("unanswered_at"):
        first = _at(e["unanswered_at"][-1])
    elif rule == "ai_call_unanswered" and e.get("unanswered_at"):
        times = e["unanswered_at"]
        first = _at(times[th.ai_call.unanswered_in_a_row - 1])
        if len(times) >= th.ai_call.risk_in_a_row:
            risk = _at(times[th.ai_call.risk_in_a_row - 1])
            steps = [("risk", (risk - first).total_seconds() / 3600)]
    elif rule == "ai_call_concern" and e.get("result_at"):
        first = _at(e["result_at"])
    elif rule == "robot_sos" and e.get("sos_at"):
        first = _at(e["sos_at"])
    elif rule == "robot_no_interaction" and e.get("last_interaction_at"):
        first = _at(e["last_interaction_at"]) + timedelta(hours=e["threshold_h"])
    elif rule == "wander_left_zone" and e.get("outside_since"):
        w = th.wandering
        first = _at(e["outside_since"]) + timedelta(minutes=w.exit_dwell_min)
        if e.get("stage_reason") in ("time", "long"):  # staged by time outside, not distance
            steps = [
                ("risk", (w.risk_after_min - w.exit_dwell_min) / 60),
                ("severe", (w.severe_after_min - w.exit_dwell_min) / 60),
            ]
    elif rule == "wander_no_position" and e.get("position_at"):
        w = th.wandering
        lost_after = w.no_position_stopped_min if e.get("stopped_since") else w.no_position_min
        first = _at(e["position_at"]) + timedelta(minutes=lost_after)
    if first is None:
        return None
    # The first stage is the lowest the rule would have opened with.
    start = "attention" if steps else stage
    out = [(start, first)]
    for s, hours in steps:
        if STAGE_RANK[s] <= STAGE_RANK[stage]:
            out.append((s, first + timedelta(hours=hours)))
    return out


def _routine_stage_times(
    conn: Connection, rows, th: Thresholds, end: datetime
) -> dict[int, list[tuple[str, datetime]]]:
    """When each open plug alert the routine decided first reached each stage, from the plug's
    own days (``dashboard.detection.scan``, the rule judged at each half-hour): the evidence
    only says when the spell began, and the ladder's times would date it a day late."""
    plugs = {
        r.device_id: r
        for r in rows
        if r.rule == "plug_no_change" and (r.evidence or {}).get("basis") == "routine"
    }
    if not plugs:
        return {}
    daily = DeviceDaily.__table__
    first = end.astimezone(LOCAL_TZ).date() - timedelta(days=th.plug_routine.window_days + 7)
    days: dict[int, dict] = defaultdict(dict)
    for device_id, day, bits in conn.execute(
        select(daily.c.device_id, daily.c.day, daily.c.activity_slots).where(
            daily.c.device_id.in_(sorted(plugs)), daily.c.day >= first
        )
    ):
        days[device_id][day] = int(bits or 0)
    out: dict[int, list[tuple[str, datetime]]] = {}
    for device_id, row in plugs.items():
        scan = scan_plug(days[device_id], th, end - timedelta(days=3), end)
        running = [a for a in scan.alerts if a.running]
        if not running:
            continue
        # The alert holds the stage the rule gave it at ``end`` (stages never go down).
        rank = STAGE_RANK[row.stage]
        steps = [(s, at) for s, at in running[-1].reached if STAGE_RANK[s] <= rank]
        if steps and steps[-1][0] != row.stage:
            steps.append((row.stage, end))
        if steps:
            out[row.id] = steps
    return out


def derive_present(conn: Connection, ctx: Ctx) -> dict[str, int]:
    """Run the rules at ``end`` over every active device, then give the open alerts a past."""
    end, th = ctx.grid.end, ctx.th
    d = Device.__table__
    # Event rules (SOS, call results) as ingestion would have run them, then the silence tick
    # for everything else, exactly as the worker will. Should another worker hold the tick
    # lock (PostgreSQL), judge every device through on_events instead: same rules, no lock.
    # The plugs' routines as the worker learns them each night, from the days before ``end``.
    learn_routines(conn, end, th)
    # … and the case workers' slow-risk flags, as the same nightly job sets them.
    update_slow_risk(conn, end)
    active = d.c.status == "active"
    evented = sorted(EVENT_RULES)
    ids = select(d.c.id).where(active, d.c.type_code.in_(evented)).order_by(d.c.id)
    on_events(conn, list(conn.execute(ids).scalars()), end, th)
    if run_silence_tick(conn, end, th).skipped:
        ids = select(d.c.id).where(active).order_by(d.c.id)
        on_events(conn, list(conn.execute(ids).scalars()), end, th)

    a = Alert.__table__
    rows = conn.execute(
        select(a.c.id, a.c.dedup_key, a.c.rule, a.c.stage, a.c.kind, a.c.device_id)
        .add_columns(a.c.region_id, a.c.evidence)
        .where(a.c.status != "closed")
        .order_by(a.c.id)
    ).all()
    last_closed = dict(
        conn.execute(
            select(a.c.dedup_key, func.max(a.c.closed_at))
            .where(a.c.status == "closed", a.c.dedup_key.in_([r.dedup_key for r in rows]))
            .group_by(a.c.dedup_key)
        ).all()
    )
    dong_of = {p.id: p.name_ko.split()[-1] for p in ctx.places.values()}
    rng = ctx.rng
    audit: list[dict[str, Any]] = []
    dispatches: list[dict[str, Any]] = []
    since_of: dict[int, dict[str, datetime]] = defaultdict(dict)  # device → stage → since
    history_start = datetime.fromtimestamp(ctx.grid.t0, UTC)
    routine_times = _routine_stage_times(conn, rows, th, end)
    for r in rows:
        times = (
            routine_times.get(r.id)
            or stage_times(r.rule, r.stage, r.evidence, th)
            or [(r.stage, _onset_from_positions(conn, r.rule, r.device_id, th) or end)]
        )
        floor = last_closed.get(r.dedup_key)
        floor = as_utc(floor) + timedelta(minutes=1) if floor else None
        # Never before the simulated history began: the demo has no past to show for it.
        floor = max(floor, history_start) if floor else history_start
        times = [(s, min(max(t, floor), end)) for s, t in times]
        opened = times[0][1]
        for s, t in times:
            since_of[r.device_id][s] = min(t, since_of[r.device_id].get(s, t))
            if r.rule == "device_silent":
                since_of[r.device_id]["offline"] = min(
                    opened, since_of[r.device_id].get("offline", opened)
                )
        actions = [
            (t, SYSTEM, "alert_escalate", {"from": p, "stage": s})
            for (p, _), (s, t) in pairwise(times)
        ]
        # Operators: most person alerts acknowledged within minutes, the first step dispatched.
        op = OPERATORS[int(rng.integers(0, len(OPERATORS)))]
        ack = _s(opened) + int(rng.lognormal(np.log(100), 0.9))
        values: dict[str, Any] = {"opened_at": opened}
        status = "open"
        if ack < _s(end) and (r.kind == "person" or rng.random() < 0.5):
            status = "acknowledged"
            values.update(acknowledged_at=_dt(ack), acknowledged_by=op)
            actions.append((_dt(ack), op, "alert.acknowledge", {"stage": times[0][0]}))
            t = ack + int(rng.integers(2, 20)) * MIN
            truth = "crisis" if r.stage == "severe" and rng.random() < 0.05 else "routine"
            plan = dispatch_plan(r.rule, r.stage, truth, dong_of.get(r.region_id, ""), _s(opened))
            if plan and t < _s(end):
                status = "dispatched"
                kind, target = plan[0]
                values["dispatched_at"] = _dt(t)
                dispatches.append(
                    {
                        "alert_id": r.id,
                        "kind": kind,
                        "target": target,
                        "requested_at": _dt(t),
                        "requested_by": op,
                        "arrived_at": None,
                        "completed_at": None,
                        "result": None,
                        "note": None,
                    }
                )
                actions.append((_dt(t), op, "dispatch.create", {"kind": kind}))
        values.update(
            status=status,
            updated_at=max([opened] + [t for t, *_ in actions]),
            version=1 + len(actions),
        )
        conn.execute(update(a).where(a.c.id == r.id).values(**values))
        # The rules' own open row moves back with the alert; its stage is the first one.
        log = AuditLog.__table__
        conn.execute(
            update(log)
            .where(
                log.c.entity_type == "alert",
                log.c.entity_id == str(r.id),
                log.c.action == "alert_open",
            )
            .values(at=opened, detail={"rule": r.rule, "stage": times[0][0]})
        )
        audit.extend(
            audit_row(
                at=t,
                actor=actor,
                action=action,
                entity_type="alert",
                entity_id=r.id,
                detail={"rule": r.rule, **detail} if actor == SYSTEM else detail,
            )
            for t, actor, action, detail in actions
        )
    if dispatches:
        conn.execute(insert(Dispatch.__table__), dispatches)
    if audit:
        conn.execute(insert(AuditLog.__table__), audit)
    _backdate_states(conn, since_of)
    return {"open_alerts": len(rows), "open_dispatches": len(dispatches)}


def _backdate_states(conn: Connection, since_of: dict[int, dict[str, datetime]]) -> None:
    """``state_since`` = when the device entered the state the rules gave it."""
    s = DeviceState.__table__
    if not since_of:
        return
    states = dict(
        conn.execute(
            select(s.c.device_id, s.c.state).where(s.c.device_id.in_(sorted(since_of)))
        ).all()
    )
    changes = [
        {"d": dev, "since": since_of[dev][state]}
        for dev, state in states.items()
        if state in since_of[dev]
    ]
    if changes:
        conn.execute(
            update(s).where(s.c.device_id == bindparam("d")).values(state_since=bindparam("since")),
            changes,
        )


def _onset_from_positions(
    conn: Connection, rule: str, device_id: int, th: Thresholds
) -> datetime | None:
    """Low battery and left-zone alerts: the first fix of the trailing run that meets the rule."""
    test: Callable[[dict], bool]
    if rule == "low_battery":

        def test(data: dict) -> bool:
            pct = data.get("battery_pct")
            return pct is not None and pct < th.battery.low_pct

    elif rule == "wander_left_zone":
        r = CareRecipient.__table__
        home = conn.execute(
            select(r.c.pii_home_lat, r.c.pii_home_lon, r.c.safe_zone_m)
            .join(Device, Device.recipient_id == r.c.id)
            .where(Device.id == device_id)
        ).first()
        if home is None or home.pii_home_lat is None:
            return None
        zone = float(home.safe_zone_m or th.wandering.default_safe_zone_m)

        def test(data: dict) -> bool:
            lat, lon = data.get("lat"), data.get("lon")
            if lat is None or lon is None:
                return False
            return haversine_m(home.pii_home_lat, home.pii_home_lon, lat, lon) > zone

    else:
        return None
    e = DeviceEvent.__table__
    onset = None
    for ts, data in conn.execute(
        select(e.c.ts, e.c.data)
        .where(e.c.device_id == device_id, e.c.type == "position")
        .order_by(e.c.ts.desc())
    ):
        if not test(data or {}):
            break
        onset = ts
    return as_utc(onset) if onset else None


def _s(t: datetime) -> int:
    return int(t.timestamp())


def _dt(s: int) -> datetime:
    return to_dt(s)
