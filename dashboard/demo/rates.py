"""How often things happen in the demo city: one source for the generated history, its
present (who is offline or away right now) and the live simulator, so the day the app runs
looks like the days before it. A present or a live feed with its own, livelier rates once made
alerts jump from about 15 a day to 55 on the day the app ran (issue 11).

Rates are per device and day unless the name says otherwise.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

# A plug's router switched off or the plug pulled out: about once in five years per plug.
DEVICE_FAULTS_PER_DAY = 0.05 / 90
# Vendors whose devices fail more often than that: the care robots are switched off at the wall
# (cleaning, a power strip) about three times as often as a plug's router fails. History,
# present and the live simulator all apply it, so the 업체 성과 page has a real difference.
FAULT_FACTOR: dict[str, float] = {"hyobot": 3.0}
# Away from home (a trip, a hospital stay, staying with family): the plug sees no change.
PLUG_AWAY_PER_DAY = 0.35 / 90
# Leaving the safe zone: about 0.3 times a person-year.
WANDER_EXITS_PER_DAY = 0.3 / 365
# SOS presses on care robots: about two per 90 days across the whole fleet.
ROBOT_SOS_PER_FLEET_DAY = 2 / 90
# Spells that began up to this long before the window can still be going on inside it (the
# longest fault or time away).
LOOKBACK_H = 120


def fault_hours(rng: np.random.Generator) -> int:
    """How long a fault lasts: mostly a router or a plug back within the day, some dark for
    days."""
    return int(rng.uniform(3, 20) if rng.random() < 0.9 else rng.uniform(20, 120))


def away_hours(rng: np.random.Generator) -> int:
    """How long someone is away (the plug unchanged): a day or so, at most a few days."""
    return int(np.clip(rng.lognormal(np.log(20), 0.6), 6, 110))


def spells_in_window(
    rng: np.random.Generator, hours: int, per_day: float, duration: Callable[..., int]
) -> list[tuple[int, int]]:
    """One device's spells (faults, times away) as (start hour, duration) over a window of
    ``hours`` hours at ``per_day``. Starts run from ``LOOKBACK_H`` before the window
    (negative), so a spell still going on at the end is as likely, and as old, as in a city
    that ran before the window began; spells over before the window are left out."""
    span = hours + LOOKBACK_H
    out = []
    for _ in range(rng.poisson(per_day * span / 24)):
        start = int(rng.integers(-LOOKBACK_H, hours))
        length = duration(rng)
        if start + length > 0:
            out.append((start, length))
    return sorted(out)


def faults_in_window(
    rng: np.random.Generator, hours: int, vendor: str = ""
) -> list[tuple[int, int]]:
    """One device's faults over the window, at ``DEVICE_FAULTS_PER_DAY`` (times the vendor's
    ``FAULT_FACTOR``)."""
    rate = DEVICE_FAULTS_PER_DAY * FAULT_FACTOR.get(vendor, 1.0)
    return spells_in_window(rng, hours, rate, fault_hours)


# Seconds from a reading to its arrival, by vendor (``received_at − ts`` of the generated
# events): how each vendor's devices reach Anbu. Plugs and fixed units post straight away over
# the home's or the site's network; the carrier sends call records in 15-minute batches; the AI
# calls are posted once the call has been transcribed and scored; robots and detectors on LTE
# buffer when the signal is weak, the detectors (battery-saving LTE-M) the most. The 업체 성과
# page's data delay shows these (docs/demo-city.md).
DELAY_PROFILES: dict[str, tuple[float, float, float, float]] = {
    # vendor: (fastest s, median s, share buffered, longest buffered s)
    "plugco": (1, 2.5, 0.0, 0),
    "smokeguard": (1, 3, 0.0, 0),
    "parkfit": (1, 4, 0.01, 120),
    "hyobot": (2, 6, 0.03, 600),
    "safestep": (5, 25, 0.08, 1800),
    "carevoice": (30, 75, 0.02, 900),
    "callsafe": (20, 420, 0.0, 0),  # a batch every 15 minutes: uniform over the batch
}


def data_delays(rng: np.random.Generator, vendors: list[str]) -> np.ndarray:
    """One delay in seconds per event of ``vendors`` (an unknown vendor: 1–4 s)."""
    n = len(vendors)
    out = rng.uniform(1, 4, n)
    names = np.asarray(vendors, dtype=object)
    for vendor, (low, median, buffered, longest) in DELAY_PROFILES.items():
        mine = np.flatnonzero(names == vendor)
        if not mine.size:
            continue
        if vendor == "callsafe":
            delay = rng.uniform(low, 2 * median - low, mine.size)
        else:
            # Log-normal above the fastest, so the median is as given and a short tail exists.
            tail = rng.lognormal(np.log(median - low), 0.5, mine.size)
            delay = low + np.minimum(tail, 4 * (median - low))
        late = rng.random(mine.size) < buffered
        delay[late] = rng.uniform(median, max(longest, median), int(late.sum()))
        out[mine] = delay
    return np.round(out, 3)
