"""Alert history from episodes: control-center timings, outcomes, dispatches and the audit log."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import numpy as np

from dashboard.demo.clock import HOUR
from dashboard.demo.context import OPERATORS, Ctx, Episode

MIN = 60


def _dt(s: int | None) -> datetime | None:
    return None if s is None else datetime.fromtimestamp(int(s), UTC)


def _dispatch_plan(ep: Episode, opened_s: int) -> list[tuple[str, str]]:
    """(kind, target) in the order a control center would try them."""
    dong = f"{ep.dong_name} 행정복지센터" if ep.dong_name else "동 행정복지센터"
    kst_hour = (opened_s // HOUR + 9) % 24
    weekday = ((opened_s + 9 * HOUR) // 86_400 + 3) % 7 < 5  # 1970-01-01 was a Thursday
    office = weekday and 9 <= kst_hour < 18
    plan: list[tuple[str, str]] = []
    if ep.rule == "plug_no_change":
        plan = [("ai_recall", "AI 재확인 전화")]
        if ep.stage in ("risk", "severe"):
            plan.append(("dong_center", dong) if office else ("field_visit", "관제센터 현장팀"))
    elif ep.rule == "call_no_activity":
        plan = [("ai_recall", "자동 안부전화")]
    elif ep.rule in ("call_auto_unanswered", "ai_call_unanswered"):
        plan = [("dong_center", dong)]
    elif ep.rule == "ai_call_concern":
        plan = [("field_visit", "일산동구보건소 방문간호")]
    elif ep.rule in ("robot_sos", "robot_no_interaction", "low_battery", "wander_no_position"):
        plan = [("guardian_call", "보호자")]
    elif ep.rule == "wander_left_zone":
        plan = [("guardian_call", "보호자"), ("field_visit", "일산동부경찰서 백석지구대")]
    if ep.truth in ("crisis", "deceased"):
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
    rng, end = ctx.rng, ctx.grid.end_s
    alerts: list[dict[str, Any]] = []
    dispatches: list[dict[str, Any]] = []
    audit: list[dict[str, Any]] = []
    open_keys: set[str] = set()
    episodes = sorted(episodes, key=lambda e: (e.opened_s, e.device_id, e.rule))
    ids = ctx.alloc("alerts", len(episodes))
    k = 0
    for ep in episodes:
        if ep.opened_s > end:
            continue
        key = f"{ep.rule}:{ep.recipient_id if ep.recipient_id is not None else ep.device_id}"
        ongoing = ep.resolved_s is None
        if ongoing and key in open_keys:
            continue  # a repeat updates the open alert rather than opening another
        aid = int(ids[k])
        k += 1
        opened = ep.opened_s
        op = OPERATORS[int(rng.integers(0, len(OPERATORS)))]
        ack = opened + int(rng.lognormal(np.log(100), 0.9))  # most within 1–3 minutes
        plan = _dispatch_plan(ep, opened)
        row: dict[str, Any] = {
            "id": aid,
            "dedup_key": key,
            "kind": ep.kind,
            "rule": ep.rule,
            "stage": ep.stage,
            "program_id": ep.program_id,
            "region_id": ep.region_id,
            "recipient_id": ep.recipient_id,
            "device_id": ep.device_id,
            "evidence": ep.evidence,
            "opened_at": _dt(opened),
            "acknowledged_at": None,
            "acknowledged_by": None,
            "dispatched_at": None,
            "closed_at": None,
            "closed_by": None,
            "outcome": None,
            "note": None,
        }
        actions: list[tuple[int, str, str, dict[str, Any]]] = []
        if ongoing:
            open_keys.add(key)
            status = "open"
            if ack < end and (ep.kind == "person" or rng.random() < 0.5):
                status = "acknowledged"
                row.update(acknowledged_at=_dt(ack), acknowledged_by=op)
                actions.append((ack, "alert.acknowledge", "alert", {"stage": ep.stage}))
                t = ack + int(rng.integers(2, 20)) * MIN
                if plan and t < end:
                    status = "dispatched"
                    kind, target = plan[0]
                    row["dispatched_at"] = _dt(t)
                    dispatches.append(
                        {
                            "alert_id": aid,
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
                    actions.append((t, "dispatch.create", "alert", {"kind": kind}))
            updated = max([opened] + [a[0] for a in actions])
        else:
            status = "closed"
            outcome = _outcome(rng, ep)
            ack = min(ack, end - 2 * MIN)
            row.update(acknowledged_at=_dt(max(ack, opened)), acknowledged_by=op)
            actions.append((max(ack, opened), "alert.acknowledge", "alert", {"stage": ep.stage}))
            t = max(ack, opened)
            for kind, target in plan:
                t += int(rng.integers(2, 25)) * MIN
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
                actions.append((t, "dispatch.create", "alert", {"kind": kind}))
                t = done
            closed = min(max(t, ep.resolved_s) + int(rng.integers(1, 30)) * MIN, end - MIN)
            closed = max(closed, opened)
            row.update(closed_at=_dt(closed), closed_by=op, outcome=outcome, note=NOTES[outcome])
            actions.append((closed, "alert.close", "alert", {"outcome": outcome}))
            updated = closed
        row.update(status=status, updated_at=_dt(updated), version=1 + len(actions))
        alerts.append(row)
        for at, action, etype, detail in actions:
            audit.append(
                {
                    "at": _dt(at),
                    "actor": op,
                    "action": action,
                    "entity_type": etype,
                    "entity_id": str(aid),
                    "detail": detail,
                }
            )
    return {"alerts": alerts, "dispatches": dispatches, "audit_log": audit}
