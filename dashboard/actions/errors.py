"""Refusals the UI shows to the operator: not found, and lost to someone else (conflict)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from dashboard.actions.transitions import ActionError
from dashboard.settings import LOCAL_TZ

ACTION_LABELS_KO = {
    "acknowledge": "확인",
    "ai_recall": "AI 재통화",
    "dong_center": "동 행정복지센터 확인요청",
    "field_visit": "현장 출동",
    "emergency_119": "119 신고",
    "guardian_call": "보호자 연락",
    "close": "종결",
    "open": "경보 발생",
    "escalate": "단계 상향",
    "deescalate": "단계 하향",
    "notify_responder": "대응 기관 알림",
    "update": "경보 갱신",
    "auto_close": "자동 해제",
}


class AlertNotFound(ActionError, LookupError):
    def __init__(self, alert_id: int) -> None:
        self.alert_id = alert_id
        super().__init__(f"alert {alert_id} does not exist")


@dataclass(frozen=True)
class LastChange:
    """Who last changed the alert, what they did and when (from the audit log or the row)."""

    by: str
    action: str
    at: datetime

    @property
    def evidence_only(self) -> bool:
        """No audited action made this version: the rules refreshed the evidence (a
        wanderer's position), which ``service._last_change`` reports as the system's update."""
        return (self.by, self.action) == ("system", "update")


class ConflictError(ActionError):
    """The alert changed after the operator saw it: someone else acted first.

    ``last`` names the winner and their action so the UI can tell the loser; ``current_version``
    and ``current_status`` let it refresh and offer what is still possible.
    """

    def __init__(
        self,
        alert_id: int,
        *,
        attempted: str,
        seen_version: int,
        current_version: int,
        current_status: str,
        last: LastChange,
    ) -> None:
        self.alert_id = alert_id
        self.attempted = attempted
        self.seen_version = seen_version
        self.current_version = current_version
        self.current_status = current_status
        self.last = last
        local = last.at.astimezone(LOCAL_TZ).strftime("%Y-%m-%d %H:%M:%S KST")
        super().__init__(
            f"alert {alert_id} changed since you saw it (version {seen_version} → "
            f"{current_version}, now {current_status}): {last.by} did {last.action} at {local}; "
            f"your {attempted} was not applied"
        )

    @property
    def message_ko(self) -> str:
        local = self.last.at.astimezone(LOCAL_TZ).strftime("%H:%M:%S")
        who = "시스템이" if self.last.by == "system" else f"{self.last.by}님이"
        did = ACTION_LABELS_KO.get(self.last.action, self.last.action)
        mine = ACTION_LABELS_KO.get(self.attempted, self.attempted)
        return (
            f"{who} {local}에 먼저 '{did}' 처리했습니다. "
            f"요청하신 '{mine}'은(는) 적용되지 않았습니다. 화면을 새로 고친 뒤 다시 판단하세요."
        )
