"""Injected incidents: where they sit, what the residual load looks like, and determinism."""

from __future__ import annotations

import numpy as np
import pytest

from dashboard.evaluation.datasets import Trace
from dashboard.evaluation.incidents import (
    AFTER_H,
    DAY,
    HOUR,
    MIN_HISTORY_DAYS,
    NOISE_SD_W,
    Plan,
    fridge,
    hour_of_day,
    inject_absence,
    inject_decline,
    inject_fault,
    inject_stop,
    make_cases,
    quiet_level,
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
    w = after(inject_stop(t, ONSET, "night_load", np.random.default_rng(2)))
    recent = (t.ts < ONSET) & (t.ts >= ONSET - 14 * DAY)
    h = hour_of_day(t.ts)
    pool = set(t.watts[recent & (h >= 1) & (h < 5)].tolist())
    assert set(w.tolist()) <= pool
    assert w.max() > 1000 and w.min() < 600  # the heater keeps switching


def test_appliance_left_on_adds_a_constant_over_the_night_load():
    t = home()
    w = after(inject_stop(t, ONSET, "appliance_on", np.random.default_rng(2)))
    assert w.min() >= 40 + 400 + 90


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
