"""Baselines shared by the silence rules."""

from __future__ import annotations

from datetime import datetime

from dashboard.rules.model import DeviceFacts


def quiet_since(facts: DeviceFacts, rule: str, last: datetime | None) -> datetime | None:
    """When the rule's clock started: the last sign of life (or installation when there never
    was one), restarted by an operator closing this rule's alert — a human check is itself a
    check, so a persisting condition reopens only after a full new period."""
    start = last or facts.installed_at
    closed = facts.human_closed_at.get(rule)
    if closed is not None and (start is None or closed > start):
        return closed
    return start
