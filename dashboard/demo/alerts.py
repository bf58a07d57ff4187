"""Alert history from episodes: control-center timings, outcomes, dispatches and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from dashboard.audit import audit_row
from dashboard.demo.clock import HOUR
from dashboard.demo.context import OPERATORS, Ctx, Episode
from dashboard.rules import dedup_key
from dashboard.rules.lifecycle import ACTOR as SYSTEM
from dashboard.rules.lifecycle import CLEAR_OUTCOME

MIN = 60


def _dt(s: int | None) -> datetime | None:
    return None if s is None else datetime.fromtimestamp(int(s), UTC)


def dispatch_plan(
    rule: str, stage: str, truth: str, dong_name: str, opened_s: int
) -> list[tuple[str, str]]:
    """(kind, target) in the order a control center would try them."""
    dong = f"{dong_name} 행정복지센터" if dong_name else "동 행정복지센터"
    kst_hour = (opened_s // HOUR + 9) % 24
    weekday = ((opened_s + 9 * HOUR) // 86_400 + 3) % 7 < 5  # 1970-01-01 was a Thursday
    office = weekday and 9 <= kst_hour < 18
    plan: list[tuple[str, str]] = []
    if rule == "plug_no_change":
        plan = [("ai_recall", "AI 재확인 전화")]
        if stage in ("risk", "severe"):
            plan.append(("dong_center", dong) if office else ("field_visit", "관제센터 현장팀"))
    elif rule == "call_no_activity":
        plan = [("ai_recall", "자동 안부전화")]
    elif rule in ("call_auto_unanswered", "ai_call_unanswered"):
        plan = [("dong_center", dong)]
    elif rule == "ai_call_concern":
        plan = [("field_visit", "일산동구보건소 방문간호")]
    elif rule in ("robot_sos", "robot_no_interaction", "low_battery", "wander_no_position"):
        plan = [("guardian_call", "보호자")]
    elif rule == "wander_left_zone":
        plan = [("guardian_call", "보호자"), ("field_visit", "일산동부경찰서 백석지구대")]
    if truth in ("crisis", "deceased"):
        plan.append(("emergency_119", "119 종합상황실"))
    return plan


def _outcome(rng: np.random.Generator, ep: Episode) -> str:
    if ep.truth == "fault":
        return "device_fault"
    if ep.truth == "false_alarm":
        return "false_alarm"
    if ep.truth == "crisis":
        return "hospitalized"
    if ep.truth == "deceased":
        return "deceased"
    return "no_contact" if rng.random() < 0.1 else "safe"


NOTES = {
    "safe": "통화로 안부 확인, 특이사항 없음",
    "no_contact": "연락 닿지 않았으나 이후 활동 재개 확인",
    "false_alarm": "기기 전원 분리·이동 등 오경보",
    "hospitalized": "현장 확인 후 병원 이송",
    "deceased": "현장 확인, 사망 발견. 관계기관 인계",
    "device_fault": "기기 점검 요청, 통신 복구",
}


def build_alerts(ctx: Ctx, episodes: list[Episode]) -> dict[str, list[dict[str, Any]]]:
    """Closed alerts for the episodes that ended before ``end``, as the rules and staff left them.

    A condition that cleared by itself before anyone was dispatched was closed by the rules
    (``closed_by='system'``, outcome ``safe`` / ``device_fault``, ``condition_cleared_at`` in the
    evidence); otherwise staff closed it after their dispatches, with the clearing noted in the
    evidence as the lifecycle does for a dispatched alert. Open alerts are not made here: they
    come from the real rules at ``end`` (``dashboard.demo.present``).
    """
    rng, end = ctx.rng, ctx.grid.end_s
    alerts: list[dict[str, Any]] = []
    dispatches: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    episodes = sorted(
        (e for e in episodes if e.opened_s < e.resolved_s <= end),
        key=lambda e: (e.opened_s, e.device_id, e.rule),
    )
    ids = ctx.alloc("alerts", len(episodes))
    for aid, ep in zip(ids.tolist(), episodes, strict=True):
        opened = ep.opened_s
        op = OPERATORS[int(rng.integers(0, len(OPERATORS)))]
        ack = opened + int(rng.lognormal(np.log(100), 0.9))  # most within 1–3 minutes
        plan = dispatch_plan(ep.rule, ep.stage, ep.truth, ep.dong_name, opened)
        evidence = dict(ep.evidence)
        row: dict[str, Any] = {
            "id": aid,
            "dedup_key": dedup_key(ep.rule, ep.recipient_id, ep.device_id),
            "kind": ep.kind,
            "rule": ep.rule,
            "stage": ep.stage,
            "program_id": ep.program_id,
            "region_id": ep.region_id,
            "recipient_id": ep.recipient_id if ep.kind == "person" else None,
            "device_id": ep.device_id,
            "opened_at": _dt(opened),
            "acknowledged_at": None,
            "acknowledged_by": None,
            "dispatched_at": None,
            "closed_at": None,
            "closed_by": None,
            "outcome": None,
            "note": None,
        }
        actions: list[tuple[int, str, str, dict[str, Any]]] = [
            (opened, SYSTEM, "alert_open", {"rule": ep.rule, "stage": ep.stage})
        ]
        # Crises, deaths and false alarms are what staff found out; routine spells may clear alone.
        self_clearing = ep.self_clearing and ep.truth in ("routine", "fault")
        if ack < ep.resolved_s or not self_clearing:
            ack = min(max(ack, opened), end - 2 * MIN)
            row.update(acknowledged_at=_dt(ack), acknowledged_by=op)
            actions.append((ack, op, "alert.acknowledge", {"stage": ep.stage}))
        else:
            ack = opened
        first_dispatch = ack + int(rng.integers(2, 25)) * MIN
        if self_clearing and (not plan or ep.resolved_s < first_dispatch):
            # Cleared before anyone went out: the rules closed it themselves.
            outcome = CLEAR_OUTCOME[ep.kind]
            closed = ep.resolved_s
            evidence["condition_cleared_at"] = _dt(closed).isoformat()
            row.update(
                closed_at=_dt(closed),
                closed_by=SYSTEM,
                outcome=outcome,
                note="condition cleared (자동 해제)",
            )
            detail = {"rule": ep.rule, "stage": ep.stage, "outcome": outcome}
            actions.append((closed, SYSTEM, "alert_close", detail))
        else:
            outcome = _outcome(rng, ep)
            t = first_dispatch
            for kind, target in plan:
                arrived = (
                    t + int(rng.integers(15, 45)) * MIN
                    if kind in ("field_visit", "emergency_119", "dong_center")
                    else None
                )
                done = (arrived or t) + int(rng.integers(5, 40)) * MIN
                if done > end:
                    break
                if row["dispatched_at"] is None:
                    row["dispatched_at"] = _dt(t)
                dispatches.append(
                    {
                        "alert_id": aid,
                        "kind": kind,
                        "target": target,
                        "requested_at": _dt(t),
                        "requested_by": op,
                        "arrived_at": _dt(arrived),
                        "completed_at": _dt(done),
                        "result": outcome,
                        "note": None,
                    }
                )
                actions.append((t, op, "dispatch.create", {"kind": kind}))
                t = done + int(rng.integers(2, 25)) * MIN
            if self_clearing and row["dispatched_at"] is not None:
                # Someone was on the way when it cleared: noted once, staff close it.
                evidence["condition_cleared_at"] = _dt(ep.resolved_s).isoformat()
            closed = min(max(t, ep.resolved_s) + int(rng.integers(1, 30)) * MIN, end - MIN)
            closed = max(closed, ack, opened)
            row.update(closed_at=_dt(closed), closed_by=op, outcome=outcome, note=NOTES[outcome])
            actions.append((closed, op, "alert.close", {"outcome": outcome}))
        row.update(
            status="closed",
            evidence=evidence,
            updated_at=_dt(max(a[0] for a in actions)),
            version=len(actions),
        )
        alerts.append(row)
        audit.extend(
            _audit(at, actor, action, aid, detail) for at, actor, action, detail in actions
        )
    return {"alerts": alerts, "dispatches": dispatches, "audit_log": audit}


def _audit(at: int, actor: str, action: str, alert_id: int, detail: dict) -> dict[str, Any]:
    return audit_row(
        at=_dt(at),
        actor=actor,
        action=action,
        entity_type="alert",
        entity_id=alert_id,
        detail=detail,
    )
