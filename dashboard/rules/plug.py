"""Seoul smart plugs: no change in power and light for the person's no-change period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard.clock import seoul_midnight
from dashboard.detection import left_on
from dashboard.detection.background import ceiling
from dashboard.detection.band import band_start
from dashboard.detection.explain import explain_plug
from dashboard.detection.levels import (
    LevelModel,
    LevelScore,
    level_stage_rank,
    score_levels,
    supported,
)
from dashboard.detection.routine import QuietScore, Routine, score_quiet
from dashboard.detection.stillness import still_stage_rank, still_threshold_h
from dashboard.rules.clock import live_since, quiet_since
from dashboard.rules.config import PlugRoutine, Thresholds
from dashboard.rules.device import heartbeat_timeout_s
from dashboard.rules.model import Decision, DeviceFacts, Stage, hours_between, iso, worse
from dashboard.settings import LOCAL_TZ

RULE = "plug_no_change"
NO_LOAD_RULE = "plug_no_load"
NO_LOAD_W = 1.0  # a reading at or under this is "nothing plugged in / switched off at the wall"
LIVE_FLOOR_W = 5.0  # a home whose unattended load never drops under this always draws power
# How long 0 W must last before it is a device matter: longer than a sunny day's zero import
# on a home with solar panels (seen on real meters), shorter than the ladder's first stage.
NO_LOAD_H = 12.0


# A held ladder alert closes once the power moves this many margins from its level when the
# alert was raised (20 W at the 5 W margin: a standby's noise of 1.5 W never does).
LADDER_HOLD_MARGINS = 4.0


# The safety net waits for the home's own longest time between two signs of life in its
# window where that is longer than its usual ``net_delay_h``, but never runs more than this
# far behind the person's ladder (관심 at 72 h at the latest by default): a home whose
# signs of life are days apart (a whole-home meter whose background hides most of the person's
# use) raised the net at 48 h on every such gap (docs/detection.md, "The net waits for the
# home's longest gap").
NET_MAX_DELAY_H = 48.0


def net_delay(
    routine: Routine | None, cfg: PlugRoutine, ladder: tuple[float, float, float]
) -> float:
    """Hours the net runs behind the person's ladder on the spell since the last sign of life:
    ``net_delay_h``, or later so that its 관심 comes no sooner than the home's longest gap
    between two signs of life in the routine's window (``Routine.gap_h``), up to
    ``NET_MAX_DELAY_H``."""
    gap = routine.gap_h if routine is not None else None
    return float(net_wait(np.nan if gap is None else gap, cfg.net_delay_h, ladder[0]))


def net_wait(gap_h: float | np.ndarray, delay_h: float, first_h: float) -> np.ndarray:
    """:func:`net_delay` from the home's longest gap (hours; NaN: none recorded), elementwise
    for the 30-day preview's arrays (``detection.scan``)."""
    gap = np.asarray(gap_h, dtype=float)
    later = np.maximum(delay_h, np.minimum(gap - first_h, NET_MAX_DELAY_H))
    return np.where(np.isnan(gap), delay_h, later)


def plug_ladder(no_change_hours: float | None, th: Thresholds) -> tuple[float, float, float]:
    """(관심, 위험, 심각) hours for a person.

    The personal setting (24–50 h) moves the first signal; the later stages keep fixed steps
    after it (+12 h, +24 h by default) rather than scaling, so a person with a long setting is
    never left more than a day past their first signal before 심각.
    """
    cfg = th.plug_no_change
    first = cfg.default_hours if no_change_hours is None else float(no_change_hours)
    first = min(max(first, cfg.min_hours), cfg.max_hours)
    return first, first + cfg.risk_after_attention_h, first + cfg.severe_after_attention_h


def ladder_stage(hours: float, ladder: tuple[float, float, float]) -> Stage | None:
    attention, risk, severe = ladder
    if hours >= severe:
        return "severe"
    if hours >= risk:
        return "risk"
    if hours >= attention:
        return "attention"
    return None


def steps_stage(alerted_at: datetime, now: datetime, ladder: tuple[float, float, float]) -> Stage:
    """The stage an alert first raised at ``alerted_at`` has reached on the ladder's steps
    after its first stage (위험 ``risk_after_attention_h`` and 심각 ``severe_after_attention_h``
    later, 12 h and 24 h by default), while its quiet spell goes on: whatever test raised it,
    a person is never left more than those steps past their first signal (``plug_ladder``)."""
    return ladder_stage(ladder[0] + max(0.0, hours_between(alerted_at, now)), ladder) or "attention"


def line_held(band_since: datetime | None, alerted_at: datetime) -> bool:
    """Whether the power has stayed within its band (``plug_routine.band_w``, 100 W: a
    fridge's swing fits, a person's kettle or cooker does not; ``detection.band``) since the
    spell's first alert: the steps and the holds of the routine and the net ask it, so a person
    back in a home whose learned background hides their use is not raised nor held for weeks
    (a whole-home meter drawing 50-3,000 W a day kept a routine 심각 open 72 days without it)."""
    return band_since is not None and band_since <= alerted_at


def alert_steps(evidence: dict, now: datetime) -> Stage | None:
    """:func:`steps_stage` from an open alert's stored evidence (its ``alerted_at`` and
    ladder), for the lifecycle's held alerts; None where the evidence lacks them."""
    at, ladder = evidence.get("alerted_at"), evidence_ladder(evidence)
    if not at or ladder is None:
        return None
    return steps_stage(datetime.fromisoformat(at), now, ladder)


def evidence_ladder(evidence: dict) -> tuple[float, float, float] | None:
    """The person's ladder an alert was written with (``threshold_h``, ``risk_at_h``,
    ``severe_at_h``), or None."""
    hours = (evidence.get("threshold_h"), evidence.get("risk_at_h"), evidence.get("severe_at_h"))
    return None if None in hours else tuple(float(h) for h in hours)


def routine_stage(score: QuietScore, cfg: PlugRoutine) -> Stage | None:
    """The stage a quiet spell's score reaches (docs/detection.md)."""
    if score.quiet_h < cfg.min_quiet_h or score.share < cfg.min_share:
        return None
    if score.expected >= cfg.severe_slots:
        return "severe"
    if score.expected >= cfg.risk_slots:
        return "risk"
    if score.expected >= cfg.attention_slots:
        return "attention"
    return None


def no_load(facts: DeviceFacts) -> bool:
    """The plug reads 0 W in a home whose unattended load never does: the appliance was
    unplugged or switched off at the wall, so the plug cannot see the person (a device matter)."""
    bg = facts.routine.background if facts.routine is not None else None
    return (
        bg is not None
        and bg.low_w >= LIVE_FLOOR_W
        and facts.last_power_w is not None
        and facts.last_power_w <= NO_LOAD_W
    )


def plug_no_load(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """A device fault ticket once the plug has read 0 W for ``NO_LOAD_H`` (12 h) in a home
    that always draws power, 위험 after ``device_silent.risk_after_h`` (24 h) more, as a silent
    plug's: the person is unobserved, and this ticket is the only alert the plug raises then
    (:func:`watched_until`). Clears when power returns."""
    if facts.type_code != "smart_plug" or facts.last_power_w is None:
        return None
    evidence = {"power_w": facts.last_power_w, "since": iso(facts.last_activity_at)}
    if facts.last_power_w > NO_LOAD_W:
        return Decision(NO_LOAD_RULE, None, evidence)
    if not no_load(facts) or facts.last_activity_at is None:
        return None  # no background to judge by yet: no opinion
    evidence["floor_w"] = round(facts.routine.background.low_w, 1)
    hours = hours_between(facts.last_activity_at, now)
    risk_h = NO_LOAD_H + th.device_silent.risk_after_h
    evidence["risk_at_h"] = risk_h
    stage = "risk" if hours >= risk_h else "attention" if hours >= NO_LOAD_H else None
    return Decision(NO_LOAD_RULE, stage, evidence)


def watched_until(facts: DeviceFacts, th: Thresholds, now: datetime, since: datetime) -> datetime:
    """Up to when the plug watched the person: ``now``, or for a plug that stopped reporting
    its last report plus the heartbeat timeout, or for a plug at 0 W in a home that always
    draws power the moment it dropped there. Neither is a person's quiet but a device fault
    (``device_silent``, ``plug_no_load``), which escalates as the person goes unobserved; the
    ladder opens a person alert only on quiet it watched (issue #9: "an unplugged or dead
    device: a device fault, not a person alert"), and keeps the clock of one it opened."""
    end = now
    if facts.last_seen_at is not None:
        end = min(end, facts.last_seen_at + timedelta(seconds=heartbeat_timeout_s(facts, th)))
    if no_load(facts):
        end = min(end, dropped_at(facts, since))
    return end


def dropped_at(facts: DeviceFacts, since: datetime) -> datetime:
    """When a plug now at 0 W dropped there: its last change beyond the margins (the drop
    itself), or the last sign of life if that is later."""
    return max(since, facts.last_change_at or since)


def watched_stage(
    start: datetime, until: datetime, now: datetime, ladder: tuple[float, float, float]
) -> Stage | None:
    """The ladder's stage on the spell from ``start``: none unless it reached 관심 by ``until``
    (:func:`watched_until`), and then its stage at ``now``."""
    if ladder_stage(hours_between(start, until), ladder) is None:
        return None
    return ladder_stage(hours_between(start, now), ladder)


LEVEL_STAGES: tuple[Stage | None, ...] = (None, "attention", "risk", "severe")


# What a level-based alert's evidence holds beyond every plug decision's keys (its sentence's).
LEVEL_SENTENCE_KEYS = ("level_h", "level_above_days", "level_days", "level_day_kind", "level_until")


def _level_window(model: LevelModel, level: LevelScore, until: datetime) -> tuple[int, int, bool]:
    """(reference days above the night level at some half-hour of the clock window
    ``level_since`` … the last report, reference days of that kind, a weekend): what the
    sentence quotes and the stage needs (:func:`level_supported`)."""
    start = (level.since or until).astimezone(LOCAL_TZ)
    end = until.astimezone(LOCAL_TZ)
    slots = max(1, int((end - start).total_seconds() // 1800) + 1)
    weekend = end.weekday() >= 5
    above, days = model.above_days(weekend, start.hour * 2 + start.minute // 30, slots)
    return above, days, weekend


def level_supported(model: LevelModel, level: LevelScore, until: datetime) -> bool:
    """Whether the sentence a level stage would carry supports it (``levels.supported``)."""
    return supported(*_level_window(model, level, until)[:2])


def level_evidence(model: LevelModel, level: LevelScore, until: datetime, h: float) -> dict:
    """What the level alert's sentence quotes: on how many of the home's reference days of
    this kind (weekdays or weekends, or all days) it was above its night level at some
    half-hour of the same clock window (``level_since`` to the last report)."""
    above, days, weekend = _level_window(model, level, until)
    kind = ("weekend" if weekend else "weekday") if model.split else "day"
    return dict(zip(LEVEL_SENTENCE_KEYS, (h, above, days, kind, iso(until)), strict=True))


STILL_EVIDENCE_KEYS = ("still_longest_h", "still_at_h", "still_run_h", "still_window_days")


def still_threshold(facts: DeviceFacts, cfg: PlugRoutine) -> float | None:
    """Hours without a change beyond the margins at which the stillness test reaches 관심 for
    this plug (None: the test is off, or the routine has no still record yet)."""
    routine = facts.routine
    if not (cfg.still_enabled and routine is not None and routine.still_h is not None):
        return None
    return float(still_threshold_h(routine.still_h, cfg.still_factor, cfg.still_min_h))


ON_EVIDENCE_KEYS = (
    "on_longest_h",
    "on_at_h",
    "on_run_h",
    "on_since",
    "on_window_days",
    "on_top_w",
)


def on_threshold(facts: DeviceFacts, th: Thresholds) -> float | None:
    """Hours above the background's ceiling at which the left-on test reaches 관심 for this
    plug (None: the test is off, the routine has no record of such runs yet, or the plug's
    unattended load is not a standby)."""
    cfg, margin_w = th.plug_routine, th.plug_no_change.power_margin_w
    routine = facts.routine
    if not (cfg.on_enabled and routine is not None and routine.on_h is not None):
        return None
    if not left_on.judges(routine.background, margin_w):
        return None  # not a standby: a whole-home meter (detection.left_on.STANDBY_MAX_W)
    return float(still_threshold_h(routine.on_h, cfg.on_factor, cfg.on_min_h))


def on_clock(
    facts: DeviceFacts, th: Thresholds, ladder: tuple[float, float, float]
) -> tuple[datetime, tuple[float, float, float]] | None:
    """(from when, hours to 관심/위험/심각) the left-on test judges the plug's run by: the
    run's start with T, 2T and 4T (:func:`on_threshold`); or a staff close during the run, from
    which it is judged again not before the person's ladder (``ladder``) and with the ladder's
    steps after its first stage. None: no run, or the test does not judge the plug."""
    return _run_clock(facts, facts.above_since, on_threshold(facts, th), ladder)


def _run_clock(
    facts: DeviceFacts, start: datetime | None, at: float | None, ladder: tuple[float, float, float]
) -> tuple[datetime, tuple[float, float, float]] | None:
    """A run's test clock (the left-on run, the band): from its start at T, 2T, 4T; or, after a
    staff close during the run, from the close, not before the person's ladder."""
    if start is None or at is None:
        return None
    other = seen_elsewhere(facts)
    if other is not None and other > start:
        # the person seen on another of their plugs, or back from an away period, since the
        # run began: it counts from then
        start = other
    checked = facts.human_closed_at.get(RULE)
    if checked is not None and checked > start:
        # Staff closed this rule's alert during the run (the person answered, the TV on): a
        # collapse later in the same run is still caught, 심각 by the ladder's 48 h after the
        # close (4T from it would be 96 h), and a heater a living person keeps on is asked
        # about at most once a day.
        first = max(at, ladder[0])
        return checked, (first, first + ladder[1] - ladder[0], first + ladder[2] - ladder[0])
    return start, (at, 2 * at, 4 * at)


def _run_stage(
    clock: tuple[datetime, tuple[float, float, float]] | None, observed: datetime
) -> tuple[float | None, Stage | None]:
    """(hours to 관심, the stage) of a run test (left on, band) on its clock, up to the last
    report; (None, None) when it does not judge the plug."""
    if clock is None:
        return None, None
    start, stages = clock
    judged_h = hours_between(start, observed) if observed > start else 0.0
    return stages[0], LEVEL_STAGES[sum(judged_h >= h for h in stages)]


BAND_EVIDENCE_KEYS = (
    "band_longest_h",
    "band_at_h",
    "band_run_h",
    "band_since",
    "band_window_days",
    "band_w",
    "band_low_w",
    "band_high_w",
    "band_gap_h",
    "band_left_out_h",
)


def band_threshold(facts: DeviceFacts, cfg: PlugRoutine) -> float | None:
    """Hours within the band at which the band test reaches 관심 for this plug (None: the test
    is off, or the routine has no record of the plug's band yet)."""
    routine = facts.routine
    if not (cfg.band_enabled and routine is not None and routine.band_h is not None):
        return None
    return float(still_threshold_h(routine.band_h, cfg.band_factor, cfg.band_min_h))


def band_clock(
    facts: DeviceFacts, th: Thresholds, ladder: tuple[float, float, float]
) -> tuple[datetime, tuple[float, float, float]] | None:
    """(from when, hours to 관심/위험/심각) the band test judges the plug's band by, as
    :func:`on_clock` does its run; None: no band, or the test does not judge the plug. Not at
    0 W (a device matter, ``no_load``)."""
    if no_load(facts):
        return None
    start = band_start(facts.band_since, facts.band_gap_h)  # its hours without reports left out
    return _run_clock(facts, start, band_threshold(facts, th.plug_routine), ladder)


def _later_of(a: datetime | None, b: datetime | None) -> datetime | None:
    return b if b is not None and (a is None or b > a) else a


def back_at(facts: DeviceFacts) -> datetime | None:
    """Midnight (Seoul) of the return date of the person's latest away period that has ended
    (``back_on``), where the person's spell counts from it; None where it does not: the
    person was seen after the period's first day, the day they left (back early: their last
    sign of life counts, a day sooner), or an alert of theirs is open on a spell from before
    it (it stays for a person to close; counted from the return, it would close as safe)."""
    if facts.back_on is None:
        return None
    back = seoul_midnight(facts.back_on).astimezone(UTC)  # UTC, as every spell start
    last = _later_of(facts.last_activity_at, facts.person_active_at)
    left = facts.left_on
    if left is not None and last is not None and last >= seoul_midnight(left + timedelta(days=1)):
        return None  # seen after the day they left
    alert = facts.plug_alert
    if alert is not None and alert[0] is not None and datetime.fromisoformat(alert[0]) < back:
        return None
    return back


def seen_elsewhere(facts: DeviceFacts) -> datetime | None:
    """The latest moment the person counts as seen other than by this plug: a sign of life on
    another of their plugs (``person_active_at``, ``rules.household``) or their return from an
    away period (:func:`back_at`)."""
    return _later_of(facts.person_active_at, back_at(facts))


def person_activity(facts: DeviceFacts) -> datetime | None:
    """The person's last sign of life as this plug judges it: its own, or a later one
    elsewhere (:func:`seen_elsewhere`). A person with two plugs is quiet only while both are: a
    TV left unused while the kettle on the other plug is used every morning says nothing about
    the person. A person marked away is judged from their return date, not from the last sign
    of life before they left: the spell then would raise 심각 at midnight of the day they are
    due back."""
    return _later_of(facts.last_activity_at, seen_elsewhere(facts))


def own_later(last: datetime | None, other: datetime | None, facts: DeviceFacts) -> bool:
    """Whether the person's spell (from ``last``) counts from ``other`` rather than from this
    plug's own last sign of life."""
    return other is not None and last == other and last != facts.last_activity_at


def is_away(facts: DeviceFacts, now: datetime) -> bool:
    """Staff marked the person away and the return date has not come."""
    return facts.away_until is not None and now.astimezone(LOCAL_TZ).date() < facts.away_until


def plug_no_change(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """관심/위험/심각 from the home's routine, or after the person's ladder at the latest.

    A sign of life is a power change that departs from the home's unattended load
    (``detection.background``, applied by ingestion) or a light change. The routine score
    (``detection.routine``) raises a stage as soon as the quiet is unusual for this home at this
    time; the fixed ladder stays as a floor, so nothing it catches is missed. While staff have
    marked the person away the rule holds no opinion (an open alert stays for a person to close).

    ``last_activity_at`` is the last power or lux change beyond the margins (kept by ingestion).
    A plug that stopped reporting, or reads 0 W in a home that always draws power, opens no
    person alert: that is a device fault (``device_silent``, ``plug_no_load``), which escalates
    as the person goes unobserved; an alert opened on quiet the plug watched keeps its clock
    (:func:`watched_until`). When the quiet time reaches into
    history received later (a back-fill), it can open 관심 at once but 위험 and 심각 count only
    the time Anbu has been observing the plug (``dashboard.rules.clock``).
    """
    if facts.type_code != "smart_plug" or is_away(facts, now):
        return None
    # The person's spell: from their last sign of life on any of their plugs.
    last = person_activity(facts)
    since = quiet_since(facts, RULE, last)
    if since is None:
        return None
    quiet_h = hours_between(since, now)
    ladder = plug_ladder(facts.no_change_hours, th)
    live = live_since(facts, RULE, last)
    backfilled = live is not None and live > since
    cfg = th.plug_routine
    routine = facts.routine
    usable = routine is not None and len(routine.reference_days) >= cfg.min_days
    scored = cfg.enabled and usable and not backfilled
    # The ladder's clock: the fixed rule's own (the last change beyond the margins), so the
    # floor is exactly the fixed rule; a spell that is long only because the background hides
    # a cycling fridge is the routine's to judge. A young plug (fewer than min_days days
    # reported) has no routine yet: there the ladder keeps the background's spell, the only
    # net for a home whose appliances never stop cycling. On an older home with too few active
    # days for a routine, the background explains nearly everything and its spell runs for
    # weeks: a ladder on it would stand open whatever the person does (docs/detection.md).
    young = routine is None or len(routine.days) < cfg.min_days
    fixed_clock = cfg.enabled and not backfilled and not no_load(facts) and not young
    floor_since = since
    if fixed_clock and facts.last_change_at is not None:
        # Not backfilled, so Anbu observed the plug all along: no separate later-stage clock.
        floor_since = quiet_since(facts, RULE, max(facts.last_change_at, since))
    # The ladder on the sign-of-life spell although the line moved beyond the margins since
    # (a young plug beside a cycling fridge, a back-fill): "no change in power" would be false
    # (a new whole-home meter swinging 300-5,800 W was told so), so the evidence names the
    # real last change and the sentence says only the unattended load changed.
    unattended = (
        floor_since == since and facts.last_change_at is not None and facts.last_change_at > since
    )
    changed = facts.last_change_at if unattended else floor_since
    score = None
    # Only the time the plug watched counts: a plug gone silent, or at 0 W in a home that
    # always draws power, is a device fault (device_silent, plug_no_load), not hours of a
    # person's inactivity; the tests judge up to its last report, or up to the drop to 0 W.
    observed = min(now, facts.last_seen_at or now)
    if no_load(facts):
        observed = min(observed, dropped_at(facts, since))
    if scored and observed > since:
        score = score_quiet(routine, since, observed, LOCAL_TZ, cfg.min_share)
    by_routine = routine_stage(score, cfg) if score is not None else None
    # The level test (detection.levels): the same conditions as the routine's score (not a
    # young plug, no back-fill) and its own model; up to the last report (or the drop to 0 W).
    level = None
    # Only once the quiet has lasted min_quiet_h: the condition the tick loads the levels on.
    levels_on = cfg.enabled and cfg.level_enabled and facts.levels is not None
    if levels_on and quiet_h >= cfg.min_quiet_h and not (backfilled or young):
        # From the last sign of life: a run of S from before it says nothing about this spell.
        level = score_levels(facts.levels.model, facts.levels.days, observed, LOCAL_TZ, since)
    by_level = LEVEL_STAGES[level_stage_rank(level.s, cfg.level_h)] if level else None
    if by_level is not None and not level_supported(facts.levels.model, level, observed):
        by_level = None  # its sentence would undercut it: "on 0 of its last 14 weekdays"
    # Unusual stillness (detection.stillness): the fixed rule's own spell, up to the last
    # report, against the home's longest still run; under the level test's conditions (a
    # home whose background explains nearly everything has no usable routine, but a record).
    still_on = fixed_clock and facts.last_change_at is not None and quiet_h >= cfg.min_quiet_h
    # A line unchanged since staff closed this rule's alert: they saw why it is flat (a device
    # matter, a fridge unplugged); stillness waits for the line to move and stop again, and
    # until then the ladder's full period decides (docs/detection.md).
    checked = facts.human_closed_at.get(RULE)
    if checked is not None and facts.last_change_at is not None:
        still_on = still_on and facts.last_change_at > checked
    still_at = still_threshold(facts, cfg) if still_on else None
    still_run_h = hours_between(floor_since, observed) if observed > floor_since else 0.0
    by_still = LEVEL_STAGES[int(still_stage_rank(still_run_h, still_at))] if still_at else None
    # A load left on (detection.left_on): the run above the ceiling, up to the last report,
    # against the home's longest; not on the quiet spell (a flickering TV or a compressor
    # moves the line at every reading, and each move counts as a sign of life).
    on_since = facts.above_since
    runs_judged = cfg.enabled and not (backfilled or young)
    on_at, by_on = _run_stage(on_clock(facts, th, ladder) if runs_judged else None, observed)
    on_run_h = hours_between(on_since, observed) if on_at and observed > on_since else 0.0
    # A line held in a narrow band (detection.band): the band's time, up to the last report,
    # against the home's longest; not on the quiet spell (each fridge cycle inside the band may
    # count as a sign of life).
    band_since = facts.band_since
    band_at, by_band = _run_stage(band_clock(facts, th, ladder) if runs_judged else None, observed)
    counted = band_start(band_since, facts.band_gap_h)
    band_run_h = hours_between(counted, observed) if band_at and observed > counted else 0.0
    # Silence and 0 W open no person alert (a device fault does): the ladder and the net open
    # only on the spell the plug watched (``watched_until``), unless a test judged that spell
    # unusual already; an alert open either way keeps their clock, as the person is unwatched.
    tested = any(by is not None for by in (by_routine, by_level, by_still, by_on, by_band))
    until = now if tested else watched_until(facts, th, now, since)
    stage, basis = watched_stage(floor_since, until, now, ladder), "ladder"
    net_h = net_delay(routine, cfg, ladder) if floor_since != since and usable else None
    if net_h is not None:
        # The net: the same ladder, net_delay_h (or the home's longest gap: net_delay) later,
        # on the spell since the last sign of life, for a home whose routine never becomes sure
        # enough to raise (a cycling fridge beside a person active on most days, too
        # irregularly for the score). Only with a usable
        # routine: a home with fewer than min_days active days in the window is one whose
        # background hides the person, and its spell since the last sign of life runs for days
        # to weeks whatever the person does (docs/detection.md, "The net").
        net = watched_stage(since + timedelta(hours=net_h), until, now, ladder)
        if net is not None and worse(stage, net) != stage:
            stage, basis = net, "net"
    if stage is not None and backfilled:
        stage = ladder_stage(hours_between(live, now), ladder) or "attention"
    evidence = {
        # the plug whose tests this is (a person may have several: rules.household)
        "plug_device_id": facts.device_id,
        "no_change_hours": round(quiet_h, 1),
        "threshold_h": ladder[0],
        "risk_at_h": ladder[1],
        "severe_at_h": ladder[2],
        "last_activity_at": iso(facts.last_activity_at),
        # the person's last sign of life on another of their plugs (rules.household), and
        # their return from an away period where the spell counts from it
        "other_plug_at": iso(facts.person_active_at),
        "back_on": facts.back_on.isoformat() if own_later(last, back_at(facts), facts) else None,
        "since": iso(since),
        # The last change beyond the margins: the ladder's clock unless ``ladder_clock`` is
        # "activity" (docs/detection.md).
        "change_since": iso(changed),
        "change_hours": round(hours_between(changed, now), 1),
        "ladder_clock": "activity" if unattended else "change",
        # the test that holds the alert open, as the lifecycle keeps it (lifecycle._holding):
        # None here, so an alert written with or without one has the same keys
        "held_by": None,
        "power_w": facts.last_power_w,
        "lux": facts.last_lux,
        "last_seen_at": iso(facts.last_seen_at),
    }
    # The ladder on the fixed rule's clock restarts at any change beyond the margins, a
    # standby's noise or a fridge cycle, none a sign of life: an alert it raises is held until
    # one (rules.lifecycle), as the tests on a run are, or until the line leaves the level it
    # held when the alert was raised (the person back in a home whose background, a heater's
    # range at night, hides their use: a review's replay held one 24 days). None: not held.
    # A young plug's ladder (on the sign-of-life spell) too: when the plug comes of age its
    # ladder moves to the fixed rule's clock, and an alert raised while young closed there
    # without a sign of life (a collapse's 심각 closed as safe).
    on_line = stage is not None and cfg.enabled and not backfilled and not no_load(facts)
    evidence["ladder_w"] = facts.last_power_w if on_line else None
    evidence["ladder_band_w"] = (
        LADDER_HOLD_MARGINS * th.plug_no_change.power_margin_w if on_line else None
    )
    if backfilled:
        evidence["observed_since"] = iso(live)
    # One evidence shape whether or not the routine was scored (None: not scored).
    evidence |= score.evidence() if score is not None else dict.fromkeys(QuietScore.EVIDENCE_KEYS)
    evidence |= level.evidence() if level is not None else dict.fromkeys(LevelScore.EVIDENCE_KEYS)
    evidence |= (
        {
            "still_longest_h": routine.still_h,
            "still_at_h": round(still_at, 2),
            "still_run_h": round(still_run_h, 1),
            "still_window_days": cfg.window_days,
        }
        if still_at
        else dict.fromkeys(STILL_EVIDENCE_KEYS)
    )
    evidence |= (
        {
            "on_longest_h": routine.on_h,
            "on_at_h": round(on_at, 2),
            "on_run_h": round(on_run_h, 1),
            "on_since": iso(on_since),
            "on_window_days": cfg.window_days,
            # the standby's top the run was judged against: the hold's line (lifecycle)
            "on_top_w": round(ceiling(routine.background, th.plug_no_change.power_margin_w), 1),
        }
        if on_at
        else dict.fromkeys(ON_EVIDENCE_KEYS)
    )
    evidence |= (
        {
            "band_longest_h": routine.band_h,
            "band_at_h": round(band_at, 2),
            "band_run_h": round(band_run_h, 1),
            "band_since": iso(band_since),
            "band_window_days": cfg.window_days,
            "band_w": cfg.band_w,
            "band_low_w": facts.band_low_w,
            "band_high_w": facts.band_high_w,
            "band_gap_h": round(facts.band_gap_h or 0.0, 1),
            "band_left_out_h": routine.band_left_out_h,
        }
        if band_at
        else dict.fromkeys(BAND_EVIDENCE_KEYS)
    )
    final = stage
    for other in (by_routine, by_level, by_still, by_on, by_band):
        final = worse(final, other)
    # The ladder's steps from the spell's first signal (steps_stage): a test that raised 관심
    # early (the routine, the level) may never reach 심각 itself, and the ladder's own clock
    # restarts at a fridge cycle or a standby's noise; 위험 12 h and 심각 24 h after the first
    # stage while no sign of life comes and the line stays in its band (line_held). Only on
    # the quiet spell's tests (a run left on or held in its band lasts through signs of life),
    # not on the fixed rule alone (enabled = false gives it back exactly) nor on a back-fill
    # (its later stages count Anbu's observation only).
    quiet_stage = stage
    for other in (by_routine, by_level, by_still):
        quiet_stage = worse(quiet_stage, other)
    stepped = None
    if final is not None:  # one evidence shape for every alert (None: no steps)
        evidence["alerted_at"] = evidence["steps_apply"] = None
    if quiet_stage is not None and cfg.enabled and not backfilled:
        alert = facts.plug_alert
        kept = alert[1] if alert is not None and alert[0] == iso(since) else None
        alerted_at = kept or now
        evidence["alerted_at"] = iso(alerted_at)
        # whether the steps apply (the chart draws their times only then: ui.alert_charts)
        evidence["steps_apply"] = line_held(facts.band_since, alerted_at)
        if evidence["steps_apply"]:
            stepped = steps_stage(alerted_at, now, ladder)
    if final is not None:
        evidence["basis"] = basis if final == stage else "routine"
        if final not in (stage, by_routine):
            tests = (("level", by_level), ("still", by_still), ("on", by_on), ("band", by_band))
            evidence["basis"] = next(name for name, by in tests if by == final)
        if worse(final, stepped) != final:
            final, evidence["basis"] = stepped, "steps"
        if evidence["basis"] == "level":
            evidence |= level_evidence(facts.levels.model, level, observed, cfg.level_h)
        if evidence["basis"] == "net":
            evidence["net_delay_h"] = net_h
            # why it waited longer than usual: the home's own longest gap (the sentence says)
            later = net_h > cfg.net_delay_h
            evidence["net_gap_h"] = round(routine.gap_h, 1) if later else None
            evidence["net_window_days"] = cfg.window_days if later else None
        evidence["scored_at"] = iso(now)
        evidence["explanation"] = explain_plug(evidence, "en")
    return Decision(RULE, final, evidence)
