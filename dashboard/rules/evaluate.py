"""Which rules apply to which device type, and the one pure entry point over them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from dashboard.clock import require_aware
from dashboard.rules import aicall, calls, device, plug, robot, wandering
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, Reading

# Rules judged from the latest state alone (the silence tick runs these over every device).
STATE_RULES = {
    "smart_plug": (plug.plug_no_change, plug.plug_no_load),
    "care_robot": (robot.robot_no_interaction,),
}
# Rules that also read recent events of the device.
EVENT_RULES = {
    "phone_line": (calls.call_no_activity, calls.call_auto_unanswered),
    "ai_call_line": (aicall.ai_call_unanswered, aicall.ai_call_concern),
    "care_robot": (robot.robot_sos,),
    "wandering_detector": (
        wandering.wander_left_zone,
        wandering.wander_no_position,
        wandering.wander_no_fix,
        wandering.wander_bad_fix,
    ),
}
DEVICE_RULES = (device.device_silent, device.low_battery)


def evaluate_device(
    facts: DeviceFacts,
    th: Thresholds,
    now: datetime,
    readings: Sequence[Reading] = (),
) -> list[Decision]:
    """Every applicable rule's decision for one device (pure: no database, no clock).

    ``readings`` are the device's recent events that the event rules need (see ``facts.py``);
    callers must pass them for phone and AI-call lines and wandering detectors, where an empty
    list means "none".
    """
    require_aware(now)
    out: list[Decision] = []
    for rule in DEVICE_RULES + STATE_RULES.get(facts.type_code, ()):
        decision = rule(facts, th, now)
        if decision is not None:
            out.append(decision)
    for rule in EVENT_RULES.get(facts.type_code, ()):
        decision = rule(facts, th, now, readings)
        if decision is not None:
            out.append(decision)
    return out
