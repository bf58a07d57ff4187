"""Who may take which action: delegated to ``dashboard.auth.can`` when that module exists."""

from __future__ import annotations

import importlib

from dashboard.actions.transitions import ACTIONS, ActionError

# Used only while dashboard.auth is absent: control-center roles act, others never do.
_FALLBACK = {"operator": frozenset(ACTIONS), "lead": frozenset(ACTIONS)}


class NotPermitted(ActionError, PermissionError):
    def __init__(self, role: str | None, action: str) -> None:
        self.role, self.action = role, action
        super().__init__(f"role {role!r} may not {action} alerts")


def is_allowed(role: str | None, action: str) -> bool:
    """True when ``role`` may take ``action`` (one of ``ACTIONS``) on an alert."""
    if action not in ACTIONS or not role:
        return False
    try:
        auth = importlib.import_module("dashboard.auth")
    except ModuleNotFoundError:
        auth = None
    can = getattr(auth, "can", None)
    if can is not None:
        return bool(can(role, action))  # the auth matrix uses the same action names
    return action in _FALLBACK.get(role, frozenset())


def ensure_allowed(role: str | None, action: str) -> None:
    """Raise :class:`NotPermitted` unless ``role`` may take ``action``; the UI calls this first."""
    if not is_allowed(role, action):
        raise NotPermitted(role, action)
