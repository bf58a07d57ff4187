"""The slow-risk flag: its judgement (``detection.decline``) and the evaluation's figures."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from dashboard.detection import decline
from dashboard.detection.decline import DayFigures
from dashboard.evaluation import decline as measured
from dashboard.evaluation.datasets import Trace, demo_traces

D0 = date(2024, 1, 1)
HOUR = 3600


def _days(levels: list[tuple[int, int, float]]) -> dict[date, DayFigures]:
    """``[(days, above, mean_w), ...]`` laid end to end from D0."""
    out, k = {}, 0
    for days, above, mean_w in levels:
        for _ in range(days):
            out[D0 + timedelta(days=k)] = DayFigures(above, mean_w)
            k += 1
    return out


def test_a_steady_home_is_never_below():
    days = _days([(120, 10, 300.0)])
    r = decline.day_ratio(days, D0 + timedelta(days=100))
    assert r is not None and r.above_ratio == 1 and r.watts_ratio == 1 and not r.below
    assert not any(measured.flags(days).values())
    assert not decline.score_decline(days, D0 + timedelta(days=119)).flagged


def test_no_opinion_without_enough_days_or_activity():
    assert decline.day_ratio(_days([(45, 10, 300.0)]), D0 + timedelta(days=44)) is None
    quiet = _days([(120, 1, 300.0)])  # one half-hour above the ceiling a day: too little
    assert decline.day_ratio(quiet, D0 + timedelta(days=100)) is None
    gappy = {d: f for d, f in _days([(120, 10, 300.0)]).items() if d.day % 2}
    assert decline.day_ratio(gappy, D0 + timedelta(days=100)) is None  # < 20 baseline days


def test_a_drop_is_flagged_on_its_fourteenth_day_and_ages_out():
    # 10 half-hours and 300 W a day for 60 days, then 4 and 150 W. The 14-day mean load is under
    # 0.8 × 300 from day k = 5 of the drop, the count under 0.7 × 10 from k = 7; seven below days
    # in a row flag at k = 13. The baseline ends 28 days back: once it holds 20 low days its
    # count's mean is at most 4 / 0.7, the ratio is no longer under 0.7 and the flag clears.
    days = _days([(60, 10, 300.0), (80, 4, 150.0)])
    flagged = measured.flags(days)
    drop = D0 + timedelta(days=60)
    on = [k for k in range(80) if flagged[drop + timedelta(days=k)]]
    assert on[0] == 13 and on == list(range(13, on[-1] + 1))
    assert on[-1] + 1 == 27 + 20
    assert measured.episodes(flagged) == 1
    assert measured.first_flag_day(flagged, drop, 56) == 13
    # the daily job's stateless judgement agrees day by day
    for k in range(80):
        day = drop + timedelta(days=k)
        assert decline.score_decline(days, day).flagged == flagged[day], k


def test_fewer_half_hours_without_less_load_is_not_a_decline():
    # A winter: heavier nights raise the ceiling, so fewer half-hours exceed it, but the home
    # uses as much as before. Only both falling together is a decline.
    days = _days([(60, 10, 300.0), (80, 4, 320.0)])
    assert not any(measured.flags(days).values())
    days = _days([(60, 10, 300.0), (80, 9, 150.0)])  # less load, same activity
    assert not any(measured.flags(days).values())


def test_a_flag_standing_at_the_start_is_not_a_detection():
    flagged = {D0 + timedelta(days=k): k >= 3 for k in range(10)}
    assert measured.first_flag_day(flagged, D0 + timedelta(days=5), 5) is None
    assert measured.first_flag_day(flagged, D0 + timedelta(days=2), 5) == 1
    later = {D0 + timedelta(days=10): False, D0 + timedelta(days=11): True}
    assert measured.episodes(flagged | later) == 2


def _trace(watts_of_slot) -> Trace:
    """Half-hourly readings over 6 days: 50 W ± 10 at night, ``watts_of_slot(day, slot)``."""
    ts = np.arange(6 * 48, dtype=np.int64) * 1800 - 9 * HOUR + 1_704_067_200  # Seoul midnight
    rng = np.random.default_rng(1)
    watts = []
    for k in range(len(ts)):
        day, slot = divmod(k, 48)
        w = watts_of_slot(day, slot)
        watts.append(50 + rng.uniform(-10, 10) if w is None else w)
    return Trace("t/1", "t", 1800, ts, np.array(watts, dtype=float))


def test_day_figures_count_half_hours_over_the_unattended_ceiling():
    # three evening half-hours at 200 W each day; one at 55 W (inside the night's range: what
    # a reading replaced by the night load looks like) is not counted
    def watts(day, slot):
        return {36: 200.0, 37: 200.0, 40: 200.0, 44: 55.0}.get(slot)

    trace = _trace(watts)
    figures = measured.day_figures(trace)
    # a background needs three nights before the day
    assert min(figures) == date(2024, 1, 4) and len(figures) == 3
    assert {f.above for f in figures.values()} == {3}
    last = trace.watts[-48:]
    assert figures[date(2024, 1, 6)].mean_w == float(last.mean())


def test_injected_declines_on_a_demo_home_are_flagged():
    home = demo_traces(1, 182, 5)[0]
    study = measured.study([home], seed=5, starts=4)
    assert study["n"] == 4 and study["flagged"] >= 3
    assert 14 <= study["median_days"] <= measured.DECLINE_DAYS + measured.FOLLOW_DAYS
    assert measured.normal_figures([home])["flags"] == 0
