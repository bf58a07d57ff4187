"""A home's unattended load, and which power changes depart from it.

A fridge compressor, a heater's thermostat or standby noise change the power reading all night
long without anyone touching anything. The 5 W margin alone counts every such change as a sign
of life, so a person who collapsed next to a cycling fridge never alerts. The background is
learned from the home's own quiet hours (01:00–05:00): the range the load moves in and the
largest step it makes there. A change counts as activity only when it is larger than the margin
AND leaves that range or steps further than the night ever does. Below the nights' floor (a
timer load such as a storage heater switched off for the day) the nights say nothing, and the
margin alone decides. Every activity under this definition is also one under the margin alone,
so the fixed ladder on this clock fires at least whenever it fired before (the floor guarantee,
docs/detection.md). A home whose nights hold a load on a timer (Economy 7 heating) is judged by
time of day: the timer's half-hours by the nights, the others by a day background
(``detection.timer_load``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time
from statistics import median

from dashboard.detection.levels import slot_of
from dashboard.detection.timer_load import TimerLoad

NIGHT_START = time(1, 0)
NIGHT_END = time(5, 0)
MIN_NIGHTS = 3  # fewer nights than this: no background yet, the margin alone decides


@dataclass(frozen=True)
class Background:
    """The unattended load: its floor, its ceiling and its largest ordinary step (watts); and
    where the plug reads light, the light's unattended course per hour (``detection.light``)."""

    low_w: float
    high_w: float
    step_w: float
    nights: int
    light: bytes | None = None
    # A home with a timed night load: its day background and the timer's half-hours
    # (``detection.timer_load``); None: the night background holds at every hour.
    timer: TimerLoad | None = None

    def as_dict(self) -> dict:
        out: dict = {
            "low_w": round(self.low_w, 2),
            "high_w": round(self.high_w, 2),
            "step_w": round(self.step_w, 2),
            "nights": self.nights,
        }
        if self.timer is not None:
            out["timer"] = self.timer.as_dict()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> Background:
        timer = data.get("timer")
        return cls(
            float(data["low_w"]),
            float(data["high_w"]),
            float(data["step_w"]),
            int(data["nights"]),
            timer=TimerLoad.from_dict(timer) if timer else None,
        )


def is_night(local: datetime) -> bool:
    """Whether a local time lies in the hours used to learn the unattended load."""
    return NIGHT_START <= local.time() < NIGHT_END


def _quantile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    lower = int(position)
    upper = min(lower + 1, len(ordered) - 1)
    return ordered[lower] + (ordered[upper] - ordered[lower]) * (position - lower)


def learn_background(
    nights: Sequence[tuple[float | None, float | None, float | None]], quantile: float = 0.9
) -> Background | None:
    """The background from per-night (lowest, highest, largest step) readings, newest first.

    Robust to a few nights with someone up: the ceiling and the step are a high quantile over
    nights, not their maximum; the floor is the median of the nightly lows.
    """
    usable = [(lo, hi, st) for lo, hi, st in nights if lo is not None and hi is not None]
    if len(usable) < MIN_NIGHTS:
        return None
    lows = [lo for lo, _hi, _st in usable]
    highs = [hi for _lo, hi, _st in usable]
    steps = [st or 0.0 for _lo, _hi, st in usable]
    return Background(
        low_w=median(lows),
        high_w=_quantile(highs, quantile),
        step_w=_quantile(steps, quantile),
        nights=len(usable),
    )


def ceiling(bg: Background, margin_w: float) -> float:
    """The highest reading the unattended load explains: its ceiling plus the slack (the
    margin or 10 % of the ceiling, whichever is larger)."""
    return bg.high_w + max(margin_w, 0.1 * bg.high_w)


def departs(
    previous_w: float,
    new_w: float,
    margin_w: float,
    bg: Background | None,
    local: datetime | None = None,
) -> bool:
    """Whether a power change from ``previous_w`` to ``new_w`` (read at local time ``local``)
    is a sign of life.

    Without a background: a change larger than the margin (the fixed rule's definition).
    With one, the change must also be something the unattended load does not do: crossing its
    ceiling or floor (an appliance switched on or off), or a step larger than any ordinary night
    step. A TV left on that flickers by 20 W above the ceiling is not a sign of life.
    In a home with a timed night load (``bg.timer``), that holds in the timer's half-hours,
    where the timer's own switch (a step it makes there on one day in ten) is background too;
    in the others the change is judged the same way against the smaller day background.
    """
    delta = abs(new_w - previous_w)
    if delta <= margin_w:
        return False
    if bg is None:
        return True
    timer = bg.timer
    if timer is not None and local is not None:
        slot = slot_of(local)
        if timer.is_night_slot(slot):
            # The timer switches its load on and off here: leaving the night's floor is what
            # it does, and its pulse may lie outside the night's hours (00:00), so only a
            # level above the nights' and the pulse's, or a step larger than both, counts.
            slack = max(margin_w, 0.1 * bg.high_w)
            top = max(ceiling(bg, margin_w), timer.slot_high[slot] + slack)
            if (previous_w > top) != (new_w > top):
                return True
            return delta > max(bg.step_w, timer.slot_step[slot]) + slack
        return _departs_from(previous_w, new_w, margin_w, timer.low_w, timer.high_w, timer.step_w)
    return _departs_from(previous_w, new_w, margin_w, bg.low_w, bg.high_w, bg.step_w)


def _departs_from(
    previous_w: float, new_w: float, margin_w: float, low_w: float, high_w: float, step_w: float
) -> bool:
    """The test against one unattended load (floor, ceiling, step), for a change larger than
    the margin."""
    slack = max(margin_w, 0.1 * high_w)
    top, floor = high_w + slack, low_w - slack
    if previous_w < floor and new_w < floor:
        # Below anything the nights ever drew: the unattended night load (a storage heater on
        # a night timer, say) is off, and the nights say nothing about this regime.
        return True
    if (previous_w > top) != (new_w > top) or (previous_w < floor) != (new_w < floor):
        return True
    return abs(new_w - previous_w) > step_w + slack
