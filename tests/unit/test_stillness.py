"""Unusual stillness (``detection.stillness``): the record, the rule's stage, the tick's due time,
the sentence, the hold on an open alert and the threshold preview's replay of it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from dashboard.db.schema import DeviceRoutine
from dashboard.detection.explain import explain_plug
from dashboard.detection.routine import Routine, learn_routine
from dashboard.detection.scan import _still_record, scan_plug
from dashboard.detection.stillness import longest_still_h, still_stage_rank, still_threshold_h
from dashboard.rules.config import Thresholds
from dashboard.rules.due import device_due
from dashboard.rules.engine import routine_due
from dashboard.rules.lifecycle import _level_held, merged_evidence
from dashboard.rules.model import Decision
from dashboard.rules.plug import plug_no_change
from tests.ingest_support import seed_catalog
from tests.unit.test_detection import (
    DAY0,
    DAYTIME,
    TODAY,
    bits,
    daily_routine,
    first_stages,
    ingest_day,
    local,
    plug_facts,
    power_history,
)

TH = Thresholds()
EVERY_HALF_HOUR = (1 << 48) - 1


def still_routine(still_h: float | None = 1.5) -> Routine:
    return replace(daily_routine(), still_h=still_h)


# --- the record ------------------------------------------------------------------------------


def test_the_record_is_the_longest_time_between_two_changes():
    days = {TODAY - timedelta(days=k): EVERY_HALF_HOUR for k in range(1, 15)}
    assert longest_still_h(days, TODAY - timedelta(days=28), TODAY, 14) == 0.5
    # one day with changes only at 01:00 and 05:00: 4 h still, then 19 h to the next day's first
    days[TODAY - timedelta(days=3)] = bits(2, 2) | bits(10, 10)
    assert longest_still_h(days, TODAY - timedelta(days=28), TODAY, 14) == 19.0


def test_a_day_without_a_row_breaks_the_run_and_the_first_change_starts_it():
    days = {TODAY - timedelta(days=k): bits(20, 20) for k in range(1, 16)}  # noon only
    assert longest_still_h(days, TODAY - timedelta(days=28), TODAY, 14) == 24.0
    del days[TODAY - timedelta(days=5)]  # nothing received that day: no 48 h run across it
    assert longest_still_h(days, TODAY - timedelta(days=28), TODAY, 14) == 24.0
    assert longest_still_h(days, TODAY - timedelta(days=28), TODAY, 15) is None  # 14 days
    # a plug switched on at noon: the morning before its first change is not a still run
    assert (
        longest_still_h({TODAY - timedelta(days=1): bits(24, 47)}, TODAY - timedelta(28), TODAY, 1)
        == 0.5
    )


def test_thresholds_and_stages():
    assert still_threshold_h(0.5, 3, 3) == 3  # never before still_min_h
    assert still_threshold_h(2.0, 3, 3) == 6
    assert [still_stage_rank(h, 3.0) for h in (2.9, 3, 5.9, 6, 11.9, 12)] == [0, 1, 1, 2, 2, 3]


def test_learning_stores_the_record_and_json_keeps_it():
    changes = {TODAY - timedelta(days=k): EVERY_HALF_HOUR ^ bits(4, 7) for k in range(1, 29)}
    days = {d: DAYTIME for d in changes}
    routine = learn_routine(days, TODAY, changes=changes)
    assert routine.still_h == 2.5  # slots 3 → 8: changes at 01:30 and 04:00
    assert Routine.from_json(routine.to_json()).still_h == 2.5
    assert learn_routine(days, TODAY).still_h is None


@given(
    pattern=st.lists(st.integers(0, EVERY_HALF_HOUR), min_size=20, max_size=40),
    gaps=st.sets(st.integers(0, 39), max_size=6),
    min_days=st.sampled_from([7, 14]),
)
@settings(max_examples=60, deadline=None)
def test_the_preview_learns_each_days_record_as_the_nightly_job_does(pattern, gaps, min_days):
    day0 = date(2026, 9, 1)
    changes = {day0 + timedelta(days=k): v for k, v in enumerate(pattern) if k not in gaps}
    n = len(pattern) + 1
    present = np.zeros(n, dtype=bool)
    flat = np.zeros(n * 48, dtype=bool)
    for day, value in changes.items():
        k = (day - day0).days
        present[k] = True
        flat[k * 48 : (k + 1) * 48] = [(value >> j) & 1 for j in range(48)]
    record = _still_record(flat, present, 28, min_days)
    for k in range(n):
        learned = longest_still_h(
            changes, day0 + timedelta(days=k - 28), day0 + timedelta(k), min_days
        )
        if learned is None:
            assert np.isnan(record[k])
        else:
            assert record[k] == learned


# --- the rule --------------------------------------------------------------------------------


# 23:00 the evening before: the routine (active from 07:30 every day) is quiet until morning
NIGHT = local(TODAY - timedelta(days=1), 23, 0).astimezone(UTC)


def test_a_home_never_still_for_long_alerts_hours_before_the_routine_and_the_ladder():
    """Last sign of life and last change at 23:00; the home never went 1.5 h without a change:
    관심 at 4.5 h, 위험 at 9 h, 심각 at 18 h on the fixed rule's own spell."""
    start = NIGHT
    facts = plug_facts(start, still_routine(), last_change_at=start)

    def at(hours: float) -> Decision:
        now = start + timedelta(hours=hours)
        return plug_no_change(replace(facts, last_seen_at=now), TH, now)

    assert at(4.4).stage is None
    decision = at(4.5)
    assert decision.stage == "attention" and decision.evidence["basis"] == "still"
    assert decision.evidence["still_at_h"] == 4.5 and decision.evidence["still_longest_h"] == 1.5
    assert decision.evidence["explanation"] == (
        "No change in power or light since 2026-11-29 23:00 (4 h 30 min); in its last 28 days"
        " this home's readings never stayed unchanged for longer than 1 h 30 min."
    )
    assert "1시간 30분보다 오래 변화 없이" in explain_plug(decision.evidence, "ko")
    assert at(9).stage == "risk" and at(18).stage == "severe"
    assert at(9).evidence["basis"] == "still"  # 08:00: before the routine's usual return


def test_stillness_waits_for_the_routine_conditions_and_counts_only_reported_time():
    start = NIGHT
    facts = plug_facts(start, still_routine(0.5), last_change_at=start)
    now = start + timedelta(hours=5)
    assert plug_no_change(replace(facts, last_seen_at=now), TH, now).stage == "attention"
    # the plug stopped reporting at 01:00: 2 h observed, a device matter, not stillness
    offline = replace(facts, last_seen_at=start + timedelta(hours=2))
    assert plug_no_change(offline, TH, now).stage is None
    # a change beyond the margins (a fridge cycle) at 03:00 restarts the still run
    cycled = replace(facts, last_seen_at=now, last_change_at=start + timedelta(hours=4))
    assert plug_no_change(cycled, TH, now).stage is None
    # switched off, no record yet, a young plug
    off = TH.model_copy(
        update={"plug_routine": TH.plug_routine.model_copy(update={"still_enabled": False})}
    )
    assert plug_no_change(replace(facts, last_seen_at=now), off, now).stage is None
    no_record = replace(facts, routine=still_routine(None), last_seen_at=now)
    assert plug_no_change(no_record, TH, now).stage is None
    young = replace(facts, routine=replace(daily_routine(days=10), still_h=0.5), last_seen_at=now)
    assert plug_no_change(young, TH, now).stage is None
    # 28 days reported, too few active for a routine (a background that explains nearly every
    # change): the stillness test needs only its record
    sparse = {TODAY - timedelta(days=k): (DAYTIME if k % 3 == 0 else 0) for k in range(1, 29)}
    unusable = replace(learn_routine(sparse, TODAY), still_h=0.5)
    assert len(unusable.reference_days) < TH.plug_routine.min_days
    decision = plug_no_change(replace(facts, routine=unusable, last_seen_at=now), TH, now)
    assert decision.stage == "attention" and decision.evidence["basis"] == "still"
    due = routine_due(replace(facts, routine=unusable, last_seen_at=start), TH, start)
    assert due is not None and due <= start + timedelta(hours=3)  # midnight comes first here


def test_the_tick_scores_the_home_when_stillness_can_first_alert():
    start = NIGHT
    facts = plug_facts(start, still_routine(), last_change_at=start + timedelta(hours=1))
    now = start + timedelta(hours=2)
    due = routine_due(replace(facts, last_seen_at=now), TH, now)
    assert due is not None and due <= start + timedelta(hours=5.5)  # 00:00 + 4.5 h
    assert plug_no_change(replace(facts, last_seen_at=due), TH, due).stage == "attention"


def test_an_open_still_alert_waits_for_a_sign_of_life_not_for_a_fridge_cycle():
    since = local(TODAY, 9, 0).astimezone(UTC).isoformat()

    row = SimpleNamespace(evidence={"basis": "still", "since": since})
    assert _level_held(row, Decision("plug_no_change", None, {"since": since}))
    later = local(TODAY, 15, 0).astimezone(UTC).isoformat()
    assert not _level_held(row, Decision("plug_no_change", None, {"since": later}))


def sparse_routine(still_h: float) -> Routine:
    """28 days reported, a sign of life on one in three: no usable routine, a still record."""
    days = {TODAY - timedelta(days=k): (DAYTIME if k % 3 == 0 else 0) for k in range(1, 29)}
    return replace(learn_routine(days, TODAY), still_h=still_h)


def test_a_still_alert_stays_held_after_the_ladder_takes_over_its_basis():
    """Raised by stillness (T = 10 h), then the ladder reaches the same stage at 36 h and the
    basis reads "ladder"; a fridge cycle at 37 h (a change, no sign of life) leaves every test
    at nothing: the alert stays open (held since stillness raised it), not closed as safe."""
    t0 = local(TODAY - timedelta(days=3), 9, 0).astimezone(UTC)
    facts = plug_facts(t0, sparse_routine(10 / 3), last_change_at=t0)

    def at(hours: float, change_h: float = 0.0) -> Decision:
        now = t0 + timedelta(hours=hours)
        changed = t0 + timedelta(hours=change_h)
        return plug_no_change(replace(facts, last_seen_at=now, last_change_at=changed), TH, now)

    stored: dict = {}
    for hours in (10, 20, 36):
        stored = merged_evidence(stored, at(hours).evidence)
    assert at(10).evidence["basis"] == "still" and stored["basis"] == "ladder"
    assert stored["held_by"] == "still"
    fridge = at(37, change_h=37)
    assert fridge.stage is None
    assert _level_held(SimpleNamespace(evidence=stored), fridge)
    # a sign of life closes it
    moved = replace(facts, last_activity_at=t0 + timedelta(hours=37))
    now = t0 + timedelta(hours=37)
    alive = plug_no_change(replace(moved, last_seen_at=now, last_change_at=now), TH, now)
    assert not _level_held(SimpleNamespace(evidence=stored), alive)


def test_after_staff_close_a_still_alert_the_unchanged_line_waits_for_the_ladder():
    """Staff checked and closed: a line unchanged since then is no news to them; only once it
    moves and stops again does stillness judge it (else a 심각 visit every 12 h for a meter
    repeating its last value)."""
    t0 = local(TODAY - timedelta(days=3), 9, 0).astimezone(UTC)
    closed = t0 + timedelta(hours=5)
    facts = plug_facts(
        t0, sparse_routine(0.5), last_change_at=t0, human_closed_at={"plug_no_change": closed}
    )
    for hours in (3, 12, 23):
        now = closed + timedelta(hours=hours)
        assert plug_no_change(replace(facts, last_seen_at=now), TH, now).stage is None
    now = closed + timedelta(hours=24)
    assert plug_no_change(replace(facts, last_seen_at=now), TH, now).stage == "attention"
    moved = replace(facts, last_change_at=closed + timedelta(hours=1))
    now = closed + timedelta(hours=4)
    decision = plug_no_change(replace(moved, last_seen_at=now), TH, now)
    assert decision.stage == "attention" and decision.evidence["basis"] == "still"


def test_a_report_stamped_ahead_of_the_clock_is_due_at_each_stillness_stage():
    """The test runs to the last report; a report stamped ahead lets the clock alone cross its
    stages, so the device's due time includes them (errs early, never late)."""
    t0 = local(TODAY - timedelta(days=1), 23, 0).astimezone(UTC)
    now = t0 + timedelta(hours=2, minutes=30)  # MAX_WAIT alone would allow 03:23
    facts = replace(
        plug_facts(t0, sparse_routine(1.0), last_change_at=t0),
        last_seen_at=now + timedelta(hours=2),
    )
    due = device_due(facts, TH, now)
    assert due <= t0 + timedelta(hours=3)
    assert plug_no_change(facts, TH, t0 + timedelta(hours=3)).stage == "attention"
    assert plug_no_change(facts, TH, due - timedelta(minutes=1)).stage is None


def test_the_preview_replays_the_stillness_test():
    """Four weeks of a change every half-hour; on the last evening the changes stop at 23:00
    with the last sign of life: the scan opens 관심 at 02:00 (the 3 h minimum), hours before the
    routine's usual return at 07:30, and later with the stillness test off."""
    last = date(2026, 11, 28)
    days = {last - timedelta(days=k): DAYTIME for k in range(0, 29)}
    changes = {d: EVERY_HALF_HOUR for d in days}
    days[last] = DAYTIME | bits(44, 45)  # active until 23:00
    changes[last] = EVERY_HALF_HOUR ^ bits(46, 47)
    days[last + timedelta(days=1)] = 0
    changes[last + timedelta(days=1)] = 0
    end = local(last + timedelta(days=1), 12, 0).astimezone(UTC)
    scan = scan_plug(days, TH, end - timedelta(days=1), end, changes=changes)
    assert scan.alerts[-1].opened_at == local(last + timedelta(days=1), 2, 0).astimezone(UTC)
    off = TH.model_copy(
        update={"plug_routine": TH.plug_routine.model_copy(update={"still_enabled": False})}
    )
    later = scan_plug(days, off, end - timedelta(days=1), end, changes=changes)
    assert later.alerts[-1].opened_at > local(last + timedelta(days=1), 7, 0).astimezone(UTC)


# --- the whole path on the database ----------------------------------------------------------


def test_a_flat_line_beside_a_fridge_that_always_cycled_alerts_within_hours(db_engine):
    """24 days of a fridge cycling every half-hour: the nightly learning stores a still record
    of 30 min. At 23:00 on day 25 everything goes flat: the tick raises 관심 by stillness at
    02:00 (the 3 h minimum), long before the routine's morning and the ladder's 24 h."""
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
    plug = ids["plug-1"]
    events = power_history(25)
    for d in range(24):
        ingest_day(db_engine, events, DAY0 + timedelta(days=d))
    with db_engine.connect() as conn:
        stored = conn.execute(
            select(DeviceRoutine.still_h, DeviceRoutine.model).where(
                DeviceRoutine.device_id == plug
            )
        ).one()
    assert stored.still_h == 0.5 and Routine.from_json(stored.model).still_h == 0.5
    flat_from = local(DAY0 + timedelta(days=24), 23, 0)
    last_day = [
        e | {"watts": 60.0} if datetime.fromisoformat(e["ts"]) >= flat_from else e
        for e in events
        if datetime.fromisoformat(e["ts"]).date() == DAY0 + timedelta(days=24)
    ]
    night = [
        {"event_id": f"n{k:02d}", "device_id": "plug-1", "type": "power", "watts": 60.0}
        | {"ts": (flat_from + timedelta(minutes=30 * k)).isoformat()}
        for k in range(2, 16)
    ]
    stages = first_stages(db_engine, plug, last_day + night)
    assert "attention" in stages, "stillness never alerted"
    ts, evidence = stages["attention"]
    assert ts == local(DAY0 + timedelta(days=25), 2, 0).astimezone(UTC)
    assert min(stages.values(), key=lambda v: v[0])[0] == ts  # the first alert at all
    assert evidence["basis"] == "still"
    assert "never stayed unchanged for longer than 30 min" in evidence["explanation"]


def test_the_preview_table_names_the_stillness_tests_alerts_where_there_are_any():
    from dashboard.detection.preview import Counts, Preview
    from dashboard.ui.settings_page import preview_frame

    now = local(TODAY, 0, 0).astimezone(UTC)

    def frame(current: dict, proposed: dict):
        counts = (Counts(attention=3, by_basis=current), Counts(attention=4, by_basis=proposed))
        return preview_frame(Preview("1111000000", now, now, 10, 8, *counts, 0.1))

    assert frame({"ladder": 3}, {"ladder": 4}).shape[0] == 6
    table = frame({"still": 1, "ladder": 2}, {"still": 2, "ladder": 2})
    assert table.shape[0] == 7 and table.iloc[6].tolist()[1:] == [1, 2, "+1"]
