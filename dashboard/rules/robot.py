"""AI care robots: SOS at once, and days without any interaction."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboard.rules.clock import quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.model import (
    HELP_EVENTS,
    Decision,
    DeviceFacts,
    Reading,
    hours_between,
    iso,
)


def robot_sos(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """An SOS press → 심각 at once; the robot links the call to 119 and the evidence says so.

    Only an SOS newer than the one behind the previous SOS alert counts; an SOS older than
    ``sos_max_age_h`` when it arrives (a late vendor export) is kept as an event, not alerted.
    The rules read SOS presses of active care robots; any other device's (out of service, or
    of another type) are judged by :func:`sos_alert` at ingest (``engine.on_events``).
    """
    if facts.type_code != "care_robot":
        return None
    return sos_alert(facts, th, now, readings)


def sos_alert(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """``robot_sos`` for any device a person pressed a button on, whatever its type or status.

    The evidence says what the operator must know besides the press: the device's status when
    it is not in service (``device_status``: in repair or retired), when it was released from
    the person (``released_at``: the alert is for the person of its last assignment), the day
    that person's enrollment ended, and a press stamped at its receipt because the device's
    clock was wrong (``clock_corrected``, with the device's own ``device_ts``).
    """
    handled = (facts.last_evidence.get("robot_sos") or {}).get("sos_at")
    oldest = now - timedelta(hours=th.robot.sos_max_age_h)
    fresh = sorted(
        (
            r
            for r in readings
            if r.type in HELP_EVENTS
            and r.ts >= oldest
            and (handled is None or r.ts > datetime.fromisoformat(handled))
        ),
        key=lambda r: r.ts,
    )
    if not fresh:
        return None
    newest = fresh[-1]
    evidence: dict = {"sos_at": iso(newest.ts), "sos_count": len(fresh), "linkage": "119"}
    if facts.device_status != "active":
        evidence["device_status"] = facts.device_status
    if facts.released_at is not None:
        evidence["released_at"] = iso(facts.released_at)
    if facts.enrollment_ended_on is not None:
        evidence["enrollment_ended_on"] = facts.enrollment_ended_on.isoformat()
    data = newest.data or {}
    if data.get("clock_corrected"):
        evidence["clock_corrected"] = True
        evidence["device_ts"] = data.get("device_ts")
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
