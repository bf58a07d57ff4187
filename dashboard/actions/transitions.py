"""The alert action state machine as a pure table: no database, no clock.

Statuses follow PagerDuty's triggered → acknowledged → resolved with one step added for field
work: ``open → acknowledged → dispatched → closed``. Every dispatch kind implies acknowledgement;
``closed`` is terminal (a recurrence opens a new alert through the rules).
"""

from __future__ import annotations

from dataclasses import dataclass

from dashboard.db.schema.alerts import ALERT_OUTCOMES, ALERT_STATUSES, DISPATCH_KINDS
from dashboard.plain_text import has_control_codes

ACK = "acknowledge"
CLOSE = "close"
ACTIONS: tuple[str, ...] = (ACK, *DISPATCH_KINDS, CLOSE)
STATUSES = ALERT_STATUSES
# Outcomes only the system records (dashboard.enrollment): not offered to operators.
SYSTEM_OUTCOMES = frozenset({"enrollment_ended"})
OUTCOMES = tuple(o for o in ALERT_OUTCOMES if o not in SYSTEM_OUTCOMES)

# (status, action) → new status. Anything not listed is forbidden.
TRANSITIONS: dict[tuple[str, str], str] = {
    ("open", ACK): "acknowledged",
    **{
        (s, k): "dispatched" for s in ("open", "acknowledged", "dispatched") for k in DISPATCH_KINDS
    },
    **{(s, CLOSE): "closed" for s in ("open", "acknowledged", "dispatched")},
}

# Why a forbidden pair is forbidden, for the message the operator reads.
_WHY = {
    "acknowledged": "the alert is already acknowledged",
    "dispatched": "the alert is already acknowledged (a dispatch implies it)",
    "closed": "the alert is closed; closed is terminal",
}

# Actions that can change what happens to a person irreversibly ask the UI for a dialog.
NEEDS_CONFIRMATION = frozenset({"emergency_119", CLOSE})
# Actions about a person: meaningless on a device fault ticket (no care recipient).
NEEDS_PERSON = frozenset({"ai_recall", "dong_center", "emergency_119", "guardian_call"})
# Outcomes a weekly review will ask about: the note must say what happened.
NOTE_REQUIRED_OUTCOMES = frozenset({"hospitalized", "deceased", "no_contact"})
# What became of a person: no answer for a device fault ticket, which has nobody to be safe,
# in hospital or dead (the lead would be told of a death, the review would count one).
PERSON_OUTCOMES = frozenset({"safe", "hospitalized", "deceased", "no_contact"})
DEVICE_TICKET_REASON = "a device fault ticket closes as device_fault or false_alarm"
CONTROL_NOTE_REASON = "the note contains control codes (such as NUL)"


class ActionError(Exception):
    """Base of every refusal raised by :mod:`dashboard.actions`."""


class ForbiddenTransition(ActionError):
    """The action is not allowed in the alert's current state (or without its inputs)."""

    def __init__(self, status: str, action: str, reason: str) -> None:
        self.status, self.action, self.reason = status, action, reason
        super().__init__(f"{action} is not allowed on a {status} alert: {reason}")


class ConfirmationRequired(ActionError):
    """119 and close need ``confirmed=True`` from the UI's dialog."""

    def __init__(self, action: str) -> None:
        self.action = action
        super().__init__(f"{action} needs confirmation (confirmed=True from the dialog)")


@dataclass(frozen=True)
class Request:
    """What the operator asked for, beyond the alert id and version."""

    action: str
    confirmed: bool = False
    outcome: str | None = None
    note: str | None = None


def next_status(
    status: str,
    request: Request,
    *,
    has_person: bool = True,
) -> str:
    """The status after ``request`` on an alert in ``status``; raises when it is not allowed."""
    action = request.action
    if action not in ACTIONS:
        raise ForbiddenTransition(status, action, f"unknown action; use one of {list(ACTIONS)}")
    if status not in STATUSES:
        raise ForbiddenTransition(status, action, "unknown alert status")
    new = TRANSITIONS.get((status, action))
    if new is None:
        raise ForbiddenTransition(status, action, _WHY.get(status, "not in the transition table"))
    if action in NEEDS_PERSON and not has_person:
        raise ForbiddenTransition(status, action, "the alert has no care recipient (device ticket)")
    if action in NEEDS_CONFIRMATION and request.confirmed is not True:
        raise ConfirmationRequired(action)
    check_note(status, action, request.note)
    if action == CLOSE:
        if request.outcome not in OUTCOMES:
            raise ForbiddenTransition(
                status, action, f"close needs an outcome, one of {list(OUTCOMES)}"
            )
        if not has_person and request.outcome in PERSON_OUTCOMES:
            raise ForbiddenTransition(status, action, DEVICE_TICKET_REASON)
        if request.outcome in NOTE_REQUIRED_OUTCOMES and not (request.note or "").strip():
            raise ForbiddenTransition(
                status, action, f"outcome {request.outcome} needs a note saying what happened"
            )
    elif request.outcome is not None:
        raise ForbiddenTransition(status, action, "only close takes an outcome")
    return new


def check_note(status: str, action: str, note: str | None) -> None:
    """Refuse a note no database keeps as typed (PostgreSQL text and JSON refuse NUL), with the
    check every other staff text goes through (``plain_text``)."""
    if note is not None and has_control_codes(note):
        raise ForbiddenTransition(status, action, CONTROL_NOTE_REASON)


def close_outcomes(*, has_person: bool = True) -> tuple[str, ...]:
    """The outcomes an operator may close with: a device ticket's are not about a person."""
    return tuple(o for o in OUTCOMES if has_person or o not in PERSON_OUTCOMES)


def allowed_actions(status: str, *, has_person: bool = True) -> list[str]:
    """Actions the UI may offer on an alert in ``status`` (buttons to show, in ladder order)."""
    return [
        a for a in ACTIONS if (status, a) in TRANSITIONS and (has_person or a not in NEEDS_PERSON)
    ]
