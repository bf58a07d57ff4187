"""A second hostile review of the reach (``detection.reach``), of its final version: the idle
line and its steps, the stillness test, the ladder, the thresholds per district. The product is
the first review's (``test_reach_review.product_first_alert``: ``plug_no_change`` at every
10-minute tick), with one change where the line steps: each report goes through ingestion's own
``merge_state`` with the home's background, so the line's steps become signs of life and changes
beyond the margin exactly as ingest makes them (the first harness holds both at the stop). The
routine and the level model are the stop day's throughout (the nightly learning over midnight is
the first review's open finding). An xfail is a finding left open (its reason says why and the
fix); the others guard fixes in ``detection.reach`` and ``queries.reach``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime, timedelta

import pytest

from dashboard.detection.background import Background
from dashboard.detection.levels import (
    NO_LEVEL,
    SLOTS,
    LevelModel,
    day_levels,
    level_byte,
    merge_levels,
    slot_of,
)
from dashboard.detection.reach import idle_line, stop_first_alert_h
from dashboard.detection.routine import Routine
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, _State, merge_state
from dashboard.settings import LOCAL_TZ
from queries.reach import _report_minutes
from tests.unit.test_reach_review import (
    BG,
    LEARNED,
    TH,
    TICK,
    _night_home,
    at,
    home,
    judged,
    learned,
    plug_facts,
    product_first_alert,
    reach_h,
)

Line = Callable[[datetime], float]  # watts at a local time


def product_on_line(
    routine: Routine,
    model: LevelModel | None,
    levels: dict[date, bytes],
    since: datetime,
    line: Line,
    *,
    report_min: float = 30,
    no_change_hours: float | None = None,
    horizon_h: float = 72.0,
) -> tuple[float | None, str | None]:
    """(hours from ``since`` to the first tick at which ``plug_no_change`` raises, its basis)
    for a clean stop onto ``line``: a report at 400 W, then at ``since`` the fall to the line
    (a sign of life) and a report every ``report_min`` minutes on it, each ingested by
    ``merge_state`` (signs of life and changes as ingest judges them with the routine's
    background) and stored in the day's ``level_slots`` (the stop day's kept up to the stop)."""
    levels = dict(levels)
    local = since.astimezone(LOCAL_TZ)
    kept = levels.get(local.date())
    cut = slot_of(local)
    levels[local.date()] = merge_levels(
        None, {s: (kept[s], 1) for s in range(cut) if kept[s] != NO_LEVEL} if kept else {}
    )
    margins = Margins(power_w=TH.plug_no_change.power_margin_w, lux=30.0, min_answered_s=30.0)
    step, state, count = timedelta(minutes=report_min), _State(), 0

    def read(ts: datetime, watts: float) -> None:
        nonlocal state, count
        count += 1
        event = ValidEvent(count, f"e{count}", "p", ts, "power", watts, None, {"watts": watts})
        state = merge_state(state, [event], margins, routine.background)
        loc = ts.astimezone(LOCAL_TZ)
        levels[loc.date()] = merge_levels(
            levels.get(loc.date()), {slot_of(loc): (level_byte(watts), 1)}
        )

    read(since - step, 400.0)
    read(since, line(local))
    assert state.last_activity_at == since  # the fall is the last sign of life
    report, now = since + step, since
    while now <= since + timedelta(hours=horizon_h):
        now += TICK
        while report <= now:
            read(report, line(report.astimezone(LOCAL_TZ)))
            report += step
        facts = plug_facts(
            since,
            state.last_seen_at,
            state.last_activity_at,
            state.last_change_at,
            state.last_power_w,
            routine,
            model,
            levels,
            no_change_hours,
        )
        if got := judged(facts, TH, since, now):
            return got
    return None, None


def stop_day(bits: dict[date, int], since: datetime) -> dict[date, int]:
    """The routine's days as on the stop day: its bits up to the stop, the use before it."""
    local = since.astimezone(LOCAL_TZ)
    cut = slot_of(local)
    out = dict(bits)
    out[local.date()] = bits.get(local.date(), 0) & ((1 << cut) - 1) | 3 << (cut - 1)
    return out


def hourly(levels: dict[date, bytes], phase: int) -> dict[date, bytes]:
    """The same home read hourly: a reading in every other half-hour (``phase`` 0: on the hour,
    1: at half past), as ingest stores an hourly plug's ``level_slots``."""
    out = {}
    for day, stored in levels.items():
        lv = day_levels(stored)
        out[day] = merge_levels(None, {s: (float(lv[s]), 1) for s in range(phase, SLOTS, 2)})
    return out


def on_idle(bits, levels, bg, since, report_min):
    """(the reach, the product) for a clean stop at ``since`` onto the home's idle line."""
    routine, model = learned(stop_day(bits, since), levels, since.astimezone(LOCAL_TZ).date(), bg)
    idle = idle_line(levels, routine, TH.plug_routine.window_days)
    reach = stop_first_alert_h(
        routine, TH, LOCAL_TZ, since, model, report_min=report_min, idle=idle
    )
    got, _basis = product_on_line(
        routine, model, levels, since, lambda local: idle[slot_of(local)], report_min=report_min
    )
    return reach, got


# --- fixed --------------------------------------------------------------------------------


def test_the_harness_is_the_first_reviews_on_a_flat_line():
    """Where the line does not step, ingesting it changes nothing: the first review's product."""
    bits, levels = home(3)
    for hour in (10, 16):
        first = product_first_alert(bits, levels, at(hour), relearn=False)
        routine, model = learned(stop_day(bits, at(hour)), levels, LEARNED)
        assert product_on_line(routine, model, levels, at(hour), lambda _l: 22.0) == first


@pytest.mark.parametrize("phase", [0, 1])
@pytest.mark.parametrize("hour", [8, 12, 20])
def test_an_hourly_plugs_idle_line_holds_between_its_reports(phase, hour):
    """must-fix (fixed): an hourly plug stores every other half-hour; ``idle_line`` put the
    background's floor in the others. In a home whose nights hold a load (a heater at 280–320 W
    00:00–07:00, 60–100 W idle by day) the day's line alternated 60 W / 282 W, each step across
    the nights' floor a sign of life to ``departs``: the reach restarted every hour and said
    'not within 72 h' at every hour of the day, where the product raises at 10 h (08:00), 8 h
    (12:00) and 22 h (20:00, over the heater's own switches). A half-hour without its own level
    now holds the one before (the line holds its last reading)."""
    bits, levels, bg = _night_home(0)
    stored = hourly(levels, phase)
    routine, _model = learned(stop_day(bits, at(hour)), stored, LEARNED, bg)
    idle = idle_line(stored, routine, TH.plug_routine.window_days)
    assert all(idle[s] == idle[s - 1] for s in range(1 - phase, SLOTS, 2))  # no step between
    reach, got = on_idle(bits, stored, bg, at(hour), 60)
    assert got is not None and reach == pytest.approx(got, abs=0.01)


RARE = {LEARNED - timedelta(days=k): 1 << 40 | 1 << 41 for k in range(1, 29)}  # 20:00–21:00


@pytest.mark.parametrize("report_min, hours", [(45, 25.0), (60, 25.5), (90, 25.0)])
def test_the_ladder_counts_the_time_watched_not_the_reports(report_min, hours):
    """should-fix (fixed): the reach put the ladder's 관심 at the first report from the person's
    hours; the rule's ladder counts the time the plug watched (``watched_stage``: up to now
    while it reports), so it raises at the hour itself: a 45-minute plug and a person at 25 h,
    the product 25.0 h, the reach said 25.5 h (an hourly one at 25.5 h: 26 h; 90 minutes at
    25 h: 25.5 h)."""
    routine = Routine(LEARNED, RARE, background=BG)  # the routine never raises (test_reach)
    since = at(21)
    got = product_on_line(
        routine, None, {}, since, lambda _l: 22.0, report_min=report_min, no_change_hours=hours
    )
    assert got == (hours, "ladder")
    reach = stop_first_alert_h(
        routine, TH, LOCAL_TZ, since, None, report_min=report_min, no_change_hours=hours
    )
    assert reach == hours


def test_the_safety_net_raises_where_the_lines_changes_hold_the_ladder_back():
    """should-fix (fixed): the reach left out the safety net. A line whose own changes beyond
    the margin are no sign of life (here 10 W at night, 40 W by day, inside a background of
    10–40 W whose steps reach 30 W) restarts the fixed clock twice a day, so neither the ladder
    (24 h) nor stillness ever comes; the product's net (``net_delay``: the ladder 24 h later,
    on the spell) raises at 48 h, where the reach said 'not within 72 h'."""
    bg = Background(10.0, 40.0, 30.0, 28)
    routine = Routine(LEARNED, RARE, background=bg)
    idle = tuple(10.0 if s < 14 else 40.0 for s in range(SLOTS))
    since = at(21)
    got = product_on_line(routine, None, {}, since, lambda local: idle[slot_of(local)])
    assert got == (48.0, "net")
    assert stop_first_alert_h(routine, TH, LOCAL_TZ, since, None, report_min=30, idle=idle) == 48


def test_the_interval_of_a_plug_silent_in_the_last_week():
    """note (fixed): ``_report_minutes`` read the last 7 calendar days, not the last 7 days the
    plug reported (its docstring): an hourly plug silent the week before its routine was
    learned got None, judged at every half-hour (up to an hour early)."""
    days = [(LEARNED - timedelta(days=k), 24, None) for k in range(10, 28)]
    assert _report_minutes(days, LEARNED) == 60.0
    partial = [*days, (LEARNED - timedelta(days=1), 0, None)]  # a row without readings
    assert _report_minutes(partial, LEARNED) == 60.0


# --- open findings ------------------------------------------------------------------------


@pytest.mark.xfail(
    strict=True,
    reason="should-fix: _line_steps skips a step under IDLE_STEP x + margin as the quantiles' "
    "wiggle; below the nights' floor departs lets the margin alone decide, so the product counts "
    "any change beyond 5 W there as a sign of life. In a home whose nights hold a heater, the "
    "day's idle line (60-71 W, each half-hour's lowest) steps 62 -> 71 W at 22:00: the product "
    "starts every test again there and raises at 25 h (16:00) and 23 h (18:00), the reach says "
    "6 h and 4 h, optimistic by 19 h. Fix needs a choice: judge the steps with departs alone "
    "(pessimistic where the real line is flatter than the lowest levels) or smooth the idle line "
    "by day; either way a home whose day lies under the nights' floor is one whose day noise is a "
    "sign of life, which the reach could say (verdict) rather than hide. Tried (2026-12-07): "
    "letting the margin alone decide under the floor passes this and fails "
    "test_reach_review's flat 80 W day line at 16:00 (the idle line's own wiggle is the "
    "estimate's, not a stopped line's): kept as it is, documented.",
)
@pytest.mark.parametrize("hour", [16, 18])
def test_a_small_step_under_the_nights_floor_is_a_sign_of_life(hour):
    bits, levels, bg = _night_home(0)
    reach, got = on_idle(bits, levels, bg, at(hour), 30)
    assert reach == pytest.approx(got, abs=0.5)


@pytest.mark.parametrize("half_off", [False, True])
@pytest.mark.parametrize("hour", [10, 12, 13])
def test_a_day_switched_off_at_the_wall_is_no_idle_line(hour, half_off):
    """Found: one day switched off at the wall from 14:00 put the idle line at 0 W from 14:00
    on every day (a fall across the floor, then a level the model finds very unattended): the
    reach said 6.5/4.5/3.5 h where the product raises at 9/7/8 h. That day is left out now, the
    half-hour of the switch (on for a third of it) with it."""
    bits, levels = home(0)
    off = dict(levels)
    day = LEARNED - timedelta(days=5)
    lv = day_levels(levels[day])

    def readings(s: int) -> tuple[float, int]:  # (sum of the level bytes, how many)
        if s < 28:
            return float(lv[s]), 1
        if s == 28 and half_off:  # on for one reading of three
            return float(lv[s] + 2 * level_byte(0.0)), 3
        return float(level_byte(0.0)), 1

    off[day] = merge_levels(None, {s: readings(s) for s in range(SLOTS)})
    got, _basis = product_first_alert(bits, off, at(hour), relearn=False)  # the standby stays
    assert reach_h(bits, off, at(hour)) == pytest.approx(got, abs=0.5)
