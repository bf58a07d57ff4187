"""The rule worker: the silence tick on a clock, stopped cleanly by SIGTERM or Ctrl-C.

On PostgreSQL any number of workers may run: the one holding the worker lock acts, the others
wait and take over when it dies (``dashboard.ops.leader``). On SQLite every worker acts.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from dashboard.clock import Clock
from dashboard.clock import now as system_now
from dashboard.db.device_counts import daily_recount
from dashboard.detection.learning import daily_learn
from dashboard.detection.reach_refresh import PASS_BUDGET_S, refresh_reaches
from dashboard.enrollment.daily import daily_purge
from dashboard.notify.reminders import daily_away_reminders
from dashboard.notify.worker import notify_tick
from dashboard.ops.daily import daily_partitions, daily_retention, wal_checkpoint
from dashboard.ops.heartbeat import record_tick
from dashboard.ops.leader import LeaderLock
from dashboard.ops.logs import new_request_id, request_context
from dashboard.rules.config import current_thresholds
from dashboard.rules.engine import TickSummary, run_silence_tick

if TYPE_CHECKING:  # the metrics' queries import pandas; only `worker --metrics-port` needs them
    from dashboard.ops.metrics import WorkerMetrics

log = logging.getLogger(__name__)


def tick_once(engine: Engine, now: datetime) -> TickSummary:
    """One tick in its own transaction (thresholds re-read if the file changed), recorded as
    the last tick (``app_meta``) in that same transaction when it ran."""
    th = current_thresholds()
    with engine.begin() as conn:
        summary = run_silence_tick(conn, now, th)
        record_tick(conn, summary)
        return summary


def daily_jobs(engine: Engine, now: datetime, reach_budget_s: float = PASS_BUDGET_S) -> None:
    """The once-a-day jobs, run on every worker pass: the rules' own and the data's upkeep;
    then up to ``reach_budget_s`` of the plugs' reach refresh (``detection.reach_refresh``).

    Each daily job guards itself (at most once per Asia/Seoul day across workers); none raises.
    """
    daily_partitions(engine, now)  # PostgreSQL: today's and the next week's partitions
    daily_purge(engine, now)
    daily_rules_jobs(engine, now)
    daily_recount(engine, now)  # the wall screen's device counts against a fresh GROUP BY
    if daily_retention(engine, now) is not None:  # raw events past ANBU_EVENT_RETENTION_DAYS
        wal_checkpoint(engine, now, force=True)  # SQLite: give the WAL of the deletes back
    wal_checkpoint(engine, now)  # SQLite: truncate the WAL at most hourly
    refresh_reaches(engine, now, reach_budget_s)  # the stale reaches, a few seconds a pass


def daily_rules_jobs(engine: Engine, now: datetime) -> None:
    """The daily jobs that alerts depend on (``replay`` runs only these at each simulated
    midnight): the plugs' routines, backgrounds and level models from the days before today,
    the slow-risk flags, and the plugs judged again with them. The upkeep in ``daily_jobs``
    (partitions, the privacy purge, the recount, retention, checkpoints) changes no plug or
    wanderer alert, the two kinds ``replay`` runs: their rules and learning read the daily
    rollups, the state and the newest fixes, never expired events (a test replays both ways).
    Not so for every rule: the AI-call rules read results up to ``RESULTS_LOOKBACK`` (120 days)
    back, past the shortest retention."""
    daily_learn(engine, now)


def run_worker(
    engine: Engine,
    *,
    interval_s: float = 60.0,
    once: bool = False,
    clock: Clock = system_now,
    stop: threading.Event | None = None,
    report: Callable[[TickSummary], None] | None = None,
    on_leadership: Callable[[bool], None] | None = None,
    metrics: WorkerMetrics | None = None,
) -> int:
    """Tick every ``interval_s`` until ``stop`` is set; returns the number of ticks run.

    On PostgreSQL a pass runs only while this worker holds the worker lock (leader election);
    a follower tries again each interval. ``on_leadership`` is called with the first outcome
    and then whenever leadership changes (and with False when a leader stops), e.g. to set a
    gauge; on SQLite, which has no election, it is called once with True.

    A tick that fails on a transient database error (a locked SQLite file, a dropped
    connection) is logged and retried on the next interval; the worker never dies of it.
    Each pass logs under its own request id (``tick-…``); ``metrics``, when given, is updated
    after each pass.
    """
    stop = stop or threading.Event()
    report = report or (lambda summary: log.info("%s", summary))
    leader = LeaderLock(engine)
    leading: bool | None = None
    ticks = 0

    def leadership(now: bool) -> None:
        if metrics is not None:
            metrics.set_leader(now)
        if on_leadership is not None:
            on_leadership(now)

    try:
        while not stop.is_set():
            started = clock()
            now_leading = leader.check()
            if now_leading != leading:
                _leadership_changed(leader, leading, now_leading, leadership)
                leading = now_leading
            if now_leading:
                with request_context(new_request_id("tick-")):
                    _one_pass(engine, started, once, report, metrics)
                ticks += 1
            if once:
                break
            elapsed = (clock() - started).total_seconds()
            stop.wait(max(0.0, interval_s - elapsed))
    finally:
        if leading and leader.elected:
            leader.release()
            log.info("worker leadership released (stopping)")
            leadership(False)
        elif metrics is not None:
            metrics.set_leader(False)  # stopping: no longer acting
    return ticks


def _leadership_changed(
    leader: LeaderLock,
    before: bool | None,
    now: bool,
    on_leadership: Callable[[bool], None] | None,
) -> None:
    if not leader.elected:
        log.info("SQLite: no leader election; this worker acts (one machine)")
    elif now:
        log.info("worker leadership acquired: this worker acts")
    elif before is None:
        log.info("another worker leads; following (retrying each interval)")
    else:
        log.warning("worker leadership lost: this worker stops acting and follows")
    if on_leadership is not None:
        on_leadership(now)


def _one_pass(
    engine: Engine,
    started: datetime,
    once: bool,
    report: Callable[[TickSummary], None],
    metrics: WorkerMetrics | None,
) -> None:
    summary: TickSummary | None = None
    try:
        summary = tick_once(engine, started)
    except OperationalError as exc:
        if metrics is not None:
            metrics.tick_failed()
        if once:
            raise
        log.warning("rule tick failed, retrying next interval: %s", exc.orig or exc)
    else:
        report(summary)
    notify_tick(engine, started)  # hook: outbox delivery and escalation; never raises
    daily_jobs(engine, started)  # each at most once a day (Seoul) across workers
    daily_away_reminders(engine, started)  # people marked away: operators told once a day
    if metrics is not None:
        # After delivery (the backlog as it now stands); the tick is counted last, so a
        # scrape that sees the count also sees the gauges of that pass.
        metrics.refresh(engine, started)
        if summary is not None:
            metrics.observe_tick(summary)


def install_stop_handlers(stop: threading.Event) -> None:
    """SIGTERM and SIGINT finish the current tick, then stop the loop."""

    def handler(signum, _frame) -> None:
        log.info("signal %s: stopping after the current tick", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)
