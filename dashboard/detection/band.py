"""A line held in a narrow band: a home's power confined to ``band_w`` for far longer than ever.

A compressor that keeps cycling after a collapse, on a whole-home meter whose nights never
showed it (or below a storage heater's night floor, where the margin alone decides), moves the
power beyond the unattended load at every cycle: each move counts as a sign of life, so the
routine never sees a quiet spell, and the line never stands still for the stillness test. What
such a line does not do is leave a narrow band: a fridge swings by 70–130 W (less in half-hour
or hourly means), while a living person boils a kettle, cooks, runs a washing machine, or at
least switches the lights and the TV, and on a whole-home meter that breaks a band of 100 W
every few hours. In the tune part's London homes the longest time the power stayed within
100 W in any 28 days was 15–24 h on ordinary weeks.

Ingest follows each plug's readings (in order) in a band: the first reading starts it, each
next one widens it to the lowest and highest seen, and a reading that would widen it beyond
``band_w`` (or that comes after more than ``MAX_GAP`` without any report, as the left-on run)
*breaks* it and starts a new band at itself: ``device_state.band_since`` / ``band_low_w`` /
``band_high_w``, and the half-hour of each break in ``device_daily.band_slots``. The record is
the longest time between two half-hours holding a break over the last ``window_days`` days,
read exactly as the stillness record reads its changes (``stillness.longest_still_h``): a day
without a row breaks a run, the time before the first break and after the last counts for
nothing. The test: 관심 once the band has held ``band_factor`` times that long (at least
``band_min_h``), 위험 at twice, 심각 at four times (``plug_no_change``). A plug on one
appliance that draws less than ``band_w`` (a TV of 80 W) rarely breaks its band and has a long
record or none: there the test never comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np

from dashboard.detection.left_on import MAX_GAP
from dashboard.detection.stillness import longest_still_h

__all__ = ["MAX_GAP", "band_days", "longest_band_h", "widen", "widen_each"]


def widen(
    low: float | None, high: float | None, watts: float, band_w: float
) -> tuple[float, float, bool]:
    """The band after one in-order reading: (low, high, broke). ``broke``: the reading starts a
    new band at itself (no band yet, or the band would grow wider than ``band_w``)."""
    if low is None or high is None:
        return watts, watts, True
    lo, hi = min(low, watts), max(high, watts)
    if hi - lo > band_w:
        return watts, watts, True
    return lo, hi, False


def widen_each(
    low: np.ndarray, high: np.ndarray, watts: np.ndarray, band_w: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`widen` for many plugs' next readings at once (NaN in ``low``/``high``: no band
    yet): the demo builder follows a city's hourly readings so, one hour at a time."""
    lo, hi = np.fmin(low, watts), np.fmax(high, watts)
    broke = np.isnan(low) | np.isnan(high) | (hi - lo > band_w)
    return np.where(broke, watts, lo), np.where(broke, watts, hi), broke


def band_days(stored: Mapping[date, int | None]) -> dict[date, int]:
    """The days the record reads from a plug's stored rows (local day → ``band_slots``): from
    the first day its band was kept (a non-NULL value) on. A later day without bits (NULL: no
    power reading that day, only heartbeats or light, the band held) counts as a day without a
    break, as the live band holds through it; the days before are left out, so a record needs
    ``min_days`` days of kept bands (else, just after the upgrade, two days' breaks would make
    a short record of a home whose longest band runs for days)."""
    kept = [d for d, bits in stored.items() if bits is not None]
    if not kept:
        return {}
    first = min(kept)
    return {d: int(bits or 0) for d, bits in stored.items() if d >= first}


def longest_band_h(
    breaks: Mapping[date, int], first: date, until: date, min_days: int
) -> float | None:
    """The longest time, in hours, between two consecutive half-hours holding a break of the
    band, over the days ``first`` ≤ day < ``until`` with a row in ``breaks`` (local day → 48
    bits, ``device_daily.band_slots``); None with fewer than ``min_days`` such days or no two
    breaks."""
    return longest_still_h(breaks, first, until, min_days)
