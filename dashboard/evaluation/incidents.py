"""Labelled histories: a home's own readings with an incident, an absence, a fault or a decline
written into them, deterministically from a seed.

A *stop* is a person ceasing all activity at an instant. What the meter sees afterwards is not
silence but the home's residual load, which is where a flat-line rule fails:

- ``standby``: the home's quiet level (its 5th percentile over the 28 days before) with
  Gaussian noise of 1.5 W (sd);
- ``fridge``: a compressor cycling on and off (70–130 W, 40–80 min cycles, 30–50 % duty,
  each cycle jittered), simulated per minute and averaged to the sampling interval, over
  the part of the quiet level it does not already account for, plus the same noise;
- ``night_load``: the home's own unattended load: whole 01:00–05:00 stretches of its last 14
  nights, drawn at random and laid end to end (heating, fridges, standby as this home has them),
  outside those hours a reading above what the home usually draws at that hour of the day (its
  median there over the same 14 days) is the home's day floor instead: a load on a night timer
  stays in the night;
- ``appliance_on``: a constant 40–200 W (a heater, TV or lamp left on) over ``night_load``.

Where the trace has light (the demo city), the light after a stop, through an absence and at
a decline's thinned readings is the room with nobody in it: the trace's own unattended light
(the floor plus that day's daylight, as the demo's generator made it) with sensor noise.

An *absence* (standby only, 2–10 days from a morning departure after a normal day, then the
home's real return) is not an incident; a *fault* is the plug reporting 0 W or nothing at all;
a *decline* thins activity over six weeks. Each labelled copy of a home starts at most
``HISTORY_DAYS`` before its event (at least ``MIN_HISTORY_DAYS`` of history) and ends
``AFTER_H`` after it, so one replayed device holds exactly one labelled event.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from dashboard.evaluation.datasets import Trace

DAY = 86_400
HOUR = 3600
MIN_HISTORY_DAYS = 28
HISTORY_DAYS = 42
AFTER_H = 96
NOISE_SD_W = 1.5
NOISE_SD_LUX = 1.5  # the demo light sensor's noise (sd), as dashboard.demo.routines draws it
NIGHT = (1, 5)  # wall-clock hours [from, to) of the unattended night load
NIGHT_POOL_DAYS = 14
DECLINE_DAYS = 42
STOP_RESIDUALS = ("standby", "fridge", "night_load", "appliance_on")
FAULTS = ("flat_zero", "no_data")

Kind = Literal["stop", "absence", "fault", "decline"]


@dataclass(frozen=True)
class Case:
    """One replayed device: ``trace`` holds one labelled event in ``[onset, end)``."""

    case_id: str
    home: str
    kind: Kind
    variant: str
    onset: int
    end: int
    trace: Trace


def hour_of_day(ts: np.ndarray) -> np.ndarray:
    """Seoul wall-clock hour of epoch seconds (the traces' clock, see ``datasets``)."""
    return ((ts + 9 * HOUR) % DAY) // HOUR


def home_rng(seed: int, home: str, salt: str = "") -> np.random.Generator:
    """A generator that depends only on the seed and the home (not on the order of homes)."""
    return np.random.default_rng([seed, zlib.crc32(f"{home}|{salt}".encode())])


def quiet_level(trace: Trace, before: int) -> float:
    """The home's quiet level: 5th percentile of its readings in the 28 days before ``before``."""
    w = trace.watts[(trace.ts >= before - MIN_HISTORY_DAYS * DAY) & (trace.ts < before)]
    if len(w) == 0:
        raise ValueError(f"{trace.home}: no readings in the 28 days before {before}")
    return float(np.percentile(w, 5))


def standby(rng: np.random.Generator, n: int, level: float) -> np.ndarray:
    return np.clip(level + rng.normal(0, NOISE_SD_W, n), 0, None)


def fridge(rng: np.random.Generator, n: int, step_s: int, level: float) -> np.ndarray:
    """A cycling compressor averaged to ``step_s``, over the rest of the quiet level, + noise."""
    on_w = rng.uniform(70, 130)
    period = rng.uniform(40, 80)
    duty = rng.uniform(0.3, 0.5)
    per_step = max(step_s // 60, 1)
    minutes = np.zeros(n * per_step)
    t = -int(rng.integers(0, int(period)))  # start mid-cycle
    while t < len(minutes):
        length = period * rng.uniform(0.85, 1.15)
        on = round(length * duty)
        minutes[max(t, 0) : max(t + on, 0)] = on_w
        t += round(length)
    under = max(level - on_w * duty, 0.3 * level)
    cycle = minutes.reshape(n, per_step).mean(axis=1)
    return np.clip(under + cycle + rng.normal(0, NOISE_SD_W, n), 0, None)


def night_load(rng: np.random.Generator, trace: Trace, before: int, at: np.ndarray) -> np.ndarray:
    """The home's unattended load at the epoch seconds ``at``: whole night stretches of its last
    ``NIGHT_POOL_DAYS`` laid end to end; outside the night hours a reading above the home's
    median for its wall-clock hour (over the same days) becomes the home's day floor (the
    lowest of those hourly medians outside the night) with standby noise.

    Why: a person only adds load, so what the home draws unattended at an hour cannot usually
    exceed what it draws at that hour with its person there. A night reading above that is a
    load that runs at night only (storage heaters on a timer, heating on a cold night), which
    is off at that hour after a stop: the home then draws its base load, one level all day
    (a first build put the hour's median there, a staircase of medians that stepped at every
    hour like a person). The test is the weakest the argument allows (the median, not a low
    percentile), so a night load under the day's keeps its texture at every hour.
    """
    lo = before - NIGHT_POOL_DAYS * DAY
    sel = (trace.ts >= lo) & (trace.ts < before)
    ts, w = trace.ts[sel], trace.watts[sel]
    h = hour_of_day(ts)
    night = (h >= NIGHT[0]) & (h < NIGHT[1])
    stretches = []
    for day in np.unique((ts[night] + 9 * HOUR) // DAY):
        part = w[night & ((ts + 9 * HOUR) // DAY == day)]
        if len(part):
            stretches.append(part)
    if not stretches:
        raise ValueError(f"{trace.home}: no night readings in the {NIGHT_POOL_DAYS} days before")
    n = len(at)
    out: list[float] = []
    while len(out) < n:
        out.extend(stretches[int(rng.integers(0, len(stretches)))].tolist())
    values = np.asarray(out[:n])
    usual = np.array([np.median(w[h == k]) if np.any(h == k) else np.inf for k in range(24)])
    in_night = np.isin(np.arange(24), range(*NIGHT))
    floor = float(np.min(usual[~in_night]))
    at_h = hour_of_day(np.asarray(at))
    over = ~in_night[at_h] & (values > usual[at_h])
    if over.any():
        values[over] = np.clip(floor + rng.normal(0, NOISE_SD_W, int(over.sum())), 0, None)
    return values


def residual_lux(rng: np.random.Generator, trace: Trace, before: int, at: np.ndarray) -> np.ndarray:
    """The light of the room with nobody in it at the readings ``at`` (a mask or indices into
    ``trace``), plus sensor noise.

    A trace that knows its unattended light (the demo's) gives it as it is: that day's
    daylight under that day's cloud, no lamp, no TV. Otherwise a rough estimate: per
    wall-clock hour, the 10th percentile of the home's light in the 28 days before ``before``
    (every day a dull day, and a lamp lit at that hour on nine days in ten stays lit). It is
    only a fallback: the recordings have no light at all.
    """
    assert trace.lux is not None
    ts = trace.ts[at]
    if trace.unattended_lux is not None:
        base = trace.unattended_lux[at]
    else:
        sel = (trace.ts >= before - MIN_HISTORY_DAYS * DAY) & (trace.ts < before)
        h, lux = hour_of_day(trace.ts[sel]), trace.lux[sel]
        profile = np.array(
            [np.percentile(lux[h == k], 10) if np.any(h == k) else 0.0 for k in range(24)]
        )
        base = profile[hour_of_day(ts)]
    return np.clip(base + rng.normal(0, NOISE_SD_LUX, len(ts)), 0, None).round(1)


def residual(
    rng: np.random.Generator, trace: Trace, onset: int, ts: np.ndarray, kind: str
) -> np.ndarray:
    """The watts a stopped home of kind ``kind`` shows at ``ts`` (all after ``onset``)."""
    n = len(ts)
    level = quiet_level(trace, onset)
    if kind == "standby":
        return standby(rng, n, level)
    if kind == "fridge":
        return fridge(rng, n, trace.step_s, level)
    if kind == "night_load":
        return night_load(rng, trace, onset, ts)
    if kind == "appliance_on":
        return rng.uniform(40, 200) + night_load(rng, trace, onset, ts)
    raise ValueError(f"unknown residual {kind!r}; expected one of {STOP_RESIDUALS}")


def _copy(trace: Trace, onset: int, end: int) -> Trace:
    return trace.window(max(int(trace.ts[0]), onset - HISTORY_DAYS * DAY), end)


def _overwrite(trace: Trace, rng: np.random.Generator, onset: int, end: int, watts_of) -> Trace:
    """``trace`` with readings in ``[onset, end)`` replaced: watts by ``watts_of(ts)``, light by
    the empty room's (:func:`residual_lux`)."""
    after = (trace.ts >= onset) & (trace.ts < end)
    watts = trace.watts.copy()
    watts[after] = np.round(watts_of(trace.ts[after]), 1)
    lux = None
    if trace.lux is not None:
        lux = trace.lux.copy()
        lux[after] = residual_lux(rng, trace, onset, after)
    return replace(trace, watts=watts, lux=lux)


def inject_stop(trace: Trace, onset: int, kind: str, rng: np.random.Generator) -> Trace:
    """The copy of ``trace`` where the person stops at ``onset``, ``AFTER_H`` hours of residual."""
    end = onset + AFTER_H * HOUR
    out = _overwrite(trace, rng, onset, end, lambda ts: residual(rng, trace, onset, ts, kind))
    return _copy(out, onset, end)


def inject_absence(trace: Trace, onset: int, days: float, rng: np.random.Generator) -> Trace:
    """Standby only from ``onset`` for ``days``, then the home's real readings for a day."""
    back = onset + int(days * DAY)
    level = quiet_level(trace, onset)
    out = _overwrite(trace, rng, onset, back, lambda ts: standby(rng, len(ts), level))
    return _copy(out, onset, back + DAY)


def inject_fault(trace: Trace, onset: int, kind: str) -> Trace:
    """``flat_zero``: the plug reports 0 W (and no light) for ``AFTER_H`` hours; ``no_data``: it
    reports nothing, then one reading at the end closes the replay's window (the replay's
    clock runs to the last reading; what happens at that reading is not counted)."""
    end = onset + AFTER_H * HOUR
    if kind == "flat_zero":
        after = (trace.ts >= onset) & (trace.ts < end)
        watts = np.where(after, 0.0, trace.watts)
        lux = None if trace.lux is None else np.where(after, 0.0, trace.lux)
        return _copy(replace(trace, watts=watts, lux=lux), onset, end)
    if kind == "no_data":
        before = _copy(trace, onset, onset)
        return replace(
            before,
            ts=np.append(before.ts, end),
            watts=np.append(before.watts, before.watts[-1]),
            lux=None if before.lux is None else np.append(before.lux, before.lux[-1]),
            unattended_lux=None
            if before.unattended_lux is None
            else np.append(before.unattended_lux, before.unattended_lux[-1]),
        )
    raise ValueError(f"unknown fault {kind!r}; expected one of {FAULTS}")


def inject_decline(trace: Trace, start: int, rng: np.random.Generator) -> Trace:
    """Activity thinning over ``DECLINE_DAYS``: each reading is replaced by the home's own
    night load with a probability growing linearly from 0 to 0.8."""
    end = start + DECLINE_DAYS * DAY
    sel = (trace.ts >= start) & (trace.ts < end)
    frac = 0.8 * (trace.ts[sel] - start) / (end - start)
    thin = rng.random(int(sel.sum())) < frac
    watts = trace.watts.copy()
    idx = np.nonzero(sel)[0][thin]
    watts[idx] = night_load(rng, trace, start, trace.ts[idx])
    lux = trace.lux
    if lux is not None:
        lux = lux.copy()
        lux[idx] = residual_lux(rng, trace, start, idx)
    return _copy(replace(trace, watts=watts, lux=lux), start, end)


@dataclass(frozen=True)
class Plan:
    """How many labelled copies to make of each home."""

    stops_per_residual: int = 4
    absences: int = 3
    faults: bool = True
    decline: bool = True


def _onsets(rng: np.random.Generator, trace: Trace, n: int, tail_s: int, hours) -> list[int]:
    """``n`` onsets with ``MIN_HISTORY_DAYS`` before and ``tail_s`` after, at the given wall-clock
    hours (and a random minute), spread over the trace."""
    first = int(trace.ts[0]) + MIN_HISTORY_DAYS * DAY
    last = int(trace.ts[-1]) - tail_s
    if last <= first:
        return []
    days0 = (first + 9 * HOUR) // DAY + 1
    days1 = (last + 9 * HOUR) // DAY - 1
    if days1 < days0:
        return []
    out = []
    for k in range(n):
        day = int(rng.integers(days0, days1 + 1))
        t = day * DAY - 9 * HOUR + int(hours[k % len(hours)]) * HOUR + int(rng.integers(0, 60)) * 60
        out.append(min(max(t, first), last))
    return out


def make_cases(trace: Trace, seed: int, plan: Plan = Plan()) -> list[Case]:
    """Every labelled copy of ``trace``; the same seed gives the same cases."""
    cases: list[Case] = []
    tail = AFTER_H * HOUR

    def add(kind: Kind, variant: str, onset: int, end: int, copy: Trace) -> None:
        cid = f"{trace.home}|{kind}|{variant}|{len(cases):03d}"
        cases.append(Case(cid, trace.home, kind, variant, onset, end, copy))

    for r, kind in enumerate(STOP_RESIDUALS):
        rng = home_rng(seed, trace.home, f"stop-{kind}")
        # Times of day spread over the clock, shifted per residual so each kind sees all.
        hours = [(r * 5 + 7 + k * 24 // max(plan.stops_per_residual, 1)) % 24 for k in range(24)]
        for onset in _onsets(rng, trace, plan.stops_per_residual, tail, hours):
            add("stop", kind, onset, onset + tail, inject_stop(trace, onset, kind, rng))
    rng = home_rng(seed, trace.home, "absence")
    for onset in _onsets(rng, trace, plan.absences, 11 * DAY, [8, 9, 10, 11]):
        days = float(rng.uniform(2, 10))
        add(
            "absence",
            "standby",
            onset,
            onset + int(days * DAY),
            inject_absence(trace, onset, days, rng),
        )
    if plan.faults:
        rng = home_rng(seed, trace.home, "fault")
        for kind, onset in zip(FAULTS, _onsets(rng, trace, 2, tail, [11, 15]), strict=False):
            add("fault", kind, onset, onset + tail, inject_fault(trace, onset, kind))
    if plan.decline:
        rng = home_rng(seed, trace.home, "decline")
        for start in _onsets(rng, trace, 1, DECLINE_DAYS * DAY, [0]):
            add(
                "decline",
                "thinning",
                start,
                start + DECLINE_DAYS * DAY,
                inject_decline(trace, start, rng),
            )
    return cases
