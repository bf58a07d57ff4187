"""A line held in a narrow band (``detection.band``): the record, ingest's band, the rule's
stages, the tick's due time, the sentence, the hold on an open alert, and the whole path on the
database."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from sqlalchemy import insert, select

from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.band import band_days, band_record, widen
from dashboard.detection.explain import explain_plug
from dashboard.detection.learning import learn_routines
from dashboard.detection.routine import Routine, learn_routine
from dashboard.ingest import ingest_events
from dashboard.ingest.state import DaySignals, Margins, _State, merge_state
from dashboard.rules.due import device_due
from dashboard.rules.lifecycle import _level_held, merged_evidence
from dashboard.rules.model import Decision, DeviceFacts
from dashboard.rules.plug import BAND_EVIDENCE_KEYS, plug_no_change
from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog
from tests.unit.test_detection import (
    DAY0,
    DAYTIME,
    TH,
    TODAY,
    bits,
    daily_routine,
    first_stages,
    ingest_day,
    local,
    plug_facts,
)
from tests.unit.test_left_on import WINDOW, reading, tweak

NOON = bits(20, 20)

# --- the record ------------------------------------------------------------------------------


def test_the_record_is_the_longest_time_between_two_breaks():
    days = {TODAY - timedelta(days=k): bits(14, 14) | bits(44, 44) for k in range(1, 15)}
    assert band_record(days, *WINDOW, 14)[0] == 15.0  # 07:00 to 22:00
    days[TODAY - timedelta(days=6)] = bits(14, 14)  # no break in the evening: 07:00 → 07:00
    assert band_record(days, *WINDOW, 14)[0] == 24.0
    assert band_record(days, *WINDOW, 15)[0] is None  # 14 days with breaks stored: too few
    assert band_record({d: 0 for d in days}, *WINDOW, 14)[0] is None  # never broken


def test_a_missing_day_breaks_a_run_within_the_band():
    days = {TODAY - timedelta(days=k): NOON for k in range(1, 17)}
    days[TODAY - timedelta(days=8)] = 0  # a day with readings and no break: 48 h
    assert band_record(days, *WINDOW, 14)[0] == 48.0
    del days[TODAY - timedelta(days=8)]  # nothing received that day: no run across it
    assert band_record(days, *WINDOW, 14)[0] == 24.0


def test_learning_stores_the_band_record_and_json_keeps_it():
    band = {TODAY - timedelta(days=k): bits(14, 14) | bits(44, 44) for k in range(1, 29)}
    days = dict.fromkeys(band, DAYTIME)
    routine = learn_routine(days, TODAY, band=band)
    assert routine.band_h == 15.0
    assert Routine.from_json(routine.to_json()).band_h == 15.0
    assert learn_routine(days, TODAY).band_h is None


def test_the_nightly_learning_reads_band_slots_from_the_first_day_the_band_was_kept(db_engine):
    """A break at noon every day, but five days stored with NULL band_slots after the band was
    kept (heartbeats only: the live band holds through them): no break those days, a 6-day run
    across them, which is more than band_factor times any other band (the test's own business,
    left out: 24 h); a plug with 13 days of band_slots after days stored before it has none."""
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        rows = []
        for k in range(1, 29):
            day = TODAY - timedelta(days=k)
            rows.append(
                {
                    "device_id": ids["plug-1"],
                    "day": day,
                    "events": 48,
                    "activity_slots": DAYTIME,
                    "band_slots": None if 5 <= k <= 9 else NOON,
                }
            )
            rows.append(
                {
                    "device_id": ids["plug-2"],
                    "day": day,
                    "events": 48,
                    "activity_slots": DAYTIME,
                    "band_slots": NOON if k <= 13 else None,
                }
            )
        conn.execute(insert(DeviceDaily), rows)
        learn_routines(conn, local(TODAY, 0, 10).astimezone(UTC), TH)
        stored = dict(conn.execute(select(DeviceRoutine.device_id, DeviceRoutine.band_h)).all())
        model = conn.execute(
            select(DeviceRoutine.model).where(DeviceRoutine.device_id == ids["plug-1"])
        ).scalar_one()
    assert stored[ids["plug-1"]] == 24.0
    assert Routine.from_json(model).band_h == 24.0
    assert stored[ids["plug-2"]] is None


# --- ingest's band ---------------------------------------------------------------------------


def test_widen_keeps_the_band_within_its_width_and_breaks_beyond_it():
    assert widen(None, None, 80.0, 100.0) == (80.0, 80.0, True)  # no band yet
    assert widen(40.0, 125.0, 60.0, 100.0) == (40.0, 125.0, False)
    assert widen(40.0, 125.0, 140.0, 100.0) == (40.0, 140.0, False)  # exactly 100 W wide
    assert widen(40.0, 125.0, 141.0, 100.0) == (141.0, 141.0, True)
    assert widen(40.0, 125.0, 24.0, 100.0) == (24.0, 24.0, True)  # below: 101 W wide


MARGINS = Margins(power_w=5, lux=30, min_answered_s=0)
T0 = local(TODAY, 8, 0).astimezone(UTC)


def slot_bit(ts: datetime) -> int:
    at = ts.astimezone(LOCAL_TZ)
    return 1 << (at.hour * 2 + at.minute // 30)


def test_ingest_follows_the_band_and_marks_its_breaks():
    days: dict = {}
    first = [reading(T0, 100.0, 0), reading(T0 + timedelta(minutes=20), 60.0, 1)]
    first.append(reading(T0 + timedelta(minutes=40), 150.0, 2))
    state = merge_state(_State(), first, MARGINS, None, days)
    assert (state.band_since, state.band_low_w, state.band_high_w) == (T0, 60.0, 150.0)
    assert days[TODAY].band == slot_bit(T0)  # the first reading starts the band: 08:00
    # 170 W would make it 110 W wide: a new band at 09:10, the day's 09:00 half-hour set
    t_break = T0 + timedelta(minutes=70)
    state = merge_state(state, [reading(t_break, 170.0, 3)], MARGINS, None, days)
    assert (state.band_since, state.band_low_w, state.band_high_w) == (t_break, 170.0, 170.0)
    assert days[TODAY].band == slot_bit(T0) | slot_bit(t_break)
    # a late reading (before the last one) moves nothing, however far out of the band
    late = merge_state(state, [reading(T0 + timedelta(minutes=50), 2000.0, 4)], MARGINS)
    assert (late.band_since, late.band_low_w, late.band_high_w) == (t_break, 170.0, 170.0)
    # a reading inside the band 90 min after the last keeps it; after 91 min of silence the
    # band goes on without a break, the silence kept apart (not band time)
    kept = merge_state(state, [reading(t_break + timedelta(minutes=90), 150.0, 5)], MARGINS)
    assert (kept.band_since, kept.band_low_w, kept.band_high_w) == (t_break, 150.0, 170.0)
    back = t_break + timedelta(minutes=91)
    days_gap: dict = {}
    gap = merge_state(state, [reading(back, 150.0, 6)], MARGINS, days=days_gap)
    assert (gap.band_since, gap.band_low_w, gap.band_high_w) == (t_break, 150.0, 170.0)
    assert gap.band_gap_h == 91 / 60
    assert not days_gap[back.astimezone(LOCAL_TZ).date()].band


def test_a_fridge_cycling_within_the_band_never_breaks_it():
    days: dict = {}
    cycle = [
        reading(T0 + timedelta(minutes=15 * k), 20.0 if k % 2 else 110.0, k) for k in range(96)
    ]
    state = merge_state(_State(), cycle, MARGINS, None, days)
    assert (state.band_since, state.band_low_w, state.band_high_w) == (T0, 20.0, 110.0)
    assert days[TODAY].band | days[TODAY + timedelta(days=1)].band == slot_bit(T0)
    assert days[TODAY + timedelta(days=1)].band == 0  # readings, no break: 0, not NULL
    assert DaySignals().band is None


def power_event(ts: datetime, watts: float, uid: str) -> dict:
    return {"event_id": uid, "device_id": "plug-1", "ts": ts.isoformat(), "type": "power"} | {
        "watts": watts
    }


def test_two_batches_of_a_day_add_their_breaks(db_engine):
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    day = DAY0
    one = [power_event(local(day, 8, 0), 100.0, "a"), power_event(local(day, 9, 0), 60.0, "b")]
    two = [power_event(local(day, 20, 0), 900.0, "c"), power_event(local(day, 23, 30), 880.0, "d")]
    # within the band an hour later, past midnight: a day with readings and no break
    three = [power_event(local(day + timedelta(days=1), 0, 30), 950.0, "e")]
    for batch in (one, two, three):
        received = datetime.fromisoformat(batch[-1]["ts"]) + timedelta(minutes=5)
        with db_engine.begin() as conn:
            ingest_events(conn, VENDOR, batch, now=received)
    with db_engine.connect() as conn:
        slots = dict(
            conn.execute(
                select(DeviceDaily.day, DeviceDaily.band_slots).where(DeviceDaily.device_id == plug)
            ).all()
        )
        state = conn.execute(
            select(
                DeviceState.band_since,
                DeviceState.band_low_w,
                DeviceState.band_high_w,
                DeviceState.band_gap_h,
            ).where(DeviceState.device_id == plug)
        ).one()
    # 08:00 (the first reading), 20:00 (900 W: beyond 60–100 W); 23:30 after 3.5 h silent is
    # no break: the band of 20:00 goes on, the silence kept apart
    assert slots == {day: bits(16, 16) | bits(40, 40), day + timedelta(days=1): 0}
    assert tuple(state) == (local(day, 20, 0).astimezone(UTC), 880.0, 950.0, 3.5)


# --- the rule --------------------------------------------------------------------------------


# the band started at 19:00 the evening before; a fridge cycles within it
BAND_AT = local(TODAY - timedelta(days=1), 19, 0).astimezone(UTC)


def band_routine(band_h: float | None = 6.0) -> Routine:
    return replace(daily_routine(), band_h=band_h)


def facts_of(routine: Routine | None = None, **kw) -> DeviceFacts:
    """A fridge home's plug with a band record of 6 h (T = 18 h), its band 40–125 W since
    ``BAND_AT``, reading 80 W."""
    base = {"band_since": BAND_AT, "band_low_w": 40.0, "band_high_w": 125.0, "last_power_w": 80.0}
    return plug_facts(BAND_AT, routine or band_routine(), **(base | kw))


def at(facts, hours: float, th=TH) -> Decision:
    """The decision ``hours`` into the band, the last report (a fridge cycle, counted as a sign
    of life and a change) at that moment."""
    now = BAND_AT + timedelta(hours=hours)
    return plug_no_change(
        replace(facts, last_seen_at=now, last_activity_at=now, last_change_at=now), th, now
    )


def test_a_band_three_times_as_long_as_ever_alerts_though_the_fridge_cycles():
    facts = facts_of()
    assert at(facts, 17.9).stage is None
    decision = at(facts, 18)
    assert decision.stage == "attention" and decision.evidence["basis"] == "band"
    assert set(BAND_EVIDENCE_KEYS) <= decision.evidence.keys()
    assert {k: decision.evidence[k] for k in BAND_EVIDENCE_KEYS} == {
        "band_longest_h": 6.0,
        "band_at_h": 18.0,
        "band_run_h": 18.0,
        "band_since": BAND_AT.isoformat(),
        "band_window_days": 28,
        "band_w": 100.0,
        "band_low_w": 40.0,
        "band_high_w": 125.0,
        "band_gap_h": 0.0,
        "band_left_out_h": None,
    }
    assert at(facts, 35.9).stage == "attention" and at(facts, 36).stage == "risk"
    assert at(facts, 71.9).stage == "risk" and at(facts, 72).stage == "severe"


def test_the_sentence_quotes_the_width_the_band_and_the_times():
    evidence = at(facts_of(), 18).evidence
    assert evidence["explanation"] == (
        "Power within 100 W (40–125 W) since 2026-11-29 19:00 (18 h); in its last 28 days this"
        " home's power never stayed within 100 W for longer than 6 h."
    )
    assert explain_plug(evidence, "ko") == (
        "2026-11-29 19:00 이후 전력이 100 W 범위(40~125 W) 안에만 머물러 있습니다(18시간)."
        " 최근 28일 동안 이 집의 전력은 6시간보다 오래 100 W 범위 안에 머문 적이 없습니다."
    )


def test_the_minimum_the_switches_and_the_conditions():
    tiny = facts_of(band_routine(0.5))  # 3 × 0.5 h: band_min_h (3 h) decides
    assert at(tiny, 2.9).stage is None
    assert at(tiny, 3).stage == "attention" and at(tiny, 6).stage == "risk"
    assert at(tiny, 11.9).stage == "risk" and at(tiny, 12).stage == "severe"
    assert at(facts_of(), 24, tweak(band_factor=5)).stage is None  # 30 h at 5×
    assert at(facts_of(), 30, tweak(band_factor=5)).stage == "attention"
    assert at(facts_of(), 20, tweak(band_enabled=False)).stage is None
    assert at(facts_of(), 20, tweak(enabled=False)).stage is None
    assert at(facts_of(band_routine(None)), 80).stage is None  # no record yet
    assert at(facts_of(replace(daily_routine(days=10), band_h=6.0)), 40).stage is None  # young
    assert at(facts_of(band_since=None), 80).stage is None
    # at 0 W in a home that always draws power: a device matter (plug_no_load)
    assert at(facts_of(last_power_w=0.5), 40).stage is None
    # away: no opinion at all
    away = facts_of(away_until=TODAY + timedelta(days=2))
    now = BAND_AT + timedelta(hours=40)
    assert plug_no_change(replace(away, last_seen_at=now, last_activity_at=now), TH, now) is None
    # the plug stopped reporting 2 h in: only the observed band counts
    two = BAND_AT + timedelta(hours=2)
    silent = replace(facts_of(), last_seen_at=two, last_activity_at=two, last_change_at=two)
    decision = plug_no_change(silent, TH, BAND_AT + timedelta(hours=20))
    assert decision.stage is None and decision.evidence["band_run_h"] == 2.0


def test_a_back_filled_history_is_not_judged_by_the_band():
    """History received later (a vendor's export): the band reaches into it, so it is not
    judged, as the left-on run is not."""
    now = BAND_AT + timedelta(hours=20)
    live = replace(
        facts_of(),
        last_seen_at=now,
        last_activity_at=now - timedelta(minutes=30),
        last_change_at=now - timedelta(minutes=30),
    )
    assert plug_no_change(live, TH, now).stage == "attention"
    backfilled = replace(live, first_received_at=now - timedelta(minutes=15))
    decision = plug_no_change(backfilled, TH, now)
    assert decision.stage is None and decision.evidence["band_since"] is None


def test_after_a_staff_close_during_the_band_it_is_judged_from_the_close():
    """Closed 2 h into the band: 관심 again at the ladder's first stage from the close (24 h,
    longer than T = 18 h), 위험 and 심각 at the ladder's steps (+12 h, +24 h)."""
    closed = BAND_AT + timedelta(hours=2)
    facts = facts_of(human_closed_at={"plug_no_change": closed})
    assert at(facts, 25.9).stage is None
    decision = at(facts, 26)
    assert decision.stage == "attention" and decision.evidence["basis"] == "band"
    assert decision.evidence["band_since"] == BAND_AT.isoformat()  # the sentence: the band
    assert decision.evidence["band_run_h"] == 26.0
    assert at(facts, 37.9).stage == "attention" and at(facts, 38).stage == "risk"
    assert at(facts, 49.9).stage == "risk" and at(facts, 50).stage == "severe"
    # a longer record (T = 30 h): from the close at T, then the ladder's steps
    long = facts_of(band_routine(10.0), human_closed_at={"plug_no_change": closed})
    assert at(long, 31.9).stage is None and at(long, 32).stage == "attention"
    assert at(long, 43.9).stage == "attention" and at(long, 44).stage == "risk"
    assert at(long, 55.9).stage == "risk" and at(long, 56).stage == "severe"
    # a new band an hour after the close: judged on its own
    later = replace(facts, band_since=closed + timedelta(hours=1))
    assert at(later, 20.9).stage is None
    assert at(later, 21).stage == "attention"


# --- the tick's due times --------------------------------------------------------------------


def due_at(facts, hours: float) -> datetime:
    now = BAND_AT + timedelta(hours=hours)
    return device_due(
        replace(facts, last_seen_at=now, last_activity_at=now, last_change_at=now), TH, now
    )


def test_the_tick_is_due_at_each_stage_of_the_band():
    facts = facts_of()
    for before, stage in ((17.5, 18), (35.5, 36), (71.5, 72)):
        assert due_at(facts, before) == BAND_AT + timedelta(hours=stage)
    # without the band test the tick waits its cap (53 min for device 7)
    off = replace(facts, band_since=None)
    assert due_at(off, 17.5) == BAND_AT + timedelta(hours=17.5, minutes=53)


def test_after_a_close_the_tick_is_due_at_the_closes_stages():
    closed = BAND_AT + timedelta(hours=2)
    facts = facts_of(human_closed_at={"plug_no_change": closed})
    assert due_at(facts, 17.5) == BAND_AT + timedelta(hours=17.5, minutes=53)  # not 18 h
    for before, stage in ((25.5, 26), (37.5, 38), (49.5, 50)):
        assert due_at(facts, before) == BAND_AT + timedelta(hours=stage)


# --- the hold --------------------------------------------------------------------------------


def held(stored: dict, decision: Decision) -> bool:
    return _level_held(SimpleNamespace(evidence=stored), decision)


def test_an_open_band_alert_is_held_while_the_band_goes_on():
    facts = facts_of()
    stored = merged_evidence({}, at(facts, 18).evidence)
    assert stored["held_by"] == "band"
    # each fridge cycle is a sign of life for every other test; the band goes on
    assert held(stored, at(facts, 20))
    # the nightly learning lengthened the record (T = 30 h): no stage, the same band: held
    longer = at(facts_of(band_routine(10.0)), 20)
    assert longer.stage is None and held(stored, longer)


def test_after_a_gap_the_alert_is_held_while_the_power_stays_within_the_stored_band():
    stored = merged_evidence({}, at(facts_of(), 18).evidence)
    restart = BAND_AT + timedelta(hours=20)  # the Wi-Fi back: a new band
    fridge = facts_of(band_since=restart, band_low_w=130.0, band_high_w=130.0, last_power_w=130.0)
    decision = at(fridge, 21)
    assert decision.stage is None and decision.evidence["band_since"] == restart.isoformat()
    assert held(stored, decision)  # 40–130 W: within 100 W
    kettle = replace(fridge, band_low_w=141.0, band_high_w=141.0, last_power_w=141.0)
    assert not held(stored, at(kettle, 21))  # 40–141 W: the band is left
    below = replace(fridge, band_low_w=24.0, band_high_w=24.0, last_power_w=24.0)
    assert held(stored, at(below, 21))  # a drop (a TV's auto-off) says nothing of the person


def test_merged_evidence_keeps_the_band_when_a_later_decision_lacks_it():
    stored = merged_evidence({}, at(facts_of(), 18).evidence)
    # the band test switched off under the open alert: the decision has no band
    off = at(facts_of(), 20, tweak(band_enabled=False))
    assert off.stage is None and off.evidence["band_since"] is None
    kept = merged_evidence(stored, off.evidence)
    assert kept["held_by"] == "band"
    assert (kept["band_since"], kept["band_low_w"], kept["band_high_w"], kept["band_w"]) == (
        BAND_AT.isoformat(),
        40.0,
        125.0,
        100.0,
    )
    assert held(kept, off)  # 80 W: within the band
    kettle = at(facts_of(last_power_w=2000.0), 20, tweak(band_enabled=False))
    assert not held(kept, kettle)


# --- the whole path on the database ----------------------------------------------------------


def home_watts(slot: int, collapsed: bool) -> float:
    """A whole-home meter: 60/62 W at night (00:00–06:00), a fridge-like cycle 40↔110 W
    by day, a kettle (2 kW) at 07:30 and 18:00; after a collapse only a 30↔120 W cycle."""
    if collapsed:
        return 120.0 if slot % 2 else 30.0
    if slot in (15, 36):
        return 2000.0
    if slot < 12:
        return 62.0 if slot % 2 else 60.0
    return 110.0 if slot % 2 else 40.0


HISTORY = 20  # days before the collapse
COLLAPSE = local(DAY0 + timedelta(days=HISTORY), 6, 0)


def home_history(days: int) -> list[dict]:
    events = []
    for d in range(days):
        day = DAY0 + timedelta(days=d)
        for slot in range(48):
            ts = local(day, slot // 2, 30 * (slot % 2))
            watts = home_watts(slot, ts >= COLLAPSE)
            events.append(power_event(ts, watts, f"h{d:03d}-{slot:02d}"))
    return events


def test_a_line_held_in_a_band_alerts_through_ingest_learning_and_the_tick(db_engine):
    """20 days of a home whose kettle breaks the band twice a day (longest within it: 18:30
    to 07:30, 13 h); from 06:00 on day 20 only a 30↔120 W cycle, a sign of life at every
    reading: the band that began at 18:30 the evening before alerts at 3 × 13 h = 39 h."""
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    events = home_history(HISTORY + 2)
    for d in range(HISTORY):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
    with db_engine.connect() as conn:
        stored = conn.execute(
            select(DeviceRoutine.band_h, DeviceRoutine.model).where(DeviceRoutine.device_id == plug)
        ).one()
        day_bits = conn.execute(
            select(DeviceDaily.band_slots).where(
                DeviceDaily.device_id == plug, DeviceDaily.day == DAY0 + timedelta(days=5)
            )
        ).scalar_one()
    assert day_bits == bits(15, 16) | bits(36, 37)
    assert stored.band_h == 13.0 and Routine.from_json(stored.model).band_h == 13.0
    start = local(DAY0 + timedelta(days=HISTORY), 0)
    collapse = [e for e in events if datetime.fromisoformat(e["ts"]) >= start]
    stages = first_stages(db_engine, plug, collapse)
    assert "attention" in stages, "the band test never alerted"
    band_at = local(DAY0 + timedelta(days=HISTORY - 1), 18, 30).astimezone(UTC)
    ts, evidence = stages["attention"]
    assert ts == band_at + timedelta(hours=39)
    assert evidence["basis"] == "band" and evidence["band_since"] == band_at.isoformat()
    assert (evidence["band_low_w"], evidence["band_high_w"]) == (30.0, 120.0)
    assert "never stayed within 100 W for longer than 13 h" in evidence["explanation"]
    assert set(stages) == {"attention"}  # 위험 at 78 h: after the end
    with db_engine.connect() as conn:
        state = conn.execute(
            select(DeviceState.__table__).where(DeviceState.device_id == plug)
        ).one()
    assert state.band_since == band_at
    # the ingest prefilter keeps the plug though its last sign of life is the last reading
    now = state.last_seen_at
    touched = Touched(
        "smart_plug",
        frozenset({"power"}),
        now,
        state.last_activity_at,
        None,
        None,
        state.above_since,
        state.band_since,
        stored.band_h,  # ingest reads it with the background
    )
    assert state.last_activity_at == now
    timeouts = {"smart_plug": 7200}
    assert needs_rules(touched, TH, now, timeouts, quiet_hours(TH))
    assert not needs_rules(replace(touched, band_since=None), TH, now, timeouts, quiet_hours(TH))
    # without its record (not learned yet) the plug is left to its other rules
    assert not needs_rules(replace(touched, band_h=None), TH, now, timeouts, quiet_hours(TH))


def test_the_ingest_prefilter_keeps_a_plug_whose_band_has_held_for_its_threshold():
    """From the band test's first stage by the plug's record (3 × 6 h), or band_min_h (3 h)
    for a tiny record; not without a record (the rule cannot judge the band then)."""
    now = BAND_AT + timedelta(hours=18)

    def touched(band_since, band_h=6.0):
        return Touched(
            "smart_plug", frozenset({"power"}), now, now, None, None, None, band_since, band_h
        )

    timeouts, quiet = {"smart_plug": 7200}, quiet_hours(TH)
    assert needs_rules(touched(now - timedelta(hours=18)), TH, now, timeouts, quiet)
    assert not needs_rules(touched(now - timedelta(hours=17.9)), TH, now, timeouts, quiet)
    assert needs_rules(touched(now - timedelta(hours=3), 0.5), TH, now, timeouts, quiet)
    assert not needs_rules(touched(now - timedelta(hours=2.9), 0.5), TH, now, timeouts, quiet)
    assert not needs_rules(touched(BAND_AT, None), TH, now, timeouts, quiet)
    assert not needs_rules(touched(None), TH, now, timeouts, quiet)
    off = tweak(band_enabled=False)
    assert not needs_rules(touched(BAND_AT), off, now, timeouts, quiet_hours(off))


def test_a_plug_the_ingest_prefilter_skips_never_fires_with_a_band():
    """The pre-filter's property (test_rules_prefilter) on plugs with a band record and a band
    of any length: a skipped plug has no rule that fires."""
    import random

    from dashboard.rules.config import current_thresholds
    from dashboard.rules.evaluate import evaluate_device
    from tests.unit.test_rules_prefilter import NOW, random_facts

    th = current_thresholds()
    quiet = quiet_hours(th)
    rng = random.Random(11)
    skipped = judged = 0
    for _ in range(20_000):
        now = NOW + timedelta(minutes=rng.uniform(0, 600))
        f = random_facts(rng, now)
        if f.type_code != "smart_plug":
            continue
        band = now - timedelta(hours=rng.uniform(-0.1, 12))
        seen = now - timedelta(minutes=rng.uniform(-3, 30))
        f = replace(
            f,
            routine=band_routine(rng.choice((0.0, 0.5, 2.0, 6.0))),
            band_since=band,
            band_low_w=40.0,
            band_high_w=125.0,
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
            None,
            band,
            f.routine.band_h,
        )
        if needs_rules(t, th, now, timeouts, quiet):
            judged += 1
            continue
        skipped += 1
        fired = [d for d in evaluate_device(f, th, now, ()) if d.stage is not None]
        assert fired == [], (f, fired)
    assert skipped > 300 and judged > 300, (skipped, judged)


def test_the_record_reads_from_the_first_day_the_band_was_kept():
    """Days before the first non-NULL day are left out (stored before the upgrade); a NULL day
    after it (no power reading, the band held) is a day without a break."""
    d = [TODAY - timedelta(days=k) for k in range(5, 0, -1)]
    stored = {d[0]: None, d[1]: NOON, d[2]: None, d[3]: 0, d[4]: NOON}
    assert band_days(stored) == {d[1]: NOON, d[2]: 0, d[3]: 0, d[4]: NOON}
    assert band_days({d[0]: None}) == {}
    assert band_record(band_days(stored), *WINDOW, 4)[0] == 72.0


def test_one_band_far_longer_than_any_other_is_left_out_of_the_record():
    """A collapse whose band an auto-off broke (41.5 h against ordinary 13 h bands) is not the
    home's normal; a home whose longest band is under band_factor times the next keeps it."""
    import numpy as np

    from dashboard.detection.band import usual_longest

    assert usual_longest(np.array([26, 83, 24, 26]), 3) == 13.0  # 41.5 h >= 3 x 13 h: left out
    assert usual_longest(np.array([26, 70, 24]), 3) == 35.0  # 35 h < 39 h: the home's own
    assert usual_longest(np.array([83, 26]), None) == 41.5  # without a factor: the longest
    assert usual_longest(np.array([83]), 3) == 41.5 and usual_longest(np.array([]), 3) is None
    day = {TODAY - timedelta(days=k): NOON for k in range(1, 29)}
    day[TODAY - timedelta(days=5)] = 0  # one 48 h band among 24 h ones: kept (< 72 h)
    assert band_record(day, *WINDOW, 14, 3)[0] == 48.0
    day[TODAY - timedelta(days=6)] = 0  # 72 h = 3 x 24 h: left out
    assert band_record(day, *WINDOW, 14, 3)[0] == 24.0


def test_hours_without_reports_are_left_out_and_the_sentence_says_so():
    """A 2 h silence inside the band: 관심 2 h later, the sentence's start the band's first
    reading; a band left out of the record is named, so "never longer than" stays true."""
    facts = replace(facts_of(), band_gap_h=2.0)
    assert at(facts, 19.9).stage is None
    decision = at(facts, 20)
    assert decision.stage == "attention" and decision.evidence["band_run_h"] == 18.0
    assert decision.evidence["band_since"] == BAND_AT.isoformat()
    en = decision.evidence["explanation"]
    assert en.endswith("for longer than 6 h. Hours without any report (2 h) are not counted.")
    routine = replace(facts.routine, band_left_out_h=48.0)
    apart = at(replace(facts, routine=routine), 20).evidence
    assert "longer than 6 h, apart from one band of 48 h." in apart["explanation"]
    ko = explain_plug(apart, "ko")
    assert "한 번(48시간)을 빼면 6시간보다 오래" in ko
    assert ko.endswith("신호가 없던 2시간은 세지 않았습니다.")


def test_a_new_band_under_an_open_alert_is_no_write_and_no_version_bump():
    """A kettle during an alert of another test breaks the band: band_since moves at every
    such break, and an operator's concurrent action must not trip on a new version for it."""
    from dashboard.rules.lifecycle import _material

    stored = at(facts_of(), 18).evidence
    later = dict(stored, band_since=(BAND_AT + timedelta(hours=5)).isoformat(), band_run_h=2.0)
    same = _material(merged_evidence(stored, stored))
    assert _material(merged_evidence(stored, later)) == same
