"""The embedded default's live loop: the silence tick and the demo simulator in one daemon thread.

``start_live_services`` starts it once per process (idempotent, thread-safe) and only for the
embedded demo (SQLite file + demo mode); a real deployment runs ``python -m dashboard worker``
and real vendors instead. The simulator's events go through ``ingest_events``, the very function
``POST /v1/events`` calls, one transaction per batch; only the HTTP and key check are skipped.

Nothing here assumes it is the only process: two app processes on one file each tick and feed,
the alert rules deduplicate on the database's unique index, and simulated event ids are
deterministic, so the same event sent twice is stored once.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, func, select

from dashboard.clock import Clock, as_utc
from dashboard.clock import now as system_now
from dashboard.settings import Settings

log = logging.getLogger(__name__)

TICK_EVERY_S = 60.0
# The reach refresh's share of a pass here (the worker's is 5 s): this loop shares the app's
# process, and pure-Python work holds the pages' threads back while it runs.
REACH_BUDGET_S = 2.0
FEED_EVERY_S = 5.0
# A city whose last signal is older than this is a snapshot built with a fixed past end (tests,
# screenshots, reproducible figures): it is shown as it is, not jumped forward to today.
MAX_RESUME_AGE = timedelta(days=14)


@dataclass
class LiveServices:
    """Handle on the live loop; ``running`` is False when it was not started (and why)."""

    thread: threading.Thread | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    reason: str = ""
    ticks: int = 0
    feeds: int = 0
    errors: int = 0

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the current step and end the thread; safe to call more than once."""
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout_s)
        with _LOCK:
            global _CURRENT
            if _CURRENT is self:
                _CURRENT = None


_LOCK = threading.Lock()
_CURRENT: LiveServices | None = None


def start_live_services(
    engine: Engine,
    settings: Settings,
    clock: Clock = system_now,
    *,
    tick_every_s: float = TICK_EVERY_S,
    feed_every_s: float = FEED_EVERY_S,
) -> LiveServices:
    """Start the live loop for this process, or return the one already running."""
    global _CURRENT
    if not (settings.is_embedded and settings.demo_enabled):
        return LiveServices(reason="only the embedded demo runs the live loop in-process")
    with _LOCK:
        if _CURRENT is not None and _CURRENT.running:
            return _CURRENT
        newest = _newest_signal(engine)
        if newest is not None and newest < clock() - MAX_RESUME_AGE:
            return LiveServices(reason=f"the demo city ended at {newest:%Y-%m-%d}; shown as is")
        services = LiveServices()
        services.thread = threading.Thread(
            target=_loop,
            args=(services, engine, settings.demo_seed, clock, tick_every_s, feed_every_s),
            name="anbu-live",
            daemon=True,  # never keeps the server process alive on shutdown
        )
        _CURRENT = services
        services.thread.start()
        return services


def stop_live_services() -> None:
    """Stop this process's live loop, if one runs (benchmarks and tests that switch databases)."""
    global _CURRENT
    with _LOCK:
        services, _CURRENT = _CURRENT, None
    if services is not None:
        services.stop()


def _loop(
    services: LiveServices,
    engine: Engine,
    seed: int,
    clock: Clock,
    tick_every_s: float,
    feed_every_s: float,
) -> None:
    from dashboard.rules.worker import daily_jobs, tick_once
    from dashboard.simulate.feed import LiveFeed
    from dashboard.simulate.sinks import IngestSink

    feed: LiveFeed | None = None
    next_tick = 0.0  # monotonic time of the next silence tick; the first runs after a feed
    stop = services.stop_event
    while not stop.is_set():
        try:
            if feed is None or not len(feed.sim.r):  # no city yet: look again
                feed = LiveFeed.from_database(
                    engine, IngestSink(engine, clock), seed=seed, clock=clock
                )
            feed.feed()
            services.feeds += 1
            now_mono = time.monotonic()
            if now_mono >= next_tick:
                log.info("%s", tick_once(engine, clock()))
                # purge and routines, each once a Seoul day; then a little of the reach refresh
                daily_jobs(engine, clock(), reach_budget_s=REACH_BUDGET_S)
                services.ticks += 1
                next_tick = now_mono + tick_every_s
        except Exception:  # a locked file, a half-built city: log, wait, try again
            services.errors += 1
            log.exception("live loop step failed; retrying")
        stop.wait(feed_every_s)


def _newest_signal(engine: Engine) -> datetime | None:
    from dashboard.db.schema import DeviceState

    try:
        with engine.connect() as conn:
            value = conn.execute(select(func.max(DeviceState.last_seen_at))).scalar()
    except Exception:  # no schema yet: nothing to judge, the loop waits for a city
        return None
    return as_utc(value) if value is not None else None
