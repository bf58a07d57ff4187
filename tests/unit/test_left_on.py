"""A load left on (``detection.left_on``): the record, ingest's live run, the rule's stages, the
tick's due time, the sentence, the hold on an open alert, and the whole path on the database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import select

from dashboard.db.schema import DeviceRoutine, DeviceState
from dashboard.detection.background import Background
from dashboard.detection.explain import explain_plug
from dashboard.detection.left_on import longest_on_h
from dashboard.detection.routine import Routine, learn_routine
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, _State, merge_state
from dashboard.rules.config import Thresholds
from dashboard.rules.due import device_due
from dashboard.rules.lifecycle import _level_held, merged_evidence
from dashboard.rules.model import Decision
from dashboard.rules.plug import plug_no_change
from tests.ingest_support import seed_catalog
from tests.unit.test_detection import (
    DAY0,
    TODAY,
    bits,
    daily_routine,
    first_stages,
    ingest_day,
    local,
    plug_facts,
)

TH = Thresholds()
WINDOW = (TODAY - timedelta(days=28), TODAY)
TV_PLUG = Background(low_w=1.0, high_w=1.0, step_w=0.0, nights=28)  # ceiling 6 W


def on_routine(on_h: float | None = 4.0, background: Background | None = None) -> Routine:
    """A usable routine of a TV plug (1 W standby) with a record of ``on_h`` above it."""
    return replace(daily_routine(), on_h=on_h, background=background or TV_PLUG)


def tweak(**plug_routine) -> Thresholds:
    return TH.model_copy(update={"plug_routine": TH.plug_routine.model_copy(update=plug_routine)})


# --- the record ------------------------------------------------------------------------------


def test_the_record_is_the_longest_run_of_half_hours_above_the_ceiling():
    days = {TODAY - timedelta(days=k): bits(38, 43) for k in range(1, 15)}  # 19:00–22:00
    assert longest_on_h(days, *WINDOW, 14) == 3.0
    days[TODAY - timedelta(days=4)] = bits(30, 43)  # one long evening: 15:00–22:00
    assert longest_on_h(days, *WINDOW, 14) == 7.0
    assert longest_on_h(days, *WINDOW, 15) is None  # 14 days with a ceiling: too few
    assert longest_on_h({d: 0 for d in days}, *WINDOW, 14) == 0.0  # never above


def test_an_hourly_plug_bridges_its_empty_half_hours_but_not_90_minutes_below():
    hourly = sum(1 << j for j in range(38, 44, 2))  # readings at 19:00, 20:00, 21:00
    days = {TODAY - timedelta(days=k): hourly for k in range(1, 15)}
    assert longest_on_h(days, *WINDOW, 14) == 2.5  # 19:00 to the end of 21:00's half-hour
    split = bits(30, 33) | bits(37, 40)  # 15:00–17:00, below for 3 half-hours, 18:30–20:30
    days = {TODAY - timedelta(days=k): split for k in range(1, 15)}
    assert longest_on_h(days, *WINDOW, 14) == 2.0


def test_a_run_across_midnight_counts_whole_and_a_missing_day_ends_it():
    days = {TODAY - timedelta(days=k): bits(44, 47) | bits(0, 3) for k in range(2, 16)}
    assert longest_on_h(days, *WINDOW, 14) == 4.0  # 22:00–02:00 across midnight
    del days[TODAY - timedelta(days=8)]  # nothing received that day: the run ends there
    days[TODAY - timedelta(days=9)] = bits(40, 47)  # 20:00 until midnight
    assert longest_on_h(days, *WINDOW, 13) == 4.0


def test_a_run_still_going_at_the_end_of_the_window_is_not_a_record_yet():
    """The learning at midnight must not take the run the test is judging as the home's
    normal: the TV on since 19:00 yesterday and still on at midnight counts for nothing."""
    days = {TODAY - timedelta(days=k): bits(38, 43) for k in range(2, 16)}
    days[TODAY - timedelta(days=1)] = bits(38, 47)
    assert longest_on_h(days, *WINDOW, 14) == 3.0


def test_learning_stores_the_record_and_json_keeps_it():
    above = {TODAY - timedelta(days=k): bits(38, 43) for k in range(1, 29)}
    days = dict.fromkeys(above, bits(38, 43))
    routine = learn_routine(days, TODAY, above=above)
    assert routine.on_h == 3.0
    assert Routine.from_json(routine.to_json()).on_h == 3.0
    assert learn_routine(days, TODAY).on_h is None


# --- ingest's live run -----------------------------------------------------------------------


def reading(ts: datetime, watts: float, index: int = 0, kind: str = "power") -> ValidEvent:
    """A validated power (or ``kind`` = "lux": light) reading of plug-1."""
    field = "watts" if kind == "power" else "lux"
    return ValidEvent(
        index=index,
        event_uid=f"{kind}{ts.isoformat()}",
        device_uid="plug-1",
        ts=ts,
        type=kind,
        value=watts,
        data=None,
        fields={field: watts},
    )


def test_ingest_keeps_the_first_reading_of_the_run_above_the_ceiling():
    margins = Margins(power_w=5, lux=30, min_answered_s=0)
    t0 = local(TODAY, 19, 0).astimezone(UTC)
    state = merge_state(_State(), [reading(t0 - timedelta(hours=1), 1.0)], margins, TV_PLUG)
    assert state.above_since is None
    flicker = [reading(t0 + timedelta(minutes=30 * k), 120 + 15 * (k % 2), k) for k in range(6)]
    state = merge_state(state, flicker, margins, TV_PLUG)
    assert state.above_since == t0
    assert state.last_activity_at == t0 + timedelta(hours=2, minutes=30)  # each flicker counts
    # a late reading (before the last one) moves nothing; the TV off ends the run
    late = merge_state(state, [reading(t0 - timedelta(minutes=10), 1.0, 9)], margins, TV_PLUG)
    assert late.above_since == t0
    off = merge_state(state, [reading(t0 + timedelta(hours=4), 1.0)], margins, TV_PLUG)
    assert off.above_since is None
    # a light switched while the TV stays on (a TV's glow does it all evening) does not end or
    # restart the run: only the power coming down does
    t_lux = t0 + timedelta(hours=3)
    lit = merge_state(
        state,
        [lux(t_lux - timedelta(minutes=10), 20.0, 7), lux(t_lux, 300.0, 8)],
        margins,
        TV_PLUG,
    )
    assert lit.above_since == t0 and lit.last_activity_at == t_lux
    # the Wi-Fi down for 2 h: the run starts again at the first reading after it (the TV may
    # have been off meanwhile); a heartbeat inside 90 min keeps it going
    back = t0 + timedelta(hours=4, minutes=35)
    resumed = merge_state(state, [reading(back, 120.0)], margins, TV_PLUG)
    assert resumed.above_since == back
    beat = ValidEvent(
        index=1,
        event_uid="hb",
        device_uid="plug-1",
        ts=t0 + timedelta(hours=3, minutes=30),
        type="heartbeat",
        value=None,
        data=None,
        fields={},
    )
    kept = merge_state(state, [beat, reading(back, 120.0, 2)], margins, TV_PLUG)
    assert kept.above_since == t0
    # without a ceiling (no background yet, or the fixed rule alone) there is no run
    assert merge_state(_State(), flicker, margins, None).above_since is None


def lux(ts: datetime, value: float, index: int = 0) -> ValidEvent:
    return reading(ts, value, index, kind="lux")


# --- the rule --------------------------------------------------------------------------------


# the TV switched on at 19:00 the evening before; it flickers, so each reading is a sign of life
ON_AT = local(TODAY - timedelta(days=1), 19, 0).astimezone(UTC)


def on_facts(routine: Routine | None = None, **kw) -> object:
    return plug_facts(ON_AT, routine or on_routine(), above_since=ON_AT, **kw)


def at(facts, hours: float, th: Thresholds = TH) -> Decision:
    """The decision ``hours`` after 19:00, the last report (a flicker) at that moment."""
    now = ON_AT + timedelta(hours=hours)
    return plug_no_change(
        replace(facts, last_seen_at=now, last_activity_at=now, last_change_at=now), th, now
    )


def test_a_tv_left_on_twice_as_long_as_ever_alerts_though_it_flickers():
    """Record 4 h: 관심 at 8 h (03:00), 위험 at 16 h, 심각 at 32 h, each with its sentence;
    every reading is a sign of life, so no other test sees a quiet spell."""
    facts = on_facts()
    assert at(facts, 7.9).stage is None
    decision = at(facts, 8)
    assert decision.stage == "attention" and decision.evidence["basis"] == "on"
    assert decision.evidence["on_at_h"] == 8 and decision.evidence["on_longest_h"] == 4.0
    assert decision.evidence["explanation"] == (
        "Power above this home's standby since 2026-11-29 19:00 (8 h); in its last 28 days"
        " it never stayed above it for longer than 4 h."
    )
    assert explain_plug(decision.evidence, "ko") == (
        "2026-11-29 19:00 이후 전력이 대기 수준 위에 머물러 있습니다(8시간). 최근 28일 동안"
        " 이 집은 4시간보다 오래 그런 적이 없습니다."
    )
    assert at(facts, 15.9).stage == "attention"
    assert at(facts, 16).stage == "risk" and at(facts, 32).stage == "severe"


def test_a_whole_home_meter_is_not_judged():
    """A background whose ceiling is above a standby's (50 W): a fridge home, a whole-home
    meter. The test gave such homes only false alarms on the tune part."""
    from dashboard.detection.background import ceiling

    fridge = on_routine(background=daily_routine().background)
    assert ceiling(fridge.background, 5) > 50
    assert at(on_facts(fridge), 40).stage is None
    assert at(on_facts(on_routine(background=Background(40.0, 44.0, 2.0, 28))), 8).stage


def test_the_minimum_the_switch_and_the_conditions():
    assert at(on_facts(on_routine(0.5)), 5.9).stage is None  # never before on_min_h (6 h)
    assert at(on_facts(on_routine(0.5)), 6).stage == "attention"
    assert at(on_facts(), 8, tweak(on_factor=3)).stage is None  # 12 h at 3×
    assert at(on_facts(), 12, tweak(on_factor=3)).stage == "attention"
    assert at(on_facts(), 9, tweak(on_enabled=False)).stage is None
    assert at(on_facts(), 9, tweak(enabled=False)).stage is None
    assert at(on_facts(on_routine(None)), 40).stage is None  # no record yet
    young = replace(daily_routine(days=10), on_h=3.0)
    assert at(on_facts(young), 20).stage is None
    assert at(replace(on_facts(), above_since=None), 40).stage is None  # came down
    # the plug stopped reporting 2 h in: only the observed run counts
    silent = replace(on_facts(), last_seen_at=ON_AT + timedelta(hours=2))
    assert plug_no_change(silent, TH, ON_AT + timedelta(hours=12)).stage is None


def test_after_staff_close_the_alert_a_new_run_is_judged_on_its_own():
    closed = ON_AT + timedelta(hours=10)
    facts = on_facts(human_closed_at={"plug_no_change": closed})
    assert at(facts, 33.9).stage is None  # the same run: from the close, 24 h
    assert at(facts, 34).stage == "attention"
    # switched off and on again an hour after the close: a new run, judged on its own
    later = replace(facts, above_since=closed + timedelta(hours=1))
    assert at(later, 18).stage is None  # 7 h into the new run
    decision = at(later, 19)
    assert decision.stage == "attention" and decision.evidence["basis"] == "on"


def test_the_tick_is_due_at_each_stage_of_the_run():
    facts = replace(on_facts(), last_seen_at=ON_AT + timedelta(hours=2))
    now = ON_AT + timedelta(hours=2)
    due = device_due(facts, TH, now)
    assert due is not None and due <= ON_AT + timedelta(hours=8)


def test_an_open_left_on_alert_is_held_while_the_run_goes_on_and_closes_when_it_ends():
    facts = on_facts()
    stored = merged_evidence({}, at(facts, 8).evidence)
    assert stored["held_by"] == "on"
    # a flicker: a sign of life for every other test, the same run for this one
    assert _level_held(SimpleNamespace(evidence=stored), at(facts, 10))
    # the TV switched off: the run ends and the alert closes
    now = ON_AT + timedelta(hours=11)
    off = plug_no_change(
        replace(facts, above_since=None, last_seen_at=now, last_activity_at=now), TH, now
    )
    assert off.stage is None
    assert not _level_held(SimpleNamespace(evidence=stored), off)


# --- the whole path on the database ----------------------------------------------------------


def tv_history(days: int) -> list[dict]:
    """Half-hourly readings of a TV plug: 1 W standby; the TV on 19:00–23:00 (120/135 W,
    flickering) every evening; on the last evening it is switched on at 19:00 and never off."""
    events = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        for slot in range(48):
            ts = local(day, slot // 2, 30 * (slot % 2))
            on = 38 <= slot < 46 or (d == days - 1 and slot >= 38)
            watts = (120.0 if slot % 2 else 135.0) if on else 1.0
            events.append(
                {
                    "event_id": f"tv{d:03d}-{slot:02d}",
                    "device_id": "plug-1",
                    "ts": ts.isoformat(),
                    "type": "power",
                    "watts": watts,
                }
            )
    return events


def tv_left_on(engine) -> tuple[int, date, dict]:
    """Plug-1's 24 days of evening TV ingested day by day with the nightly learning, then day
    25 with the TV switched on at 19:00 and left on (flickering) until 14:00 the next day, each
    reading ingested at its time with a tick: (the plug, day 25, ``first_stages``)."""
    with engine.begin() as conn:
        ids = seed_catalog(conn)
    plug = ids["plug-1"]
    events = tv_history(25)
    for d in range(24):
        ingest_day(engine, events, DAY0 + timedelta(days=d))
    last = DAY0 + timedelta(days=24)
    tonight = [e for e in events if datetime.fromisoformat(e["ts"]).date() == last]
    after = [
        {
            "event_id": f"late{k:02d}",
            "device_id": "plug-1",
            "ts": local(last + timedelta(days=1), k // 2, 30 * (k % 2)).isoformat(),
            "type": "power",
            "watts": 120.0 if k % 2 else 135.0,
        }
        for k in range(28)
    ]
    return plug, last, first_stages(engine, plug, tonight + after)


def test_a_tv_left_on_alerts_through_ingest_learning_and_the_tick(db_engine):
    """24 days of evening TV (4 h): the nightly learning stores a record of 4 h. On day 25 the
    TV is switched on at 19:00 and never off; every reading flickers by 15 W (a sign of life),
    so only the left-on test can see it: 관심 at 03:00 (8 h), 위험 at 11:00 (16 h)."""
    plug, last, stages = tv_left_on(db_engine)
    with db_engine.connect() as conn:
        stored = conn.execute(
            select(DeviceRoutine.on_h, DeviceRoutine.model).where(DeviceRoutine.device_id == plug)
        ).one()
    assert stored.on_h == 4.0 and Routine.from_json(stored.model).on_h == 4.0
    assert "attention" in stages, "the left-on test never alerted"
    ts, evidence = stages["attention"]
    assert ts == local(last + timedelta(days=1), 3).astimezone(UTC)
    assert evidence["basis"] == "on"
    assert "never stayed above it for longer than 4 h" in evidence["explanation"]
    assert stages["risk"][0] == local(last + timedelta(days=1), 11).astimezone(UTC)
    with db_engine.connect() as conn:
        since = conn.execute(
            select(DeviceState.above_since).where(DeviceState.device_id == plug)
        ).scalar_one()
    assert since == local(last, 19).astimezone(UTC)


def test_days_stored_before_a_background_do_not_count_toward_the_record():
    """``above_slots`` is NULL on a day without a ceiling: such days have no row in the record's
    input (the learning reads only days judged against one)."""
    judged = {TODAY - timedelta(days=k): bits(38, 43) for k in range(1, 10)}
    assert longest_on_h(judged, *WINDOW, 14) is None
    assert date(2026, 1, 1) not in judged


def test_a_ceiling_raised_under_the_run_does_not_close_the_alert_as_safe():
    """The TV left on for days: the nightly learning raises the ceiling over it, ingest ends
    the run (above_since NULL) and the test stops judging. The power did not come down: the
    alert stays held (the review's replay closed it as safe at 00:10 on the fourth night). A
    reading at the old standby closes it; so does nothing else."""
    facts = on_facts()
    stored = merged_evidence({}, at(facts, 8).evidence)
    top = stored["on_top_w"]
    assert top == 6.0  # the TV's standby: 1 W + the 5 W margin
    now = ON_AT + timedelta(hours=80)
    absorbed = replace(facts, above_since=None, last_seen_at=now, last_activity_at=now)
    still_on = plug_no_change(replace(absorbed, last_power_w=top + 50), TH, now)
    assert still_on.stage is None and still_on.evidence["on_since"] is None
    assert _level_held(SimpleNamespace(evidence=stored), still_on)
    # a later decision at a stage on another basis keeps the hold's run and line
    kept = merged_evidence(stored, still_on.evidence | {"basis": "ladder"})
    assert kept["on_since"] == stored["on_since"] and kept["on_top_w"] == top
    off = plug_no_change(replace(absorbed, last_power_w=top - 20), TH, now)
    assert not _level_held(SimpleNamespace(evidence=kept), off)


def test_a_close_during_the_run_judges_it_again_from_the_close_from_the_ladders_first_stage():
    """Staff close a routine 관심 by phone an hour into the TV's run (the person answered); the
    person collapses later with the TV still on: 관심 again 24 h after the close (the ladder's
    first stage, longer than T = 8 h), 위험 at 36 h and 심각 at 48 h (the ladder's steps; 4 ×
    24 h would be 96 h), not never; a heater kept on is asked about once a day."""
    closed = ON_AT + timedelta(hours=1)
    facts = on_facts(human_closed_at={"plug_no_change": closed})
    assert at(facts, 24.9).stage is None
    decision = at(facts, 25)
    assert decision.stage == "attention" and decision.evidence["basis"] == "on"
    assert decision.evidence["on_since"] == ON_AT.isoformat()  # the sentence: the real run
    assert at(facts, 36.9).stage == "attention" and at(facts, 37).stage == "risk"
    assert at(facts, 48.9).stage == "risk" and at(facts, 49).stage == "severe"


def test_the_ingest_prefilter_keeps_a_plug_the_left_on_test_can_fire_on():
    from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours

    now = ON_AT + timedelta(hours=8)
    assert at(on_facts(), 8).stage == "attention"

    def touched(above_since):
        return Touched("smart_plug", frozenset({"power"}), now, now, None, None, above_since)

    timeouts = {"smart_plug": 7200}
    assert needs_rules(touched(ON_AT), TH, now, timeouts, quiet_hours(TH))
    assert not needs_rules(touched(now - timedelta(hours=5)), TH, now, timeouts, quiet_hours(TH))
    assert not needs_rules(touched(None), TH, now, timeouts, quiet_hours(TH))


def test_a_plug_never_above_its_standby_says_so():
    decision = at(on_facts(on_routine(0.0)), 6)
    assert decision.stage == "attention"
    assert decision.evidence["explanation"].endswith("it never rose above it.")
    assert explain_plug(decision.evidence, "ko").endswith("올라간 적이 없습니다.")


def test_after_a_close_during_the_run_the_tick_is_due_at_the_closes_stages():
    closed = ON_AT + timedelta(hours=1)
    now = ON_AT + timedelta(hours=20)
    facts = replace(on_facts(human_closed_at={"plug_no_change": closed}), last_seen_at=now)
    due = device_due(facts, TH, now)
    assert due is not None and due <= closed + timedelta(hours=24)


def test_a_plug_the_ingest_prefilter_skips_never_fires_with_a_run_above_its_standby():
    """The pre-filter's property (test_rules_prefilter) on plugs with a record and a run above
    the standby of any length: a skipped plug has no rule that fires."""
    import random

    from dashboard.rules.config import current_thresholds
    from dashboard.rules.evaluate import evaluate_device
    from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours
    from tests.unit.test_rules_prefilter import NOW, random_facts

    th = current_thresholds()
    quiet = quiet_hours(th)
    rng = random.Random(7)
    skipped = judged = 0
    for _ in range(20_000):
        now = NOW + timedelta(minutes=rng.uniform(0, 600))
        f = random_facts(rng, now)
        if f.type_code != "smart_plug":
            continue
        above = now - timedelta(hours=rng.uniform(-0.1, 40))
        seen = now - timedelta(minutes=rng.uniform(-3, 30))
        f = replace(
            f,
            routine=on_routine(rng.choice((0.0, 2.0, 4.0))),
            above_since=above,
            last_seen_at=seen,
            last_activity_at=seen - timedelta(hours=rng.uniform(0, 5)),
            last_change_at=seen,
        )
        timeouts = {f.type_code: th.device_silent.timeout_s.get(f.type_code, f.heartbeat_timeout_s)}
        t = Touched(
            f.type_code,
            frozenset({"power"}),
            f.last_seen_at,
            f.last_activity_at,
            f.battery_pct,
            f.last_lat,
            above,
        )
        if needs_rules(t, th, now, timeouts, quiet):
            judged += 1
            continue
        skipped += 1
        fired = [d for d in evaluate_device(f, th, now, ()) if d.stage is not None]
        assert fired == [], (f, fired)
    assert skipped > 300, (skipped, judged)
