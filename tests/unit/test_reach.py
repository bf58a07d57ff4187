"""How soon a plug's routine would notice a sudden stop (``detection.reach``): the hours it
reports are the tick's own score reaching 관심, found in 5-minute steps here, and the real tick
on a stored routine raises the routine's alert then."""

from __future__ import annotations

import random
from datetime import date, datetime, time, timedelta

import pytest
from sqlalchemy import select

from dashboard.db.schema import Alert, Device
from dashboard.detection.learning import learn_routines
from dashboard.detection.reach import (
    HORIZON_H,
    PlugReach,
    first_alert_h,
    level_first_alert_h,
    person_reach,
    plug_reach,
)
from dashboard.detection.routine import Routine, score_quiet
from dashboard.rules.config import current_thresholds
from dashboard.rules.plug import routine_stage
from dashboard.settings import LOCAL_TZ
from queries.reach import plug_reaches
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_rules_new_devices import T0, H, add_device, power, send, tick

db = lifecycle.db
TH = current_thresholds()
CFG = TH.plug_routine
LEARNED = date(2026, 12, 7)  # a Monday


def bits(slots) -> int:
    return sum(1 << s for s in set(slots))


def routine(slots_of_day) -> Routine:
    """A routine learned on ``LEARNED`` from 28 days, day ``k`` back active in
    ``slots_of_day(k)``."""
    days = {LEARNED - timedelta(days=k): bits(slots_of_day(k)) for k in range(1, 29)}
    return Routine(learned_on=LEARNED, days=days)


def brute_force_h(r: Routine, since: datetime) -> float | None:
    """The first 5-minute step at which the tick's own score reaches 관심 (its figures change
    only at half-hours and at ``min_quiet_h``, both on 5-minute steps from ``since``)."""
    for k in range(1, int(HORIZON_H * 12) + 1):
        now = since + timedelta(minutes=5 * k)
        if routine_stage(score_quiet(r, since, now, LOCAL_TZ, CFG.min_share), CFG) is not None:
            return k / 12
    return None


# Active 07:30–09:00 and 19:00–22:00 every day.
TWICE_A_DAY = list(range(15, 18)) + list(range(38, 44))


def test_a_regular_home_worked_by_hand():
    reach = plug_reach(routine(lambda k: TWICE_A_DAY), TH, LOCAL_TZ)
    # 00:00: normally back at 07:30; the usual half-hours missed after it are 08:00 and 08:30
    # (2 < 2.5), then 19:30's: 관심 at 19:30
    assert reach.weekday[0] == 19.5
    # 18:00: normally back at 19:00; missed 19:30, 20:00, 20:30: 관심 at 21:00
    assert reach.weekday[18] == 3.0
    assert reach.weekday == reach.weekend  # every day alike
    assert reach.usable and reach.reference_days == 28
    assert reach.median_h == 12.0 and reach.worst_h == 21.5
    assert reach.verdict == "fair"


@pytest.mark.parametrize("seed", range(12))
def test_the_reach_is_the_ticks_own_score_reaching_attention(seed):
    rng = random.Random(seed)
    habit = [s for s in range(48) if rng.random() < rng.choice([0.1, 0.25, 0.4])]
    r = routine(lambda k: [s for s in habit if rng.random() < 0.85] + [rng.randrange(48)])
    for _ in range(3):
        day = LEARNED + timedelta(days=rng.randrange(7))
        since = datetime.combine(day, time(rng.randrange(24), rng.choice([0, 10, 30, 45])))
        since = since.replace(tzinfo=LOCAL_TZ)
        assert first_alert_h(r, since, CFG, LOCAL_TZ) == pytest.approx(
            brute_force_h(r, since), abs=0.01
        ), since


def test_verdicts():
    sparse = plug_reach(routine(lambda k: [40] if k % 3 == 0 else []), TH, LOCAL_TZ)
    assert not sparse.usable and sparse.verdict == "none"  # 9 active days of 28
    # neither the routine nor a level model: the fixed ladder on the flat line, at 24 h
    assert sparse.weekday == (24.0,) * 24 and sparse.median_h is None
    busy = plug_reach(routine(lambda k: range(14, 46)), TH, LOCAL_TZ)  # 07:00–23:00
    assert busy.verdict == "fast" and busy.median_h <= 6
    evening = plug_reach(routine(lambda k: range(38, 42)), TH, LOCAL_TZ)  # 19:00–21:00 only
    assert evening.verdict == "slow" and evening.median_h > 12
    # an hour a day: after the half-hour it is normally back, one more is missed a day, and
    # 관심 needs 2.5: the routine never raises within 72 h; the ladder does, at 24 h
    rare = plug_reach(routine(lambda k: [40, 41]), TH, LOCAL_TZ)
    assert rare.weekday == (24.0,) * 24 and rare.median_h == rare.worst_h == 24.0
    assert rare.usable and rare.verdict == "slow"
    # the person's own ladder
    later = plug_reach(routine(lambda k: [40, 41]), TH, LOCAL_TZ, no_change_hours=30)
    assert later.weekday == (30.0,) * 24


def test_a_persons_reach_is_the_soonest_plug_per_hour():
    a = PlugReach(LEARNED, 28, True, (5.0, None) + (1.0,) * 22, (1.0,) * 24)
    b = PlugReach(LEARNED, 28, True, (9.0, 4.0) + (2.0,) * 22, (1.0,) * 24)
    young = PlugReach(LEARNED, 3, False, (None,) * 24, (None,) * 24)
    assert person_reach([a, b, young])[:3] == (5.0, 4.0, 1.0)
    assert person_reach([young]) == (None,) * 24


DAYS = 20  # of history: enough reference days for a usable routine


def watts(hour: int) -> float:
    """A TV on from 08:00 to 22:00 for one hour in every three (200 W), at standby (50 W)
    otherwise. ``hour``: hours from ``T0`` (noon in Seoul, a Monday)."""
    local = (12 + hour) % 24
    return 200.0 if 8 <= local < 22 and local % 3 == 0 else 50.0


def test_the_real_tick_raises_the_routines_alert_at_the_reach(db):
    did, uid = add_device(db, registered_at=T0 - (DAYS * 24 + 1) * H)
    for day in range(DAYS, 0, -1):  # the history, a day per batch, then learned
        hours = range(-day * 24, -(day - 1) * 24)
        send(db, uid, [power(T0 + h * H, watts(h)) for h in hours], T0 + hours[-1] * H)
    with db.begin() as conn:
        learn_routines(conn, T0 - 11 * H)  # 01:00 on the Monday
    with db.connect() as conn:
        (row,) = plug_reaches(conn, device_id=did)
    assert row.reach is not None and row.reach.usable and row.device_uid == uid
    # the TV went off at 10:00 and stays off: the last sign of life
    since = T0 - 2 * H
    reach_h = row.reach.weekday[10]  # the routine was learned for this Monday
    for k in range(0, int(reach_h * 6) + 2):  # a reading hourly, as before; the tick every 10 min
        now = T0 + k * timedelta(minutes=10)
        if k % 6 == 0:
            send(db, uid, [power(now, 50.0)], now)
        tick(db, now)
    with db.connect() as conn:
        alert = conn.execute(
            select(Alert).where(Alert.device_id == did, Alert.rule == "plug_no_change")
        ).one_or_none()
        assert conn.execute(select(Device.status).where(Device.id == did)).scalar() == "active"
    assert alert is not None, "no alert by the reach"
    # the routine's 관심 at 16:30, seen with the hourly report at 17:00: the reach says 7 h
    assert (alert.evidence["basis"], reach_h) == ("routine", 7.0)
    assert alert.opened_at == since + timedelta(hours=reach_h)


def test_a_persons_plugs_in_one_read(db):
    from tests.unit.test_household_plugs import person_with_plugs

    rid, plugs = person_with_plugs(db, plugs=2)
    with db.connect() as conn:
        rows = plug_reaches(conn, recipient_id=rid)
        with pytest.raises(ValueError):
            plug_reaches(conn)
    assert [(r.device_id, r.device_uid) for r in rows] == plugs
    # nothing learned yet: no reach, the routine on in the district
    assert all(r.reach is None and r.enabled and r.status == "active" for r in rows)


def level_days(rng: random.Random) -> dict[date, bytes]:
    """28 stored days of a home at 20–30 W at night and in use (100–900 W) at random
    half-hours of the day, more often in the evening."""
    from dashboard.detection.levels import level_byte, merge_levels

    days = {}
    for k in range(1, 29):
        sums = {}
        for slot in range(48):
            busy = slot >= 14 and rng.random() < (0.7 if 36 <= slot < 46 else 0.3)
            watts = rng.uniform(100, 900) if busy else rng.uniform(20, 30)
            sums[slot] = (level_byte(watts), 1)
        days[LEARNED - timedelta(days=k)] = merge_levels(None, sums)
    return days


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("report_min", [None, 10, 60])
def test_the_level_reach_is_the_rules_own_level_test(seed, report_min):
    """The product's ``score_levels`` and support guard, run at every report of a line at the
    floor after the last sign of life, first reach 관심 at the report the reach names."""
    from dashboard.detection.levels import learn_levels, level_byte, merge_levels, score_levels
    from dashboard.rules.plug import level_supported

    rng = random.Random(seed)
    days = level_days(rng)
    model = learn_levels(days, LEARNED)
    assert model is not None
    floor = 22.0
    since = datetime.combine(LEARNED, time(rng.randrange(24), rng.choice([0, 5, 40])), LOCAL_TZ)
    step = timedelta(minutes=report_min or 30)
    first = since + step if report_min else since.replace(minute=30 * (since.minute // 30)) + step
    stored = dict(days)

    def store(at: datetime, watts: float) -> None:
        local = at.astimezone(LOCAL_TZ)
        slot = local.hour * 2 + local.minute // 30
        stored[local.date()] = merge_levels(
            stored.get(local.date()), {slot: (level_byte(watts), 1)}
        )

    store(since, 400.0)  # the sign of life itself
    expected = None
    at = first
    while at <= since + timedelta(hours=HORIZON_H):
        store(at, floor)
        level = score_levels(model, stored, at, LOCAL_TZ, since)
        if level.s >= CFG.level_h - 1e-9 and level_supported(model, level, at):
            expected = (at - since).total_seconds() / 3600
            break
        at += step
    got = level_first_alert_h(model, floor, since, CFG, LOCAL_TZ, report_min=report_min)
    assert got == (pytest.approx(expected, abs=0.01) if expected is not None else None)


def test_an_hourly_plugs_idle_line_does_not_step_between_its_half_hours():
    """An hourly plug stores every other half-hour: the half-hours it never reads hold the level
    of the one before (not the nights' floor, which made a step, and a sign of life, at every
    other half-hour of a home whose days sit above its nights' floor)."""
    from dashboard.detection.background import Background
    from dashboard.detection.levels import level_byte, merge_levels
    from dashboard.detection.reach import idle_line

    days = {}
    for k in range(1, 29):
        sums = {s: (level_byte(300.0 if s < 14 else 150.0), 1) for s in range(0, 48, 2)}
        days[LEARNED - timedelta(days=k)] = merge_levels(None, sums)
    r = Routine(learned_on=LEARNED, days={}, background=Background(50.0, 320.0, 40.0, 28))
    line = idle_line(days, r, 28)
    assert line[13] == line[12] and line[15] == line[14]  # held, not the floor (50 W)
    assert abs(line[14] - 150) < 5 and abs(line[0] - 300) < 10
    # 23:30 holds 23:00's level, 00:00 starts the night's again
    assert line[47] == line[46]
