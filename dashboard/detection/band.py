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
``band_w`` *breaks* it and starts a new band at itself: ``device_state.band_since`` /
``band_low_w`` / ``band_high_w``, and the half-hour of each break in ``device_daily.band_slots``.
A silence of more than ``MAX_GAP`` (90 min without any report, heartbeats count; whatever
report ends it) is neither time in the band nor a break: its hours are kept apart
(``device_state.band_gap_h``) and left out of the band's time (:func:`band_start`). A break
there would end a collapse's band in the record, and a plug under ``band_w`` would record the
time between Wi-Fi drops. The record is the longest time between two half-hours holding a
break over the last ``window_days`` days, read as the stillness record reads its changes (a
silence counts there: the record errs long, towards later alerts): a day without a row ends a
run, the time before the first break and after the last counts for nothing, and one
band ``band_factor`` times longer than any other is left out (:func:`usual_longest`). The
test: 관심 once the band has held ``band_factor`` times that long (at least ``band_min_h``),
위험 at twice, 심각 at four times (``plug_no_change``). A plug on one
appliance that draws less than ``band_w`` (a TV of 80 W) rarely breaks its band and has a long
record or none: there the test never comes first.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timedelta

import numpy as np

from dashboard.detection.left_on import MAX_GAP
from dashboard.detection.stillness import SLOTS_PER_DAY, day_rows

__all__ = [
    "MAX_GAP",
    "band_days",
    "band_record",
    "band_start",
    "runs_in_rows",
    "usual_longest",
    "widen",
    "widen_each",
]


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


def band_start(since: datetime | None, gap_h: float | None) -> datetime | None:
    """The band's start as its time counts: later than its first reading by its hours without
    any report (``device_state.band_gap_h``)."""
    return None if since is None else since + timedelta(hours=gap_h or 0.0)


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


def band_record(
    breaks: Mapping[date, int],
    first: date,
    until: date,
    min_days: int,
    factor: float | None = None,
) -> tuple[float | None, float | None]:
    """(the record, the band left out of it), in hours: the longest time between two
    consecutive half-hours holding a break of the band, over the days ``first`` ≤ day <
    ``until`` with a row in ``breaks`` (local day → 48 bits, ``device_daily.band_slots``);
    (None, None) with fewer than ``min_days`` such days or no two breaks. With ``factor``
    (``band_factor``), a longest band that held ``factor`` times the next longest is left out
    (:func:`usual_longest`)."""
    rows = day_rows(breaks, first, until, min_days)
    return (None, None) if rows is None else _split(runs_in_rows(*rows), factor)


def runs_in_rows(breaks: np.ndarray, day_numbers: np.ndarray) -> np.ndarray:
    """The half-hours between consecutive breaks over rows of days in arrays (as
    ``stillness.longest_in_rows`` reads them: a day without a row between two breaks ends the
    run, which then does not count)."""
    at = np.flatnonzero(breaks.ravel())
    if at.size < 2:
        return np.zeros(0, dtype=np.int64)
    row = at // SLOTS_PER_DAY
    stretch = np.concatenate(([0], np.cumsum(np.diff(day_numbers) > 1)))
    return np.diff(at)[stretch[row[1:]] == stretch[row[:-1]]]


def usual_longest(runs: np.ndarray, factor: float | None) -> float | None:
    """The longest band of a home's ordinary days, in hours, from its bands' lengths in
    half-hours. A band that held ``factor`` times longer than any other of the window is the
    test's own business, not the home's normal: a collapse whose band an appliance's auto-off
    broke (the drop is a break) would else lengthen the record for 28 days and put the next
    alert, and the held alert's escalation, days later. Only the one longest is ever left
    out, so a home whose bands vary widely keeps its second longest."""
    return _split(runs, factor)[0]


def _split(runs: np.ndarray, factor: float | None) -> tuple[float | None, float | None]:
    """(the usual longest, the one far longer band left out or None), in hours."""
    if runs.size == 0:
        return None, None
    if factor is None or runs.size == 1:
        return float(runs.max()) / 2, None
    second, top = np.partition(runs, runs.size - 2)[-2:]
    if top >= factor * second:
        return float(second) / 2, float(top) / 2
    return float(top) / 2, None
