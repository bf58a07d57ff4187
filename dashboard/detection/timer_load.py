"""A timed night load's home by day: which half-hours the night's load runs in, and the
smaller background the other half-hours are judged against (docs/detection.md, "A night load
on a timer").

A home on Economy 7 heating (storage heaters, a water heater on a night timer) teaches the
nights a ceiling of several kilowatts and steps of one to three kilowatts, far beyond anything
the person switches by day; judged against it, the person's day never counts and the timer's
own switch does. The stored half-hour levels (``device_daily.level_slots``) show the timer as
it is: in its half-hours the level steps by hundreds of watts on most days (the thermostats
cycling, the timer switching), or stays above anything the day holds. Elsewhere the home's
ordinary load is judged against a background learned from those other half-hours.

A home whose nights step no more than its days (a fridge, a TV on standby, a home away in
hospital for weeks: its days are nights) has no timed load: its plug keeps the night
background at every hour, as before.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date

import numpy as np

from dashboard.detection.levels import NO_LEVEL, SLOTS, byte_watts

NIGHT = range(2, 10)  # 01:00–05:00, the half-hours the night background is learned from
MIN_DAYS = 7  # fewer days with levels: no timed load is looked for
RATIO = 2.5  # the nights' typical step must be this many times the day's...
MIN_GAP_W = 100.0  # ...and this much larger, for a timed load
MIN_SHARE = 0.25  # a timed load leaves at least this share of the day to the person
KEEP_DAYS = 14  # a timed load not found again is kept this long after it was last found
QUIET = 0.1  # the day background: this quantile of the other half-hours' 90th percentiles


@dataclass(frozen=True)
class TimerLoad:
    """The day background (floor, ceiling, step in watts) of a home with a timed night load,
    and the half-hours (bit j = slot j) judged by the night background instead, each with the
    step the timer makes there and the level it reaches, on one day in ten (watts; 0 outside
    them)."""

    low_w: float
    high_w: float
    step_w: float
    night_slots: int
    slot_step: tuple[float, ...]
    slot_high: tuple[float, ...]
    since: date | None = None  # first learned: days before it were judged without it
    seen: date | None = None  # last learned from the levels (a model carried over keeps it)

    def is_night_slot(self, slot: int) -> bool:
        return bool(self.night_slots >> slot & 1)

    def as_dict(self) -> dict:
        return {
            "low_w": round(self.low_w, 2),
            "high_w": round(self.high_w, 2),
            "step_w": round(self.step_w, 2),
            "night_slots": self.night_slots,
            "slot_step": [round(s, 1) for s in self.slot_step],
            "slot_high": [round(s, 1) for s in self.slot_high],
            "since": self.since.isoformat() if self.since else None,
            "seen": self.seen.isoformat() if self.seen else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> TimerLoad:
        return cls(
            float(data["low_w"]),
            float(data["high_w"]),
            float(data["step_w"]),
            int(data["night_slots"]),
            tuple(float(s) for s in data["slot_step"]),
            tuple(float(s) for s in data["slot_high"]),
            date.fromisoformat(data["since"]) if data.get("since") else None,
            date.fromisoformat(data["seen"]) if data.get("seen") else None,
        )


def _matrix(levels: Mapping[date, bytes]) -> tuple[np.ndarray, np.ndarray]:
    """(days, 48) watts (NaN: no reading) and the step into each half-hour's reading from the
    reading before it, when that was at most an hour earlier (an hourly plug reads every other
    half-hour; 00:00's comes from the previous day when it is stored)."""
    first, last = min(levels), max(levels)
    n = (last - first).days + 1
    watts = np.full((n, SLOTS), np.nan)
    for d, blob in levels.items():
        raw = np.frombuffer(blob[:SLOTS], dtype=np.uint8)
        watts[(d - first).days] = np.where(raw == NO_LEVEL, np.nan, byte_watts(raw))
    flat = watts.ravel()
    before = np.full_like(flat, np.nan)
    before[1:] = flat[:-1]
    two_back = np.full_like(flat, np.nan)
    two_back[2:] = flat[:-2]
    before = np.where(np.isnan(before), two_back, before)
    steps = np.abs(flat - before).reshape(n, SLOTS)
    stored = ~np.isnan(watts).all(axis=1)
    return watts[stored], steps[stored]


def _reads_more_often(levels: Mapping[date, bytes]) -> bool:
    """Whether the plug reads more than once a half-hour (the stored counts). The day
    background is learned from half-hour means; a fridge's single readings step further than
    its half-hour means do, so on such a plug every compressor start by day would count as a
    sign of life (a review's replay: a collapse on a 5-minute plug never alerted). Such a plug
    keeps the nights' background at every hour."""
    counts = np.concatenate(
        [np.frombuffer(blob[SLOTS : 2 * SLOTS], dtype=np.uint8) for blob in levels.values()]
    )
    read = counts[counts > 0]
    return read.size > 0 and float(np.median(read)) > 1


def _fill(values: np.ndarray) -> np.ndarray:
    """A half-hour never read (an hourly plug's second half) takes the one before it."""
    out = values.copy()
    for _ in range(2):
        for s in range(SLOTS):
            if np.isnan(out[s]):
                out[s] = out[s - 1]
    return out


def _grow(candidate: np.ndarray) -> np.ndarray:
    """The night's half-hours and the candidates joined to them (through a single half-hour
    that is not one: a thermostat resting there on most days). A timer runs one stretch
    around the night; a candidate elsewhere (the person's dinner every evening) is not it."""
    mask = np.zeros(SLOTS, dtype=bool)
    mask[list(NIGHT)] = True
    for direction in (1, -1):
        s = NIGHT[-1] + 1 if direction == 1 else NIGHT[0] - 1
        while not mask[s % SLOTS]:
            if candidate[s % SLOTS]:
                mask[s % SLOTS] = True
            elif candidate[(s + direction) % SLOTS] and not mask[(s + direction) % SLOTS]:
                mask[s % SLOTS] = mask[(s + direction) % SLOTS] = True
                s += direction
            else:
                break
            s += direction
    return mask


def learn_timer_load(levels: Mapping[date, bytes], margin_w: float = 5.0) -> TimerLoad | None:
    """The timed night load from the window's stored days (local day → ``level_slots``), or
    None when the home has none (its nights step like its days) or too few days are stored."""
    if len(levels) < MIN_DAYS or _reads_more_often(levels):
        return None
    watts, steps = _matrix(levels)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        # per half-hour, the step made there on one day in four: a heater on a cold night's
        # timer (spring: half the nights) shows in it as clearly as one on every night
        typical = _fill(np.nanpercentile(steps, 75, axis=0))
    if np.isnan(typical).any():
        return None  # half-hours never read: too little to say when the timer runs
    night = float(np.median(typical[list(NIGHT)]))
    day = float(np.median(typical))
    if night < RATIO * day or night - day < MIN_GAP_W:
        return None  # most homes end here, before the costlier percentiles
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        p10 = _fill(np.nanpercentile(watts, 10, axis=0))
        p90_step = _fill(np.nanpercentile(steps, 90, axis=0))
        p90 = _fill(np.nanpercentile(watts, 90, axis=0))
    # The timer's half-hours: the night itself, and around it wherever days step like it.
    stepping = typical >= math.sqrt(night * day)
    mask = _grow(stepping)
    if (~mask).sum() < MIN_SHARE * SLOTS:
        return None
    rest = watts[:, ~mask]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        low = float(np.nanmedian(np.nanmin(rest, axis=1)))
    # The day's unattended load, as the nights' is learned (the 90th percentile of what a quiet
    # stretch reaches): from its quietest half-hours, the tenth of them with the lowest tops.
    high = float(np.quantile(p90[~mask], QUIET))
    step = float(np.quantile(p90_step[~mask], QUIET))
    # Half-hours the load stays in, above anything the day holds on nine days in ten: the
    # timer's too (its heaters on steadily, with steps too small to show).
    top = high + max(margin_w, 0.1 * high)
    mask = _grow(stepping | (p10 > 2 * top))
    if (~mask).sum() < MIN_SHARE * SLOTS:
        return None  # the steady half-hours took the day too: no day left to judge apart
    slot_step = tuple(float(p90_step[s]) if mask[s] else 0.0 for s in range(SLOTS))
    slot_high = tuple(float(p90[s]) if mask[s] else 0.0 for s in range(SLOTS))
    bits = sum(1 << s for s in range(SLOTS) if mask[s])
    return TimerLoad(low, high, step, bits, slot_step, slot_high)


def carry_timer(old: TimerLoad | None, new: TimerLoad | None, today: date) -> TimerLoad | None:
    """Today's timed load, knowing yesterday's. Found again: it keeps the day it was first
    found. Not found after it was (a mild spell, a week away): yesterday's is kept for
    ``KEEP_DAYS``, so the plug does not swing back to the night background at every hour, which
    would score a living person's sparser signs against a routine of denser days."""
    if new is not None:
        since = old.since if old is not None and old.since is not None else today
        return replace(new, since=since, seen=today)
    if old is not None and old.seen is not None and (today - old.seen).days < KEEP_DAYS:
        return old
    return None


def judged_with_timer(days: Mapping[date, int], timer: TimerLoad | None) -> dict[date, int]:
    """The routine's days judged as today's are: once a timed load is found, only the days
    from then on. Before it, the night background held at every hour: the timer's switch
    counted as the person every day at 00:00 and 07:00, and under a winter night's 4 kW floor
    every change by day counted (the margin alone); scoring a living person's sparser signs
    against those days raised alerts (docs/detection.md). Until the routine has its
    ``min_days`` again, the fixed ladder and the safety net watch the plug, as for a new one."""
    if timer is None or timer.since is None:
        return dict(days)
    return {d: bits for d, bits in days.items() if d >= timer.since}
