"""Wandering detectors: leaving the zone (one alert per episode, staged by what it means), lost
while outside, a detector that stops fixing its position while at home, and one whose fixes
locate nothing (inaccurate, or outside the service area).

Each rule judges the device's recent position fixes (``readings``) through the geofence in
``geofence.py``, starting from the episode the open left-zone alert stands for
(``facts.wander_episode``); see docs/rules.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboard.rules.config import Thresholds
from dashboard.rules.geofence import Fix, Track, Zone, fixes_of, track_state, usable
from dashboard.rules.model import Decision, DeviceFacts, Reading, iso
from dashboard.settings import LOCAL_TZ

TYPE = "wandering_detector"


def safe_zone_m(facts: DeviceFacts, th: Thresholds) -> float:
    return float(facts.safe_zone_m or th.wandering.default_safe_zone_m)


def zone_of(facts: DeviceFacts, th: Thresholds) -> Zone:
    home = None
    if facts.home_lat is not None and facts.home_lon is not None:
        home = (facts.home_lat, facts.home_lon)
    return Zone(home, safe_zone_m(facts, th), facts.zone_polygon or None)  # type: ignore[arg-type]


def _parse(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def track_of(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading]
) -> Track | None:
    """The geofence's view of the device, or ``None`` when it has no zone or no fix at all."""
    zone = zone_of(facts, th)
    if not zone.usable:
        return None
    fixes = fixes_of(readings)
    if not fixes:
        return None
    episode = facts.wander_episode
    crossed = None
    if episode is not None:
        crossed = _parse(episode.get("outside_since")) or facts.wander_since
        # Outside, with no usable fix among those loaded (the detector reports only
        # inaccurate or implausible ones): the person is where the episode last saw them, and
        # the minutes without a position count from then (wander_no_position), as if the
        # detector were silent. Without it the episode would freeze: no lost alert, no stage.
        seen = _episode_fix(episode)
        if seen is not None and not any(usable(f, zone, th.wandering) for f in fixes):
            fixes = [seen, *fixes]
    return track_state(
        fixes,
        zone,
        th.wandering,
        now,
        outside=episode is not None,
        crossed_at=crossed,
        since=facts.wander_since,
    )


def _episode_fix(episode: dict) -> Fix | None:
    """The last fix the open episode's alert was written with (its evidence), if complete."""
    at, lat, lon = _parse(episode.get("position_at")), episode.get("lat"), episode.get("lon")
    if at is None or not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return None
    accuracy = episode.get("accuracy_m")
    return Fix(at, float(lat), float(lon), float(accuracy) if accuracy is not None else None)


def quiet_window(facts: DeviceFacts, th: Thresholds) -> tuple[int, int]:
    """(start, end) minutes of the day, Asia/Seoul: the person's quiet hours or the night."""
    if facts.quiet_start_min is not None and facts.quiet_end_min is not None:
        return facts.quiet_start_min, facts.quiet_end_min
    return th.wandering.night_start_hour * 60, th.wandering.night_end_hour * 60


def in_window(ts: datetime, window: tuple[int, int]) -> bool:
    local = ts.astimezone(LOCAL_TZ)
    minute = local.hour * 60 + local.minute
    start, end = window
    if start == end:
        return False
    return start <= minute < end if start < end else minute >= start or minute < end


def _stage(track: Track, facts: DeviceFacts, th: Thresholds, now: datetime):
    w = th.wandering
    crossed = track.crossed_at or now
    minutes = max(0.0, (now - crossed).total_seconds() / 60)
    distance = track.from_home_m or 0.0
    window = quiet_window(facts, th)
    why: list[str] = []
    if in_window(now, window) or in_window(crossed, window):
        why.append("night")
    if distance >= w.severe_distance_m:
        why.append("far")
    if minutes >= w.severe_after_min:
        why.append("long")
    if why:
        stage = "severe"
    else:
        if distance >= w.risk_distance_m:
            why.append("distance")
        if minutes >= w.risk_after_min:
            why.append("time")
        stage = "risk" if why else "attention"
    if track.returning_since is not None:
        return "attention", ["returning"], minutes
    return stage, why or ["nearby"], minutes


def _evidence(track: Track, facts: DeviceFacts, th: Thresholds) -> dict:
    fix = track.last_fix
    assert fix is not None
    out = {
        "distance_m": round(track.from_home_m or 0.0),
        "beyond_m": round(track.beyond_m or 0.0),
        "safe_zone_m": safe_zone_m(facts, th),
        "zone": "polygon" if facts.zone_polygon else "circle",
        "lat": fix.lat,
        "lon": fix.lon,
        "position_at": iso(fix.ts),
    }
    if fix.accuracy_m is not None:
        out["accuracy_m"] = fix.accuracy_m
    return out


def wander_left_zone(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """Outside the zone after hysteresis → one alert per episode, 관심/위험/심각 by time outside,
    distance and the night; back inside (confirmed) clears it."""
    if facts.type_code != TYPE:
        return None
    track = track_of(facts, th, now, readings)
    if track is None or track.last_fix is None:
        return None
    evidence = _evidence(track, facts, th)
    if not track.outside:
        if track.returned_at is not None:
            evidence["returned_at"] = iso(track.returned_at)
        return Decision("wander_left_zone", None, evidence)
    stage, why, minutes = _stage(track, facts, th, now)
    evidence |= {
        "outside_since": iso(track.crossed_at),
        "minutes_outside": round(minutes, 1),
        "stage_reason": why[0],
    }
    if track.returning_since is not None:
        evidence["returning_since"] = iso(track.returning_since)
    return Decision("wander_left_zone", stage, evidence)  # type: ignore[arg-type]


def wander_no_position(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """Outside the zone (the episode, not one stray fix) and no fix for ``no_position_min`` → 심각:
    the person is lost to us (``no_position_stopped_min`` when the last fixes had stopped in one
    place). A new fix, or being back inside, clears it.

    A separate alert beside the open left-zone one: the ticker shows the new fact (search from
    the last known position) instead of hiding it in an update.
    """
    if facts.type_code != TYPE:
        return None
    track = track_of(facts, th, now, readings)
    if track is None or track.last_fix is None or track.newest_fix_at is None:
        return None
    evidence = _evidence(track, facts, th)
    if not track.outside:
        return Decision("wander_no_position", None, evidence)  # inside: found
    minutes = (now - track.newest_fix_at).total_seconds() / 60
    evidence["minutes_without_position"] = round(minutes, 1)
    limit = th.wandering.no_position_min
    if track.stopped_since is not None:
        # Stopped somewhere before the fixes stopped: indoors, where GPS rarely fixes; the last
        # place is where to look, and the left-zone alert escalates meanwhile.
        evidence["stopped_since"] = iso(track.stopped_since)
        limit = th.wandering.no_position_stopped_min
    lost = minutes > limit
    return Decision("wander_no_position", "severe" if lost else None, evidence)


def wander_no_fix(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """Inside the zone, the detector still reporting, but no position fix for
    ``no_fix_inside_h`` → a device-fault ticket (관심), not a person alert: at home a gap is the
    device's matter first. A fix clears it."""
    if facts.type_code != TYPE:
        return None
    track = track_of(facts, th, now, readings)
    if track is None or track.newest_fix_at is None:
        return None
    if track.outside:
        return Decision("wander_no_fix", None, {})  # outside, a gap is wander_no_position's
    gap_h = (now - track.newest_fix_at).total_seconds() / 3600
    reporting = facts.last_seen_at is not None and now - facts.last_seen_at <= timedelta(
        seconds=facts.heartbeat_timeout_s
    )
    evidence = {"position_at": iso(track.newest_fix_at), "gap_h": round(gap_h, 1)}
    if gap_h > th.wandering.no_fix_inside_h and reporting:
        return Decision("wander_no_fix", "attention", evidence)
    return Decision("wander_no_fix", None, evidence)


def wander_bad_fix(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """The detector sends fixes, but for ``bad_fix_min`` none of them locates anyone: each is
    less accurate than ``max_accuracy_m`` (a vendor's 9999 for "unknown") or outside the
    service area ((0, 0), (90, -180)) → a device-fault ticket (관심, "위치 부정확"): the geofence
    is blind, and the person would get no exit alert. A usable fix clears it.

    Judged on the fixes alone (the newest fix less the first of the unusable run), never on
    the clock: a detector that stops sending is ``device_silent``'s. A run longer than the
    fixes loaded (``facts.blind_lookback_min`` for a blind detector) counts from the oldest
    loaded.
    """
    if facts.type_code != TYPE:
        return None
    zone = zone_of(facts, th)
    fixes = fixes_of(readings)
    if not zone.usable or not fixes:
        return None
    w = th.wandering
    newest = fixes[-1]
    if usable(newest, zone, w):
        return Decision("wander_bad_fix", None, {"position_at": iso(newest.ts)})
    start = newest
    for fix in reversed(fixes):
        if usable(fix, zone, w):
            break
        start = fix
    if (newest.ts - start.ts).total_seconds() / 60 < w.bad_fix_min:
        return None  # not long enough to tell, and nothing usable to clear it either
    implausible = not zone.plausible(newest.lat, newest.lon)
    evidence = {
        "bad_fix_kind": "implausible" if implausible else "inaccurate",
        "bad_fix_since": iso(start.ts),
        "bad_fix_min": w.bad_fix_min,
        "max_accuracy_m": w.max_accuracy_m,
    }
    if newest.accuracy_m is not None:
        evidence["bad_accuracy_m"] = newest.accuracy_m
    return Decision("wander_bad_fix", "attention", evidence)
