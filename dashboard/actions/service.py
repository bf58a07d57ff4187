"""One database function per operator action, each a single transaction's worth of writes.

Every function takes the connection of a transaction the caller opened (``with engine.begin()
as conn``; or use :func:`perform`), the alert id, the acting principal (a ``SessionUser``), the
alert ``version`` the operator saw and the time. It then, in that transaction:

0. checks the principal: its role may take the action and the alert's person (or, for a device
   ticket, the alert's place) lies in its districts, else ``NotPermitted`` and nothing written;
1. moves the alert with ``UPDATE … WHERE id = :id AND version = :seen`` (optimistic concurrency;
   0 rows means someone else acted first → :class:`ConflictError` naming them),
2. records a ``dispatches`` row for dispatch kinds,
3. writes the outbox rows for whoever must be told, with deterministic idempotency keys,
4. appends an ``audit_log`` row carrying the request key (``dashboard.audit.write_audit``).

A repeated request (a double click: same user, action and seen version) finds its own audit
entry and returns the first result with ``replayed=True``: nothing is dispatched twice. Pages
check the role too, but only to offer the right buttons.

Where a check request goes is decided by :func:`check_request_route` alone: the dispatch uses it
and the alert page shows its answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update
from sqlalchemy.orm import aliased

from dashboard import clock
from dashboard.actions.errors import AlertNotFound, ConflictError, LastChange
from dashboard.actions.routing import (
    Route,
    RoutingConfig,
    current_routing,
    recipient_address,
    route_check_request,
)
from dashboard.actions.transitions import (
    ACK,
    ACTIONS,
    CLOSE,
    NOTE_REQUIRED_OUTCOMES,
    ForbiddenTransition,
    Request,
    check_note,
    next_status,
)
from dashboard.audit import write_audit
from dashboard.auth.permissions import require, require_in_scope
from dashboard.auth.principal import SessionUser
from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    Dispatch,
    NotificationOutbox,
    Program,
    Region,
)
from dashboard.db.schema.alerts import DISPATCH_KINDS, RESPONDER_DISPATCH
from dashboard.db.schema.responders import Responder
from dashboard.rules.schedule import judge_again

# Audit actions that bump an alert's version (written here and by dashboard.rules.lifecycle).
# A police box or partner place asked to look out for the person (see notify_responder).
RESPONDER_ACTION = "notify_responder"
_VERSIONING = {
    "alert_open",
    "alert_escalate",
    "alert_deescalate",
    "alert_close",
    f"alert_{RESPONDER_ACTION}",
} | {f"alert_{a}" for a in ACTIONS}
# Dispatches whose party is told when the alert closes before they report back.
_TOLD_ON_CLOSE = ("dong_center", "field_visit", "emergency_119", RESPONDER_DISPATCH)
_TARGET_KO = {
    "ai_recall": "AI 안부전화",
    "field_visit": "현장 출동팀",
    "emergency_119": "119 종합상황실",
    "guardian_call": "보호자",
}
_STAGE_KO = {"attention": "관심", "risk": "위험", "severe": "심각"}
_OUTCOME_KO = {
    "safe": "안전 확인",
    "hospitalized": "병원 이송",
    "deceased": "사망",
    "no_contact": "연락 두절",
    "false_alarm": "오경보",
    "device_fault": "기기 고장",
    "enrollment_ended": "서비스 종료",
}


@dataclass(frozen=True)
class ActionResult:
    """The alert after the action (alert-like), plus what the action created."""

    alert_id: int
    action: str
    actor: str
    at: datetime
    status: str
    version: int
    acknowledged_at: datetime | None
    acknowledged_by: str | None
    dispatched_at: datetime | None
    closed_at: datetime | None
    closed_by: str | None
    outcome: str | None
    request_key: str
    dispatch_id: int | None = None
    target: str | None = None
    notifications: tuple[str, ...] = field(default_factory=tuple)  # outbox idempotency keys
    replayed: bool = False  # True: a repeat of an applied request; nothing new was written


def request_key(alert_id: int, action: str, actor: str, seen_version: int) -> str:
    """Identity of one operator request: a double click produces the same key."""
    return f"alert{alert_id}:v{seen_version}:{action}:{actor}"


def outbox_key(alert_id: int, seen_version: int, action: str, channel: str) -> str:
    # One action can succeed per (alert, version), so this is unique and deterministic; the
    # unique index on the outbox is a second guard should anything bypass the version check.
    return f"alert{alert_id}:v{seen_version}:{action}:{channel}"


# --- public API: one function per action -------------------------------------------------------


def acknowledge(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """open → acknowledged: the operator has seen it and owns it. Nobody else is notified."""
    return _perform(conn, alert_id, Request(ACK, note=note), principal, seen_version, now)


def ai_recall(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """Ask the AI call system to call the person now (outbox channel ``auto_call``)."""
    return _perform(conn, alert_id, Request("ai_recall", note=note), principal, seen_version, now)


def dong_center(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
    routing: RoutingConfig | None = None,
) -> ActionResult:
    """Check request: the person's dong welfare center in office hours, else the central center."""
    req = Request("dong_center", note=note)
    return _perform(conn, alert_id, req, principal, seen_version, now, routing=routing)


def field_visit(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """Send the district's field team to the home."""
    return _perform(conn, alert_id, Request("field_visit", note=note), principal, seen_version, now)


def emergency_119(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    confirmed: bool = False,
    note: str | None = None,
) -> ActionResult:
    """Record a 119 request, tell the 119 liaison and the on-duty lead. Needs ``confirmed``."""
    req = Request("emergency_119", confirmed=confirmed, note=note)
    return _perform(conn, alert_id, req, principal, seen_version, now)


def guardian_call(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """Contact the person's guardian (refused when no guardian phone is on file)."""
    return _perform(
        conn, alert_id, Request("guardian_call", note=note), principal, seen_version, now
    )


def close(
    conn: Connection,
    alert_id: int,
    *,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    outcome: str,
    note: str | None = None,
    confirmed: bool = False,
) -> ActionResult:
    """Close with an outcome (terminal). Needs ``confirmed``; grave outcomes need a note."""
    req = Request(CLOSE, confirmed=confirmed, outcome=outcome, note=note)
    return _perform(conn, alert_id, req, principal, seen_version, now)


ACTION_FUNCTIONS = {
    "acknowledge": acknowledge,
    "ai_recall": ai_recall,
    "dong_center": dong_center,
    "field_visit": field_visit,
    "emergency_119": emergency_119,
    "guardian_call": guardian_call,
    "close": close,
}


def perform(engine: Engine, action: str, alert_id: int, **kwargs: Any) -> ActionResult:
    """Run one action in its own transaction (what a UI callback calls).

    ``perform(engine, "close", 12, principal=user, seen_version=3, now=now, confirmed=True,
    outcome="safe")``: the keyword arguments are those of the action's function.
    """
    try:
        function = ACTION_FUNCTIONS[action]
    except KeyError:
        reason = f"unknown action; use one of {list(ACTIONS)}"
        raise ForbiddenTransition("?", action, reason) from None
    with engine.begin() as conn:
        return function(conn, alert_id, **kwargs)


def notify_responder(
    conn: Connection,
    alert_id: int,
    *,
    responder_id: int,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    note: str | None = None,
) -> ActionResult:
    """Ask a police box or partner place to look out for the person (a wandering search).

    A dispatch like the others: the alert moves to dispatched (acknowledged if it was not), a
    ``dispatches`` row of kind ``responder`` names the place, one outbox row (channel
    ``responder``, address ``responder:<id>``, the place's phone looked up at delivery) carries
    no personal data, and ``alert_notify_responder`` is audited. The place is told again when
    the alert closes. A double click replays; another responder is another request.
    """
    clock.require_aware(now)
    actor = require(principal, RESPONDER_ACTION).username
    row = _load(conn, alert_id)
    require_in_scope(principal, RESPONDER_ACTION, row.dong_code)
    tag = f"{RESPONDER_ACTION}:{responder_id}"
    key = request_key(alert_id, tag, actor, seen_version)
    if row.version != seen_version:
        return _replay_or_conflict(conn, alert_id, RESPONDER_ACTION, actor, seen_version, key)
    if row.status == "closed":
        raise ForbiddenTransition(row.status, RESPONDER_ACTION, "the alert is closed")
    check_note(row.status, RESPONDER_ACTION, note)
    if row.recipient_id is None:
        raise ForbiddenTransition(row.status, RESPONDER_ACTION, "the alert has no person")
    place = conn.execute(
        select(Responder.name, Responder.active).where(Responder.id == responder_id)
    ).one_or_none()
    if place is None or not place.active:
        raise ForbiddenTransition(
            row.status, RESPONDER_ACTION, f"no active responder {responder_id}"
        )
    values: dict[str, Any] = {
        "status": "dispatched",
        "updated_at": now,
        "version": seen_version + 1,
    }
    if row.acknowledged_at is None:
        values |= {"acknowledged_at": now, "acknowledged_by": actor}
    if row.dispatched_at is None:
        values["dispatched_at"] = now
    a = Alert.__table__
    moved = conn.execute(
        update(a)
        .where(a.c.id == alert_id, a.c.version == seen_version, a.c.status == row.status)
        .values(**values)
    )
    if moved.rowcount != 1:
        return _replay_or_conflict(conn, alert_id, RESPONDER_ACTION, actor, seen_version, key)
    target = place.name[:120]
    dispatch_id = conn.execute(
        insert(Dispatch).returning(Dispatch.id),
        {
            "alert_id": alert_id,
            "kind": RESPONDER_DISPATCH,
            "target": target,
            "requested_at": now,
            "requested_by": actor,
            "note": note,
        },
    ).scalar_one()
    req = Request(RESPONDER_ACTION, note=note)
    notice = _notice(
        row, req, RESPONDER_DISPATCH, f"responder:{responder_id}", target, actor, seen_version,
        now,
    )  # fmt: skip
    notice["idempotency_key"] = outbox_key(alert_id, seen_version, tag, RESPONDER_DISPATCH)
    notice["payload"] |= {
        "dispatch_id": dispatch_id,
        "responder_id": responder_id,
        "resolve": "responder_phone",
    }
    conn.execute(insert(NotificationOutbox), [notice])
    keys = (notice["idempotency_key"],)
    detail = {
        "request_key": key,
        "rule": row.rule,
        "from": row.status,
        "to": "dispatched",
        "version": seen_version + 1,
        "dispatch_id": dispatch_id,
        "target": target,
        "responder_id": responder_id,
        "note": note,
        "notifications": list(keys),
    }
    return _audited(conn, alert_id, RESPONDER_ACTION, actor, now, key, detail)


ACTION_FUNCTIONS[RESPONDER_ACTION] = notify_responder


# --- the one implementation behind them ----------------------------------------------------------


def _perform(
    conn: Connection,
    alert_id: int,
    req: Request,
    principal: SessionUser,
    seen_version: int,
    now: datetime,
    *,
    routing: RoutingConfig | None = None,
) -> ActionResult:
    clock.require_aware(now)
    actor = require(principal, req.action).username
    if not actor or not actor.strip():
        raise ValueError("actor is required: every action is attributed")
    row = _load(conn, alert_id)
    # The person's own region (a device ticket: the alert's), the same one the page checks.
    require_in_scope(principal, req.action, row.dong_code)
    key = request_key(alert_id, req.action, actor, seen_version)
    if row.version != seen_version:
        return _replay_or_conflict(conn, alert_id, req.action, actor, seen_version, key)
    new_status = next_status(row.status, req, has_person=row.recipient_id is not None)
    _check_contact(row, req)
    values: dict[str, Any] = {"status": new_status, "updated_at": now, "version": seen_version + 1}
    if row.acknowledged_at is None:  # every action implies the operator has seen it
        values |= {"acknowledged_at": now, "acknowledged_by": actor}
    if req.action in DISPATCH_KINDS and row.dispatched_at is None:
        values["dispatched_at"] = now  # first dispatch: what time-to-dispatch measures
    if req.action == CLOSE:
        values |= {"closed_at": now, "closed_by": actor, "outcome": req.outcome, "note": req.note}
    a = Alert.__table__
    moved = conn.execute(
        update(a)
        .where(a.c.id == alert_id, a.c.version == seen_version, a.c.status == row.status)
        .values(**values)
    )
    if moved.rowcount != 1:
        return _replay_or_conflict(conn, alert_id, req.action, actor, seen_version, key)
    # A close restarts the rule's clock, a dispatch holds its clearing: the rules judge again.
    judge_again(conn, [row.device_id], [row.recipient_id])

    cfg = routing or current_routing()
    dispatch_id, target, reason = None, None, None
    outbox: list[dict[str, Any]] = []
    if req.action in DISPATCH_KINDS:
        target, recipient, reason = _target(cfg, row, req.action, now)
        dispatch_id = conn.execute(
            insert(Dispatch).returning(Dispatch.id),
            {
                "alert_id": alert_id,
                "kind": req.action,
                "target": target[:120],
                "requested_at": now,
                "requested_by": actor,
                "note": req.note,
            },
        ).scalar_one()
        channel = "auto_call" if req.action == "ai_recall" else req.action
        notice = _notice(row, req, channel, recipient, target, actor, seen_version, now)
        notice["payload"]["dispatch_id"] = dispatch_id
        outbox.append(notice)
    if req.action == "emergency_119" or (
        req.action == CLOSE and req.outcome in NOTE_REQUIRED_OUTCOMES
    ):
        lead = recipient_address(cfg, "on_duty_lead", **_fields(row))
        kind = f"{req.action}_lead"
        outbox.append(
            _notice(row, req, "lead", lead, "당직 팀장", actor, seen_version, now, kind=kind)
        )
    if req.action == CLOSE:
        outbox += _closure_notices(conn, row, req, actor, seen_version, now)
    if outbox:
        conn.execute(insert(NotificationOutbox), outbox)
    keys = tuple(r["idempotency_key"] for r in outbox)
    detail = {
        "request_key": key,
        "rule": row.rule,
        "from": row.status,
        "to": new_status,
        "version": seen_version + 1,
        "dispatch_id": dispatch_id,
        "target": target,
        "route_reason": reason,
        "outcome": req.outcome,
        "note": req.note,
        "notifications": list(keys),
    }
    return _audited(conn, alert_id, req.action, actor, now, key, detail)


def _audited(
    conn: Connection, alert_id: int, action: str, actor: str, now: datetime, key: str, detail: dict
) -> ActionResult:
    """Write the action's audit row (empty fields left out) and return the alert as it is now."""
    write_audit(
        conn,
        at=now,
        actor=actor,
        action=f"alert_{action}",
        entity_type="alert",
        entity_id=alert_id,
        detail={k: v for k, v in detail.items() if v is not None},
    )
    after = _load(conn, alert_id)
    return _result(
        after,
        action,
        actor,
        now,
        key,
        detail["dispatch_id"],
        detail["target"],
        tuple(detail["notifications"]),
        replayed=False,
    )


def _load(conn: Connection, alert_id: int):
    a = Alert.__table__
    dong = aliased(Region)
    district = aliased(Region)
    person = CareRecipient.__table__
    stmt = (
        select(
            a,
            Program.code.label("program_code"),
            person.c.external_ref,
            person.c.pii_guardian_phone.is_not(None).label("has_guardian_phone"),
            dong.code.label("dong_code"),
            dong.name_ko.label("dong_name"),
            dong.level.label("dong_level"),
            district.code.label("district_code"),
        )
        .select_from(a)
        .join(Program, Program.id == a.c.program_id)
        .outerjoin(person, person.c.id == a.c.recipient_id)
        # The person's own dong decides the center; a device ticket uses the alert's region.
        .join(dong, dong.id == func.coalesce(person.c.region_id, a.c.region_id))
        .outerjoin(district, district.id == dong.parent_id)
        .where(a.c.id == alert_id)
    )
    row = conn.execute(stmt).one_or_none()
    if row is None:
        raise AlertNotFound(alert_id)
    return row


def _check_contact(row, req: Request) -> None:
    if req.action == "guardian_call" and not row.has_guardian_phone:
        raise ForbiddenTransition(row.status, req.action, "no guardian phone on file")
    if req.action == "ai_recall" and row.device_id is None:
        raise ForbiddenTransition(row.status, req.action, "no device to call through")


def _fields(row) -> dict[str, Any]:
    return {
        "alert_id": row.id,
        "recipient_id": row.recipient_id,
        "device_id": row.device_id,
        "dong_code": row.dong_code if row.dong_level == "dong" else None,
        "district_code": row.district_code if row.dong_level == "dong" else row.dong_code,
        "program": row.program_code,
    }


def _short_dong(name: str | None) -> str | None:
    # Region names may carry the full path ("경기도 고양시 일산동구 백석1동").
    return name.split()[-1] if name else None


def check_request_route(
    conn: Connection, alert_id: int, now: datetime, *, routing: RoutingConfig | None = None
) -> Route:
    """Where a check request on this alert goes at ``now``: the one answer for the dispatch
    and for the page that shows it (no permission needed: it reveals no person)."""
    return _route(routing or current_routing(), _load(conn, alert_id), now)


def _route(cfg: RoutingConfig, row, now: datetime) -> Route:
    return route_check_request(
        cfg,
        now,
        dong_name=_short_dong(row.dong_name) if row.dong_level == "dong" else None,
        dong_code=_fields(row)["dong_code"],
        program=row.program_code,
    )


def _target(cfg: RoutingConfig, row, action: str, now: datetime) -> tuple[str, str, str | None]:
    """(human target, routing address, routing reason) for a dispatch."""
    if action == "dong_center":
        route = _route(cfg, row, now)
        return route.target, route.recipient, route.reason
    return _TARGET_KO[action], recipient_address(cfg, action, **_fields(row)), None


def _notice(
    row,
    req: Request,
    channel: str,
    recipient: str,
    target: str,
    actor: str,
    seen_version: int,
    now: datetime,
    *,
    kind: str | None = None,
) -> dict[str, Any]:
    kind = kind or req.action
    payload = {
        "alert_id": row.id,
        "action": kind,
        "rule": row.rule,
        "stage": row.stage,
        "program": row.program_code,
        "recipient_ref": row.external_ref,  # the person's program id, never name or phone
        "dong_code": _fields(row)["dong_code"],
        "target": target,
        "requested_by": actor,
        "requested_at": now.isoformat(),
        "outcome": req.outcome,
        "message": _message(row, kind, req, target),
    }
    if channel == "guardian_call":
        payload["resolve"] = "guardian_phone"  # the phone is looked up at delivery time
    return {
        "idempotency_key": outbox_key(row.id, seen_version, kind, channel),
        "alert_id": row.id,
        "channel": channel,
        "recipient": recipient[:120],
        "payload": {k: v for k, v in payload.items() if v is not None},
        "status": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _message(row, kind: str, req: Request, target: str) -> str:
    """The SMS/messenger text: enough to act on, no personal data (the ref identifies)."""
    stage = _STAGE_KO.get(row.stage, row.stage)
    who = f"대상자 {row.external_ref}" if row.external_ref else "기기 점검"
    dong = _short_dong(row.dong_name) or ""
    head = f"[안부] 경보 #{row.id} ({stage}) {dong} {who}"
    texts = {
        "ai_recall": f"{head}: AI 안부전화 재발신 요청",
        "dong_center": f"{head}: {target} 안부확인 요청. 확인 결과를 관제센터에 회신해 주세요.",
        "field_visit": f"{head}: 현장 방문 요청. 도착 시 관제센터에 알려 주세요.",
        "emergency_119": f"{head}: 119 출동 요청 (관제요원 전화 신고와 함께 기록).",
        "guardian_call": "[안부] 보호자님, 가족분의 안부 확인이 필요합니다. "
        "관제센터로 연락 바랍니다.",
        "emergency_119_lead": f"{head}: 119 출동 요청됨. 당직 팀장 확인 바랍니다.",
        "close_lead": f"{head}: 종결 ({_OUTCOME_KO.get(req.outcome or '', req.outcome)}).",
        "notify_responder": f"{head}: 배회 어르신 수색 협조 요청 ({target}). "
        "관제센터로 연락하시면 인상착의와 최근 위치를 알려 드립니다.",
        "closed": f"{head}: 경보 종결 ({_OUTCOME_KO.get(req.outcome or '', req.outcome)}). "
        "진행 중인 확인은 관제센터와 협의해 주세요.",
    }
    return " ".join(texts.get(kind, head).split())


def _closure_notices(conn, row, req: Request, actor: str, seen_version: int, now) -> list[dict]:
    """Tell parties still working on a dispatch that the alert is closed (and how)."""
    d = Dispatch.__table__
    pending = conn.execute(
        select(d.c.id, d.c.kind, d.c.target)
        .where(d.c.alert_id == row.id, d.c.kind.in_(_TOLD_ON_CLOSE), d.c.completed_at.is_(None))
        .order_by(d.c.id)
    ).all()
    o = NotificationOutbox.__table__
    # The address each request went to (not re-routed: a night close must still reach the
    # dong center that was asked in the afternoon).
    asked = {
        (r.payload or {}).get("dispatch_id"): r.recipient
        for r in conn.execute(
            select(o.c.recipient, o.c.payload).where(
                o.c.alert_id == row.id, o.c.channel.in_(_TOLD_ON_CLOSE)
            )
        )
    }
    out = []
    for dispatch in pending:
        recipient = asked.get(dispatch.id)
        if recipient is None:  # a dispatch recorded without a notice: nobody to stand down
            continue
        notice = _notice(
            row, req, dispatch.kind, recipient, dispatch.target or "", actor, seen_version, now,
            kind="closed",
        )  # fmt: skip
        notice["idempotency_key"] += f":d{dispatch.id}"
        notice["payload"]["dispatch_id"] = dispatch.id
        out.append(notice)
    return out


def _replay_or_conflict(
    conn: Connection, alert_id: int, action: str, actor: str, seen_version: int, key: str
) -> ActionResult:
    row = _load(conn, alert_id)
    entries = _recent_audit(conn, alert_id)
    for entry in entries:
        detail = entry.detail or {}
        if detail.get("request_key") == key:
            return _result(
                row,
                action,
                actor,
                entry.at,
                key,
                detail.get("dispatch_id"),
                detail.get("target"),
                tuple(detail.get("notifications", ())),
                replayed=True,
            )
    last = _last_change(row, entries)
    raise ConflictError(
        alert_id,
        attempted=action,
        seen_version=seen_version,
        current_version=row.version,
        current_status=row.status,
        last=last,
    )


def _recent_audit(conn: Connection, alert_id: int, limit: int = 50) -> Sequence:
    log = AuditLog.__table__
    return conn.execute(
        select(log.c.at, log.c.actor, log.c.action, log.c.detail)
        .where(log.c.entity_type == "alert", log.c.entity_id == str(alert_id))
        .order_by(log.c.id.desc())
        .limit(limit)
    ).all()


def last_change(conn: Connection, alert_id: int) -> LastChange:
    """Who made the alert's current version, what they did and when: the conflict message's
    answer, for a page that finds the alert on screen changed under it."""
    return _last_change(_load(conn, alert_id), _recent_audit(conn, alert_id))


def _last_change(row, entries: Sequence) -> LastChange:
    """Who made the alert's current version: its newest versioning audit entry, or the rules."""
    for entry in entries:
        if entry.action not in _VERSIONING:
            continue
        if row.updated_at is not None and row.updated_at > entry.at:
            break  # changed later without an audit entry: a rule updated the evidence
        name = entry.action.removeprefix("alert_")
        if entry.actor == "system" and name == "close":
            name = "auto_close"
        return LastChange(by=entry.actor, action=name, at=entry.at)
    return LastChange(by="system", action="update", at=row.updated_at)


def _result(
    row,
    action: str,
    actor: str,
    at: datetime,
    key: str,
    dispatch_id: int | None,
    target: str | None,
    keys: tuple[str, ...],
    *,
    replayed: bool,
) -> ActionResult:
    return ActionResult(
        alert_id=row.id,
        action=action,
        actor=actor,
        at=at,
        status=row.status,
        version=row.version,
        acknowledged_at=row.acknowledged_at,
        acknowledged_by=row.acknowledged_by,
        dispatched_at=row.dispatched_at,
        closed_at=row.closed_at,
        closed_by=row.closed_by,
        outcome=row.outcome,
        request_key=key,
        dispatch_id=dispatch_id,
        target=target,
        notifications=keys,
        replayed=replayed,
    )


# --- closures the system makes on a principal's behalf ------------------------------------------


def close_for_enrollment_end(
    conn: Connection,
    alert_id: int,
    *,
    actor: str,
    now: datetime,
    outcome: str,
    note: str,
) -> ActionResult | None:
    """Close one non-closed alert because its person's enrollment ended (or its device was
    replaced); the caller has checked ``manage_roster``, not the alert actions.

    Same writes as an operator's close: the version bump, the notices to parties still on a
    dispatch, and an ``alert_close`` audit row (``detail.by`` names the operation). Returns None
    when the alert is already closed.
    """
    clock.require_aware(now)
    row = _load(conn, alert_id)
    if row.status == "closed":
        return None
    req = Request(CLOSE, confirmed=True, outcome=outcome, note=note)
    a = Alert.__table__
    values = {
        "status": "closed",
        "updated_at": now,
        "version": row.version + 1,
        "closed_at": now,
        "closed_by": actor,
        "outcome": outcome,
        "note": note,
    }
    # Not an acknowledgement: nobody looked at it, so response metrics must not count one.
    moved = conn.execute(
        update(a).where(a.c.id == alert_id, a.c.version == row.version).values(**values)
    )
    if moved.rowcount != 1:  # changed under us inside this transaction: impossible on SQLite
        raise ConflictError(
            alert_id,
            attempted=CLOSE,
            seen_version=row.version,
            current_version=_load(conn, alert_id).version,
            current_status=row.status,
            last=_last_change(row, _recent_audit(conn, alert_id)),
        )
    judge_again(conn, [row.device_id], [row.recipient_id])
    outbox = _closure_notices(conn, row, req, actor, row.version, now)
    if outbox:
        conn.execute(insert(NotificationOutbox), outbox)
    keys = tuple(r["idempotency_key"] for r in outbox)
    key = request_key(alert_id, CLOSE, actor, row.version)
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="alert_close",
        entity_type="alert",
        entity_id=alert_id,
        detail={
            "request_key": key,
            "rule": row.rule,
            "from": row.status,
            "to": "closed",
            "version": row.version + 1,
            "outcome": outcome,
            "note": note,
            "notifications": list(keys),
        },
    )
    return _result(_load(conn, alert_id), CLOSE, actor, now, key, None, None, keys, replayed=False)
