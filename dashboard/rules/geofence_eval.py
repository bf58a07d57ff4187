"""Measure the wandering rules on recorded GPS tracks: ``python -m dashboard.rules.geofence_eval``.

Drives the pure rules (``wandering.py``) over each track as ingestion and the worker would —
a batch at most every ``BATCH_S`` seconds of track time and a tick every minute between fixes —
with a minimal alert lifecycle (open, follow the stage, close; the open left-zone alert's
evidence is the next evaluation's episode). Home is the track's first fix. A **genuine exit** is
a stretch of fixes farther from home than the radius lasting ``GENUINE_MIN`` minutes or more
(from the first fix outside to the first fix back, or the track's end). Reports, per radius:
genuine exits, those alerted within ``TARGET_MIN`` minutes of the crossing and the delays,
left-zone alerts, the alerts not matching a genuine exit, the most alerts in one exit, and
``wander_no_position`` alerts per track-day; the same for the previous rule (one fix past the
radius) for comparison. docs/rules.md reports the figures on ``../shared/realdata/gps``.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import json
import math
import random
import statistics
import sys
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from dashboard.rules.config import Thresholds, position_lookback_min
from dashboard.rules.geo import haversine_m
from dashboard.rules.geofence import Fix
from dashboard.rules.model import DeviceFacts, Reading
from dashboard.rules.wandering import wander_left_zone, wander_no_position

DEFAULT_DATA = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "gps"
BATCH_S = 10  # a vendor batch: fixes of the last 10 s arrive together
TICK = timedelta(minutes=1)
GENUINE_MIN = 5
TARGET_MIN = 3


# --- tracks --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrackData:
    name: str
    fixes: tuple[Fix, ...]


def read_plt(path: Path) -> TrackData:
    """A GeoLife ``.plt`` file: 6 header lines, then ``lat,lon,0,alt,days,date,time`` (GMT)."""
    fixes = []
    with path.open() as fh:
        for line in list(fh)[6:]:
            parts = line.strip().split(",")
            if len(parts) < 7:
                continue
            ts = datetime.fromisoformat(f"{parts[5]}T{parts[6]}+00:00")
            fixes.append(Fix(ts, float(parts[0]), float(parts[1])))
    return TrackData(f"{path.parent.name}/{path.stem}", tuple(_ordered(fixes)))


def read_demo_csv(path: Path) -> list[TrackData]:
    """movingpandas' GeoLife demo: ``X;Y;…;trajectory_id;tracker;t`` (one track per id)."""
    tracks: dict[str, list[Fix]] = {}
    with path.open() as fh:
        for row in csv.DictReader(fh, delimiter=";"):
            ts = datetime.fromisoformat(row["t"].replace("+00", "+00:00"))
            fix = Fix(ts.astimezone(UTC), float(row["Y"]), float(row["X"]))
            tracks.setdefault(f"demo/{row['trajectory_id']}", []).append(fix)
    return [TrackData(name, tuple(_ordered(f))) for name, f in sorted(tracks.items())]


def _ordered(fixes: list[Fix]) -> list[Fix]:
    """Time order, one fix per timestamp (the logs repeat some)."""
    seen: dict[datetime, Fix] = {}
    for fix in fixes:
        seen.setdefault(fix.ts, fix)
    return [seen[t] for t in sorted(seen)]


def load_tracks(root: Path = DEFAULT_DATA) -> list[TrackData]:
    tracks = [read_plt(p) for p in sorted(root.glob("geolife/*/*.plt"))]
    demo = root / "geolife_movingpandas_demodata.csv"
    if demo.exists():
        tracks += read_demo_csv(demo)
    return [t for t in tracks if len(t.fixes) >= 2]


# --- noise and gaps, for tests -------------------------------------------------------------------


def with_noise(
    track: TrackData,
    rng: random.Random,
    *,
    sigma_m: float = 0.0,
    jumps: float = 0.0,
    jump_m: float = 2_000.0,
    gaps: int = 0,
    gap_min: float = 40.0,
) -> TrackData:
    """``track`` with Gaussian noise of ``sigma_m`` metres, a share ``jumps`` of single-fix jumps
    ``jump_m`` away, and ``gaps`` dropped stretches of ``gap_min`` minutes."""
    fixes = list(track.fixes)
    for _ in range(gaps):
        start = fixes[rng.randrange(len(fixes))].ts
        fixes = [f for f in fixes if not start <= f.ts < start + timedelta(minutes=gap_min)]
    out = []
    for fix in fixes:
        dn, de = rng.gauss(0, sigma_m), rng.gauss(0, sigma_m)
        if jumps and rng.random() < jumps:
            angle = rng.uniform(0, 2 * math.pi)
            dn, de = jump_m * math.sin(angle), jump_m * math.cos(angle)
        lat = fix.lat + dn / 111_195
        lon = fix.lon + de / (111_195 * math.cos(math.radians(fix.lat)))
        out.append(replace(fix, lat=lat, lon=lon))
    return TrackData(track.name, tuple(out))


# --- driving the rules ---------------------------------------------------------------------------


@dataclass
class Transition:
    at: datetime
    rule: str
    stage: str | None


@dataclass
class Run:
    """What the rules did over one track."""

    transitions: list[Transition] = field(default_factory=list)

    def opens(self, rule: str) -> list[datetime]:
        """Times an alert of ``rule`` opened (a transition from closed to a stage)."""
        out, open_ = [], False
        for t in self.transitions:
            if t.rule != rule:
                continue
            if t.stage is not None and not open_:
                out.append(t.at)
            open_ = t.stage is not None
        return out

    def open_spans(self, rule: str, end: datetime) -> list[tuple[datetime, datetime]]:
        spans, since = [], None
        for t in self.transitions:
            if t.rule != rule:
                continue
            if t.stage is not None and since is None:
                since = t.at
            elif t.stage is None and since is not None:
                spans.append((since, t.at))
                since = None
        if since is not None:
            spans.append((since, end))
        return spans


Rule = Callable[..., object]


def evaluation_times(fixes: Sequence[Fix]) -> list[datetime]:
    """When the rules run: after each batch of fixes (``BATCH_S``), and each minute between."""
    times: list[datetime] = []
    batch_end = None
    for fix in fixes:
        if batch_end is None or fix.ts >= batch_end:
            if batch_end is not None:
                times.append(batch_end)
                tick = batch_end + TICK
                while tick < fix.ts:
                    times.append(tick)
                    tick += TICK
            batch_end = fix.ts + timedelta(seconds=BATCH_S)
    if batch_end is not None:
        times.append(batch_end)
    return times


def run_rules(
    track: TrackData,
    radius_m: float,
    th: Thresholds,
    rules: Iterable[Rule] = (wander_left_zone, wander_no_position),
) -> Run:
    """The pure rules over ``track`` with a minimal lifecycle; home = the first fix."""
    fixes = track.fixes
    home = fixes[0]
    base = DeviceFacts(
        device_id=1,
        type_code="wandering_detector",
        program_id=1,
        region_id=1,
        heartbeat_timeout_s=3600,
        recipient_id=1,
        safe_zone_m=radius_m,
        home_lat=home.lat,
        home_lon=home.lon,
    )
    stamps = [f.ts for f in fixes]
    readings = [Reading(f.ts, "position", None, {"lat": f.lat, "lon": f.lon}) for f in fixes]
    open_: dict[str, tuple[str, dict]] = {}  # rule → (stage, evidence)
    opened_at = closed_at = None  # the left-zone alert's, as facts.py reads them
    run = Run()
    lookback = timedelta(minutes=position_lookback_min(th.wandering))
    for now in evaluation_times(fixes):
        hi = bisect.bisect_right(stamps, now)
        lo = bisect.bisect_left(stamps, min(now, stamps[hi - 1]) - lookback)
        window = readings[lo:hi]  # what facts.py loads
        episode = open_.get("wander_left_zone")
        facts = replace(
            base,
            wander_episode=dict(episode[1]) if episode else None,
            wander_since=opened_at if episode else closed_at,
        )
        for rule in rules:
            d = rule(facts, th, now, window)
            if d is None:
                continue
            current = open_.get(d.rule)
            if d.stage is not None:
                evidence = (current[1] if current else {}) | d.evidence
                if current is None and d.rule == "wander_left_zone":
                    opened_at = now
                if current is None or current[0] != d.stage:
                    run.transitions.append(Transition(now, d.rule, d.stage))
                open_[d.rule] = (d.stage, evidence)
            elif current is not None:
                run.transitions.append(Transition(now, d.rule, None))
                del open_[d.rule]
                if d.rule == "wander_left_zone":
                    closed_at = now
    return run


def previous_rule_run(track: TrackData, radius_m: float, th: Thresholds) -> Run:
    """The rule this replaced: 심각 on any fix past the radius, closed by any fix back inside;
    lost after ``no_position_min`` without a fix while the last fix is outside."""
    home = track.fixes[0]
    run = Run()
    out = lost = False
    fixes = track.fixes
    stamps = [f.ts for f in fixes]
    for now in evaluation_times(fixes):
        last = fixes[bisect.bisect_right(stamps, now) - 1]
        outside = haversine_m(home.lat, home.lon, last.lat, last.lon) > radius_m
        if outside != out:
            run.transitions.append(
                Transition(now, "wander_left_zone", "severe" if outside else None)
            )
            out = outside
        gone = outside and now - last.ts > timedelta(minutes=th.wandering.no_position_min)
        if gone != lost:
            run.transitions.append(
                Transition(now, "wander_no_position", "severe" if gone else None)
            )
            lost = gone
    return run


# --- scoring -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exit:
    crossed: datetime  # first fix past the radius
    back: datetime  # first fix back inside, or the track's last fix
    cut: bool = False  # the track ended while outside

    @property
    def minutes(self) -> float:
        return (self.back - self.crossed).total_seconds() / 60


def outside_runs(track: TrackData, radius_m: float) -> list[Exit]:
    """Every stretch of fixes past the radius (raw fixes, as a person checking the map would)."""
    home = track.fixes[0]
    runs, since = [], None
    for fix in track.fixes:
        outside = haversine_m(home.lat, home.lon, fix.lat, fix.lon) > radius_m
        if outside and since is None:
            since = fix.ts
        elif not outside and since is not None:
            runs.append(Exit(since, fix.ts))
            since = None
    if since is not None:
        runs.append(Exit(since, track.fixes[-1].ts, cut=True))
    return runs


def episodes(track: TrackData, radius_m: float, minutes: float = GENUINE_MIN) -> list[Exit]:
    """Outside runs merged across returns shorter than ``minutes`` (hovering at the edge, a
    step back in): what an operator calls one outing. Only those holding a genuine exit."""
    merged: list[Exit] = []
    for run in outside_runs(track, radius_m):
        if merged and run.crossed - merged[-1].back < timedelta(minutes=minutes):
            merged[-1] = Exit(merged[-1].crossed, run.back, run.cut)
        else:
            merged.append(run)
    genuine = genuine_exits(track, radius_m, minutes)
    return [e for e in merged if any(e.crossed <= g.crossed <= e.back for g in genuine)]


def genuine_exits(track: TrackData, radius_m: float, minutes: float = GENUINE_MIN) -> list[Exit]:
    return [e for e in outside_runs(track, radius_m) if e.minutes >= minutes]


def undecided_exits(track: TrackData, radius_m: float, minutes: float = GENUINE_MIN) -> list[Exit]:
    """Exits the track ends in before they could last ``minutes``: whether they were genuine is
    unknown, so an alert for one is neither matched nor unmatched."""
    return [e for e in outside_runs(track, radius_m) if e.cut and e.minutes < minutes]


@dataclass
class Score:
    tracks: int = 0
    days: float = 0.0
    genuine: int = 0
    alerted_in_time: int = 0
    delays_s: list[float] = field(default_factory=list)
    alerts: int = 0
    unmatched: int = 0
    most_per_exit: int = 0
    episodes: int = 0
    most_per_episode: int = 0
    extra_in_episodes: int = 0  # alerts beyond the first in one episode (re-opens)
    lost_alerts: int = 0
    undecided: int = 0
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        delays = sorted(self.delays_s)
        return {
            "tracks": self.tracks,
            "track_days": round(self.days, 2),
            "genuine_exits": self.genuine,
            "alerted_within_target": self.alerted_in_time,
            "median_delay_s": round(statistics.median(delays)) if delays else None,
            "max_delay_s": round(delays[-1]) if delays else None,
            "left_zone_alerts": self.alerts,
            "alerts_at_track_end_not_counted": self.undecided,
            "not_matching_a_genuine_exit": self.unmatched,
            "unmatched_share": round(self.unmatched / self.alerts, 3) if self.alerts else 0.0,
            "most_alerts_in_one_exit": self.most_per_exit,
            "episodes": self.episodes,
            "most_alerts_in_one_episode": self.most_per_episode,
            "reopened_in_an_episode": self.extra_in_episodes,
            "no_position_alerts": self.lost_alerts,
            "no_position_per_track_day": round(self.lost_alerts / self.days, 2)
            if self.days
            else 0.0,
        }


def score(track: TrackData, run: Run, radius_m: float, score_: Score) -> None:
    end = track.fixes[-1].ts
    exits = genuine_exits(track, radius_m)
    opens = run.opens("wander_left_zone")
    spans = run.open_spans("wander_left_zone", end + timedelta(days=1))
    score_.tracks += 1
    score_.days += max((end - track.fixes[0].ts).total_seconds(), 60) / 86_400
    score_.genuine += len(exits)
    score_.alerts += len(opens)
    score_.lost_alerts += len(run.opens("wander_no_position"))
    target = timedelta(minutes=TARGET_MIN)
    for e in exits:
        # Alerted: an alert open at some moment between the crossing and crossing + target.
        covering = [s for s, c in spans if s <= e.crossed + target and c > e.crossed]
        if covering:
            delay = max((covering[0] - e.crossed).total_seconds(), 0.0)
            score_.delays_s.append(delay)
            score_.alerted_in_time += 1
        else:
            score_.notes.append(f"{track.name}: exit at {e.crossed:%H:%M:%S} not alerted in time")
        # Grace after the first fix back: the re-entry dwell decides when an episode ends.
        inside = [t for t in opens if e.crossed <= t <= e.back]
        score_.most_per_exit = max(score_.most_per_exit, len(inside))
    outings = episodes(track, radius_m)
    score_.episodes += len(outings)
    for e in outings:
        n = sum(e.crossed <= t <= e.back for t in opens)
        score_.most_per_episode = max(score_.most_per_episode, n)
        score_.extra_in_episodes += max(n - 1, 0)
    undecided = undecided_exits(track, radius_m)
    for t in opens:
        if any(e.crossed <= t for e in undecided):
            score_.alerts -= 1  # the track ends outside before anyone could tell
            score_.undecided += 1
            continue
        if not any(e.crossed <= t <= e.back for e in exits + outings):
            score_.unmatched += 1
            score_.notes.append(f"{track.name}: alert at {t:%H:%M:%S} matches no genuine exit")


def evaluate(
    tracks: Sequence[TrackData], radii: Sequence[float], th: Thresholds
) -> dict[str, dict[str, dict]]:
    out: dict[str, dict[str, dict]] = {}
    for radius in radii:
        new, old = Score(), Score()
        for track in tracks:
            score(track, run_rules(track, radius, th), radius, new)
            score(track, previous_rule_run(track, radius, th), radius, old)
        out[f"{radius:g}"] = {"rules": new.as_dict(), "previous_rule": old.as_dict()}
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--radius", type=float, action="append")
    args = parser.parse_args(argv)
    tracks = load_tracks(args.data)
    if not tracks:
        print(f"no tracks under {args.data}", file=sys.stderr)
        return 2
    result = evaluate(tracks, args.radius or [300, 500], Thresholds())
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
