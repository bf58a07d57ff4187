"""The threshold preview's replay of the left-on test (``detection.scan``): each day's record as
the nightly job learns it, the run from the stored half-hours above the ceiling, one opening per
run (one with an overlapping spell's), the preview table's row, and the live path against it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection.background import Background
from dashboard.detection.left_on import longest_on_h
from dashboard.detection.preview import (
    Counts,
    PlugHistory,
    Preview,
    load_histories,
    preview_district,
    replay_counts,
)
from dashboard.detection.scan import SpellAlert, _on_record, one_at_a_time, scan_plug
from dashboard.detection.stillness import FULL_DAY
from dashboard.rules.config import Thresholds
from tests.unit.test_detection import DAY0, DAYTIME, TODAY, bits, local
from tests.unit.test_left_on import tv_left_on

TH = Thresholds()
EVERY_HALF_HOUR = FULL_DAY


def tweak(**plug_routine) -> Thresholds:
    return TH.model_copy(update={"plug_routine": TH.plug_routine.model_copy(update=plug_routine)})


# --- the record ------------------------------------------------------------------------------


@given(
    pattern=st.lists(
        st.one_of(
            st.integers(0, FULL_DAY),
            st.sampled_from([0, FULL_DAY, bits(38, 43), bits(40, 47), bits(0, 5), bits(30, 47)]),
        ),
        min_size=20,
        max_size=40,
    ),
    gaps=st.sets(st.integers(0, 39), max_size=6),
    min_days=st.sampled_from([7, 14]),
)
@settings(max_examples=60, deadline=None)
def test_the_preview_learns_each_days_record_as_the_nightly_job_does(pattern, gaps, min_days):
    """Days in ``gaps`` have no ``above_slots`` (no row, or stored without a ceiling): the
    learning reads only the others, and so does the preview."""
    day0 = date(2026, 9, 1)
    above = {day0 + timedelta(days=k): v for k, v in enumerate(pattern) if k not in gaps}
    n = len(pattern) + 1
    judged = np.zeros(n, dtype=bool)
    flat = np.zeros(n * 48, dtype=bool)
    for day, value in above.items():
        k = (day - day0).days
        judged[k] = True
        flat[k * 48 : (k + 1) * 48] = [(value >> j) & 1 for j in range(48)]
    record = _on_record(flat, judged, 28, min_days)
    some = np.arange(0, n, 3)  # the scan asks only for the days its long runs are judged on
    picked = _on_record(flat, judged, 28, min_days, some)
    np.testing.assert_array_equal(picked[some], record[some])
    assert np.isnan(np.delete(picked, some)).all()
    for k in range(n):
        learned = longest_on_h(above, day0 + timedelta(days=k - 28), day0 + timedelta(k), min_days)
        if learned is None:
            assert np.isnan(record[k])
        else:
            assert record[k] == learned


# --- the scan --------------------------------------------------------------------------------

LAST = date(2026, 11, 28)
NEXT = LAST + timedelta(days=1)
END = local(NEXT, 12, 0).astimezone(UTC)


def tv_days(flickers: bool = True) -> tuple[dict, dict]:
    """(activity bits, above bits): four weeks of a TV on 20:00–22:00 (a 2 h record); on the
    last evening switched on at 20:00 and still on at noon. A flickering TV is a sign of life
    at every half-hour; a steady load only when switched on."""
    days = {LAST - timedelta(days=k): DAYTIME for k in range(0, 29)}
    above = {d: bits(40, 43) for d in days}
    above[LAST], above[NEXT] = bits(40, 47), bits(0, 23)
    if flickers:
        days[LAST], days[NEXT] = DAYTIME | bits(40, 47), bits(0, 23)
    else:  # active until 20:00, switched on at 20:00, then nothing moves
        days[LAST], days[NEXT] = bits(15, 40), 0
    return days, above


def test_the_preview_opens_attention_when_a_flickering_tv_is_left_on():
    """Record 2 h, so 관심 at the 6 h minimum: 02:00 (the run from the start of its first
    half-hour, 20:00), 위험 at 08:00 (12 h); held until the scan's end (still on)."""
    days, above = tv_days()
    scan = scan_plug(days, TH, END - timedelta(days=1), END, above=above)
    on = [a for a in scan.alerts if a.basis == "on"]
    assert len(on) == 1
    alert = on[0]
    assert alert.opened_at == local(NEXT, 2).astimezone(UTC)
    assert alert.reached == (
        ("attention", local(NEXT, 2).astimezone(UTC)),
        ("risk", local(NEXT, 8).astimezone(UTC)),
    )
    assert alert.stage == "risk" and alert.running
    assert alert.since == local(LAST, 20).astimezone(UTC)
    # nothing else opened in the window: the TV's flicker leaves no quiet spell
    assert [a for a in scan.alerts if a.opened_at >= END - timedelta(days=1)] == on


def test_the_left_on_test_off_or_without_stored_runs_raises_nothing():
    days, above = tv_days()
    start = END - timedelta(days=1)
    for th, runs in ((tweak(on_enabled=False), above), (tweak(enabled=False), above), (TH, None)):
        scan = scan_plug(days, th, start, END, above=runs)
        assert not [a for a in scan.alerts if a.basis == "on" or a.opened_at >= start]


def test_a_young_plug_or_one_without_a_record_is_not_judged():
    days, above = tv_days()
    young = {d: v for d, v in days.items() if (LAST - d).days < 10}
    scan = scan_plug(young, TH, END - timedelta(days=1), END, above=above)
    assert not [a for a in scan.alerts if a.basis == "on"]
    # ceilings on the last days only: fewer than min_days days judged, no record
    recent = {d: v for d, v in above.items() if (LAST - d).days < 10}
    scan = scan_plug(days, TH, END - timedelta(days=1), END, above=recent)
    assert not [a for a in scan.alerts if a.basis == "on"]


def test_a_run_that_ends_before_its_threshold_opens_nothing_and_one_that_ends_is_closed():
    days, above = tv_days()
    above[LAST], above[NEXT] = bits(40, 47), bits(0, 2)  # 20:00–01:30: 5.5 h, under 6 h
    scan = scan_plug(days, TH, END - timedelta(days=1), END, above=above)
    assert not [a for a in scan.alerts if a.basis == "on"]
    above[NEXT] = bits(0, 5) | bits(7, 9)  # one empty half-hour bridged: 20:00–05:00
    (alert,) = [a for a in scan_plug(days, TH, END - timedelta(1), END, above=above).alerts]
    assert alert.basis == "on" and alert.stage == "attention" and not alert.running
    assert alert.opened_at == local(NEXT, 2).astimezone(UTC)
    assert alert.end == local(NEXT, 5).astimezone(UTC)  # the half-hour after its last


def test_a_steady_load_left_on_and_the_quiet_spell_beside_it_are_one_opening():
    """A heater switched on at 20:00 that never moves: the quiet spell and the run above the
    ceiling both judge the night; live that is one alert, so the preview counts one."""
    days, above = tv_days(flickers=False)
    start = END - timedelta(days=1)
    scan = scan_plug(days, TH, start, END, above=above)
    opened = [a for a in scan.alerts if a.opened_at >= start]
    assert len(opened) == 1
    assert opened[0].opened_at == local(NEXT, 2).astimezone(UTC)
    without = scan_plug(days, tweak(on_enabled=False), start, END, above=above)
    spell = [a for a in without.alerts if a.opened_at >= start]
    assert len(spell) == 1 and spell[0].opened_at > opened[0].opened_at
    # the routine's 위험 comes at 10:00, the run's at 08:00: the one alert's top is the run's
    assert (spell[0].stage, spell[0].top_at) == ("risk", local(NEXT, 10).astimezone(UTC))
    assert (opened[0].stage, opened[0].basis) == ("risk", "on")
    assert opened[0].top_at == local(NEXT, 8).astimezone(UTC)
    assert opened[0].end == spell[0].end and opened[0].running
    standby = Background(low_w=1.0, high_w=1.0, step_w=0.0, nights=28)
    plug = PlugHistory(1, 11, None, days, above=above, background=standby)
    (now, off), _ = replay_counts([plug], [TH, tweak(on_enabled=False)], start, END)
    assert now.alerts == off.alerts == 1
    assert now.by_basis["on"] == 1 and off.by_basis["routine"] == 1
    # a whole-home meter's plug (its ceiling above a standby's) is not judged by the test
    home = replace(plug, background=Background(low_w=150.0, high_w=400.0, step_w=80.0, nights=28))
    (whole,), _ = replay_counts([home], [TH], start, END)
    assert whole.by_basis.get("on", 0) == 0 and whole.by_basis["routine"] == 1


def test_alerts_that_do_not_overlap_stay_apart_and_the_spells_basis_wins_a_tie():
    t = local(LAST, 0).astimezone(UTC)

    def alert(opened: int, end: int, stage: str, basis: str) -> SpellAlert:
        at = t + timedelta(hours=opened)
        return SpellAlert(t, t + timedelta(hours=end), False, at, stage, basis, at, ((stage, at),))

    apart = [alert(1, 3, "attention", "ladder"), alert(4, 6, "attention", "on")]
    assert one_at_a_time(apart) == apart
    (one,) = one_at_a_time([alert(1, 5, "attention", "routine"), alert(2, 8, "risk", "on")])
    assert (one.stage, one.basis, one.opened_at) == ("risk", "on", t + timedelta(hours=1))
    assert one.end == t + timedelta(hours=8)
    assert one.reached == (("attention", t + timedelta(hours=1)), ("risk", t + timedelta(hours=2)))
    (tie,) = one_at_a_time([alert(2, 8, "risk", "on"), alert(2, 5, "risk", "ladder")])
    assert tie.basis == "ladder"


# --- the preview table -----------------------------------------------------------------------


def test_the_preview_table_names_the_left_on_tests_alerts_where_there_are_any():
    from dashboard.ui.settings_page import preview_frame

    now = local(TODAY, 0, 0).astimezone(UTC)

    def frame(current: dict, proposed: dict):
        counts = (Counts(attention=3, by_basis=current), Counts(attention=4, by_basis=proposed))
        return preview_frame(Preview("1111000000", now, now, 10, 8, *counts, 0.1))

    assert frame({"ladder": 3}, {"ladder": 4}).shape[0] == 6
    table = frame({"on": 0, "ladder": 3}, {"on": 1, "ladder": 3})
    assert table.shape[0] == 7 and table.iloc[6].tolist()[1:] == [0, 1, "+1"]
    both = frame({"still": 1, "on": 2}, {"still": 1, "on": 3})
    assert both.shape[0] == 8 and both.iloc[7].tolist()[1:] == [2, 3, "+1"]


# --- the live path against the preview -------------------------------------------------------


def test_the_preview_opens_the_left_on_alert_when_the_live_tick_did(db_engine):
    """The whole path of ``test_left_on``: 24 evenings of TV (a 4 h record), then left on from
    19:00 with every reading flickering. The live tick opens 관심 at 03:00 and 위험 at 11:00; the
    preview, from the stored ``above_slots``, opens the same stages at the same half-hours."""
    plug, last, stages = tv_left_on(db_engine)
    now = local(last + timedelta(days=1), 14).astimezone(UTC)
    end = local(last + timedelta(days=1), 13, 30).astimezone(UTC)  # its last reading
    with db_engine.connect() as conn:
        (history,) = [
            h
            for h in load_histories(conn, "4128500000", DAY0, last + timedelta(days=1))
            if h.device_id == plug
        ]
        preview = preview_district(conn, "4128500000", TH, tweak(on_enabled=False), now)
    assert history.above and history.above[last] == bits(38, 47)
    scan = scan_plug(history.days, TH, end - timedelta(days=1), end, above=history.above)
    (alert,) = [a for a in scan.alerts if a.basis == "on"]
    assert alert.reached == (("attention", stages["attention"][0]), ("risk", stages["risk"][0]))
    assert preview.end == end
    assert preview.current.by_basis["on"] == 1 and preview.proposed.by_basis["on"] == 0
    assert preview.current.alerts == preview.proposed.alerts + 1
