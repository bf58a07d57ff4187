"""Daily routines that make the simulated signals look like real lives.

Each function returns whole (people × hourly slots) or (people × days) arrays on the time grid.
"""

from __future__ import annotations

import numpy as np

from dashboard.demo.clock import TimeGrid


def tv_household(rng: np.random.Generator, grid: TimeGrid, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Hourly TV power (W) and room light (lux) for ``n`` one-person households.

    Mornings after waking and evenings until bedtime are the peaks; nights are off; weekends wake
    later and watch more in the daytime; some days the person is out for a few hours.
    """
    power, lux, _unattended = tv_household_parts(rng, grid, n)
    return power, lux


def tv_household_parts(
    rng: np.random.Generator, grid: TimeGrid, n: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`tv_household`'s power and light, and the light the same rooms would show with
    nobody in them: the floor plus that day's daylight (no lamp, no TV glow, no sensor noise;
    float32, unrounded). Draws exactly what :func:`tv_household` draws, in the same order, so
    the demo city is the same whichever is called.
    """
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
    # A few hours out (day centre, hospital, market) on some days.
    out_day = np.repeat(rng.random((n, grid.days)) < 0.25, 24, axis=1)
    out_start = np.repeat(rng.integers(9, 15, (n, grid.days)), 24, axis=1)
    p = np.where(out_day & (hod >= out_start) & (hod < out_start + 3), 0.0, p)
    p = np.where(~awake, 0.015, p)  # the odd sleepless night
    on = rng.random((n, s), dtype=np.float32) < p
    tv_w = rng.uniform(60, 150, (n, 1)).astype(np.float32)
    standby = rng.uniform(0.5, 2.5, (n, 1)).astype(np.float32)
    power = standby + on * tv_w * rng.uniform(0.85, 1.1, (n, s)).astype(np.float32)

    window = rng.uniform(40, 350, (n, 1)).astype(np.float32)
    cloud = np.repeat(rng.uniform(0.3, 1.0, (1, grid.days)), 24, axis=1).astype(np.float32)
    daylight = window * np.clip(np.sin(np.pi * (hod - 6.5) / 12.5), 0, None) * cloud
    lamp_on = awake & ((hod >= 17) | (hod < wake + 1)) & (rng.random((n, s)) < 0.8)
    lamp = rng.uniform(80, 250, (n, 1)).astype(np.float32) * lamp_on
    unattended = 1.5 + daylight
    lux = unattended + lamp + on * 12 + rng.normal(0, 1.5, (n, s)).astype(np.float32)
    return np.round(power, 1), np.round(np.clip(lux, 0, None), 1), unattended


def changed(
    power: np.ndarray, lux: np.ndarray, reported: np.ndarray, power_margin: float, lux_margin: float
) -> np.ndarray:
    """A sign of life as ingestion sees it: power or light moved by more than the rules' noise
    margins (``data/rules.toml``) since the previous *reported* reading (gaps are skipped)."""
    n, s = power.shape
    idx = np.where(reported, np.arange(s)[None, :], -1)
    last = np.maximum.accumulate(idx, axis=1)
    prev = np.concatenate([np.full((n, 1), -1), last[:, :-1]], axis=1)
    safe = np.maximum(prev, 0)
    dp = np.abs(power - np.take_along_axis(power, safe, axis=1))
    dl = np.abs(lux - np.take_along_axis(lux, safe, axis=1))
    return reported & (prev >= 0) & ((dp > power_margin) | (dl > lux_margin))


def daily_calls(rng: np.random.Generator, grid: TimeGrid, n: int) -> np.ndarray:
    """Calls per day for phone lines: a personal rate, quieter weekends for most, some slow days."""
    rate = rng.lognormal(np.log(2.6), 0.55, (n, 1))
    wd = grid.day_weekday()[None, :]
    weekend_factor = rng.uniform(0.55, 1.25, (n, 1))
    factor = np.where(wd >= 5, weekend_factor, 1.0)
    slow = rng.random((n, grid.days)) < 0.12
    factor = factor * np.where(slow, 0.3, 1.0)
    return rng.poisson(rate * factor)


def robot_services(rng: np.random.Generator, grid: TimeGrid, n: int) -> np.ndarray:
    """Services per robot per day averaging ~1.44 (144 a day across 100 robots, as documented).

    Most people acknowledge at least one reminder a day; a few skip a day now and then.
    """
    keen = rng.gamma(6, 1 / 6, (n, 1))
    zero = rng.random((n, grid.days)) < 0.06
    return np.where(zero, 0, 1 + rng.poisson(0.53 * keen, (n, grid.days)))


def walking(rng: np.random.Generator, grid: TimeGrid, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Daily walk distance (m) and hours spent walking for people with dementia."""
    habit = rng.gamma(4, 450, (n, 1))
    wd = grid.day_weekday()[None, :]
    walks = rng.poisson(np.where(wd == 6, 0.9, 1.3), (n, grid.days))  # fewer on Sundays
    dist = walks * habit * rng.lognormal(0, 0.35, (n, grid.days))
    hours = np.minimum(np.ceil(dist / 2500) + (walks > 0), 6)
    return np.round(dist, 0), hours.astype(int)
