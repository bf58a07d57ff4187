"""The 30-day preview's level test, learned and judged in bulk (2026-12-06): the same figures,
bit for bit, as the nightly job's learner run day by day and the live test's sentence asked
half-hour by half-hour. ``_level_s_direct`` is the preview's code before it (one
``learn_levels`` a day, one ``above_days`` a point), kept here as the reference."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dashboard.detection import levels
from dashboard.detection.scan import _level_s, scan_plug
from dashboard.rules.config import Thresholds
from dashboard.settings import LOCAL_TZ

FAST = settings(max_examples=60, deadline=None, database=None)
DAY0 = date(2026, 10, 1)  # a Thursday


def _history(rng: random.Random, n_days: int) -> dict[date, bytes | None]:
    """Stored days of a home: a night load, a waking day of varied levels, some days away
    (night load only), some half-hours or days without a reading, some hourly days, rows
    without levels (None, empty)."""
    night = rng.choice([0, 25, 80, 140])
    spread, gaps, away = rng.randint(0, 12), rng.random() * 0.5, rng.random() * 0.4
    up, down = rng.choice([(14, 44), (12, 30), (34, 46), (2, 47)])  # its waking hours
    weekends_away = rng.random() < 0.3
    days: dict[date, bytes | None] = {}
    for k in range(n_days):
        day, roll = DAY0 + timedelta(days=k), rng.random()
        if roll < 0.08:
            continue
        if roll < 0.11:
            days[day] = rng.choice([None, b""])
            continue
        idle = rng.random() < away or (weekends_away and day.weekday() >= 5)
        hourly = rng.random() < 0.15
        lv, ct = bytearray([levels.NO_LEVEL] * 48), bytearray(48)
        for slot in range(48):
            if (hourly and slot % 2) or rng.random() < gaps:
                continue
            awake = not idle and up <= slot < down and rng.random() < 0.7
            q = rng.randint(night, 254) if awake else night + rng.randint(0, spread)
            lv[slot], ct[slot] = min(q, 254), rng.randint(1, 30)
        days[day] = bytes(lv + ct)
    return days


def _same(a: levels.LevelModel | None, b: levels.LevelModel | None) -> bool:
    if a is None or b is None:
        return a is b
    return (
        a.table.dtype == b.table.dtype
        and np.array_equal(a.table, b.table)
        and (a.top, a.split, a.refs, a.learned_on) == (b.top, b.split, b.refs, b.learned_on)
        and (a.carry, a.carry_back) == (b.carry, b.carry_back)
    )


@FAST
@given(
    seed=st.integers(0, 2**32 - 1),
    window=st.sampled_from([(28, 14), (28, 14), (21, 7), (14, 3)]),
)
def test_learning_each_day_at_once_is_learn_levels_day_by_day(seed, window):
    """Every day's model, however the days are asked (in any order, repeated, before or after
    the stored days), is ``learn_levels``' for that day, table and reference days alike."""
    rnd = random.Random(seed)
    window_days, min_days = window
    days = _history(rnd, rnd.randint(0, 75))
    todays = [DAY0 + timedelta(days=rnd.randint(-5, 85)) for _ in range(rnd.randint(0, 40))]
    if rnd.random() < 0.5:  # the preview's case: a run of days
        todays = [DAY0 + timedelta(days=k) for k in range(rnd.randint(0, 40), rnd.randint(40, 80))]
    learned = levels.learn_levels_each(days, todays, window_days, min_days)
    assert len(learned) == len(todays)
    for today, model in zip(todays, learned, strict=True):
        assert _same(model, levels.learn_levels(days, today, window_days, min_days)), today


def test_learning_each_day_at_once_learns_models_on_these_histories():
    """The property above is not vacuous: its histories yield models, split or not, and days
    without one."""
    rng = random.Random(7)
    learned = [
        m
        for _ in range(20)
        for m in levels.learn_levels_each(
            _history(rng, 60), [DAY0 + timedelta(days=k) for k in range(20, 60)]
        )
    ]
    assert sum(m is None for m in learned) > 100
    assert sum(m is not None and m.split for m in learned) > 100
    assert sum(m is not None and not m.split for m in learned) > 100


@FAST
@given(seed=st.integers(0, 2**32 - 1))
def test_the_sentences_days_at_once_are_above_days_one_by_one(seed):
    rnd = random.Random(seed)
    models = [
        levels.LevelModel(
            np.zeros((2, 48, 64), np.int8),
            10,
            rnd.random() < 0.5,
            tuple(
                (rnd.random() < 0.3, rnd.getrandbits(48) & rnd.getrandbits(48))
                for _ in range(rnd.randint(0, 30))
            ),
        )
        for _ in range(rnd.randint(1, 4))
    ]
    asks = [
        (rnd.randrange(len(models)), rnd.random() < 0.5, rnd.randint(0, 47), rnd.randint(1, 200))
        for _ in range(40)
    ]
    which, weekend, first, slots = (np.array(column) for column in zip(*asks, strict=True))
    above, kind = levels.above_days_each(models, which, weekend, first, slots)
    for i, (m, wk, f, n) in enumerate(asks):
        assert (above[i], kind[i]) == models[m].above_days(wk, f, n)


def _level_s_direct(stored, day0, a_of, j, window_days, min_days):
    """The preview's ``_level_s`` before 2026-12-06: each day's model by ``learn_levels``, ``S``
    half-hour by half-hour for each point, the sentence's support by ``above_days``."""
    out = np.full(j.size, np.nan)
    support = np.zeros(j.size, dtype=bool)
    first, last = int(a_of.min() + 1) // levels.SLOTS, int(j.max()) // levels.SLOTS
    evidence = [math.nan] * ((last + 1) * levels.SLOTS)
    day_models = {}
    for k in range(max(first, 0), last + 1):
        day = day0 + timedelta(days=k)
        model = levels.learn_levels(stored, day, window_days, min_days)
        if model is None:
            continue
        day_models[k] = model
        q = levels.day_levels(stored.get(day)).astype(np.int64)
        table = model.table[int(model.split and day.weekday() >= 5)]
        e = table[np.arange(levels.SLOTS), np.minimum(q, 254) * levels.GRID // 255]
        e = np.where(q != levels.NO_LEVEL, e / levels.SCALE, np.nan)
        evidence[k * levels.SLOTS : (k + 1) * levels.SLOTS] = e.tolist()
    spell = None
    for idx in np.lexsort((j, a_of)).tolist():
        a, at = int(a_of[idx]), int(j[idx])
        if a != spell:
            spell, t, total, previous, rose = a, a + 1, 0.0, None, None
        while t < at:
            v = evidence[t] if t >= 0 else math.nan
            if v == v:
                weight = 1 if previous is None else min(t - previous, levels.MAX_COVER)
                previous = t
                total = 0.0 if v <= -levels.RESET else max(0.0, total + weight * v)
                if total == 0.0:
                    rose = None
                elif rose is None:
                    rose = t
            t += 1
        k = at // levels.SLOTS
        if k in day_models:
            out[idx] = total
            if total > 0.0 and rose is not None and previous is not None:
                until = day0 + timedelta(days=previous // levels.SLOTS)
                above, days = day_models[k].above_days(
                    until.weekday() >= 5, rose % levels.SLOTS, previous - rose + 1
                )
                support[idx] = levels.supported(above, days)
    return out, support


def _spells(rng: random.Random, n_slots: int) -> tuple[np.ndarray, np.ndarray]:
    """Points (the sign of life's slot, the slot judged) of quiet spells as the scan makes
    them: consecutive spells, each judged at every slot from a few after its start to its end."""
    a_of, j, a = [], [], rng.randint(0, 200)
    while a < n_slots - 10:
        b = min(a + rng.choice([4, 12, 40, 100, 300]), n_slots - 1)
        points = range(a + rng.randint(1, 8), b + 1)
        a_of += [a] * len(points)
        j += points
        a = b + rng.randint(0, 30)
    return np.array(a_of, dtype=np.int64), np.array(j, dtype=np.int64)


@FAST
@given(seed=st.integers(0, 2**32 - 1))
def test_the_previews_level_s_is_the_direct_one(seed):
    """``S`` at every point of every spell and the sentence's support there, as the direct
    computation; and again from the models the first call kept (the preview's second set)."""
    rnd = random.Random(seed)
    n_days = rnd.randint(20, 70)
    stored = _history(rnd, n_days)
    a_of, j = _spells(rnd, n_days * 48)
    if not j.size:
        return
    want = _level_s_direct(stored, DAY0, a_of, j, 28, 14)
    kept: dict = {}
    for _ in range(2):
        s, support = _level_s(stored, DAY0, a_of, j, 28, 14, kept)
        assert np.array_equal(s, want[0], equal_nan=True)
        assert np.array_equal(support, want[1])
    # not the result kept: the spells begun half an hour earlier, or judged half an hour later
    for spells, points in ((np.maximum(a_of - 1, 0), j), (a_of, j + 1)):
        want = _level_s_direct(stored, DAY0, spells, points, 28, 14)
        s, support = _level_s(stored, DAY0, spells, points, 28, 14, kept)
        assert np.array_equal(s, want[0], equal_nan=True)
        assert np.array_equal(support, want[1])


def test_the_direct_comparison_sees_stages_and_support_both_ways():
    """The property above compares points past a 관심 threshold, and points where ``S`` has
    risen with and without the sentence's support, not only zeros."""
    rng = random.Random(11)
    high = supported = unsupported = 0
    for _ in range(12):
        stored = _history(rng, 60)
        a_of, j = _spells(rng, 60 * 48)
        s, support = _level_s(stored, DAY0, a_of, j, 28, 14)
        risen = np.nan_to_num(s) > 0
        high += int((np.nan_to_num(s) >= 12).sum())
        supported += int((risen & support).sum())
        unsupported += int((risen & ~support).sum())
    assert high > 1000 and supported > 1000 and unsupported > 1000


def test_a_plug_scanned_under_several_sets_sharing_its_work_is_scanned_as_alone():
    """The preview passes one ``shared`` dict per plug to both sets' scans (with the plug's runs
    above its ceiling or without, as the set judges them): each scan is the one made alone,
    whether the sets share their routine window, points, models and run thresholds or not."""
    rng = random.Random(5)
    sets = [
        Thresholds(plug_routine={"level_h": 12}),
        Thresholds(plug_routine={"level_h": 8, "min_share": 0.6, "attention_slots": 2}),
        Thresholds(plug_routine={"level_h": 12, "window_days": 21}),
        Thresholds(plug_routine={"level_h": 12, "min_days": 25}),
        Thresholds(plug_routine={"level_h": 12, "half_life_days": 3}),
        Thresholds(plug_routine={"level_h": 12, "min_quiet_h": 5}),
        Thresholds(plug_routine={"level_h": 12, "on_factor": 1.5, "band_factor": 1.5}),
        Thresholds(plug_routine={"level_h": 12, "on_min_h": 30, "band_min_h": 20}),
    ]
    end = datetime.combine(DAY0 + timedelta(days=59), time(15), LOCAL_TZ).astimezone(UTC)
    start, seen = end - timedelta(days=30), set()
    for _ in range(6):
        stored = _history(rng, 60)
        bits = {
            day: rng.getrandbits(48) & rng.getrandbits(48) & rng.getrandbits(48) for day in stored
        }
        # short runs above the ceiling, and a day now and then of long ones
        above = {
            day: rng.getrandbits(48) & rng.getrandbits(48) & rng.getrandbits(48)
            if rng.random() < 0.9
            else rng.getrandbits(48) | rng.getrandbits(48)
            for day in stored
        }
        # breaks in most half-hours, and a day now and then without any (a long band)
        band = {day: rng.getrandbits(48) if rng.random() < 0.9 else 0 for day in stored}
        shared: dict = {}
        for th in sets:
            for runs in (None, above):
                data = {"levels": stored, "above": runs, "band": band}
                alone = scan_plug(bits, th, start, end, **data)
                again = scan_plug(bits, th, start, end, **data, shared=shared)
                assert again == alone
                seen |= {a.basis for a in alone.alerts}
    assert {"level", "routine", "on", "band"} <= seen


def test_a_shared_dict_serves_one_plugs_data_only():
    """The shared dict's keys name thresholds, not the plug: passed with another plug's data it
    would hand back the first plug's results, so it is refused (a review's finding)."""
    th = Thresholds()
    end = datetime(2024, 6, 30, 15, tzinfo=UTC)
    start = end - timedelta(days=30)
    first = {date(2024, 6, 1) + timedelta(days=k): 0xFFFF00 for k in range(29)}
    other = dict(first)
    shared: dict = {}
    scan_plug(first, th, start, end, shared=shared)
    scan_plug(first, th, start, end, shared=shared)  # the same plug again: fine
    with pytest.raises(ValueError, match="one plug"):
        scan_plug(other, th, start, end, shared=shared)
