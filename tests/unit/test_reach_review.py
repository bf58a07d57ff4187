"""A hostile review of the reach (``detection.reach``): where it says something the product does
not do for a clean stop (the line at the floor after the last sign of life). The product here is
its own rule, ``rules.plug.plug_no_change``, judged at every 10-minute tick on the plug's
reports, with the routine and level model the nightly learning's own functions give at each
Seoul midnight (``learn_routine``, ``learn_levels``, ``carry_over``), the tick before the
learning as in the worker's pass. A test marked xfail is a finding left open (its reason says
why and the fix); the others guard fixes made in ``detection.reach``."""

from __future__ import annotations

import itertools
import random
import time as clock
from dataclasses import replace
from datetime import date, datetime, time, timedelta

import numpy as np
import pytest

from dashboard.detection.background import Background, learn_background
from dashboard.detection.levels import (
    GRID,
    SCALE,
    SLOTS,
    LevelFacts,
    LevelModel,
    carry_over,
    learn_levels,
    level_byte,
    merge_levels,
    slot_of,
)
from dashboard.detection.reach import (
    HORIZON_H,
    idle_line,
    plug_reach,
    stop_first_alert_h,
)
from dashboard.detection.routine import Routine, learn_routine
from dashboard.rules.config import Thresholds, current_thresholds
from dashboard.rules.model import DeviceFacts
from dashboard.rules.plug import plug_no_change
from dashboard.settings import LOCAL_TZ
from tests.unit import test_reach

TH = current_thresholds()
CFG = TH.plug_routine
LEARNED = date(2026, 12, 7)  # a Monday
FLOOR = 22.0
BG = Background(FLOOR, 30.0, 5.0, 28)
TICK = timedelta(minutes=10)


def home(seed: int) -> tuple[dict[date, int], dict[date, bytes]]:
    """29 days up to ``LEARNED`` (included) of a home at 20–30 W at night and in use (100–900 W,
    a sign of life) at random half-hours of the day, more often in the evening: per day its
    activity bits and stored ``level_slots``."""
    rng = random.Random(seed)
    bits, levels = {}, {}
    for k in range(29):
        day, b, sums = LEARNED - timedelta(days=k), 0, {}
        for slot in range(SLOTS):
            busy = slot >= 14 and rng.random() < (0.7 if 36 <= slot < 46 else 0.3)
            sums[slot] = (level_byte(rng.uniform(100, 900) if busy else rng.uniform(20, 30)), 1)
            b |= (1 << slot) if busy else 0
        bits[day], levels[day] = b, merge_levels(None, sums)
    return bits, levels


def learned(bits, levels, today: date, bg: Background | None = BG, still_h=None):
    routine = learn_routine(
        bits,
        today,
        window_days=CFG.window_days,
        half_life_days=CFG.half_life_days,
        background=bg,
        min_days=CFG.min_days,
    )
    model = learn_levels(levels, today, CFG.window_days, CFG.min_days)
    return replace(routine, still_h=still_h), model


def plug_facts(
    since: datetime,
    seen: datetime,
    activity: datetime,
    change: datetime,
    power_w: float,
    routine: Routine,
    model: LevelModel | None,
    levels: dict[date, bytes],
    no_change_hours: float | None = None,
) -> DeviceFacts:
    """One person's plug, 60 days old, as the rule tick loads it for a stop at ``since``."""
    return DeviceFacts(
        device_id=1,
        type_code="smart_plug",
        program_id=1,
        region_id=1,
        heartbeat_timeout_s=7200,
        recipient_id=1,
        state="active",
        last_seen_at=seen,
        last_activity_at=activity,
        last_change_at=change,
        last_power_w=power_w,
        first_seen_at=since - timedelta(days=60),
        first_received_at=since - timedelta(days=60),
        installed_at=since - timedelta(days=60),
        no_change_hours=no_change_hours,
        routine=routine,
        levels=LevelFacts(model, levels) if model is not None else None,
    )


def judged(facts: DeviceFacts, th: Thresholds, since: datetime, now: datetime):
    """(hours from ``since``, basis) where ``plug_no_change`` raises a stage at ``now``."""
    decision = plug_no_change(facts, th, now)
    if decision is not None and decision.stage is not None:
        return round((now - since).total_seconds() / 3600, 2), decision.evidence["basis"]
    return None


def product_first_alert(
    bits: dict[date, int],
    levels: dict[date, bytes],
    since: datetime,
    *,
    th: Thresholds = TH,
    report_min: float = 30,
    line=None,
    bg: Background | None = BG,
    relearn: bool = True,
    fixed: tuple[Routine, LevelModel | None] | None = None,
    still_h: float | None = None,
    no_change_hours: float | None = None,
    horizon_h: float = HORIZON_H,
) -> tuple[float | None, str | None]:
    """(hours from ``since`` to the first tick at which ``plug_no_change`` raises a stage, its
    basis) for a clean stop: the fall to ``line(local time)`` (default the floor) at ``since``
    is the last sign of life and a report, the plug reports every ``report_min`` minutes at the
    line after it (the report before, at 400 W, in use). The stop day's bits and levels are its
    own up to the stop. ``fixed``: this routine and model throughout (no learning)."""
    bits, levels = dict(bits), dict(levels)
    local = since.astimezone(LOCAL_TZ)
    day0, cut = local.date(), slot_of(local)
    step = timedelta(minutes=report_min)
    line = line or (lambda _local: FLOOR)

    def store(at: datetime, watts: float) -> None:
        loc = at.astimezone(LOCAL_TZ)
        levels[loc.date()] = merge_levels(
            levels.get(loc.date()), {slot_of(loc): (level_byte(watts), 1)}
        )

    day_levels = levels.get(day0)
    levels[day0] = merge_levels(
        None, {s: (day_levels[s], 1) for s in range(cut)} if day_levels else {}
    )
    bits[day0] = bits.get(day0, 0) & ((1 << cut) - 1)
    store(since - step, 400.0)
    bits[day0] |= 1 << slot_of((since - step).astimezone(LOCAL_TZ)) | 1 << cut
    routine, model = fixed or learned(bits, levels, day0, bg, still_h)

    def judge(now: datetime, seen: datetime):
        power = line(seen.astimezone(LOCAL_TZ))
        facts = plug_facts(
            since, seen, since, since, power, routine, model, levels, no_change_hours
        )
        return judged(facts, th, since, now)

    store(since, line(local))
    seen, report, today = since, since + step, day0
    now = since
    while now <= since + timedelta(hours=horizon_h):
        now += TICK
        while report <= now:  # the reports up to this tick, stored
            store(report, line(report.astimezone(LOCAL_TZ)))
            seen, report = report, report + step
        if (got := judge(now, seen)) is not None:
            return got
        if not fixed and relearn and now.astimezone(LOCAL_TZ).date() != today:
            # the worker's pass: the tick, then the nightly learning, and the next tick
            today = now.astimezone(LOCAL_TZ).date()
            for k in range(1, (today - day0).days):
                bits.setdefault(day0 + timedelta(days=k), 0)  # reported, no sign of life
            old = model
            routine, model = learned(bits, levels, today, bg, still_h)
            if model is not None:
                model = carry_over(old, model, levels, LOCAL_TZ)
            if (got := judge(now, seen)) is not None:
                return got
    return None, None


def reach_h(bits, levels, since, *, th=TH, report_min=30, bg=BG, still_h=None):
    """The reach as ``queries.reach`` gives it: on the home's idle line from its stored days."""
    routine, model = learned(bits, levels, since.astimezone(LOCAL_TZ).date(), bg, still_h)
    idle = idle_line(levels, routine, th.plug_routine.window_days)
    return stop_first_alert_h(routine, th, LOCAL_TZ, since, model, report_min=report_min, idle=idle)


def at(hour: int, minute: int = 0, day: date = LEARNED) -> datetime:
    return datetime.combine(day, time(hour, minute), LOCAL_TZ)


# --- the simulator is the product: without learning at midnight it gives the reach ---------


@pytest.mark.parametrize("seed", range(3))
def test_the_simulated_product_is_the_reach_on_a_day(seed):
    """Within the stop's day the product's own rule raises at the reach (spells that end
    before midnight; at 12:00, 16:00, 19:00). The ground the findings below stand on."""
    bits, levels = home(seed)
    for hour in (12, 16, 19):
        reach = reach_h(bits, levels, at(hour))
        got, basis = product_first_alert(bits, levels, at(hour), relearn=False)
        assert got is not None and basis in ("routine", "level")
        if got < 24 - hour:  # within the day
            assert got == pytest.approx(reach, abs=0.5), (hour, basis)


# --- fixed in detection.reach -----------------------------------------------------------------


def test_performance_a_plug_reporting_every_second():
    """should-fix (fixed): ``level_first_alert_h`` stepped through every report for 72 h,
    though only a half-hour's first one moves ``S``: a plug read every second
    (``device_daily.watts_n`` = 86,400; ``MINUTES_PER_DAY / median`` = 1/60 min) whose floor
    never reaches 관심 took 3.9 s for one plug's reach (48 stops × 259,200 reports), not 2–5 ms."""
    bits, levels = home(1)
    routine, model = learned(bits, levels, LEARNED, Background(3000.0, 3100.0, 5.0, 28))
    started = clock.perf_counter()
    reach = plug_reach(routine, TH, LOCAL_TZ, model, report_min=1 / 60)
    assert clock.perf_counter() - started < 0.5
    assert reach.level and reach.usable


@pytest.mark.parametrize("seed", range(3))
@pytest.mark.parametrize("report_min", [1, 5, 45, 90])
def test_the_level_reach_is_still_the_rules_own_level_test(seed, report_min):
    """The fix above kept the level reach the product's ``score_levels`` at every report, at
    more intervals than test_reach's (45 and 90 minutes: half-hours without a report)."""
    test_reach.test_the_level_reach_is_the_rules_own_level_test(seed, report_min)


def _gate_model(falls_back: bool) -> LevelModel:
    """A model whose floor (22 W) scores +3 at 10:00 and 10:30 and, ``falls_back``, −1.5 at
    11:00 and 11:30, 0 elsewhere, every reference day above the top at every half-hour."""
    table = np.zeros((2, SLOTS, GRID), dtype=np.int8)
    q = round(level_byte(FLOOR)) * GRID // 255
    fall = -1.5 if falls_back else 0.0
    for slot, e in ((20, 3.0), (21, 3.0), (22, fall), (23, fall)):
        table[:, slot, q] = round(e * SCALE)
    return LevelModel(table, 60, False, ((False, (1 << SLOTS) - 1),) * 20, LEARNED)


@pytest.mark.parametrize("falls_back, expected", [(True, None), (False, 2.0)])
def test_the_level_reach_waits_for_min_quiet_h_on_the_rules_terms(falls_back, expected):
    """should-fix (fixed): the reach took ``max(h, min_quiet_h)``, as if ``S`` only grew. The rule
    judges the level test only from ``min_quiet_h`` on, on ``S`` at the last report then: a
    district at ``level_h`` = 6 whose ``S`` reaches 6 at 10:30 (a stop at 09:30) and falls
    back to 3 by 11:30 raises nothing that day; the reach said 2 h (now: 24.5 h, the next
    day's 10:00 half-hour). Where ``S`` holds at 6 both raise at 11:30, the gate."""
    th = Thresholds(plug_routine={"level_h": 6.0})
    model = _gate_model(falls_back)
    # active 20:00 only: the routine's score raises nothing before the ladder
    routine = Routine(
        LEARNED, {LEARNED - timedelta(days=k): 1 << 40 for k in range(1, 29)}, background=BG
    )
    since = at(9, 30)
    got, basis = product_first_alert(
        dict(routine.days), {}, since, th=th, fixed=(routine, model), horizon_h=23
    )
    assert (got, basis) == ((expected, "level") if expected else (None, None))
    reach = stop_first_alert_h(routine, th, LOCAL_TZ, since, model, report_min=30)
    assert reach == (expected or 24.0)  # else the ladder's, at 24 h
    for report_min in (10, 45):  # the gate between two reports: S at the one before it
        got, _basis = product_first_alert(
            dict(routine.days),
            {},
            since,
            th=th,
            fixed=(routine, model),
            horizon_h=23,
            report_min=report_min,
        )
        reach = stop_first_alert_h(routine, th, LOCAL_TZ, since, model, report_min=report_min)
        # within the stop's day (23 h): the same alert or none (then the reach's is later)
        assert reach == got if got is not None else (reach is None or reach > 23), report_min


# --- open findings ---------------------------------------------------------------------------


def _night_home(seed: int):
    """A home with a heater on at night (00:00–07:00, 280–320 W) and at 60–100 W by day when
    idle, in use (500–1,500 W) at random half-hours: the nights' floor is ~280 W, the day's
    idle line ~80 W."""
    rng = random.Random(seed)
    bits, levels, nights = {}, {}, []
    for k in range(29):
        day, b, sums, night = LEARNED - timedelta(days=k), 0, {}, []
        for slot in range(SLOTS):
            if slot < 14:
                w = rng.uniform(280, 320)
            else:
                busy = rng.random() < (0.6 if 36 <= slot < 46 else 0.25)
                w = rng.uniform(500, 1500) if busy else rng.uniform(60, 100)
                b |= (1 << slot) if busy else 0
            sums[slot] = (level_byte(w), 1)
            if 2 <= slot < 10:
                night.append(w)
        bits[day], levels[day] = b, merge_levels(None, sums)
        if k:
            steps = [abs(a - c) for a, c in itertools.pairwise(night)]
            nights.append((min(night), max(night), max(steps)))
    return bits, levels, learn_background(nights)


@pytest.mark.parametrize("hour", [8, 12, 16])
def test_a_home_with_a_night_load_is_judged_at_its_day_line(hour):
    """must-fix (fixed): the level reach ran the line at the background's floor (the nights'
    median low) at every hour: a home whose nights hold a load (a heater, 00:00–07:00) is left
    at its day idle line by a stop, far below it, where the level test is much slower; the
    reach said 2 h. It now follows the home's idle line (``idle_line``), as queries.reach
    gives it."""
    bits, levels, bg = _night_home(0)
    since = at(hour)
    reach = reach_h(bits, levels, since, bg=bg)
    got, _basis = product_first_alert(
        bits,
        levels,
        since,
        bg=bg,
        line=lambda local: 300.0 if local.hour < 7 else 80.0,
        horizon_h=24 - hour,  # the heater's switch at 00:00 is a sign of life
    )
    # before: the reach said 2 h (verdict fast); the product: 10, 8 and 6 h (the routine)
    assert reach is not None and got is not None
    assert reach == pytest.approx(got, abs=0.5)


@pytest.mark.parametrize(
    "still_h, hours, expected",
    [(None, None, (24.0, "ladder")), (None, 30.0, (30.0, "ladder")), (1.0, None, (3.0, "still"))],
)
def test_the_ladder_and_stillness_are_certain_for_a_clean_stop(still_h, hours, expected):
    """should-fix (fixed): the reach left out the ladder (관심 at the person's
    ``no_change_hours`` on a line that stays flat) and the stillness test, both certain for a
    clean stop: it said None ('never within 72 h') or 30 h where the product raises at 24 h,
    or at 3 h by stillness."""
    # active 20:00–21:00 only: the routine never reaches 관심 within 72 h (test_reach's rare)
    routine = Routine(
        LEARNED,
        {LEARNED - timedelta(days=k): 1 << 40 | 1 << 41 for k in range(1, 29)},
        background=BG,
        still_h=still_h,
    )
    since = at(21)
    got = product_first_alert(
        dict(routine.days), {}, since, fixed=(routine, None), no_change_hours=hours
    )
    assert got == expected
    reach = stop_first_alert_h(
        routine, TH, LOCAL_TZ, since, None, report_min=30, no_change_hours=hours
    )
    assert reach == got[0]


# Spells over midnight where the nightly learning moved the first alert by 3–4 h (found among
# 30 homes × 12 evening hours: 29 of 360 by more than ±0.5 h, 13 of them later, up to +4 h).
RELEARNED = [(5, 23), (10, 23)]


@pytest.mark.xfail(
    strict=True,
    reason="should-fix: the reach judges a 72-hour spell with one routine and one level model; "
    "the product learns both again at each Seoul midnight, the stop day (active up to the stop, "
    "then at the floor) among their reference days and the oldest day gone. Over midnight the "
    "first alert moved by -4 to +4 h. Fix: at each midnight of the spell, learn the routine "
    "(learn_routine on Routine.days with the stop day's bits) and the level model "
    "(learn_levels on the window's level_slots with the floor after the stop, carry_over) as "
    "the nightly job would. Known and documented (docs/detection.md, the reach's 'What it "
    "is not').",
)
@pytest.mark.parametrize("seed, hour", RELEARNED)
def test_the_nightly_learning_moves_the_first_alert_over_midnight(seed, hour):
    bits, levels = home(100 + seed)
    since = at(hour)
    reach = reach_h(bits, levels, since)
    got, _basis = product_first_alert(bits, levels, since)
    assert reach == pytest.approx(got, abs=0.5)


@pytest.mark.xfail(
    strict=True,
    reason="note: a stop on the hour whose fall to the floor is the last sign of life leaves "
    "the half-hour holding it at the floor; score_levels runs S again from the sign of life "
    "only when S rose before it (since < start), so where S rose at that half-hour's start "
    "(the usual case: use before the stop resets S) the rule counts it and the reach, which "
    "never does, is up to a half-hour late. Safe side; the fix (count the holding half-hour "
    "when since is on its start) depends on S before the stop, which the reach does not know.",
)
@pytest.mark.parametrize("report_min", [30, 5])
def test_the_half_hour_holding_a_stop_on_the_hour(report_min):
    # found: home 1 at 09:00, 13:00, 15:00, home 2 and 5 at 12:00, home 4 at 16:00 (level
    # basis, 0.5 h sooner than the reach, at 30, 10 and 5-minute reports alike)
    sooner = []
    for seed in (1, 2, 4, 5):
        bits, levels = home(seed)
        for hour in (9, 12, 13, 15, 16):
            reach = reach_h(bits, levels, at(hour), report_min=report_min)
            got, basis = product_first_alert(
                bits, levels, at(hour), report_min=report_min, relearn=False
            )
            if basis == "level" and got < reach - 0.1:
                sooner.append((seed, hour, reach, got))
    assert sooner == []
