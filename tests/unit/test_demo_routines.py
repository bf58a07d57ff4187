"""The demo's TV households: split into parts without changing a single draw or figure."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from dashboard.demo.clock import TimeGrid
from dashboard.demo.routines import tv_household, tv_household_parts


def _tv_household_before_split(
    rng: np.random.Generator, grid: TimeGrid, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """``tv_household`` as it was before it exposed the unattended light, verbatim."""
    s = grid.slots
    hod = grid.hour_of_day()[None, :].astype(np.float32)
    weekend = (grid.weekday() >= 5)[None, :]
    day_jitter = np.repeat(rng.normal(0, 0.5, (n, grid.days)), 24, axis=1).astype(np.float32)
    wake = rng.normal(6.5, 0.8, (n, 1)) + weekend * rng.uniform(0.5, 1.5, (n, 1)) + day_jitter
    sleep = rng.normal(22.7, 0.9, (n, 1)) + weekend * 0.4 + day_jitter
    p_morning = rng.uniform(0.5, 0.9, (n, 1))
    p_day = rng.uniform(0.1, 0.45, (n, 1)) + weekend * 0.15
    p_evening = rng.uniform(0.65, 0.95, (n, 1))
    awake = (hod >= wake) & (hod < sleep)
    p = np.where(hod < wake + 2, p_morning, np.where(hod < 17, p_day, p_evening)) * awake
    out_day = np.repeat(rng.random((n, grid.days)) < 0.25, 24, axis=1)
    out_start = np.repeat(rng.integers(9, 15, (n, grid.days)), 24, axis=1)
    p = np.where(out_day & (hod >= out_start) & (hod < out_start + 3), 0.0, p)
    p = np.where(~awake, 0.015, p)
    on = rng.random((n, s), dtype=np.float32) < p
    tv_w = rng.uniform(60, 150, (n, 1)).astype(np.float32)
    standby = rng.uniform(0.5, 2.5, (n, 1)).astype(np.float32)
    power = standby + on * tv_w * rng.uniform(0.85, 1.1, (n, s)).astype(np.float32)

    window = rng.uniform(40, 350, (n, 1)).astype(np.float32)
    cloud = np.repeat(rng.uniform(0.3, 1.0, (1, grid.days)), 24, axis=1).astype(np.float32)
    daylight = window * np.clip(np.sin(np.pi * (hod - 6.5) / 12.5), 0, None) * cloud
    lamp_on = awake & ((hod >= 17) | (hod < wake + 1)) & (rng.random((n, s)) < 0.8)
    lamp = rng.uniform(80, 250, (n, 1)).astype(np.float32) * lamp_on
    lux = 1.5 + daylight + lamp + on * 12 + rng.normal(0, 1.5, (n, s)).astype(np.float32)
    return np.round(power, 1), np.round(np.clip(lux, 0, None), 1)


CASES = [
    (7, 30, 5, datetime(2024, 6, 30, 14, 59, tzinfo=UTC)),
    (20240601, 3, 12, datetime(2024, 3, 5, 3, 17, tzinfo=UTC)),
]


@pytest.mark.parametrize(("seed", "days", "n", "end"), CASES)
def test_tv_household_is_bit_identical_to_before_the_split(seed, days, n, end):
    grid = TimeGrid.make(end, days)
    old_rng, new_rng, parts_rng = (np.random.default_rng(seed) for _ in range(3))
    old = _tv_household_before_split(old_rng, grid, n)
    new = tv_household(new_rng, grid, n)
    parts = tv_household_parts(parts_rng, grid, n)
    for a, b, c in zip(old, new, parts[:2], strict=True):
        assert a.dtype == b.dtype == c.dtype and a.shape == b.shape == c.shape
        assert a.tobytes() == b.tobytes() == c.tobytes()
    # the same draws: a caller that keeps drawing (the demo's plugs, the city) sees the same
    state = old_rng.bit_generator.state
    assert new_rng.bit_generator.state == state == parts_rng.bit_generator.state


def test_unattended_light_is_the_floor_and_daylight_only():
    grid = TimeGrid.make(datetime(2024, 6, 30, 14, 59, tzinfo=UTC), 60)
    _power, lux, unattended = tv_household_parts(np.random.default_rng(3), grid, 8)
    assert unattended.shape == lux.shape
    hod = grid.hour_of_day()
    dark = (hod < 6) | (hod >= 20)
    assert np.all(unattended[:, dark] == pytest.approx(1.5))  # no lamp at night
    # never more than the room with its lamp, TV and person (noise aside)
    assert np.all(unattended <= lux + 8)
    # the cloud moves the noon light from day to day, in the same way in every home
    noon = unattended[:, hod == 13] - 1.5
    assert (noon.min(axis=1) / noon.max(axis=1)).max() < 0.45  # cloud 0.3-1.0
    ratio = noon / noon.max(axis=1, keepdims=True)
    assert np.allclose(ratio, ratio[0], atol=1e-4)
