"""Injected incidents: where they sit, what the residual load looks like, and determinism."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from dashboard.evaluation.datasets import Trace, demo_traces
from dashboard.evaluation.incidents import (
    AFTER_H,
    DAY,
    HOUR,
    MIN_HISTORY_DAYS,
    NOISE_SD_LUX,
    NOISE_SD_W,
    Plan,
    fridge,
    hour_of_day,
    inject_absence,
    inject_decline,
    inject_fault,
    inject_stop,
    make_cases,
    night_load,
    quiet_level,
    residual,
)

T0 = 1_704_034_800  # 2024-01-01 00:00 Seoul


def home(days: int = 90, step: int = 1800, seed: int = 0, lux: bool = False) -> Trace:
    """Base load 100 W, a night heater of 400-1400 W cycling 01:00-05:00, daytime appliances."""
    rng = np.random.default_rng(seed)
    ts = T0 + np.arange(days * DAY // step, dtype=np.int64) * step
    h = hour_of_day(ts)
    watts = 100 + rng.normal(0, 2, len(ts))
    night = (h >= 1) & (h < 5)
    watts[night] += rng.choice([400.0, 1400.0], night.sum())
    day = (h >= 8) & (h < 22)
    watts[day] += rng.random(day.sum()) * 600
    lx = np.where(day, 300.0, 2.0) if lux else None
    return Trace("test/home", "test", step, ts, np.round(watts, 1), lx)


ONSET = T0 + 40 * DAY + 7 * HOUR + 30 * 60


def after(t: Trace, onset: int = ONSET) -> np.ndarray:
    return t.watts[t.ts >= onset]


def test_copy_holds_history_before_and_96_hours_after():
    t = home()
    c = inject_stop(t, ONSET, "standby", np.random.default_rng(1))
    assert c.ts[-1] < ONSET + AFTER_H * HOUR <= c.ts[-1] + t.step_s
    assert ONSET - c.ts[0] >= MIN_HISTORY_DAYS * DAY
    before = c.ts < ONSET
    orig = np.isin(t.ts, c.ts[before])
    assert np.array_equal(c.watts[before], t.watts[orig])  # history untouched


def test_standby_is_the_quiet_level_with_noise():
    t = home()
    level = quiet_level(t, ONSET)
    assert 95 < level < 100
    w = after(inject_stop(t, ONSET, "standby", np.random.default_rng(1)))
    assert len(w) == AFTER_H * 2
    assert w.mean() == pytest.approx(level, abs=0.5)
    assert w.std() == pytest.approx(NOISE_SD_W, rel=0.2)
    # Consecutive readings mostly within the fixed rule's 5 W margin, not always.
    assert 0 < (np.abs(np.diff(w)) > 5).mean() < 0.1


def test_fridge_cycles_and_averages_to_its_duty():
    rng = np.random.default_rng(3)
    per_min = fridge(rng, 96 * 60, 60, level=50.0)
    on = per_min > 60
    assert 0.25 < on.mean() < 0.55  # 30-50 % duty, jittered
    switches = np.count_nonzero(np.diff(on.astype(int)))
    assert 96 * 60 / 90 * 2 < switches < 96 * 60 / 35 * 2  # 40-80 min cycles
    half_hour = fridge(np.random.default_rng(3), 96 * 2, 1800, level=50.0)
    assert half_hour.mean() == pytest.approx(per_min.mean(), rel=0.1)  # averaged, same energy
    assert (np.abs(np.diff(half_hour)) > 5).mean() > 0.5  # a flat-line rule sees change


def test_night_load_is_the_homes_own_night():
    t = home()
    c = inject_stop(t, ONSET, "night_load", np.random.default_rng(2))
    w, h_after = after(c), hour_of_day(c.ts[c.ts >= ONSET])
    recent = (t.ts < ONSET) & (t.ts >= ONSET - 14 * DAY)
    h = hour_of_day(t.ts)
    pool = set(t.watts[recent & (h >= 1) & (h < 5)].tolist())
    in_night = (h_after >= 1) & (h_after < 5)
    assert set(w[in_night].tolist()) <= pool
    assert w[in_night].max() > 1000 and w[in_night].min() < 600  # the heater keeps switching


def test_a_night_timer_stays_in_the_night():
    """Outside 01:00–05:00 no reading exceeds what the home usually draws at that hour: the
    heater (500–1500 W at night) does not run at 06:00 (usual 100 W) nor at noon (≈ 400 W);
    the home draws its base load there, one level (not each hour's median, a staircase)."""
    t = home()
    c = inject_stop(t, ONSET, "night_load", np.random.default_rng(2))
    w, h_after = after(c), hour_of_day(c.ts[c.ts >= ONSET])
    recent = (t.ts < ONSET) & (t.ts >= ONSET - 14 * DAY)
    h = hour_of_day(t.ts)
    for hour in (0, 5, 6, 7, 12, 18, 23):
        usual = np.median(t.watts[recent & (h == hour)])
        at = w[h_after == hour]
        assert len(at) and at.max() <= usual + 6 * NOISE_SD_W, hour
    day = w[(h_after < 1) | (h_after >= 5)]
    assert day.mean() == pytest.approx(100, abs=3)  # the base load, one level all day
    assert 0 < day.std() < 3  # standby noise, no step at each hour like a person


def test_a_night_load_below_the_days_keeps_its_texture():
    """A home whose day draws more than its night keeps the night's cycling all day long."""
    t = home()
    h = hour_of_day(t.ts)
    night = (h >= 1) & (h < 5)
    flat_day = replace(t, watts=np.where(night, t.watts, t.watts + 2000.0))
    w = after(inject_stop(flat_day, ONSET, "night_load", np.random.default_rng(2)))
    assert np.isin(w, flat_day.watts[night]).all()


def test_appliance_left_on_adds_a_constant_over_the_night_load():
    t = home()
    ts = t.ts[(t.ts >= ONSET) & (t.ts < ONSET + AFTER_H * HOUR)]
    on = residual(np.random.default_rng(2), t, ONSET, ts, "appliance_on")
    rng = np.random.default_rng(2)
    constant = rng.uniform(40, 200)  # the draws appliance_on makes, in its order
    assert on == pytest.approx(constant + night_load(rng, t, ONSET, ts))
    assert 40 <= constant <= 200


def test_stop_light_follows_daylight_not_lamps():
    t = home(lux=True)
    c = inject_stop(t, ONSET, "standby", np.random.default_rng(2))
    lux = c.lux[c.ts >= ONSET]
    h = hour_of_day(c.ts[c.ts >= ONSET])
    assert lux[(h >= 10) & (h < 20)].mean() == pytest.approx(300, abs=2)
    assert lux[(h < 6)].mean() == pytest.approx(2, abs=2)


def test_absence_then_the_real_return():
    t = home()
    c = inject_absence(t, ONSET, 3.0, np.random.default_rng(4))
    back = ONSET + 3 * DAY
    away = c.watts[(c.ts >= ONSET) & (c.ts < back)]
    assert away.max() - away.min() < 20
    returned = c.ts >= back
    assert np.array_equal(c.watts[returned], t.watts[np.isin(t.ts, c.ts[returned])])
    assert c.ts[-1] >= back + DAY - t.step_s


def test_faults_zero_watts_or_no_readings():
    t = home(lux=True)
    z = inject_fault(t, ONSET, "flat_zero")
    assert np.all(after(z) == 0) and np.all(z.lux[z.ts >= ONSET] == 0)
    n = inject_fault(t, ONSET, "no_data")
    assert n.ts[-2] < ONSET and n.ts[-1] == ONSET + AFTER_H * HOUR  # one closing reading
    with pytest.raises(ValueError, match="unknown fault"):
        inject_fault(t, ONSET, "smoke")


def test_decline_thins_activity_progressively():
    t = home(days=100)
    start = T0 + 40 * DAY
    c = inject_decline(t, start, np.random.default_rng(5))
    orig = t.watts[np.isin(t.ts, c.ts)]
    changed = c.watts != orig
    first, last = (c.ts >= start) & (c.ts < start + 7 * DAY), c.ts >= start + 35 * DAY
    assert changed[c.ts < start].sum() == 0
    assert changed[first].mean() < 0.15 < 0.5 < changed[last].mean()


def test_cases_are_deterministic_and_placed_after_28_days():
    t = home(days=120)
    a, b = make_cases(t, 11), make_cases(t, 11)
    assert [c.case_id for c in a] == [c.case_id for c in b]
    assert all(np.array_equal(x.trace.watts, y.trace.watts) for x, y in zip(a, b, strict=True))
    assert make_cases(t, 12)[0].onset != a[0].onset
    kinds = [c.kind for c in a]
    assert kinds.count("stop") == 16 and kinds.count("absence") == 3
    assert kinds.count("fault") == 2 and kinds.count("decline") == 1
    assert all(c.onset - int(t.ts[0]) >= MIN_HISTORY_DAYS * DAY for c in a)
    stop_hours = {int(hour_of_day(np.array([c.onset]))[0]) for c in a if c.kind == "stop"}
    assert len(stop_hours) >= 8  # stops at many times of day
    assert len({c.case_id for c in a}) == len(a)
    short = make_cases(home(days=30), 11, Plan(stops_per_residual=1))
    assert short == []  # no room for 28 days of history and 96 h after


# The demo's homes know the light of their rooms with nobody in them (floor + that day's
# daylight): a stop shows exactly that, not a dull-day profile with the usual lamps still lit.
DEMO = demo_traces(3, 60, seed=5)
SUN_HOURS = np.arange(10, 16)  # no lamp at these hours; the sun curve well above 0


def demo_stop(t: Trace, unattended: bool = True) -> tuple[int, Trace]:
    onset = int(t.ts[0]) + 40 * DAY + 7 * HOUR + 30 * 60  # 07:30 Seoul
    src = t if unattended else replace(t, unattended_lux=None)
    return onset, inject_stop(src, onset, "standby", np.random.default_rng(1))


def _after(t: Trace, c: Trace, onset: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Injected light, the home's unattended light and the hour, at the readings after onset."""
    a = c.ts >= onset
    return c.lux[a], t.unattended_lux[np.isin(t.ts, c.ts[a])], hour_of_day(c.ts[a])


def test_demo_stop_light_is_the_empty_room_plus_noise():
    for t in DEMO:
        onset, c = demo_stop(t)
        lux, empty, h = _after(t, c, onset)
        assert len(lux) == AFTER_H
        assert np.all(np.abs(lux - empty) <= 6)  # 4 sd of the sensor's 1.5 lux
        assert (lux - empty).std() == pytest.approx(NOISE_SD_LUX, rel=0.25)
        # 1.5 lux + the daylight: the sun's curve scaled by one factor per day (window × cloud)
        dark = (h < 6) | (h >= 20)
        assert np.all(np.abs(lux[dark] - 1.5) <= 6)
        sun = np.clip(np.sin(np.pi * (h - 6.5) / 12.5), 0, None)
        day = np.arange(AFTER_H) // 24
        for d in range(4):
            sel = (day == d) & np.isin(h, SUN_HOURS)
            factor = (lux[sel] - 1.5) / sun[sel]
            assert factor.max() - factor.min() < 12  # the noise / sun only: no TV, no lamp
        assert c.unattended_lux is not None and len(c.unattended_lux) == len(c.ts)


def test_demo_stop_light_has_no_lamp_at_the_homes_lamp_hours():
    lamp_hours_seen = 0
    for t in DEMO:
        onset, c = demo_stop(t)
        before = t.ts < onset
        h_all = hour_of_day(t.ts)
        lamp = t.lux - t.unattended_lux > 60  # a lamp (80-250 lux) lit
        usual = [k for k in range(24) if lamp[before & (h_all == k)].mean() >= 0.7]
        lamp_hours_seen += len(usual)
        lux, empty, h = _after(t, c, onset)
        at = np.isin(h, usual)
        assert at.sum() >= 4 and np.all(lux[at] - empty[at] <= 6)
    assert lamp_hours_seen >= 9
    # The 10th-percentile estimate kept plug-02's 20:00 lamp (lit on 90 % of its days) lit.
    t = DEMO[1]
    onset, old = demo_stop(t, unattended=False)
    lux, empty, h = _after(t, old, onset)
    assert np.all(lux[h == 20] > 80)


def test_demo_stop_light_follows_each_days_cloud():
    # The cloud is one per day for the whole city: the noon light of a stopped home rises and
    # falls with another home's daylight on the same days, as the old profile's did not.
    t, other = DEMO[0], DEMO[2]
    onset, c = demo_stop(t)
    lux, _empty, h = _after(t, c, onset)
    noon = lux[h == 13] - 1.5
    o = other.unattended_lux[hour_of_day(other.ts) == 13] - 1.5
    o = o[40:44]  # the same four days (the stop starts on day 40 at 07:30)
    assert noon.max() / noon.min() > 1.5
    assert np.allclose(noon / o, (noon / o).mean(), rtol=0.1)
    _onset, old = demo_stop(t, unattended=False)
    flat = old.lux[(old.ts >= onset) & (hour_of_day(old.ts) == 13)]
    assert flat.max() / flat.min() < 1.15


def test_demo_cases_keep_the_unattended_light_in_every_copy():
    t = demo_traces(1, 90, seed=5)[0]  # room for a six-week decline after 28 days
    cases = make_cases(t, 11, Plan(stops_per_residual=1, absences=1))
    assert {c.kind for c in cases} == {"stop", "absence", "fault", "decline"}
    for c in cases:
        u = c.trace.unattended_lux
        assert u is not None and len(u) == len(c.trace.ts)
    absence = next(c for c in cases if c.kind == "absence")
    a = (absence.trace.ts >= absence.onset) & (absence.trace.ts < absence.end)
    assert np.all(np.abs(absence.trace.lux[a] - absence.trace.unattended_lux[a]) <= 6)
    decline = next(c for c in cases if c.kind == "decline")
    thinned = decline.trace.watts != t.watts[np.isin(t.ts, decline.trace.ts)]
    assert thinned.sum() > 50
    d = decline.trace
    assert np.all(np.abs(d.lux[thinned] - d.unattended_lux[thinned]) <= 6)
