"""One plain sentence per alert transition, from the evidence the alert carries.

A rule that writes its own ``explanation`` into the evidence is quoted as it is; the rules that
do not yet are described from their evidence fields here, and any other rule gets a generic
sentence listing its evidence. A close is explained by what cleared it (the evidence of the
clearing decision, kept by the lifecycle as ``cleared_by``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime, tzinfo
from typing import Any

STAGE_WORDS = {"attention": "attention (관심)", "risk": "risk (위험)", "severe": "severe (심각)"}


def explain(rule: str, stage: str | None, evidence: Mapping[str, Any] | None, zone: tzinfo) -> str:
    """The sentence for a transition to ``stage`` (``None``: the alert closed)."""
    evidence = evidence or {}
    if stage is None:
        cleared = evidence.get("cleared_by") or {}
        if isinstance(cleared.get("explanation"), str):
            return cleared["explanation"]
        if rule == "plug_no_change" and _same_spell(evidence, cleared):
            return _sentence(_plug_fell, cleared, zone) or _generic(rule, "cleared", cleared)
        return _sentence(CLEARED.get(rule), cleared, zone) or _generic(rule, "cleared", cleared)
    if isinstance(evidence.get("explanation"), str):
        return evidence["explanation"]
    text = _sentence(RAISED.get(rule), evidence, zone, stage)
    return text or _generic(rule, STAGE_WORDS.get(stage, stage), evidence)


def _sentence(build: Callable | None, evidence: Mapping[str, Any], zone: tzinfo, *args) -> str:
    if build is None:
        return ""
    try:
        return build(_Reader(evidence, zone), *args)
    except (KeyError, TypeError, ValueError):  # evidence of another shape: say it generically
        return ""


class _Reader:
    def __init__(self, evidence: Mapping[str, Any], zone: tzinfo) -> None:
        self.e, self.zone = evidence, zone

    def __getitem__(self, key: str) -> Any:
        value = self.e[key]
        if value is None:
            raise KeyError(key)
        return value

    def time(self, key: str) -> str:
        return datetime.fromisoformat(self[key]).astimezone(self.zone).strftime("%Y-%m-%d %H:%M")

    def get(self, key: str) -> Any:
        return self.e.get(key)


def _num(value: float) -> str:
    return f"{value:g}"


def _plug_raised(e: _Reader, stage: str) -> str:
    reached = {"attention": e["threshold_h"], "risk": e["risk_at_h"], "severe": e["severe_at_h"]}
    return (
        f"No change in power or light beyond the noise margins since {e.time('since')} "
        f"({_num(e['no_change_hours'])} h), past the {STAGE_WORDS[stage]} threshold of "
        f"{_num(reached[stage])} h."
    )


def _silent_raised(e: _Reader, stage: str) -> str:
    hours = _num(e["silent_h"])
    if e.get("last_seen_at") is None:
        return f"The device has sent nothing since it was registered ({hours} h)."
    return (
        f"Nothing received from the device since {e.time('last_seen_at')} ({hours} h; the "
        f"timeout is {_num(e['timeout_s'] / 3600)} h)."
    )


# Why a left-zone alert has its stage (the geofence's ``stage_reason``), as words.
LEFT_ZONE_REASONS = {
    "distance": "distance from home",
    "time": "time outside",
    "far": "distance from home",
    "long": "time outside",
    "night": "the night or the person's quiet hours",
}


def _left_zone_raised(e: _Reader, stage: str) -> str:
    zone = f"{_num(e['safe_zone_m'])} m safe zone"
    where = f"the position at {e.time('position_at')} is {e['distance_m']} m from home"
    if e.get("returning_since") is not None:
        return (
            f"Coming back: {where}, inside the {zone} since {e.time('returning_since')}, "
            f"after leaving it at {e.time('outside_since')} (not yet confirmed)."
        )
    reason = LEFT_ZONE_REASONS.get(e.get("stage_reason") or "")
    return (
        f"Outside the {zone} since {e.time('outside_since')} "
        f"({_num(e['minutes_outside'])} min): {where}"
        + (f"; {STAGE_WORDS[stage]} by {reason}." if reason else ".")
    )


def _no_position_raised(e: _Reader, _stage: str) -> str:
    return (
        f"Outside the safe zone ({e['distance_m']} m from home at {e.time('position_at')}) and "
        f"no position for {_num(e['minutes_without_position'])} min."
    )


def _battery_raised(e: _Reader, _stage: str) -> str:
    return f"Battery at {_num(e['battery_pct'])} %, below {_num(e['low_pct'])} %."


RAISED: dict[str, Callable[..., str]] = {
    "plug_no_change": _plug_raised,
    "device_silent": _silent_raised,
    "wander_left_zone": _left_zone_raised,
    "wander_no_position": _no_position_raised,
    "low_battery": _battery_raised,
}


def _same_spell(evidence: Mapping[str, Any], cleared: Mapping[str, Any]) -> bool:
    """A plug alert closed on the quiet spell it was raised on (no sign of life since): its
    stage fell to none (the fixed rule's clock restarted at a change beyond the margins, the
    plug stopped being young, the routine stopped being usable)."""
    since = cleared.get("since")
    return since is not None and since == evidence.get("since")


def _plug_fell(e: _Reader) -> str:
    # ``cleared_by`` keeps no volatile field (``change_since`` moves with every fridge cycle)
    return f"No stage any more, without a sign of life since {e.time('since')}."


CLEARED: dict[str, Callable[..., str]] = {
    "plug_no_change": lambda e: (
        f"Power or light changed again at {e.time('last_activity_at')} (a sign of life)."
    ),
    "device_silent": lambda e: f"The device reported again at {e.time('last_seen_at')}.",
    "wander_left_zone": lambda e: (
        f"Back inside the {_num(e['safe_zone_m'])} m safe zone ({e['distance_m']} m from home)."
    ),
    "wander_no_position": lambda e: f"A position arrived again ({e['distance_m']} m from home).",
    "low_battery": lambda e: f"Battery back at {_num(e['battery_pct'])} %.",
}


def _generic(rule: str, what: str, evidence: Mapping[str, Any]) -> str:
    facts = "; ".join(
        f"{k} {v}" for k, v in evidence.items() if isinstance(v, str | int | float) and v != ""
    )
    return f"{rule} {what}" + (f": {facts}." if facts else ".")
