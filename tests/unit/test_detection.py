"""Routine-aware plug detection: the background, the routine score, the floor guarantee and the
whole path (ingest → daily learning → silence tick) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.db.schema import Alert, DeviceDaily, DeviceRoutine
from dashboard.detection import levels
from dashboard.detection.background import Background, departs, learn_background
from dashboard.detection.explain import explain_plug
from dashboard.detection.learning import learn_routines
from dashboard.detection.levels import LevelFacts
from dashboard.detection.routine import Routine, learn_routine, score_quiet, slot_of
from dashboard.ingest import ingest_events
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick
from dashboard.rules.model import STAGE_RANK, Decision, DeviceFacts
from dashboard.rules.plug import (
    ladder_stage,
    plug_ladder,
    plug_no_change,
    plug_no_load,
    routine_stage,
)
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

TH = Thresholds()
FRIDGE = Background(low_w=40.0, high_w=130.0, step_w=90.0, nights=14)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def bits(first_slot: int, last_slot: int) -> int:
    """Activity in every half-hour from ``first_slot`` to ``last_slot`` inclusive."""
    return sum(1 << j for j in range(first_slot, last_slot + 1))


# 07:30–22:00 every day: slots 15..43
DAYTIME = bits(15, 43)
TODAY = date(2026, 11, 30)  # a Monday


def daily_routine(days: int = 28, pattern: int = DAYTIME) -> Routine:
    return learn_routine(
        {TODAY - timedelta(days=k): pattern for k in range(1, days + 1)}, TODAY, background=FRIDGE
    )


# --- the background -------------------------------------------------------------------------


def test_without_a_background_the_margin_alone_decides():
    assert departs(50, 56, 5, None) and not departs(50, 54, 5, None)


def test_a_cycling_fridge_inside_the_background_is_not_a_sign_of_life():
    assert not departs(45, 125, 5, FRIDGE)  # compressor on
    assert not departs(125, 45, 5, FRIDGE)  # and off


def test_switching_an_appliance_on_or_off_crosses_the_ceiling():
    assert departs(120, 400, 5, FRIDGE)  # TV on
    assert departs(400, 120, 5, FRIDGE)  # TV off


def test_flicker_of_an_appliance_left_on_is_not_a_sign_of_life():
    assert not departs(400, 420, 5, FRIDGE)


def test_a_step_larger_than_any_night_step_is_a_sign_of_life():
    wide = Background(low_w=40, high_w=2500, step_w=300, nights=10)  # electric heating
    assert departs(500, 2000, 5, wide) and not departs(500, 700, 5, wide)


def test_unplugging_the_fridge_drops_below_the_floor():
    assert departs(60, 0, 5, FRIDGE)


def test_below_the_night_floor_the_margin_alone_decides():
    """A storage heater on a night timer (4–6 kW from 00:00 to 07:00) sets the night floor at
    4 kW: in the day the home runs below it, where the nights say nothing, so a kettle counts."""
    heater = Background(low_w=4000, high_w=6000, step_w=2500, nights=20)
    assert departs(300, 1000, 5, heater)
    assert not departs(300, 303, 5, heater)  # still nothing within the margin
    assert not departs(4500, 5500, 5, heater)  # the heater's own cycling at night


def test_background_needs_three_nights_and_ignores_an_odd_night():
    assert learn_background([(40, 120, 80), (41, 125, 82)]) is None
    nights = [(40, 120, 80)] * 9 + [(45, 2000, 1900)]  # one night someone was up
    bg = learn_background(nights)
    assert bg is not None and bg.nights == 10
    assert bg.low_w == 40 and bg.high_w < 400 and bg.step_w < 400


@given(
    st.lists(st.floats(0, 3000, allow_nan=False), min_size=2, max_size=60),
    st.floats(0, 500),
    st.floats(0, 2500),
    st.floats(0, 1000),
)
@settings(max_examples=300, deadline=None)
def test_every_routine_aware_sign_of_life_is_one_for_the_fixed_rule(watts, low, high, step):
    """The floor guarantee's first half: the background only removes signs of life, so the
    quiet spell under it starts no later than the fixed rule's."""
    bg = Background(low_w=min(low, high), high_w=max(low, high), step_w=step, nights=5)
    for previous, new in pairwise(watts):
        if departs(previous, new, 5.0, bg):
            assert departs(previous, new, 5.0, None)


# --- the routine score ----------------------------------------------------------------------


def score_at(routine: Routine, since: datetime, now: datetime):
    return score_quiet(routine, since.astimezone(UTC), now.astimezone(UTC), LOCAL_TZ)


def test_a_quiet_night_is_normal():
    routine = daily_routine()
    score = score_at(routine, local(TODAY - timedelta(days=1), 22, 10), local(TODAY, 6, 0))
    assert score.share == 0 and routine_stage(score, TH.plug_routine) is None


def test_no_activity_by_ten_for_someone_up_every_day_at_half_past_seven():
    routine = daily_routine()
    since = local(TODAY - timedelta(days=1), 22, 10)
    at_ten = score_at(routine, since, local(TODAY, 10, 0))
    assert at_ten.share == pytest.approx(1.0) and at_ten.active_days == 28
    # normally back by 07:30; 08:00, 08:30, 09:00 and 09:30 missed since then
    assert at_ten.expected == pytest.approx(4.0)
    assert routine_stage(at_ten, TH.plug_routine) == "attention"
    # docs/detection.md: 관심 at 09:30 (three missed: 2.5 reached), 위험 at 11:00, 심각 at 14:00
    assert routine_stage(score_at(routine, since, local(TODAY, 9, 29)), TH.plug_routine) is None
    assert routine_stage(score_at(routine, since, local(TODAY, 9, 30)), TH.plug_routine) == (
        "attention"
    )
    assert routine_stage(score_at(routine, since, local(TODAY, 10, 59)), TH.plug_routine) == (
        "attention"
    )
    assert routine_stage(score_at(routine, since, local(TODAY, 11, 0)), TH.plug_routine) == "risk"
    assert routine_stage(score_at(routine, since, local(TODAY, 14, 0)), TH.plug_routine) == (
        "severe"
    )


def test_one_late_morning_in_four_weeks_sets_when_the_home_is_normally_back():
    days = {TODAY - timedelta(days=k): DAYTIME for k in range(1, 29)}
    days[TODAY - timedelta(days=2)] = bits(22, 43)  # up at 11:00 that day
    routine = learn_routine(days, TODAY)
    since = local(TODAY - timedelta(days=1), 22, 10)
    score = score_at(routine, since, local(TODAY, 10, 0))
    assert score.active_days == 27 and score.days == 28
    assert routine_stage(score, TH.plug_routine) is None  # a recent late morning: not yet
    # normally back by 11:00: 11:30, 12:00 and 12:30 missed by 13:00 (관심 at 2.5)
    assert TH.plug_routine.attention_slots == 2.5
    assert routine_stage(score_at(routine, since, local(TODAY, 12, 30)), TH.plug_routine) is None
    assert routine_stage(score_at(routine, since, local(TODAY, 13, 0)), TH.plug_routine)


def test_the_score_only_grows_during_one_quiet_spell():
    routine = daily_routine()
    since = local(TODAY, 8, 40)
    previous = None
    for minutes in range(0, 30 * 60, 10):
        stage = routine_stage(
            score_at(routine, since, since + timedelta(minutes=minutes)), TH.plug_routine
        )
        rank = STAGE_RANK.get(stage or "", 0)
        assert previous is None or rank >= previous
        previous = rank


def test_a_week_away_does_not_teach_the_model_that_silence_is_normal():
    days = {TODAY - timedelta(days=k): DAYTIME for k in range(1, 29)}
    for k in range(3, 10):
        days[TODAY - timedelta(days=k)] = 0  # away: no activity at all
    routine = learn_routine(days, TODAY)
    assert len(routine.reference_days) == 21
    score = score_at(routine, local(TODAY - timedelta(days=1), 22, 10), local(TODAY, 10, 0))
    assert score.share == pytest.approx(1.0)


def test_an_irregular_home_is_not_alerted_for_a_quiet_morning():
    days = {}
    for k in range(1, 29):
        # active mornings on only two days in three
        days[TODAY - timedelta(days=k)] = DAYTIME if k % 3 else bits(30, 43)
    routine = learn_routine(days, TODAY)
    score = score_at(routine, local(TODAY - timedelta(days=1), 22, 10), local(TODAY, 11, 0))
    assert score.share < TH.plug_routine.min_share
    assert routine_stage(score, TH.plug_routine) is None


def test_routine_round_trips_through_json():
    routine = daily_routine()
    again = Routine.from_json(routine.to_json())
    assert again.days == routine.days and again.background == routine.background
    assert again.slot_probability(TODAY, 20) == routine.slot_probability(TODAY, 20)


def test_slot_of_local_times():
    assert slot_of(local(TODAY, 0, 0)) == 0 and slot_of(local(TODAY, 7, 30)) == 15
    assert slot_of(local(TODAY, 23, 59)) == 47


# --- the rule: routine over the ladder, the floor, away, the sentence ------------------------


def plug_facts(
    last_activity: datetime,
    routine: Routine | None = None,
    installed: datetime | None = None,
    **kw,
) -> DeviceFacts:
    # A plug reported when its line last changed (else it reads as gone silent before it);
    # installed 60 days before TODAY unless ``installed`` says when.
    seen = max(local(TODAY, 9, 50), kw.get("last_change_at") or local(TODAY, 9, 50))
    kw.setdefault("last_seen_at", seen.astimezone(UTC))
    installed = installed or local(TODAY - timedelta(days=60), 0)
    return DeviceFacts(
        device_id=7,
        type_code="smart_plug",
        program_id=1,
        region_id=1,
        heartbeat_timeout_s=7200,
        recipient_id=3,
        installed_at=installed,
        last_activity_at=last_activity.astimezone(UTC),
        first_seen_at=installed.astimezone(UTC),
        first_received_at=installed.astimezone(UTC),
        routine=routine,
        **kw,
    )


def test_the_rule_alerts_from_the_routine_hours_before_the_ladder():
    facts = plug_facts(local(TODAY - timedelta(days=1), 22, 10), daily_routine())
    decision = plug_no_change(facts, TH, local(TODAY, 10, 0).astimezone(UTC))
    assert decision.stage == "attention" and decision.evidence["basis"] == "routine"
    sentence = decision.evidence["explanation"]
    assert "22:10" in sentence and "28 of the last 28 days" in sentence and "10:00" in sentence
    assert "최근 28일 중 28일" in explain_plug(decision.evidence, "ko")


def test_a_plug_gone_offline_is_not_hours_of_a_persons_inactivity():
    facts = plug_facts(local(TODAY - timedelta(days=1), 22, 10), daily_routine())
    facts = replace(facts, last_seen_at=local(TODAY, 7, 0).astimezone(UTC))  # offline since 7
    assert plug_no_change(facts, TH, local(TODAY, 15, 0).astimezone(UTC)).stage is None


def test_zero_watts_in_a_home_that_always_draws_power_is_a_device_fault():
    facts = replace(
        plug_facts(local(TODAY, 9, 0), daily_routine()),
        last_seen_at=local(TODAY, 21, 25).astimezone(UTC),
        last_power_w=0.0,
    )
    assert plug_no_load(facts, TH, local(TODAY, 15, 0).astimezone(UTC)).stage is None  # 6 h
    now = local(TODAY, 21, 30).astimezone(UTC)  # 12.5 h: longer than a sunny day's zero import
    fault = plug_no_load(facts, TH, now)
    assert fault.stage == "attention" and fault.kind == "device_fault"
    assert plug_no_change(facts, TH, now).stage is None  # not a person alert (ladder: 24 h)
    assert plug_no_load(replace(facts, last_power_w=60.0), TH, now).stage is None  # clears
    never_floor = Background(low_w=0.0, high_w=80.0, step_w=60.0, nights=9)
    home = replace(facts, routine=replace(daily_routine(), background=never_floor))
    assert plug_no_load(home, TH, now) is None  # 0 W is normal there


def test_zero_watts_is_the_device_tickets_whole_ladder_never_a_person_alert():
    """Issue #9: an unplugged device is a device fault, not a person alert. A plug at 0 W
    since 09:00 in a home that always draws power, still reporting: its ticket is 위험 once the
    person has gone a day unobserved after it (12 h + 24 h), and the person's ladder (24/36/48
    h) opens nothing, even days later; in a home whose 0 W is normal the ladder still runs."""
    since = local(TODAY, 9, 0)
    facts = replace(plug_facts(since, daily_routine()), last_power_w=0.0)
    for hours, ticket in ((35.9, "attention"), (36, "risk"), (80, "risk")):
        now = (since + timedelta(hours=hours)).astimezone(UTC)
        reporting = replace(facts, last_seen_at=now)
        assert plug_no_load(reporting, TH, now).stage == ticket
        assert plug_no_load(reporting, TH, now).evidence["risk_at_h"] == 36
        assert plug_no_change(reporting, TH, now).stage is None
    never_floor = Background(low_w=0.0, high_w=80.0, step_w=60.0, nights=9)
    tv = replace(reporting, routine=replace(daily_routine(), background=never_floor))
    assert plug_no_change(tv, TH, now).stage == "severe"  # 80 h of nothing: the ladder


def test_a_person_alert_opened_on_watched_quiet_keeps_escalating_after_the_plug_dies():
    """The ladder opens only on quiet the plug watched (its last report + the 2 h timeout);
    an alert it opened that way goes on to 위험 and 심각 on the clock, silence or not."""
    off = Thresholds(plug_routine={"enabled": False})  # the fixed rule alone
    since = local(TODAY - timedelta(days=1), 9, 0)
    dies_at = since + timedelta(hours=23)  # quiet 23 h, then nothing more is received
    facts = plug_facts(since, daily_routine(), last_seen_at=dies_at.astimezone(UTC))
    at = {h: plug_no_change(facts, off, (since + timedelta(hours=h)).astimezone(UTC)).stage
          for h in (24, 36, 48)}  # fmt: skip
    assert at == {24: "attention", 36: "risk", 48: "severe"}
    died_earlier = replace(facts, last_seen_at=(since + timedelta(hours=21)).astimezone(UTC))
    for h in (24, 36, 48, 90):  # watched only 23 h: the device ticket's, not the person's
        assert (
            plug_no_change(died_earlier, off, (since + timedelta(hours=h)).astimezone(UTC)).stage
            is None
        )


def test_a_long_spell_is_explained_without_a_clock_window():
    facts = plug_facts(local(TODAY - timedelta(days=1), 9, 0), daily_routine())
    decision = plug_no_change(facts, TH, local(TODAY, 8, 0).astimezone(UTC))
    assert decision.stage == "severe" and decision.evidence["basis"] == "routine"
    assert "active again within that time" in decision.evidence["explanation"]
    assert "이 시간 안에 다시 활동" in explain_plug(decision.evidence, "ko")


def test_too_little_history_leaves_only_the_ladder():
    facts = plug_facts(local(TODAY - timedelta(days=1), 22, 10), daily_routine(days=10))
    assert plug_no_change(facts, TH, local(TODAY, 15, 0).astimezone(UTC)).stage is None


def test_disabled_routine_leaves_only_the_ladder():
    off = Thresholds(plug_routine={"enabled": False})
    facts = plug_facts(local(TODAY - timedelta(days=1), 22, 10), daily_routine())
    assert plug_no_change(facts, off, local(TODAY, 15, 0).astimezone(UTC)).stage is None


# A routine that almost never raises: what is left is the floor.
SLOW_ROUTINE = Thresholds(
    plug_routine={"attention_slots": 100, "risk_slots": 101, "severe_slots": 102}
)


def test_with_a_routine_the_ladder_runs_on_the_last_change_beyond_the_margins():
    """The floor is the fixed rule itself: a fridge that keeps cycling restarts the ladder's
    clock (the routine judges that spell), unless there is no routine to judge it."""
    slow = SLOW_ROUTINE
    now = local(TODAY, 9, 40).astimezone(UTC)
    quiet_since = now - timedelta(hours=30)
    cycling = plug_facts(quiet_since, daily_routine(), last_change_at=now - timedelta(hours=2))
    decision = plug_no_change(cycling, slow, now)
    assert decision.stage is None
    assert decision.evidence["change_hours"] == 2.0 and decision.evidence["no_change_hours"] == 30
    # The net: the same ladder 24 h later on the spell since the last sign of life
    net_now = quiet_since + timedelta(hours=48)
    two_before = net_now - timedelta(hours=2)
    netted = replace(cycling, last_change_at=two_before, last_seen_at=two_before)
    assert plug_no_change(netted, slow, net_now - timedelta(minutes=1)).stage is None
    decision = plug_no_change(netted, slow, net_now)
    assert decision.stage == "attention" and decision.evidence["basis"] == "net"
    assert "48 / 60 / 72 h" in decision.evidence["explanation"]
    assert "안전망" in explain_plug(decision.evidence, "ko")
    assert plug_no_change(netted, slow, net_now + timedelta(hours=12)).stage == "risk"
    # No routine yet (10 days): the ladder keeps the background's spell, the only safety net
    young = replace(cycling, routine=daily_routine(days=10))
    assert plug_no_change(young, slow, now).stage == "attention"
    assert plug_no_change(replace(cycling, routine=None), slow, now).stage == "attention"
    # 28 days reported, too few of them active for a routine: the fixed rule's clock
    sparse = {TODAY - timedelta(days=k): (DAYTIME if k % 3 == 0 else 0) for k in range(1, 29)}
    old_sparse = replace(cycling, routine=learn_routine(sparse, TODAY))
    assert len(old_sparse.routine.reference_days) < TH.plug_routine.min_days
    assert plug_no_change(old_sparse, slow, now).stage is None
    # ... and no net there: its background hides the person, so the spell since the last sign
    # of life runs for days to weeks whatever they do, and an alert on it would stand open
    # (a whole-home meter's stops found it already open for weeks: docs/detection.md)
    for later in (timedelta(0), timedelta(hours=24), timedelta(days=14)):
        moved = net_now + later - timedelta(hours=2)
        moving = replace(old_sparse, last_change_at=moved, last_seen_at=moved)
        assert plug_no_change(moving, slow, net_now + later).stage is None
    # while the fixed rule's own spell still raises the ladder there (the floor)
    still_sparse = replace(
        old_sparse, last_change_at=net_now - timedelta(hours=25), last_seen_at=net_now
    )
    assert plug_no_change(still_sparse, slow, net_now).stage == "attention"
    # The fixed rule's own spell reaches 24 h: the ladder alerts and says since when
    still = replace(cycling, last_change_at=now - timedelta(hours=25))
    decision = plug_no_change(still, slow, now)
    assert decision.stage == "attention" and decision.evidence["basis"] == "ladder"
    changed = (now - timedelta(hours=25)).astimezone(LOCAL_TZ).strftime("%H:%M")
    assert f"{changed} (25 h)" in decision.evidence["explanation"]


def test_a_young_plug_on_a_moving_line_is_not_told_no_change_in_power():
    """A young plug's ladder runs on the sign-of-life spell; when the line moved beyond the
    margins since (a cycling fridge, a whole-home meter), "no change in power or light" would
    be false: the sentence says only the unattended load changed, and the evidence's last
    change is the real one (a replayed 11-day meter swinging 300-5,800 W was told otherwise)."""
    now = local(TODAY, 9, 40).astimezone(UTC)
    quiet_since = now - timedelta(hours=30)
    young = plug_facts(quiet_since, daily_routine(days=10), last_change_at=now - timedelta(hours=2))
    decision = plug_no_change(young, SLOW_ROUTINE, now)
    assert decision.stage == "attention" and decision.evidence["basis"] == "ladder"
    evidence = decision.evidence
    assert evidence["ladder_clock"] == "activity"
    assert evidence["change_since"] == (now - timedelta(hours=2)).isoformat()
    assert evidence["change_hours"] == 2.0 and evidence["no_change_hours"] == 30.0
    since = quiet_since.astimezone(LOCAL_TZ).strftime("%H:%M")
    assert evidence["explanation"].startswith("No activity since ")
    assert f"{since} (30 h): only" in evidence["explanation"]
    assert "No change in power" not in evidence["explanation"]
    assert "무인 부하만" in explain_plug(evidence, "ko")
    # The line still since the spell began: the sentence says no change, as before
    still = replace(young, last_change_at=quiet_since)
    evidence = plug_no_change(still, SLOW_ROUTINE, now).evidence
    assert evidence["ladder_clock"] == "change"
    assert evidence["explanation"].startswith("No change in power or light since ")
    assert f"{since} (30 h)" in evidence["explanation"]
    # A plug with a routine: the ladder's clock is the last change itself
    older = replace(young, routine=daily_routine())
    assert plug_no_change(older, SLOW_ROUTINE, now).evidence["ladder_clock"] == "change"


def test_a_ladder_alert_on_the_fixed_clock_waits_for_a_sign_of_life_not_for_noise():
    """The fixed rule's clock restarts at any change beyond the margins. A standby's noise
    crossing 5 W or a fridge cycle is no sign of life: the ladder alert it raised stays open
    (a vacant home's plug closed and reopened its alert 126 times in a replayed year); a sign
    of life closes it. A young plug's ladder (on the sign-of-life spell) is held too."""
    from types import SimpleNamespace

    from dashboard.rules.lifecycle import _level_held, merged_evidence

    t0 = local(TODAY - timedelta(days=3), 9, 0).astimezone(UTC)
    facts = plug_facts(t0, daily_routine(), last_change_at=t0, last_power_w=40.0)

    def at(hours: float, change_h: float = 0.0, f: DeviceFacts = facts) -> Decision:
        now = t0 + timedelta(hours=hours)
        changed = t0 + timedelta(hours=change_h)
        return plug_no_change(
            replace(f, last_seen_at=now, last_change_at=changed), SLOW_ROUTINE, now
        )

    stored: dict = {}
    for hours in (24, 36):
        decision = at(hours)
        assert decision.evidence["basis"] == "ladder"
        stored = merged_evidence(stored, decision.evidence)
    assert decision.stage == "risk" and stored["held_by"] == "ladder"
    noise = at(37, change_h=37)  # the standby crossed 5 W: the fixed clock starts over
    assert noise.stage is None
    assert _level_held(SimpleNamespace(evidence=stored), noise)
    # held on the line it was raised on: the person back, using 300 W more, in a home whose
    # background hides that use (no sign of life), closes it
    line = stored["ladder_w"]
    assert line == facts.last_power_w and stored["ladder_band_w"] == 20.0
    back = replace(facts, last_power_w=line + 300)
    assert not _level_held(SimpleNamespace(evidence=stored), at(37, change_h=37, f=back))
    drift = replace(facts, last_power_w=line + 15)  # noise and drift within 20 W: held
    assert _level_held(SimpleNamespace(evidence=stored), at(37, change_h=37, f=drift))
    # a sign of life closes it
    alive = replace(facts, last_activity_at=t0 + timedelta(hours=37))
    assert not _level_held(SimpleNamespace(evidence=stored), at(37, change_h=37, f=alive))
    # a young plug's ladder runs on the sign-of-life spell and is held on its line too: when
    # the plug comes of age the ladder moves to the fixed rule's clock, and its alert closed
    # there without a sign of life (test_alert_steps)
    young = replace(facts, routine=daily_routine(days=10))
    assert at(24, f=young).evidence["ladder_band_w"] == 20.0
    assert merged_evidence({}, at(24, f=young).evidence).get("held_by") == "ladder"
    # the fixed rule alone (enabled = false) holds nothing: it is given back exactly
    day = t0 + timedelta(hours=24)
    fixed = Thresholds(plug_routine={"enabled": False})
    alone = plug_no_change(replace(facts, last_seen_at=day), fixed, day)
    assert alone.stage == "attention" and alone.evidence["ladder_band_w"] is None


def test_a_fridge_cycling_under_an_open_alert_is_not_a_change_worth_a_write():
    """The ladder's clock moves with every compressor cycle; an open routine alert must not be
    rewritten (and its version bumped under an operator's hand) for that alone."""
    from dashboard.rules.lifecycle import _material

    facts = plug_facts(local(TODAY - timedelta(days=1), 22, 10), daily_routine())
    now = local(TODAY, 10, 0).astimezone(UTC)
    first = plug_no_change(replace(facts, last_change_at=now - timedelta(minutes=40)), TH, now)
    later = now + timedelta(minutes=10)
    second = plug_no_change(replace(facts, last_change_at=later - timedelta(minutes=5)), TH, later)
    assert first.stage == second.stage == "attention"
    assert first.evidence["change_since"] != second.evidence["change_since"]
    assert _material(first.evidence) == _material(second.evidence)


def test_away_pauses_the_person_alert():
    facts = plug_facts(
        local(TODAY - timedelta(days=3), 9, 0), daily_routine(), away_until=TODAY + timedelta(1)
    )
    assert plug_no_change(facts, TH, local(TODAY, 15, 0).astimezone(UTC)) is None
    back = plug_facts(local(TODAY - timedelta(days=3), 9, 0), daily_routine(), away_until=TODAY)
    assert plug_no_change(back, TH, local(TODAY, 15, 0).astimezone(UTC)).stage == "severe"


def test_a_level_stage_needs_its_sentences_support():
    """The level test's evidence compares densities, so a level usual at night can score as
    unusual at 06:00; its sentence counts the reference days above the night level in the
    window. Where fewer than half were ("on 0 of its last 14 days … between 03:30 and 06:30"),
    no level stage: the sentence would undercut the alert. Where they were, the same evidence
    raises it, and the sentence says so."""
    evening = bits(36, 47)  # the home's evening: the routine expects nothing at 06:30
    routine = daily_routine(pattern=evening)
    table = np.full((2, levels.SLOTS, levels.GRID), 120, dtype=np.int8)  # e = +3 everywhere
    stored = levels.encode_days(np.full(levels.SLOTS, 50), np.ones(levels.SLOTS))[0]
    days = {TODAY - timedelta(days=k): stored for k in range(levels.LOOKBACK_DAYS)}
    facts = plug_facts(local(TODAY, 3, 0), routine)
    now = local(TODAY, 6, 30).astimezone(UTC)
    on = TH.model_copy(
        update={"plug_routine": TH.plug_routine.model_copy(update={"level_enabled": True})}
    )

    def judged(ref_bits: int):
        model = levels.LevelModel(table, 0, False, ((False, ref_bits),) * 14)
        return plug_no_change(replace(facts, levels=LevelFacts(model, days)), on, now)

    unsupported = judged(evening)  # never above its night level between 03:30 and 06:30
    assert unsupported.evidence["level_s"] >= on.plug_routine.level_h  # the evidence is there
    assert unsupported.stage is None
    assert levels.supported(7, 14) and not levels.supported(6, 14) and not levels.supported(0, 0)
    morning = judged(bits(6, 13))  # above it at 03:00–07:00 on every reference day
    assert morning.stage == "attention" and morning.evidence["basis"] == "level"
    assert (
        "on 14 of its last 14 days it was above it between 03:30 and 06:30"
        in (morning.evidence["explanation"])
    )


def random_levels(seed: int, today: date) -> LevelFacts:
    """Any evidence table and any stored levels of the last days (some half-hours empty)."""
    rng = np.random.default_rng(seed)
    table = rng.integers(-120, 121, size=(2, levels.SLOTS, levels.GRID)).astype(np.int8)
    model = levels.LevelModel(
        table, int(rng.integers(0, 255)), bool(rng.integers(2)), ((False, 1),)
    )
    days = {
        today - timedelta(days=k): bytes(
            rng.integers(0, 256, size=2 * levels.SLOTS, dtype=np.uint8)
        )
        for k in range(levels.LOOKBACK_DAYS + 1)
    }
    return LevelFacts(model, days)


@given(
    quiet_min=st.integers(0, 80 * 60),
    start_slot=st.integers(0, 47),
    patterns=st.lists(st.integers(1, (1 << 48) - 1), min_size=14, max_size=28),
    young=st.booleans(),
    personal=st.one_of(st.none(), st.integers(24, 50)),
    changed_share=st.one_of(st.none(), st.floats(0, 1)),
    th=st.sampled_from([TH, SLOW_ROUTINE]),
    level_seed=st.one_of(st.none(), st.integers(0, 2**31)),
    level_h=st.sampled_from([0.5, 8, 20, 200]),
    by_district=st.booleans(),
    still_h=st.one_of(st.none(), st.sampled_from([0.5, 1.5, 6.0, 30.0])),
    silent_share=st.one_of(st.none(), st.floats(0, 1)),
)
@settings(max_examples=300, deadline=None)
def test_floor_nothing_the_fixed_ladder_raises_is_missed(
    quiet_min,
    start_slot,
    patterns,
    young,
    personal,
    changed_share,
    th,
    level_seed,
    level_h,
    by_district,
    still_h,
    silent_share,
):
    """The floor guarantee's second half: the rule's stage is never below the fixed ladder's
    on the fixed rule's own quiet spell (since the last change beyond the margins, which a
    cycling appliance may have made after the last sign of life), whatever the routine says,
    with or without enough days for a routine, whatever the stillness record says, and
    whatever the level test's model and the stored levels say (any evidence table, any levels,
    any threshold), whether the level test is on for the city or only for the person's
    district (compared with the city's ladder). A plug that stopped reporting (``silent_share``
    of the fixed spell ago) is a device fault, not a person: the ladder opens only if its 관심
    came within what the plug watched (its last report plus the 2 h heartbeat timeout) or the
    rule already gave a stage at the last report (an alert the routine opened goes on to 위험
    and 심각 on the ladder's clock while the plug is dead); from then on, never below the
    ladder's stage at ``now``."""
    days = {TODAY - timedelta(days=k + 1): p for k, p in enumerate(patterns[: 10 if young else 28])}
    routine = replace(learn_routine(days, TODAY), still_h=still_h)  # any stillness record
    since = local(TODAY, 0, 0) + timedelta(minutes=30 * start_slot)
    now = since + timedelta(minutes=quiet_min)
    fixed_min = quiet_min if changed_share is None else int(quiet_min * changed_share)
    changed = None if changed_share is None else now - timedelta(minutes=fixed_min)
    silent_min = 0 if silent_share is None else int(fixed_min * silent_share)
    seen = now - timedelta(minutes=silent_min)
    facts = plug_facts(
        since,
        routine,
        no_change_hours=personal,
        last_change_at=changed and changed.astimezone(UTC),
        last_seen_at=seen.astimezone(UTC),
    )
    judged = th
    if level_seed is not None:
        level = {"level_enabled": True, "level_h": level_h}
        if by_district:  # on in Jongno only, as a district override; the person lives there
            judged = Thresholds.model_validate(
                {
                    **th.model_dump(exclude={"districts"}),
                    "districts": {"1111000000": {"plug_routine": level}},
                }
            ).for_region("1111051500")
            facts = replace(facts, region_code="1111051500")
        else:
            judged = th.model_copy(
                update={"plug_routine": th.plug_routine.model_copy(update=level)}
            )
        assert judged.plug_routine.level_enabled
        facts = replace(facts, levels=random_levels(level_seed, now.date()))
    decision = plug_no_change(facts, judged, now.astimezone(UTC))
    watched_min = fixed_min - max(0, silent_min - 120)  # the heartbeat timeout: 2 h
    fixed = ladder_stage(fixed_min / 60, plug_ladder(personal, th))
    if ladder_stage(watched_min / 60, plug_ladder(personal, th)) is None:
        # the plug went silent before the ladder's 관심: a device fault, not a person alert,
        # unless a test found the watched quiet unusual already (at its last report)
        fixed = fixed if plug_no_change(facts, judged, seen.astimezone(UTC)).stage else None
    assert STAGE_RANK.get(decision.stage or "", 0) >= STAGE_RANK.get(fixed or "", 0)


# --- the whole path on the database ----------------------------------------------------------

DAY0 = date(2026, 10, 1)


def power_history(days: int, collapse_at: datetime | None = None) -> list[dict]:
    """Half-hourly power of a home: a fridge cycling 45↔125 W around the clock, a TV (350 W)
    switched on and off through the day from 07:30 to 22:00; after ``collapse_at`` only the
    fridge keeps cycling (the case the fixed rule misses)."""
    events = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        for slot in range(48):
            ts = local(day, slot // 2, 30 * (slot % 2))
            fridge = 125.0 if slot % 2 else 45.0
            awake = 15 <= slot <= 43 and (collapse_at is None or ts < collapse_at)
            watts = fridge + (350.0 if awake and slot % 3 == 0 else 0.0)
            events.append(
                {
                    "event_id": f"p{d:03d}-{slot:02d}",
                    "device_id": "plug-1",
                    "ts": ts.isoformat(),
                    "type": "power",
                    "watts": watts,
                }
            )
    return events


def ingest_day(engine, events: list[dict], day: date) -> None:
    """One day's events in one batch, then the worker's learning at the next midnight."""
    with engine.begin() as conn:
        todays = [e for e in events if datetime.fromisoformat(e["ts"]).date() == day]
        ingest_events(conn, VENDOR, todays, now=local(day + timedelta(days=1), 0, 5))
        learn_routines(conn, local(day + timedelta(days=1), 0, 10).astimezone(UTC))


def first_stages(engine, plug: int, events: list[dict]) -> dict:
    """Each event ingested at its own time with a tick after it: the moment (and evidence)
    the plug's person alert first reached each stage."""
    stages: dict = {}
    for e in events:
        ts = datetime.fromisoformat(e["ts"]).astimezone(UTC)
        with engine.begin() as conn:
            ingest_events(conn, VENDOR, [e], now=ts)
            run_silence_tick(conn, ts, TH)
            alert = conn.execute(
                select(Alert.stage, Alert.evidence).where(
                    Alert.device_id == plug, Alert.rule == "plug_no_change"
                )
            ).first()
        if alert is not None and alert.stage not in stages:
            stages[alert.stage] = (ts, alert.evidence)
    return stages


def test_learned_routine_catches_a_collapse_beside_a_cycling_fridge(db_engine):
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
    plug = ids["plug-1"]
    collapse = local(DAY0 + timedelta(days=24), 7, 0)
    events = power_history(25, collapse)
    for d in range(24):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
    with db_engine.connect() as conn:
        row = conn.execute(select(DeviceRoutine).where(DeviceRoutine.device_id == plug)).one()
        early, late = (
            conn.execute(
                select(DeviceDaily.activity_slots).where(
                    DeviceDaily.device_id == plug, DeviceDaily.day == DAY0 + timedelta(days=d)
                )
            ).scalar_one()
            for d in (1, 10)
        )
    routine = Routine.from_json(row.model)
    assert 100 <= row.background_high_w <= 130  # the fridge, not the TV
    assert early == bits(0, 47)  # before the background: every fridge cycle counted
    assert late and not late & bits(0, 14)  # after it: quiet nights
    with db_engine.connect() as conn:
        changes = conn.execute(
            select(DeviceDaily.change_slots).where(
                DeviceDaily.device_id == plug, DeviceDaily.day == DAY0 + timedelta(days=10)
            )
        ).scalar_one()
    # ... while the fridge's cycles are still changes beyond 5 W: the ladder's clock
    assert changes & late == late and changes & bits(0, 14)
    assert routine.background_since == DAY0 + timedelta(days=3)
    assert len(routine.reference_days) == 21 and row.reference_days == 21
    today = [e for e in events if datetime.fromisoformat(e["ts"]) >= local(collapse.date(), 0)]
    stages = first_stages(db_engine, plug, today)
    assert "attention" in stages, "the routine score never alerted"
    first_alert, evidence = stages["attention"]
    hours = (first_alert - collapse).total_seconds() / 3600
    assert hours < 6, f"first alert {hours:.1f} h after the collapse"
    assert evidence["basis"] == "routine" and "of the last" in evidence["explanation"]
    assert "severe" in stages  # by 22:00 the whole day was missed


def test_the_fixed_rule_alone_misses_the_same_collapse(db_engine):
    """What issue #9 found on real homes, reproduced: margin-only activity never goes quiet."""
    off = Thresholds(plug_routine={"enabled": False})
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
    collapse = local(DAY0 + timedelta(days=2), 7, 0)
    events = power_history(4, collapse)
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, events, now=local(DAY0 + timedelta(days=4), 0, 5))
        run_silence_tick(conn, local(DAY0 + timedelta(days=4), 0, 5).astimezone(UTC), off)
        assert (
            conn.execute(select(Alert.id).where(Alert.device_id == ids["plug-1"])).first() is None
        )


def test_the_worker_learns_routines_once_per_seoul_day(db_engine):
    from dashboard.detection.learning import daily_learn

    with db_engine.begin() as conn:
        seed_catalog(conn)
    events = power_history(4)
    for d in range(4):
        with db_engine.begin() as conn:
            day = [
                e for e in events if datetime.fromisoformat(e["ts"]).date() == DAY0 + timedelta(d)
            ]
            ingest_events(conn, VENDOR, day, now=local(DAY0 + timedelta(days=d + 1), 0, 5))
    morning = local(DAY0 + timedelta(days=4), 0, 30).astimezone(UTC)
    first = daily_learn(db_engine, morning)
    assert first is not None and first.devices >= 1 and first.with_background >= 1
    assert daily_learn(db_engine, morning + timedelta(hours=12)) is None  # 12:30 the same day
    assert daily_learn(db_engine, morning + timedelta(days=1)) is not None  # the next day
