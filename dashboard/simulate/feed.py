"""A simulator bound to a sink and a clock: ``feed()`` sends every event due up to now."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine

from dashboard.clock import Clock
from dashboard.simulate.city import SLOT_S, CitySimulator, by_vendor
from dashboard.simulate.roster import Roster, load_roster
from dashboard.simulate.sinks import SendStats, Sink

log = logging.getLogger(__name__)

# A short outage is replayed so the city has no hole; longer ones are skipped, not replayed,
# because replaying hours of a large city would hold the database for minutes.
MAX_CATCHUP = timedelta(hours=1)
CHUNK = timedelta(minutes=10)  # simulated time per round of sends, bounding memory
BATCH = 1000  # events per request, as vendors are asked to send


def resume_point(roster: Roster, now: datetime, max_catchup: timedelta = MAX_CATCHUP) -> datetime:
    """Where the simulation starts: the city's newest signal, within ``max_catchup`` of now."""
    newest = roster.newest_signal
    start = now if newest is None else datetime.fromtimestamp(newest, UTC)
    return min(max(start, now - max_catchup), now)


class LiveFeed:
    """Plays the city up to the clock and sends it, in per-vendor batches of at most 1,000.

    ``speed`` > 1 replays the time since the city's last signal that many times faster than
    real time until it reaches the clock; the simulation never runs ahead of the clock, since
    the ingest API refuses events from the future.
    """

    def __init__(
        self, roster: Roster, sink: Sink, *, seed: int, clock: Clock, speed: float = 1.0
    ) -> None:
        if speed < 1:
            raise ValueError("speed must be at least 1")
        self.sink, self.clock, self.speed = sink, clock, speed
        self.started = clock()
        self.origin = resume_point(roster, self.started)
        self.sim = CitySimulator(roster, seed=seed, start=self.origin)

    @classmethod
    def from_database(
        cls, engine: Engine, sink: Sink, *, seed: int, clock: Clock, speed: float = 1.0
    ) -> LiveFeed:
        with engine.connect() as conn:
            roster = load_roster(conn)
        return cls(roster, sink, seed=seed, clock=clock, speed=speed)

    def target(self) -> datetime:
        now = self.clock()
        if self.speed == 1:
            return now
        return min(now, self.origin + (now - self.started) * self.speed)

    def feed(self) -> SendStats:
        """Send everything due; returns what the ingest side said about it."""
        stats = SendStats()
        target = self.target()
        while self.sim.played_until + timedelta(seconds=SLOT_S) <= target:
            events = self.sim.play(min(target, self.sim.played_until + CHUNK))
            for vendor, batch in by_vendor(events, BATCH):
                self.sink.send(vendor, batch, stats)
        if stats.rejected:
            log.warning("%d simulated events rejected: %s", stats.rejected, stats.first_rejection)
        return stats


def run_feed(
    feed: LiveFeed,
    *,
    interval_s: float = 5.0,
    once: bool = False,
    stop: threading.Event | None = None,
    report: Callable[[SendStats], None] = lambda s: None,
) -> int:
    """Feed every ``interval_s`` seconds until ``stop`` is set; returns the rounds run."""
    stop = stop or threading.Event()
    rounds = 0
    while not stop.is_set():
        report(feed.feed())
        rounds += 1
        if once:
            break
        stop.wait(interval_s)
    return rounds
