"""The rule worker: the silence tick on a clock, stopped cleanly by SIGTERM or Ctrl-C."""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from dashboard.clock import Clock
from dashboard.clock import now as system_now
from dashboard.detection.learning import daily_learn
from dashboard.enrollment.daily import daily_purge
from dashboard.notify.reminders import daily_away_reminders
from dashboard.notify.worker import notify_tick
from dashboard.ops.daily import daily_partitions, daily_retention, wal_checkpoint
from dashboard.rules.config import current_thresholds
from dashboard.rules.engine import TickSummary, run_silence_tick

log = logging.getLogger(__name__)


def tick_once(engine: Engine, now: datetime) -> TickSummary:
    """One tick in its own transaction (thresholds re-read if the file changed)."""
    th = current_thresholds()
    with engine.begin() as conn:
        return run_silence_tick(conn, now, th)


def daily_jobs(engine: Engine, now: datetime) -> None:
    """The once-a-day jobs, run on every worker pass and by ``replay`` at each simulated day.

    Each job guards itself (at most once per Asia/Seoul day across workers) and never raises.
    """
    daily_partitions(engine, now)  # PostgreSQL: today's and the next week's partitions
    daily_purge(engine, now)
    daily_learn(engine, now)  # the plugs' routines, from the days before today
    if daily_retention(engine, now) is not None:  # raw events past ANBU_EVENT_RETENTION_DAYS
        wal_checkpoint(engine, now, force=True)  # SQLite: give the WAL of the deletes back
    wal_checkpoint(engine, now)  # SQLite: truncate the WAL at most hourly


def run_worker(
    engine: Engine,
    *,
    interval_s: float = 60.0,
    once: bool = False,
    clock: Clock = system_now,
    stop: threading.Event | None = None,
    report: Callable[[TickSummary], None] = lambda s: log.info("%s", s),
) -> int:
    """Tick every ``interval_s`` until ``stop`` is set; returns the number of ticks run.

    A tick that fails on a transient database error (a locked SQLite file, a dropped
    connection) is logged and retried on the next interval; the worker never dies of it.
    """
    stop = stop or threading.Event()
    ticks = 0
    while not stop.is_set():
        started = clock()
        try:
            report(tick_once(engine, started))
        except OperationalError as exc:
            if once:
                raise
            log.warning("rule tick failed, retrying next interval: %s", exc.orig or exc)
        notify_tick(engine, started)  # hook: outbox delivery and escalation; never raises
        daily_jobs(engine, started)  # each at most once a day (Seoul) across workers
        daily_away_reminders(engine, started)  # people marked away: operators told once a day
        ticks += 1
        if once:
            break
        elapsed = (clock() - started).total_seconds()
        stop.wait(max(0.0, interval_s - elapsed))
    return ticks


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the current tick, then stop the loop."""

    def handler(signum, _frame) -> None:
        log.info("signal %s: stopping after the current tick", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
