"""The level chart's numbers (``detection.level_profile``) on known bytes: 255 = no reading,
missing days, reference days, weekday/weekend, the night level, the days drawn and the spell."""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta

import numpy as np
import pytest

from dashboard.detection import levels
from dashboard.detection.level_profile import REFERENCE_DAYS, level_profile, shown_days
from dashboard.settings import LOCAL_TZ

TODAY = date(2026, 11, 30)  # a Monday
NIGHT_Q, DAY_Q = 40, 120


def day_bytes(values: dict[int, int], count: int = 2) -> bytes:
    """A stored day: level byte per half-hour (others 255, no reading), ``count`` readings."""
    lv = [values.get(s, levels.NO_LEVEL) for s in range(levels.SLOTS)]
    counts = [count if v != levels.NO_LEVEL else 0 for v in lv]
    return bytes(lv + counts)


def usual_day(day: date) -> bytes:
    """Night load at 01:00–05:00, up 07:00–22:00; at 12:00 (slot 24) weekdays read 100 + the
    day of the month, weekends 200; 06:00 (slot 12) is read on only two days."""
    values = {s: NIGHT_Q for s in levels.NIGHT_SLOTS} | {s: DAY_Q for s in range(14, 44)}
    values[24] = 200 if day.weekday() >= 5 else 100 + day.day
    if day.day in (1, 2):
        values[12] = 60
    return day_bytes(values)


def stored_history() -> dict[date, bytes | None]:
    days: dict[date, bytes | None] = {}
    for k in range(1, REFERENCE_DAYS + 3):  # beyond the windows of TODAY and Sunday
        day = TODAY - timedelta(days=k)
        days[day] = usual_day(day)
    days.pop(TODAY - timedelta(days=3))  # a day with no row
    days[TODAY - timedelta(days=4)] = None  # a row without levels
    # A day away: only the night load, never above the top: not a reference day.
    days[TODAY - timedelta(days=5)] = day_bytes({s: NIGHT_Q for s in range(48)})
    return days


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def test_the_day_against_the_usual_weekday_levels_and_the_night_level():
    stored = stored_history()
    # Today: up until 10:00, then the night load; 13:00 onwards nothing received yet.
    stored[TODAY] = day_bytes({s: (DAY_Q if 14 <= s < 20 else NIGHT_Q) for s in range(26)}, 3)
    since, until = at(TODAY, 10), at(TODAY, 12, 55)
    profile = level_profile(stored, since, until, LOCAL_TZ, "weekday")
    assert profile is not None and profile.days == (TODAY,)
    shown = profile.shown
    assert len(shown) == 48 and list(shown["x"][:2]) == [0.5, 1.5]
    assert shown["watts"][15] == pytest.approx(levels.byte_watts(DAY_Q))
    assert shown["watts"][22] == pytest.approx(levels.byte_watts(NIGHT_Q))
    assert shown["watts"][26:].isna().all() and (shown["readings"][26:] == 0).all()
    assert shown["readings"][0] == 3 and shown["start"][21] == at(TODAY, 10, 30)
    # Reference weekdays: the 28 days before, less the missing day, the row without levels,
    # the day away and the 8 weekend days; slot 24's median over their values 100 + day.
    window = [TODAY - timedelta(days=k) for k in range(1, 29)]
    weekdays = [d for d in window if d.weekday() < 5 and (TODAY - d).days not in (3, 4, 5)]
    assert profile.reference_days == len(weekdays) == 17 and profile.day_kind == "weekday"
    values = np.array([100 + d.day for d in weekdays])
    usual = profile.usual.set_index("x")
    for q, column in ((0.25, "low_w"), (0.5, "median_w"), (0.75, "high_w")):
        want = levels.byte_watts(np.quantile(values, q))
        assert usual.loc[24.5, column] == pytest.approx(want)
    assert usual.loc[20.5, "median_w"] == pytest.approx(levels.byte_watts(DAY_Q))
    assert math.isnan(usual.loc[12.5, "median_w"])  # read on two days only: too few
    assert math.isnan(usual.loc[0.5, "median_w"])  # never read
    # The night level: the learning's unattended top over those 28 days (the day away's
    # nights count, as they do for the learning).
    q95 = float(levels.byte_watts(NIGHT_Q))
    top = math.ceil(levels.level_byte(q95 + max(5.0, 0.1 * q95)))
    assert profile.night_w == pytest.approx(levels.byte_watts(top))
    assert profile.spell == (20.0, pytest.approx(24 + 55 / 30))


def test_weekends_and_pooled_days():
    stored = stored_history()
    sunday = TODAY - timedelta(days=1)
    weekend = level_profile(stored, None, at(sunday, 20), LOCAL_TZ, "weekend")
    assert weekend is not None and weekend.days == (sunday,) and weekend.spell is None
    # The weekends of the 28 days before Sunday: 8, its own day not among them.
    assert weekend.reference_days == 8 and weekend.day_kind == "weekend"
    assert weekend.usual["median_w"][24] == pytest.approx(levels.byte_watts(200))
    pooled = level_profile(stored, None, at(TODAY, 20), LOCAL_TZ, "day")
    assert pooled is not None and pooled.reference_days == 25 and pooled.day_kind == "day"
    # Without a kind (a plug alert the level test did not raise): the day's own kind.
    plain = level_profile(stored, None, at(TODAY, 20), LOCAL_TZ)
    assert plain is not None and plain.day_kind == "weekday" and plain.reference_days == 17


def test_a_spell_over_midnight_draws_two_days_and_never_more():
    stored = stored_history()
    yesterday = TODAY - timedelta(days=1)
    two = level_profile(stored, at(yesterday, 20), at(TODAY, 9), LOCAL_TZ, "weekday")
    assert two is not None and two.days == (yesterday, TODAY)
    assert len(two.shown) == len(two.usual) == 96
    assert two.spell == (40.0, 48.0 + 18.0)
    # The usual level of each day is of its own kind: Sunday's noon is a weekend noon.
    assert two.usual["median_w"][24] == pytest.approx(levels.byte_watts(200))
    long = level_profile(stored, at(TODAY - timedelta(days=3), 20), at(TODAY, 9), LOCAL_TZ)
    assert long is not None and long.days == (yesterday, TODAY) and long.spell[0] == 0.0
    assert shown_days(at(TODAY, 9), at(TODAY, 8), LOCAL_TZ) == (TODAY,)


def test_no_stored_levels_no_profile():
    assert level_profile({}, None, at(TODAY, 12), LOCAL_TZ, "weekday") is None
    none_at_all = {TODAY - timedelta(days=k): None for k in range(30)}
    assert level_profile(none_at_all, None, at(TODAY, 12), LOCAL_TZ) is None
    # Levels today only: a chart of today, without a usual level or a night level.
    only_today = {TODAY: day_bytes({20: DAY_Q})}
    profile = level_profile(only_today, None, at(TODAY, 12), LOCAL_TZ)
    assert profile is not None and profile.night_w is None and profile.reference_days == 0
    assert profile.usual["median_w"].isna().all() and profile.shown["watts"].notna().sum() == 1
