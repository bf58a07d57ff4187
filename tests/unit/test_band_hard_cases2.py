"""The band test on the cases a second hostile review replayed: a silence ended by a heartbeat,
readings back-filled into a silence, a long band that recurs, a living person below an alert's
band (two decided trade-offs, pinned so that a change is deliberate), and the preview's record
against the learning's with the factor."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection.band import band_record, band_start
from dashboard.detection.scan import _band_record
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import _State, merge_state
from tests.unit.test_band import MARGINS, T0
from tests.unit.test_band_hard_cases import _replay
from tests.unit.test_band_preview import EVERY_TWO_HOURS, FULL_DAY, bits
from tests.unit.test_left_on import reading

L0 = datetime(2026, 9, 1)  # local (Asia/Seoul) times in the replay CSVs


def heartbeat(ts: datetime, index: int) -> ValidEvent:
    return ValidEvent(
        index=index,
        event_uid=f"hb{ts.isoformat()}",
        device_uid="plug-1",
        ts=ts,
        type="heartbeat",
        value=None,
        data=None,
        fields={},
    )


def test_a_silence_ended_by_a_heartbeat_is_not_band_time():
    """3.5 h without any report: left out of the band's time whether a reading or a heartbeat
    ends it; the band's first reading stays its start (the sentence's "since")."""
    first = [reading(T0, 100.0, 0), reading(T0 + timedelta(minutes=30), 120.0, 1)]
    state = merge_state(_State(), first, MARGINS)
    back = T0 + timedelta(hours=4)
    plain = merge_state(state, [reading(back, 110.0, 2)], MARGINS)
    assert (plain.band_since, plain.band_gap_h) == (T0, 3.5)
    assert band_start(plain.band_since, plain.band_gap_h) == back - timedelta(minutes=30)
    hb = merge_state(
        state, [heartbeat(back, 2), reading(back + timedelta(minutes=5), 110.0, 3)], MARGINS
    )
    assert (hb.band_since, hb.band_gap_h) == (T0, 3.5)
    broke = merge_state(hb, [reading(back + timedelta(minutes=10), 400.0, 4)], MARGINS)
    assert (broke.band_since, broke.band_gap_h) == (back + timedelta(minutes=10), 0.0)


def test_readings_back_filled_into_a_silence_leave_it_out_of_the_band_all_the_same():
    """Chosen: late readings never move the band (as last_power_w), so a buffered backlog that
    arrives after the live reading leaves the silence out of the band's time: the alert comes
    that much later, never earlier."""
    state = merge_state(_State(), [reading(T0, 100.0, 0)], MARGINS)
    state = merge_state(state, [reading(T0 + timedelta(hours=3), 110.0, 1)], MARGINS)
    backlog = [reading(T0 + timedelta(minutes=10 * k), 105.0, 10 + k) for k in range(1, 18)]
    late = merge_state(state, backlog, MARGINS)
    assert (late.band_since, late.band_gap_h) == (T0, 3.0)


def _home(slot: int) -> float:
    if slot in (15, 36):
        return 2000.0
    if slot < 12:
        return 62.0 if slot % 2 else 60.0
    return 110.0 if slot % 2 else 40.0


def _fridge(slot: int) -> float:
    return 120.0 if slot % 2 else 30.0


def test_a_weekend_away_every_three_weeks_alarms_each_time_and_says_so(tmp_path):
    """Chosen: 48 h of fridge only (not marked away) every 21 days, the record 13 h otherwise.
    The one far longer band is left out of the record (else a collapse broken by an auto-off
    would hold the next alert back for 28 days), so each trip is asked about (staff mark the
    next one away), and the sentence names the band left out."""
    trips = [L0 + timedelta(days=d, hours=18, minutes=30) for d in (30, 51, 72, 93)]
    rows = []
    for d in range(100):
        for s in range(48):
            ts = L0 + timedelta(days=d, minutes=30 * s)
            away = any(a <= ts < a + timedelta(hours=48) for a in trips)
            rows.append((ts, _fridge(s) if away else _home(s)))
    opened = [t for t in _replay(tmp_path, "trips", rows) if t[0] == "attention"]
    assert len(opened) == 4, opened


def test_a_band_alert_stays_open_while_the_person_lives_on_below_it(tmp_path):
    """Chosen: a heater (1000 W) on for 40 h beside the fridge: 관심 10-02 21:00. At 22:00 it
    goes off and the person lives on a TV (85 W) and lamps (60 W), nothing above 1030 + 100 W:
    the alert stays open until staff close it (a drop never closes it: a TV's auto-off beside a
    person who collapsed is the same drop; docs/detection.md)."""
    on, off = L0 + timedelta(days=30, hours=6), L0 + timedelta(days=31, hours=22)
    rows = []
    for d in range(42):
        for s in range(48):
            ts = L0 + timedelta(days=d, minutes=30 * s)
            if ts < on:
                w = _home(s)
            elif ts < off:
                w = 1000.0 + _fridge(s)
            else:
                tv = 85.0 if 38 <= s < 46 else 0.0
                lamp = 60.0 if 36 <= s < 47 or 13 <= s < 16 else 0.0
                w = _fridge(s) + tv + lamp
            rows.append((ts, w))
    got = _replay(tmp_path, "heater", rows)
    assert got[0] == ("attention", "2026-10-02T21:00") and None not in [s for s, _ in got], got


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
@settings(max_examples=150, deadline=None)
def test_the_preview_record_equals_the_learnings_with_the_factor(pattern, gaps, min_days):
    """test_band_preview's property, with band_factor passed to both (it passes none)."""
    day0 = date(2026, 9, 1)
    band = {day0 + timedelta(days=k): v for k, v in enumerate(pattern) if k not in gaps}
    n = len(pattern) + 1
    kept = np.zeros(n, dtype=bool)
    flat = np.zeros(n * 48, dtype=bool)
    for day, value in band.items():
        k = (day - day0).days
        kept[k] = True
        flat[k * 48 : (k + 1) * 48] = [(value >> j) & 1 for j in range(48)]
    record = _band_record(flat, kept, 28, min_days, None, 3.0)
    for k in range(n):
        first, until = day0 + timedelta(days=k - 28), day0 + timedelta(k)
        learned = band_record(band, first, until, min_days, 3.0)[0]
        assert np.isnan(record[k]) if learned is None else record[k] == learned
