"""Where the silence rules' clocks start.

A clock counts from the device's last sign of life (``last``), but never from before the device
was there to watch: not before its installation, and not before its first event, or, while it
has none, its registration in Anbu. So a device registered today does not open an alert for
"no change since an installation date a year ago", and a feed that starts long after the
installation starts the clocks with it.

Back-filled history counts, with one limit: the clock that :func:`quiet_since` gives may reach
into history Anbu received afterwards (a vendor's export ending two days ago is two days without
a sign of life), and may open a rule's first stage at once; the later stages (위험, 심각) need the
time to have passed while Anbu was observing the device (:func:`live_since`). Old events alone
never open 위험 or 심각. See docs/rules.md.
"""

from __future__ import annotations

from datetime import datetime

from dashboard.rules.model import DeviceFacts


def _latest(*times: datetime | None) -> datetime | None:
    # ``max`` of the known times, unrolled (the first on a tie): every rule and due time asks.
    latest = None
    for t in times:
        if t is not None and (latest is None or t > latest):
            latest = t
    return latest


def quiet_since(facts: DeviceFacts, rule: str, last: datetime | None) -> datetime | None:
    """When the rule's clock started: the last sign of life, but not before installation nor
    before the first event (before any event: the registration), restarted by an operator
    closing this rule's alert — a human check is itself a check, so a persisting condition
    reopens only after a full new period."""
    began = facts.first_seen_at if facts.first_seen_at is not None else facts.registered_at
    start = _latest(last, facts.installed_at, began)
    closed = facts.human_closed_at.get(rule)
    if closed is not None and (start is None or closed > start):
        return closed
    return start


def live_since(facts: DeviceFacts, rule: str, last: datetime | None) -> datetime | None:
    """The clock of the later stages: :func:`quiet_since`, but not before Anbu started observing
    the device (its first event stored, or its registration, or its installation)."""
    observed = _latest(facts.installed_at, facts.registered_at, facts.first_received_at)
    return _latest(quiet_since(facts, rule, last), observed)
