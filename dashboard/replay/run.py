"""The simulated run: the exact path (every moment through the database) and the fast path."""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from dashboard.ingest.state import Margins
from dashboard.replay.fast import Limits, Mirror, refresh, reload
from dashboard.replay.inputs import Recording
from dashboard.replay.output import Recorder, Transition
from dashboard.replay.readings import Reading
from dashboard.replay.relocate import from_local_clock, relocated
from dashboard.replay.session import Counts, Session
from dashboard.replay.timeline import check_tick, moments
from dashboard.replay.world import World, throwaway_world
from dashboard.rules.config import Thresholds, current_thresholds, position_lookback_min
from dashboard.settings import LOCAL_TZ

NO_TYPES: frozenset[str] = frozenset()


@dataclass(frozen=True)
class ReplayResult:
    transitions: list[Transition]
    devices: int
    readings: int
    start: datetime
    end: datetime
    moments: int
    counts: Counts  # what went through the database
    seconds: float
    exact: bool


def replay(
    recording: Recording, *, timezone: str = "Asia/Seoul", tick_min: int = 10, exact: bool = False
) -> ReplayResult:
    """Replay ``recording`` through the product's ingest and rules in a throw-away database.

    ``exact`` runs every moment through the database (slow; the reference the fast path is
    tested against). ``ValueError`` for a tick length that does not divide a day.
    """
    started = time.perf_counter()
    tick = check_tick(tick_min)
    zone = ZoneInfo(timezone)
    th = current_thresholds()
    # The home's own clock: its wall-clock times replayed as Seoul's (``replay.relocate``).
    local = relocated(recording, zone)
    with throwaway_world(local, timezone) as world:
        session = Session(world, Recorder(world.uids, LOCAL_TZ))
        run = _run_exact if exact else _run_fast
        count = run(local, world, session, tick, th)
    transitions = session.recorder.ordered()
    if local is not recording:  # back on the home's clock; never earlier than the one before
        transitions = [replace(t, at=from_local_clock(t.at, zone)) for t in transitions]
    return ReplayResult(
        transitions=transitions,
        devices=len(recording.first_seen),
        readings=len(local.readings),  # the repeated autumn hour's second readings dropped
        start=recording.start,
        end=recording.end,
        moments=count,
        counts=session.counts,
        seconds=time.perf_counter() - started,
        exact=exact,
    )


def _run_exact(
    recording: Recording, _world: World, session: Session, tick: timedelta, _th: Thresholds
) -> int:
    """What a live installation does: each moment's readings ingested as they arrive, the
    worker's tick on its grid, its daily jobs at each Seoul midnight."""
    readings, count = recording.readings, 0
    for moment in moments(readings.times, tick):
        count += 1
        if moment.end > moment.start:
            session.ingest(readings[moment.start : moment.end], moment.at)
        if moment.tick:
            session.tick(moment.at)
        if moment.day:
            session.daily(moment.at)
    return count


def _run_fast(
    recording: Recording, world: World, session: Session, tick: timedelta, th: Thresholds
) -> int:
    """The same moments, judged in memory; the database only where an alert changes (fast.py)."""
    margins = Margins.from_rules()
    readings, engine = recording.readings, world.engine
    lookback = timedelta(minutes=position_lookback_min(th.wandering))
    mirrors = {
        world.device_ids[uid]: Mirror(world.device_ids[uid], first, lookback=lookback)
        for uid, first in recording.first_seen.items()
    }
    with engine.connect() as conn:
        reload(conn, mirrors.values(), th, recording.start)
        limits = Limits.load(conn, th)
    every = list(mirrors.values())

    def refresh_stale(mirror: Mirror, now: datetime) -> None:
        with engine.connect() as conn:
            refresh(conn, mirror, th, now)

    device_of = [world.device_ids[r.device_uid] for r in readings]
    count = 0
    for moment in moments(readings.times, tick):
        count += 1
        now = moment.at
        arrived: dict[int, list[Reading]] = {}
        for j in range(moment.start, moment.end):
            arrived.setdefault(device_of[j], []).append(readings[j])
        types: dict[int, frozenset[str]] = {}
        for device_id, batch in arrived.items():
            mirrors[device_id].receive(batch, margins)
            types[device_id] = frozenset(r.type for r in batch)
        # The devices the product evaluates now: all at a tick, else those that reported.
        judged = every if moment.tick else [mirrors[i] for i in arrived]
        touched = [
            m
            for m in judged
            if m.needs_database(
                now, limits, types.get(m.device_id, NO_TYPES), refresh_stale, moment.tick
            )
        ]
        if not touched and not moment.day:
            continue
        # A real tick (and the daily jobs) read every device: all held-back readings go first.
        flushed = every if moment.tick or moment.day else touched
        batch = sorted(r for m in flushed for r in m.pending)  # by (ts, index): ``Reading``
        written = session.ingest(batch, now) if batch else 0
        if moment.tick and touched:
            written += session.tick(now)
        learned = False
        if moment.day:
            written += session.daily(now)
            learned = True  # routines and backgrounds changed: every mirror reloads them
        if touched or written or learned:
            with engine.connect() as conn:
                reload(conn, flushed, th, now)
        else:  # a day's readings stored, nothing changed: reload facts when next needed
            for mirror in flushed:
                mirror.stored()
    return count
