"""Wandering detectors: outside the safe zone around home, and lost while outside."""

from __future__ import annotations

from datetime import datetime

from dashboard.rules.config import Thresholds
from dashboard.rules.geo import haversine_m
from dashboard.rules.model import Decision, DeviceFacts, iso


def distance_from_home(facts: DeviceFacts) -> float | None:
    if None in (facts.last_lat, facts.last_lon, facts.home_lat, facts.home_lon):
        return None
    return haversine_m(facts.home_lat, facts.home_lon, facts.last_lat, facts.last_lon)


def safe_zone_m(facts: DeviceFacts, th: Thresholds) -> float:
    return float(facts.safe_zone_m or th.wandering.default_safe_zone_m)


def _position_evidence(facts: DeviceFacts, distance: float, zone: float) -> dict:
    return {
        "distance_m": round(distance),
        "safe_zone_m": zone,
        "lat": facts.last_lat,
        "lon": facts.last_lon,
        "position_at": iso(facts.last_position_at),
    }


def wander_left_zone(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """Latest position farther from home than the safe zone → 심각; back inside clears it."""
    if facts.type_code != "wandering_detector":
        return None
    distance = distance_from_home(facts)
    if distance is None:
        return None
    zone = safe_zone_m(facts, th)
    stage = "severe" if distance > zone else None
    return Decision("wander_left_zone", stage, _position_evidence(facts, distance, zone))


def wander_no_position(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """Outside the zone and no position for ``no_position_min`` → 심각 (the person is lost to us).

    A separate alert beside the open left-zone one, which is already 심각: the ticker shows the
    new fact (search from the last known position) instead of hiding it in an update.
    """
    if facts.type_code != "wandering_detector":
        return None
    distance = distance_from_home(facts)
    if distance is None:
        return None
    zone = safe_zone_m(facts, th)
    evidence = _position_evidence(facts, distance, zone)
    if distance <= zone:
        return Decision("wander_no_position", None, evidence)  # back inside: found
    if facts.last_position_at is None:
        return None
    minutes = (now - facts.last_position_at).total_seconds() / 60
    evidence["minutes_without_position"] = round(minutes, 1)
    lost = minutes > th.wandering.no_position_min
    return Decision("wander_no_position", "severe" if lost else None, evidence)
