"""The threshold preview's replay of the band test (``detection.scan``): each day's record as the
nightly job learns it, the band from the stored half-hours of its breaks, one opening per band
held until it breaks (one with an overlapping spell's), the preview table's row, and reading
``band_slots`` only when the test is on."""

from __future__ import annotations

from datetime import UTC, date, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection.band import band_record
from dashboard.detection.preview import (
    Counts,
    PlugHistory,
    Preview,
    load_histories,
    replay_counts,
)
from dashboard.detection.scan import SpellAlert, _band_record, one_at_a_time, scan_plug
from dashboard.detection.stillness import FULL_DAY
from dashboard.rules.config import Thresholds
from tests.unit.test_detection import DAY0, DAYTIME, TODAY, bits, local
from tests.unit.test_left_on import tv_left_on

TH = Thresholds()
EVERY_TWO_HOURS = sum(1 << j for j in range(0, 48, 4))  # a break every 2 h: a 2 h record


def tweak(**plug_routine) -> Thresholds:
    return TH.model_copy(update={"plug_routine": TH.plug_routine.model_copy(update=plug_routine)})


# --- the record ------------------------------------------------------------------------------


@given(
    pattern=st.lists(
        st.one_of(
            st.integers(0, FULL_DAY),
            st.sampled_from([0, EVERY_TWO_HOURS, bits(14, 14) | bits(44, 44), 1, 1 << 47]),
        ),
        min_size=20,
        max_size=40,
    ),
    gaps=st.sets(st.integers(0, 39), max_size=6),
    min_days=st.sampled_from([7, 14]),
)
@settings(max_examples=60, deadline=None)
def test_the_preview_learns_each_days_record_as_the_nightly_job_does(pattern, gaps, min_days):
    """Days in ``gaps`` have no ``band_slots`` (no power reading, or stored before the band was
    kept): the learning reads only the others, and so does the preview."""
    day0 = date(2026, 9, 1)
    band = {day0 + timedelta(days=k): v for k, v in enumerate(pattern) if k not in gaps}
    n = len(pattern) + 1
    kept = np.zeros(n, dtype=bool)
    flat = np.zeros(n * 48, dtype=bool)
    for day, value in band.items():
        k = (day - day0).days
        kept[k] = True
        flat[k * 48 : (k + 1) * 48] = [(value >> j) & 1 for j in range(48)]
    record = _band_record(flat, kept, 28, min_days)
    some = np.arange(0, n, 3)  # the scan asks only for the days its long bands are judged on
    picked = _band_record(flat, kept, 28, min_days, some)
    np.testing.assert_array_equal(picked[some], record[some])
    assert np.isnan(np.delete(picked, some)).all()
    for k in range(n):
        learned = band_record(band, day0 + timedelta(days=k - 28), day0 + timedelta(k), min_days)[0]
        if learned is None:
            assert np.isnan(record[k])
        else:
            assert record[k] == learned


# --- the scan --------------------------------------------------------------------------------

LAST = date(2026, 11, 28)
NEXT = LAST + timedelta(days=1)
END = local(NEXT, 12, 0).astimezone(UTC)
START = END - timedelta(days=1)


def held_days(moves: bool = True) -> tuple[dict, dict]:
    """(activity bits, band breaks): four weeks of a home breaking its band every 2 h (a 2 h
    record: 관심 at the 6 h minimum); on the last evening the last break at 20:00, then the line
    stays within the band until noon. A cycling fridge is a sign of life at every half-hour."""
    days = {LAST - timedelta(days=k): DAYTIME for k in range(0, 29)}
    band = dict.fromkeys(days, EVERY_TWO_HOURS)
    band[LAST], band[NEXT] = EVERY_TWO_HOURS & bits(0, 40), 0
    if moves:
        days[LAST], days[NEXT] = DAYTIME | bits(40, 47), bits(0, 23)
    else:  # active until 20:00, then nothing moves
        days[LAST], days[NEXT] = bits(15, 40), 0
    return days, band


def band_alerts(days: dict, band: dict | None, th: Thresholds = TH) -> list[SpellAlert]:
    return [a for a in scan_plug(days, th, START, END, band=band).alerts if a.basis == "band"]


def test_the_preview_opens_attention_when_a_line_stays_within_its_band():
    """Record 2 h, so 관심 at the 6 h minimum: 02:00 (the band from the start of its break's
    half-hour, 20:00), 위험 at 08:00 (12 h); held until the scan's end (no break since)."""
    days, band = held_days()
    scan = scan_plug(days, TH, START, END, band=band)
    (alert,) = [a for a in scan.alerts if a.basis == "band"]
    assert alert.opened_at == local(NEXT, 2).astimezone(UTC)
    assert alert.reached == (
        ("attention", local(NEXT, 2).astimezone(UTC)),
        ("risk", local(NEXT, 8).astimezone(UTC)),
    )
    assert alert.stage == "risk" and alert.running
    assert alert.since == local(LAST, 20).astimezone(UTC)
    # nothing else opened in the window: the fridge's cycles leave no quiet spell
    assert [a for a in scan.alerts if a.opened_at >= START] == [alert]


def test_the_band_test_off_or_without_stored_breaks_raises_nothing():
    days, band = held_days()
    for th, breaks in ((tweak(band_enabled=False), band), (tweak(enabled=False), band), (TH, None)):
        scan = scan_plug(days, th, START, END, band=breaks)
        assert not [a for a in scan.alerts if a.basis == "band" or a.opened_at >= START]


def test_a_young_plug_or_one_without_a_record_is_not_judged():
    days, band = held_days()
    young = {d: v for d, v in days.items() if (LAST - d).days < 10}
    assert not band_alerts(young, band)
    # breaks stored on the last days only: fewer than min_days days, no record
    recent = {d: v for d, v in band.items() if (LAST - d).days < 10}
    assert not band_alerts(days, recent)
    # days stored but never a break: no two breaks, no record
    assert not band_alerts(days, dict.fromkeys(band, 0))


def test_a_band_that_breaks_before_its_threshold_opens_nothing_and_one_that_breaks_closes():
    days, band = held_days()
    band[NEXT] = bits(3, 3) | bits(14, 14)  # broken at 01:30 (5.5 h) and at 07:00 (5.5 h)
    assert not band_alerts(days, band)
    band[NEXT] = bits(10, 10)  # broken at 05:00
    alert, after = band_alerts(days, band)
    assert alert.stage == "attention" and not alert.running
    assert alert.opened_at == local(NEXT, 2).astimezone(UTC)
    assert alert.end == local(NEXT, 5).astimezone(UTC)  # the break's half-hour
    # and the next band, from 05:00 to the scan's end (7 h), opens again at 11:00
    assert (after.since, after.opened_at) == (alert.end, local(NEXT, 11).astimezone(UTC))
    assert after.running


def test_a_day_without_readings_ends_the_band_at_its_midnight():
    """No ``band_slots`` row on the next day (no power reading): live, the band's time stops at
    the last report and the next reading breaks it; here it ends at midnight (4 h: nothing)."""
    days, band = held_days()
    del band[NEXT]
    assert not band_alerts(days, band)


def test_a_still_line_and_the_band_beside_it_are_one_opening():
    """Nothing moves after 20:00: the quiet spell and the band both judge the night; live that
    is one alert, so the preview counts one, opened by the band (earlier)."""
    days, band = held_days(moves=False)
    scan = scan_plug(days, TH, START, END, band=band)
    opened = [a for a in scan.alerts if a.opened_at >= START]
    assert len(opened) == 1 and opened[0].opened_at == local(NEXT, 2).astimezone(UTC)
    without = scan_plug(days, tweak(band_enabled=False), START, END, band=band)
    spell = [a for a in without.alerts if a.opened_at >= START]
    assert len(spell) == 1 and spell[0].opened_at > opened[0].opened_at
    assert opened[0].end == spell[0].end and opened[0].running
    plug = PlugHistory(1, 11, None, days, band=band)
    (now, off), _ = replay_counts([plug], [TH, tweak(band_enabled=False)], START, END)
    assert now.alerts == off.alerts == 1
    assert now.by_basis["band"] == 1 and off.by_basis["band"] == 0


def test_the_spells_basis_and_then_the_left_on_tests_win_a_tie():
    t = local(LAST, 0).astimezone(UTC)

    def alert(opened: int, end: int, stage: str, basis: str) -> SpellAlert:
        at = t + timedelta(hours=opened)
        return SpellAlert(t, t + timedelta(hours=end), False, at, stage, basis, at, ((stage, at),))

    (tie,) = one_at_a_time([alert(2, 8, "risk", "band"), alert(2, 5, "risk", "ladder")])
    assert tie.basis == "ladder"
    (tie,) = one_at_a_time([alert(2, 8, "risk", "band"), alert(2, 5, "risk", "on")])
    assert tie.basis == "on"
    (top,) = one_at_a_time([alert(1, 5, "attention", "on"), alert(2, 8, "risk", "band")])
    assert (top.stage, top.basis, top.end) == ("risk", "band", t + timedelta(hours=8))


# --- the preview table -----------------------------------------------------------------------


def test_the_preview_table_names_the_band_tests_alerts_where_there_are_any():
    from dashboard.ui.settings_page import preview_frame

    now = local(TODAY, 0, 0).astimezone(UTC)

    def frame(current: dict, proposed: dict):
        counts = (Counts(attention=3, by_basis=current), Counts(attention=4, by_basis=proposed))
        return preview_frame(Preview("1111000000", now, now, 10, 8, *counts, 0.1))

    assert frame({"band": 0}, {"band": 0}).shape[0] == 6
    table = frame({"band": 0, "ladder": 3}, {"band": 2, "ladder": 2})
    assert table.shape[0] == 7 and table.iloc[6].tolist()[1:] == [0, 2, "+2"]
    both = frame({"on": 1, "band": 2}, {"on": 1, "band": 1})
    assert both.shape[0] == 8 and both.iloc[7].tolist()[1:] == [2, 1, "-1"]


# --- reading the breaks ----------------------------------------------------------------------


def test_the_breaks_are_read_only_with_the_band_test_on(db_engine):
    """The whole path of ``test_left_on``: ingest keeps the band's breaks for each day with
    power readings (the TV's switch-on at 19:00 breaks it); the preview reads them only when
    asked (the band test on in either set)."""
    plug, last, _stages = tv_left_on(db_engine)
    with db_engine.connect() as conn:

        def history(read_band: bool) -> PlugHistory:
            plugs = load_histories(
                conn, "4128500000", DAY0, last + timedelta(days=1), read_band=read_band
            )
            return next(h for h in plugs if h.device_id == plug)

        read, unread = history(True), history(False)
    assert read.band and set(read.band) == set(read.days)
    assert read.band[last] & (1 << 38)  # the TV switched on at 19:00 broke the band
    assert unread.band == {} and unread.days == read.days
