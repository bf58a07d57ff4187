"""A geofence that knows GPS: zone geometry, jump filtering and the in/out state of a track.

Pure (no database, no clock). :func:`track_state` replays a device's recent position fixes
through a two-state machine with hysteresis:

- **exit** needs the position to stay outside the boundary (judged up to ``now``: no
  contradicting fix counts as still outside) for ``exit_dwell_min`` from a fix outside by more
  than its margin (``margin_m`` or the fix's own ``accuracy_m``, whichever is larger), or for
  ``edge_dwell_min`` from a fix outside by more than its accuracy (someone lingering just past
  the edge), or for ``far_dwell_s`` from a fix more than ``far_m`` outside;
- **re-entry** needs the same inside: a fix inside by the margin, then no fix outside the raw
  boundary for ``reentry_dwell_min``.

Fixes inside the band boundary ± margin change nothing, so a person hovering at the edge stays in
whichever state they were. A fix implying an impossible speed (``max_speed_kmh``, after both
fixes' accuracy) is held until the next fix confirms it (that next fix is plausible from it and
not from the fix before) or drops it. Fixes with ``accuracy_m`` above ``max_accuracy_m`` locate
nothing and are skipped, and so are fixes outside the service area (``Zone.plausible``: a
receiver without a fix reports (0, 0) or (90, -180)), which never place the person far away.

The state the replay starts from is the episode: outside when a left-zone alert is open. The
fixes passed need only cover the longest dwell before the newest fix
(``config.position_lookback_min``; ``facts.py`` loads that much).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.rules.config import Wandering
from dashboard.rules.geo import EARTH_RADIUS_M, haversine_m, in_korea
from dashboard.rules.model import Reading

LatLon = tuple[float, float]
CONFIRM_SLACK = 1.5  # a held fix is confirmed by a next fix within 1.5 × the speed limit
BURST_FIXES = 10  # at most this many fixes before a confirmed jump may be dropped as a burst …
BURST_S = 180  # … spanning at most this many seconds
# A zone outside Korea is a recording replayed from elsewhere (the GeoLife tracks of Beijing,
# docs/rules.md): there, a fix is plausible within this distance of its home, about Korea's
# own size (the bounds span ~630 × 830 km).
ABROAD_AREA_M = 500_000


@dataclass(frozen=True, slots=True)
class Fix:
    ts: datetime
    lat: float
    lon: float
    accuracy_m: float | None = None


def fixes_of(readings: Sequence[Reading]) -> list[Fix]:
    """Position fixes among ``readings``, oldest first (readings without lat/lon are skipped).

    Fixes of the same time are put in one order by their content, not by the order the
    database returned them in (which SQLite and PostgreSQL need not agree on): the decision
    must not depend on it."""
    out: list[Fix] = []
    for r in readings:
        if r.type != "position" or not r.data:
            continue
        lat, lon, acc = r.data.get("lat"), r.data.get("lon"), r.data.get("accuracy_m")
        if not isinstance(lat, int | float) or not isinstance(lon, int | float):
            continue
        out.append(Fix(r.ts, float(lat), float(lon), float(acc) if acc is not None else None))
    out.sort(key=lambda f: (f.ts, f.lat, f.lon, -1.0 if f.accuracy_m is None else f.accuracy_m))
    return out


# --- zone geometry --------------------------------------------------------------------------


def project_m(origin: LatLon, p: LatLon) -> tuple[float, float]:
    """Local east/north metres around ``origin`` (equirectangular: exact enough within 50 km)."""
    lat0 = math.radians(origin[0])
    x = math.radians(p[1] - origin[1]) * math.cos(lat0) * EARTH_RADIUS_M
    y = math.radians(p[0] - origin[0]) * EARTH_RADIUS_M
    return x, y


def _segment_distance(p: tuple[float, float], a: tuple[float, float], b: tuple[float, float]):
    dx, dy = b[0] - a[0], b[1] - a[1]
    length2 = dx * dx + dy * dy
    along = ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / length2 if length2 else 0.0
    t = max(0.0, min(1.0, along))
    return math.hypot(p[0] - (a[0] + t * dx), p[1] - (a[1] + t * dy))


def polygon_signed_distance(polygon: Sequence[LatLon], lat: float, lon: float) -> float:
    """Metres from the polygon's boundary: positive outside, negative inside (even-odd rule)."""
    origin = polygon[0]
    pts = [project_m(origin, v) for v in polygon]
    p = project_m(origin, (lat, lon))
    inside = False
    nearest = math.inf
    for i, a in enumerate(pts):
        b = pts[(i + 1) % len(pts)]
        nearest = min(nearest, _segment_distance(p, a, b))
        if (a[1] > p[1]) != (b[1] > p[1]):
            cross_x = a[0] + (p[1] - a[1]) * (b[0] - a[0]) / (b[1] - a[1])
            if p[0] < cross_x:
                inside = not inside
    return -nearest if inside else nearest


@dataclass(frozen=True, slots=True)
class Zone:
    """A circle of ``radius_m`` around ``home``, or a polygon (which then decides in/out)."""

    home: LatLon | None
    radius_m: float
    polygon: tuple[LatLon, ...] | None = None

    @property
    def usable(self) -> bool:
        return self.polygon is not None or self.home is not None

    def beyond_m(self, lat: float, lon: float) -> float:
        """Signed metres past the boundary (negative: inside)."""
        if self.polygon is not None:
            return polygon_signed_distance(self.polygon, lat, lon)
        assert self.home is not None
        return haversine_m(self.home[0], self.home[1], lat, lon) - self.radius_m

    def plausible(self, lat: float, lon: float) -> bool:
        """Whether a fix can be where the person is: inside Korea's bounds (every program's
        people live there), or for a zone outside them (a replayed foreign recording) within
        ``ABROAD_AREA_M`` of it. Anything else is a receiver's placeholder, not a place."""
        anchor = self.home or (self.polygon[0] if self.polygon else None)
        if anchor is None or in_korea(*anchor):
            return in_korea(lat, lon)
        return haversine_m(anchor[0], anchor[1], lat, lon) <= ABROAD_AREA_M

    def from_home_m(self, lat: float, lon: float) -> float:
        """Distance from home (from the zone's edge when only a polygon is known)."""
        if self.home is not None:
            return haversine_m(self.home[0], self.home[1], lat, lon)
        return max(0.0, self.beyond_m(lat, lon))


def usable(fix: Fix, zone: Zone, th: Wandering) -> bool:
    """A fix that locates the person: accurate enough (``max_accuracy_m``; a fix without
    ``accuracy_m`` is taken as it is) and plausible (``Zone.plausible``)."""
    return th.max_accuracy_m >= (fix.accuracy_m or 0.0) and zone.plausible(fix.lat, fix.lon)


# --- jumps -------------------------------------------------------------------------------------


def _metres(a: Fix, b: Fix) -> float:
    """Distance between two fixes (equirectangular: fast, and exact enough below 100 km)."""
    x = math.radians(b.lon - a.lon) * math.cos(math.radians((a.lat + b.lat) / 2))
    return math.hypot(x, math.radians(b.lat - a.lat)) * EARTH_RADIUS_M


def _speed_mps(a: Fix, b: Fix) -> float:
    """Implied speed between two fixes, giving each its stated accuracy."""
    slack = (a.accuracy_m or 0.0) + (b.accuracy_m or 0.0)
    metres = max(0.0, _metres(a, b) - slack)
    seconds = abs((b.ts - a.ts).total_seconds())
    if seconds < 1.0:
        return 0.0 if metres == 0 else math.inf
    return metres / seconds


def accepted_fixes(fixes: Sequence[Fix], th: Wandering) -> tuple[list[Fix], Fix | None]:
    """(fixes kept, the newest fix still held as a possible jump).

    A fix that implies an impossible speed from the last kept one is held. The next fix drops
    it when the track goes on from where it was (a spike), or confirms it when it goes on from
    the held fix instead; a confirmed fix also drops the short burst before it that it
    contradicts (the wrong fixes a receiver gives after a gap, accepted because their speed
    over the gap looked possible).
    """
    limit = th.max_speed_kmh / 3.6
    kept: list[Fix] = []
    held: Fix | None = None
    for fix in fixes:
        if th.max_accuracy_m < (fix.accuracy_m or 0.0):
            continue
        if not kept:
            kept.append(fix)
            continue
        if held is not None:
            if _speed_mps(kept[-1], fix) <= limit:
                held = None  # a spike: the track goes on from where it was
            elif _speed_mps(held, fix) <= limit * CONFIRM_SLACK:
                _drop_burst(kept, held, limit)
                kept.append(held)  # confirmed: the device really is over there
                held = None
            else:
                held = fix  # another implausible fix: hold the newer one instead
                continue
        if _speed_mps(kept[-1], fix) > limit:
            held = fix
            continue
        kept.append(fix)
    return kept, held


def _drop_burst(kept: list[Fix], confirmed: Fix, limit: float) -> None:
    """Remove the last few kept fixes when ``confirmed`` follows plausibly from the fix before
    them: they were the excursion, not the track."""
    for back in range(2, min(BURST_FIXES, len(kept)) + 1):
        anchor = kept[-back]
        if (confirmed.ts - anchor.ts).total_seconds() > BURST_S:
            return
        if _speed_mps(anchor, confirmed) <= limit:
            del kept[-back + 1 :]
            return


# --- the track's state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Track:
    """Where the device is as far as the geofence can tell at ``now``."""

    outside: bool  # the episode state after hysteresis
    last_fix: Fix | None  # newest accepted fix (the presumed position)
    beyond_m: float | None  # of ``last_fix``, signed metres past the boundary
    from_home_m: float | None
    crossed_at: datetime | None  # start of the current episode (first fix past the boundary)
    exited_at: datetime | None  # when the exit was confirmed, if within the fixes given
    returning_since: datetime | None  # inside by the margin, re-entry not yet confirmed
    returned_at: datetime | None  # re-entry confirmed within the fixes given
    held: Fix | None  # a possible jump waiting for the next fix
    newest_fix_at: datetime | None  # newest fix of any kind (held included)
    stopped_since: datetime | None  # the last fixes stayed within ``stopped_m`` since then
    # Inside: when the exit will be confirmed by the clock alone if the last position stands
    # (a fix past the boundary whose dwell is still running); None when nothing is pending.
    exit_pending_at: datetime | None = None


def _margin(fix: Fix, th: Wandering) -> float:
    return max(th.margin_m, fix.accuracy_m or 0.0)


def track_state(
    fixes: Sequence[Fix],
    zone: Zone,
    th: Wandering,
    now: datetime,
    *,
    outside: bool = False,
    crossed_at: datetime | None = None,
    since: datetime | None = None,
) -> Track:
    """Replay ``fixes`` (oldest first) from the episode state ``outside`` up to ``now``.

    ``since`` is when that state began (the alert opened, or the last episode closed): older
    fixes only help judge jumps, so a decision already taken is not taken again from them.
    """
    # An implausible fix (outside the service area) locates nothing, as an inaccurate one
    # (skipped by ``accepted_fixes``): it must not look like a jump the next one confirms.
    kept, held = accepted_fixes([f for f in fixes if zone.plausible(f.lat, f.lon)], th)
    exit_dwell = timedelta(minutes=th.exit_dwell_min)
    far_dwell = timedelta(seconds=th.far_dwell_s)
    edge_dwell = timedelta(minutes=th.edge_dwell_min)
    back_dwell = timedelta(minutes=th.reentry_dwell_min)
    out_since: datetime | None = None  # inside state: first fix past the boundary (and past its
    # own accuracy) in the run
    clear_out: datetime | None = None  # … the first one past it by the margin
    far_out: datetime | None = None  # … and the first one more than ``far_m`` past it
    in_since: datetime | None = None  # outside state: first fix inside by the margin
    exited_at = returned_at = None
    beyond = None

    def exit_due(at: datetime) -> datetime | None:
        """When the exit is confirmed if the position stands until ``at``, or None."""
        due = [
            start + dwell
            for start, dwell in (
                (out_since, edge_dwell),
                (clear_out, exit_dwell),
                (far_out, far_dwell),
            )
            if start is not None and at - start >= dwell
        ]
        return min(due) if due else None

    for fix in kept:
        beyond = zone.beyond_m(fix.lat, fix.lon)
        if since is not None and fix.ts < since:
            continue
        margin = _margin(fix, th)
        if not outside:
            if beyond <= 0:
                out_since = clear_out = far_out = None
                continue
            if beyond > (fix.accuracy_m or 0.0):
                out_since = out_since or fix.ts
            if beyond > margin and clear_out is None:
                clear_out = fix.ts
            if beyond > th.far_m and far_out is None:
                far_out = fix.ts
            if (due := exit_due(fix.ts)) is not None:
                outside, crossed_at, exited_at = True, out_since, due
                out_since = clear_out = far_out = in_since = None
                returned_at = None
        else:
            if beyond > 0:
                in_since = None
                continue
            if beyond < -margin and in_since is None:
                in_since = fix.ts
            if in_since and fix.ts - in_since >= back_dwell:
                outside, returned_at = False, in_since + back_dwell
                in_since = crossed_at = None
    # No fix since: the last position stands, so a dwell can complete with the clock alone.
    if not outside and (due := exit_due(now)) is not None:
        outside, crossed_at, exited_at, returned_at = True, out_since, due, None
    elif outside and in_since is not None and now - in_since >= back_dwell:
        outside, returned_at, in_since, crossed_at = False, in_since + back_dwell, None, None
    pending = [
        start + dwell
        for start, dwell in ((out_since, edge_dwell), (clear_out, exit_dwell), (far_out, far_dwell))
        if start is not None and not outside
    ]
    last = kept[-1] if kept else None
    newest = max((f.ts for f in (last, held) if f is not None), default=None)
    stopped = None
    if last is not None:
        for fix in reversed(kept):
            if _metres(fix, last) > th.stopped_m:
                break
            stopped = fix.ts
        if stopped is not None and last.ts - stopped < timedelta(minutes=th.stopped_min):
            stopped = None
    return Track(
        outside=outside,
        last_fix=last,
        beyond_m=beyond,
        from_home_m=zone.from_home_m(last.lat, last.lon) if last else None,
        crossed_at=crossed_at if outside else None,
        exited_at=exited_at if outside else None,
        returning_since=in_since if outside else None,
        returned_at=returned_at if not outside else None,
        held=held,
        newest_fix_at=newest,
        stopped_since=stopped,
        exit_pending_at=min(pending, default=None),
    )
