"""AI care robots: SOS at once, and days without any interaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboard.rules.clock import quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, Reading, hours_between, iso


def robot_sos(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """An SOS press → 심각 at once; the robot links the call to 119 and the evidence says so.

    Only an SOS newer than the one behind the previous SOS alert counts; an SOS older than
    ``sos_max_age_h`` when it arrives (a late vendor export) is kept as an event, not alerted.
    """
    if facts.type_code != "care_robot":
        return None
    handled = (facts.last_evidence.get("robot_sos") or {}).get("sos_at")
    oldest = now - timedelta(hours=th.robot.sos_max_age_h)
    fresh = sorted(
        r.ts
        for r in readings
        if r.type == "sos"
        and r.ts >= oldest
        and (handled is None or r.ts > datetime.fromisoformat(handled))
    )
    if not fresh:
        return None
    evidence = {"sos_at": iso(fresh[-1]), "sos_count": len(fresh), "linkage": "119"}
    return Decision("robot_sos", "severe", evidence)


def robot_no_interaction(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """No interaction with the robot for ``no_interaction_h`` → 관심; any interaction clears."""
    if facts.type_code != "care_robot":
        return None
    since = quiet_since(facts, "robot_no_interaction", facts.last_activity_at)
    if since is None:
        return None
    quiet_h = hours_between(since, now)
    evidence = {
        "quiet_h": round(quiet_h, 1),
        "threshold_h": th.robot.no_interaction_h,
        "last_interaction_at": iso(facts.last_activity_at),
    }
    stage = "attention" if quiet_h >= th.robot.no_interaction_h else None
    return Decision("robot_no_interaction", stage, evidence)
