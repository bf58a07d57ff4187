"""Device health: silence past the type's heartbeat timeout, and low battery."""

from __future__ import annotations

from datetime import datetime

from dashboard.rules.clock import live_since, quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, iso


def heartbeat_timeout_s(facts: DeviceFacts, th: Thresholds) -> int:
    return th.device_silent.timeout_s.get(facts.type_code, facts.heartbeat_timeout_s)


def device_silent(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """A device fault ticket (not a person alert) once nothing arrived for longer than the timeout.

    관심 past the timeout; 위험 after ``risk_after_h`` more, because the person has then been
    unobserved for a day. A device that never reported counts from its registration (or its
    installation, whichever is later); silence reaching into back-filled history opens 관심 but
    becomes 위험 only once Anbu itself has waited as long (``dashboard.rules.clock``).
    """
    since = quiet_since(facts, "device_silent", facts.last_seen_at)
    if since is None:
        return None
    timeout = heartbeat_timeout_s(facts, th)
    silent_s = (now - since).total_seconds()
    live = live_since(facts, "device_silent", facts.last_seen_at)
    live_s = silent_s if live is None else (now - live).total_seconds()
    if silent_s <= timeout:
        stage = None
    elif live_s >= timeout + th.device_silent.risk_after_h * 3600:
        stage = "risk"
    else:
        stage = "attention"
    evidence = {
        "last_seen_at": iso(facts.last_seen_at),
        "silent_h": round(silent_s / 3600, 2),
        "timeout_s": timeout,
        "cause": "no_data" if facts.last_seen_at else "never_reported",
    }
    return Decision("device_silent", stage, evidence)


def low_battery(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """Battery under ``low_pct`` → device fault; closes only at ``clear_pct`` or above."""
    pct = facts.battery_pct
    if pct is None:
        return None
    cfg = th.battery
    evidence = {"battery_pct": pct, "low_pct": cfg.low_pct, "reported_at": iso(facts.last_seen_at)}
    if pct < cfg.low_pct:
        return Decision("low_battery", "attention", evidence)
    if pct >= cfg.clear_pct:
        return Decision("low_battery", None, evidence)
    return None  # in the hysteresis band: leave an open ticket open, open none
