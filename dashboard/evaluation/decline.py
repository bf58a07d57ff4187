"""The slow-risk flag (``dashboard.detection.decline``) on recorded histories, in process.

Per local day the product stores the half-hours with a reading above the home's unattended
ceiling and the sum and number of readings (``device_daily.above_slots``, ``watts_sum``,
``watts_n``; ingest, against the background learned from the 28 nights before). This module
computes the same from a :class:`Trace` with the product's own functions (``learn_background``,
``ceiling``, ``day_ratio``) and judges every day as the daily job does. The flag is not an
alert, so the replay's transitions do not carry it.

Figures: flag *episodes* (set after being clear) per household-year on normal periods, and for
injected declines whether, and how many days after the decline's start, the flag was first set.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from datetime import date, timedelta

import numpy as np

from dashboard.detection.background import ceiling, learn_background
from dashboard.detection.decline import PERSIST_DAYS, DayFigures, day_ratio
from dashboard.evaluation.datasets import Trace
from dashboard.evaluation.incidents import (
    DAY,
    DECLINE_DAYS,
    HOUR,
    NIGHT,
    home_rng,
    inject_decline,
)

EPOCH = date(1970, 1, 1)
NIGHTS = 28  # the nights the daily learning reads (plug_routine.window_days)
STUDY_STARTS = 8  # declines per home in the study (the labelled copies hold only one)
STUDY_HISTORY_DAYS = 56  # a study decline starts at least this many days into the recording
FOLLOW_DAYS = 14  # a decline's flag counts until this many days after its six weeks


def day_figures(trace: Trace, power_margin_w: float = 5.0) -> dict[date, DayFigures]:
    """Per local day with a known background: half-hours with a reading above its ceiling,
    and the mean reading."""
    local = trace.ts + 9 * HOUR
    day = local // DAY
    hour = (local % DAY) // HOUR
    slot = (local % DAY) // 1800
    night = (hour >= NIGHT[0]) & (hour < NIGHT[1])
    nights: dict[int, tuple[float, float, float]] = {}
    for d in np.unique(day[night]):
        w = trace.watts[night & (day == d)]
        step = float(np.abs(np.diff(w)).max()) if len(w) > 1 else 0.0
        nights[int(d)] = (float(w.min()), float(w.max()), step)
    out: dict[date, DayFigures] = {}
    for d in np.unique(day):
        d = int(d)
        bg = learn_background([nights[k] for k in range(d - 1, d - NIGHTS - 1, -1) if k in nights])
        if bg is None:
            continue
        sel = day == d
        w = trace.watts[sel]
        above = len(np.unique(slot[sel][w > ceiling(bg, power_margin_w)]))
        out[EPOCH + timedelta(days=d)] = DayFigures(above, float(w.mean()))
    return out


def flags(counts: Mapping[date, DayFigures]) -> dict[date, bool]:
    """The daily judgement over every day from the first to the last known count: flagged
    after ``PERSIST_DAYS`` below days in a row."""
    if not counts:
        return {}
    first, last = min(counts), max(counts)
    out, run = {}, 0
    for k in range((last - first).days + 1):
        day = first + timedelta(days=k)
        r = day_ratio(counts, day)
        run = run + 1 if r is not None and r.below else 0
        out[day] = run >= PERSIST_DAYS
    return out


def episodes(flagged: dict[date, bool]) -> int:
    """Times the flag was set after being clear (or at the start)."""
    n, before = 0, False
    for day in sorted(flagged):
        n += flagged[day] and not before
        before = flagged[day]
    return n


def first_flag_day(flagged: Mapping[date, bool], start: date, days: int) -> int | None:
    """Days from ``start`` to the first day in ``[start, start + days)`` on which the flag is
    *set* (flagged, and not the day before): a flag already standing at ``start`` was raised by
    the home's own history, not by what began then."""
    for k in range(days):
        day = start + timedelta(days=k)
        if flagged.get(day) and not flagged.get(day - timedelta(days=1)):
            return k
    return None


def local_day(epoch: int) -> date:
    return EPOCH + timedelta(days=(epoch + 9 * HOUR) // DAY)


def normal_figures(homes: list[Trace]) -> dict:
    """Flag episodes on whole recordings (no injection), per home and per household-year."""
    by_home, total, years = {}, 0, 0.0
    for h in homes:
        n = episodes(flags(day_figures(h)))
        by_home[h.home] = n
        total += n
        years += h.days / 365
    return {
        "household_years": round(years, 2),
        "flags": total,
        "per_household_year": round(total / years, 2) if years else None,
        "by_home": by_home,
    }


def decline_delay(trace: Trace, start: int) -> int | None:
    """Days from ``start`` (a decline's first day) to the first flag, within its six weeks and
    ``FOLLOW_DAYS`` after; None when never flagged."""
    return first_flag_day(flags(day_figures(trace)), local_day(start), DECLINE_DAYS + FOLLOW_DAYS)


def study(homes: list[Trace], seed: int, starts: int = STUDY_STARTS) -> dict:
    """``starts`` injected declines per home, spread over its recording (each at least
    ``STUDY_HISTORY_DAYS`` after its start, so the baseline is the home's own): flagged share
    and days to the flag."""
    delays: list[int | None] = []
    for h in homes:
        rng = home_rng(seed, h.home, "decline-study")
        first = int(h.ts[0]) + STUDY_HISTORY_DAYS * DAY
        last = int(h.ts[-1]) - DECLINE_DAYS * DAY
        if last <= first:
            continue
        for s in np.linspace(first, last, starts).astype(np.int64):
            s = int((s + 9 * HOUR) // DAY * DAY - 9 * HOUR)  # a local midnight
            injected = inject_decline(h, s, rng)
            # the home's whole history before: its background is learned as in the product
            before = h.window(int(h.ts[0]), s)
            after = injected.window(s, s + DECLINE_DAYS * DAY)
            full = dataclasses.replace(
                h,
                ts=np.concatenate([before.ts, after.ts]),
                watts=np.concatenate([before.watts, after.watts]),
                lux=None,
                unattended_lux=None,
            )
            delays.append(decline_delay(full, s))
    return summary(delays)


def summary(delays: list[int | None]) -> dict:
    got = sorted(d for d in delays if d is not None)
    return {
        "n": len(delays),
        "flagged": len(got),
        "median_days": float(np.median(got)) if got else None,
        "delays": delays,
    }
