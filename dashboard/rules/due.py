"""When the silence tick must judge a device again: the earliest moment a rule could change.

A device the tick has just judged keeps its decisions until either something about it changes
(an event: ingest clears the due time; a staff edit: the edit clears it) or the clock crosses
a threshold of one of its rules: the next stage of a ladder, the heartbeat timeout, the hour
its routine starts to count, the end of an away period, an SOS or call result ageing out of
the window the rules read. :func:`device_due` is the earliest of those thresholds still ahead;
the tick stores it (``device_state.rules_due_at``) and selects the device again only once it
has passed. It errs early, never late: ``tests/unit/test_rules_due.py`` steps the clock over
random facts and checks that no decision changes before it.

A wandering detector at home is due when its position could change a decision by the clock
alone: an exit whose dwell is still running completes, the gap since its newest fix reaches
``no_fix_inside_h``, or it stops reporting; a new fix is an event and clears the due time.
One outside its zone is judged at every tick (its stage moves with the minutes outside, the
night and the fixes' gap). A due time is never further
ahead than ``MAX_WAIT``: a change the rules cannot see coming (a threshold file edited by
hand is caught by :func:`basis`, but a row written outside Anbu is not) takes effect within
that time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import datetime, time, timedelta

from dashboard.detection.levels import level_due
from dashboard.rules.calls import call_threshold_h
from dashboard.rules.clock import live_since, quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.device import heartbeat_timeout_s
from dashboard.rules.facts import RESULTS_LOOKBACK, routine_quiet
from dashboard.rules.model import DeviceFacts, Reading, iso
from dashboard.rules.plug import (
    NO_LOAD_H,
    NO_LOAD_W,
    band_clock,
    net_delay,
    no_load,
    on_clock,
    person_activity,
    plug_ladder,
    still_threshold,
)
from dashboard.rules.wandering import TYPE as TYPE_WANDERER
from dashboard.rules.wandering import track_of
from dashboard.settings import LOCAL_TZ

MAX_WAIT = timedelta(hours=1)
SPREAD_MIN = 30


def device_due(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> datetime:
    """The earliest moment after ``now`` at which a rule's decision for ``facts`` could change
    (or the facts the tick loads for it could), at most ``MAX_WAIT`` ahead (less up to
    ``SPREAD_MIN`` minutes, by device id); ``now`` itself when the device must be judged at
    every tick (a wanderer outside its zone). ``th`` is the city's thresholds (the district's
    are picked here, as the rules do)."""
    local = th.for_region(facts.region_code)
    # Set back by (id mod SPREAD_MIN) minutes: devices judged together at one tick (after a
    # restart, a new threshold file) come back spread over that many ticks, not all at once.
    due = now + MAX_WAIT - timedelta(minutes=facts.device_id % SPREAD_MIN)
    # The earliest threshold still ahead, the cap first on a tie (as ``min`` picks); one pass,
    # no list: the tick works this out for every device it judges.
    for t in _thresholds(facts, th, local, now, readings):
        if t is not None and now <= t < due:
            due = t
    return due


def _thresholds(
    facts: DeviceFacts,
    th: Thresholds,
    local: Thresholds,
    now: datetime,
    readings: Sequence[Reading],
) -> Iterable[datetime | None]:
    yield from _silent(facts, local)
    kind = facts.type_code
    if kind == "smart_plug":
        yield from _plug(facts, th, local, now)
    elif kind == "phone_line":
        yield from _line(facts, th, local, readings)
    elif kind == "care_robot":
        yield from _robot(facts, local, readings)
    elif kind == "ai_call_line":
        yield from _ai_line(local, readings)
    elif kind == TYPE_WANDERER:
        yield from _wanderer(facts, local, now, readings)


def _silent(facts: DeviceFacts, th: Thresholds) -> Iterable[datetime | None]:
    """``device_silent``: past the timeout (관심), and the timeout plus ``risk_after_h`` of
    Anbu's own observation (위험). ``low_battery`` does not move with the clock."""
    since = quiet_since(facts, "device_silent", facts.last_seen_at)
    if since is None:
        return
    timeout = timedelta(seconds=heartbeat_timeout_s(facts, th))
    live = live_since(facts, "device_silent", facts.last_seen_at) or since
    yield since + timeout
    yield live + timeout + timedelta(hours=th.device_silent.risk_after_h)


def _plug(
    facts: DeviceFacts, th: Thresholds, local: Thresholds, now: datetime
) -> Iterable[datetime | None]:
    """``plug_no_change`` (the ladder from the clock and from Anbu's observation, the end of an
    away period, the hour the routine is loaded; the end of the plug's watch moves no stage by
    itself, ``rules.plug.watched_stage``) and ``plug_no_load`` (12 h at 0 W, 위험 a day later)."""
    if facts.away_until is not None:
        yield datetime.combine(facts.away_until, time(0), LOCAL_TZ)
    last = facts.last_activity_at
    if th.plug_routine.enabled and last is not None:
        yield last + routine_quiet(local)  # the tick loads the routine from then on
    if last is not None and facts.last_power_w is not None and facts.last_power_w <= NO_LOAD_W:
        yield last + timedelta(hours=NO_LOAD_H)
        yield last + timedelta(hours=NO_LOAD_H + local.device_silent.risk_after_h)
    person = person_activity(facts)  # the person's spell: their last sign of life on any plug
    since = quiet_since(facts, "plug_no_change", person)
    if since is None:
        return
    if th.plug_routine.enabled:
        # the level and stillness tests judge once the rule's own quiet spell has lasted
        # min_quiet_h: after a staff close that is later than the tick's loading time above
        yield since + timedelta(hours=local.plug_routine.min_quiet_h)
    live = live_since(facts, "plug_no_change", person)
    ladder = plug_ladder(facts.no_change_hours, local)
    steps = [timedelta(hours=hours) for hours in ladder]
    starts = {since, live or since}
    if facts.last_change_at is not None:  # the ladder's clock when the routine is scored
        starts.add(quiet_since(facts, "plug_no_change", max(facts.last_change_at, since)))
    for start in starts:
        for step in steps:
            yield start + step
    cfg = local.plug_routine
    alert = facts.plug_alert  # the open alert's steps from its first stage (plug.steps_stage)
    if cfg.enabled and alert is not None and alert[1] is not None and alert[0] == iso(since):
        for step in steps[1:]:
            yield alert[1] + step - steps[0]
    routine = facts.routine
    scored = (
        cfg.enabled
        and routine is not None
        and len(routine.reference_days) >= cfg.min_days
        and not no_load(facts)
    )
    if scored:  # the net, on the spell since the last sign of life: only with a usable routine
        delay = net_delay(routine, cfg, ladder)
        for hours in ladder:
            yield since + timedelta(hours=hours + delay)
    # The routine's score runs to the last report, not to the clock: it moves only while the
    # plug has no report yet or one stamped ahead of the clock.
    if scored and (facts.last_seen_at is None or facts.last_seen_at > now):
        yield now
    # The stillness test runs to the last report (a report clears the due time), but a report
    # stamped ahead of the clock lets the clock cross its thresholds: each stage's time.
    still_at = still_threshold(facts, cfg)
    if cfg.enabled and still_at is not None and facts.last_change_at is not None:
        changed = max(facts.last_change_at, since)
        for k in (1, 2, 4):
            yield changed + timedelta(hours=k * still_at)
    # The left-on test: each stage's time on the run above the ceiling (a report clears the
    # due time; one stamped ahead of the clock lets the clock cross them).
    # The band test likewise, on the plug's band.
    for clock in (on_clock, band_clock):
        found = clock(facts, local, ladder) if cfg.enabled else None
        if found is not None:
            start, stages = found
            for hours in stages:
                yield start + timedelta(hours=hours)
    # The level test runs to the last report, as the routine's score: between reports only the
    # nightly learning moves S, and both clear the due time; a report stamped ahead of the clock
    # past the next half-hour lets the clock bring its stored level into the score there.
    if cfg.enabled and cfg.level_enabled and facts.levels is not None:
        yield level_due(facts.last_seen_at, now)


def _line(
    facts: DeviceFacts, th: Thresholds, local: Thresholds, readings: Sequence[Reading]
) -> Iterable[datetime | None]:
    """``call_no_activity`` at its threshold (the habit's, loaded after ``min_quiet_h``), and
    each automatic-call result leaving the window the tick reads."""
    last = facts.last_activity_at
    if th.call_routine.enabled and last is not None:
        yield last + timedelta(hours=th.call_routine.min_quiet_h)
    since = quiet_since(facts, "call_no_activity", last)
    if since is not None:
        yield since + timedelta(hours=call_threshold_h(facts, local)[0])
    for r in readings:
        yield r.ts + RESULTS_LOOKBACK


def _robot(
    facts: DeviceFacts, th: Thresholds, readings: Sequence[Reading]
) -> Iterable[datetime | None]:
    """``robot_no_interaction`` at its threshold, and each SOS leaving ``sos_max_age_h``."""
    since = quiet_since(facts, "robot_no_interaction", facts.last_activity_at)
    if since is not None:
        yield since + timedelta(hours=th.robot.no_interaction_h)
    for r in readings:
        if r.type == "sos":
            yield r.ts + timedelta(hours=th.robot.sos_max_age_h)


def _ai_line(th: Thresholds, readings: Sequence[Reading]) -> Iterable[datetime | None]:
    """The AI-call rules read only results: each leaves the window the tick reads, and a
    concern stops counting after ``concern_max_age_h``."""
    for r in readings:
        yield r.ts + RESULTS_LOOKBACK
        if (r.data or {}).get("outcome") == "concern":
            yield r.ts + timedelta(hours=th.ai_call.concern_max_age_h)


def _wanderer(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading]
) -> Iterable[datetime | None]:
    """The geofence rules (``rules.wandering``): outside the zone, every tick; at home, the
    pending exit's dwell, the no-fix gap and the end of the heartbeat (``wander_no_fix`` asks
    whether the detector still reports)."""
    track = track_of(facts, th, now, readings)
    if track is None:
        return  # no zone or no fix: no geofence opinion until an event brings one
    if track.outside:
        yield now
        return
    yield track.exit_pending_at
    if track.newest_fix_at is not None:
        yield track.newest_fix_at + timedelta(hours=th.wandering.no_fix_inside_h)
    if facts.last_seen_at is not None:
        yield facts.last_seen_at + timedelta(seconds=facts.heartbeat_timeout_s)


def basis(th: Thresholds, timeouts: dict[str, int]) -> str:
    """A fingerprint of everything due times were computed with besides the facts: when it
    changes (thresholds edited, a device type's timeout), every stored due time is void."""
    text = repr(th) + repr(sorted(timeouts.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:32]
