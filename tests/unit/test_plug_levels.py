"""The level test (``detection.levels``): storage by ingest, learning, scoring, the rule."""

from __future__ import annotations

import dataclasses
import math
from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import insert, select

from dashboard.db.schema import Alert, DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection import levels
from dashboard.detection.explain import explain_plug
from dashboard.detection.learning import learn_routines
from dashboard.ingest import ingest_events
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
DAY = date(2024, 12, 1)


def _power(eid: str, iso: str, watts: float) -> dict:
    return {"event_id": eid, "device_id": "plug-1", "ts": iso, "type": "power", "watts": watts}


def _stored(engine, device_id: int) -> bytes | None:
    with engine.connect() as conn:
        value = conn.scalar(
            select(DeviceDaily.level_slots).where(
                DeviceDaily.device_id == device_id, DeviceDaily.day == DAY
            )
        )
    return None if value is None else bytes(value)


def _q(watts: float) -> float:
    return (math.log(watts + 10) - math.log(10)) / levels.UNIT


def test_ingest_stores_half_hour_mean_levels_merged_across_batches(db_engine):
    """Two batches of one half-hour give the mean of all its readings, in any order; a
    re-delivered event changes nothing; a late reading for an earlier half-hour fills only its
    own half-hour; other devices' days keep NULL."""
    with db_engine.begin() as conn:
        devices = seed_catalog(conn)
    plug = devices["plug-1"]
    # 11:00–11:30 Seoul is slot 22; 09:00 is slot 18
    first = [_power("a", "2024-12-01T02:05:00Z", 90.0), _power("b", "2024-12-01T02:10:00Z", 10)]
    late = [_power("c", "2024-12-01T02:20:00Z", 190.0)]
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, late, now=NOW)
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, first, now=NOW)
    with db_engine.begin() as conn:  # the same events again: duplicates, not stored
        result = ingest_events(conn, VENDOR, first + late, now=NOW)
    assert result.duplicates == 3
    with db_engine.begin() as conn:  # an out-of-order reading for 09:00
        ingest_events(conn, VENDOR, [_power("d", "2024-12-01T00:01:00Z", 0.0)], now=NOW)
    blob = _stored(db_engine, plug)
    assert blob is not None and len(blob) == 2 * levels.SLOTS
    lv, counts = blob[: levels.SLOTS], blob[levels.SLOTS :]
    mean = (_q(90) + _q(10) + _q(190)) / 3
    assert abs(lv[22] - mean) <= 0.5 + 1e-9 and counts[22] == 3
    assert lv[18] == 0 and counts[18] == 1
    assert [i for i, v in enumerate(lv) if v != levels.NO_LEVEL] == [18, 22]
    assert _stored(db_engine, devices["robot-1"]) is None


def test_merge_is_the_mean_whatever_the_order():
    a, b = {5: (_q(100) * 2, 2)}, {5: (_q(400), 1)}
    one = levels.merge_levels(levels.merge_levels(None, a), b)
    two = levels.merge_levels(levels.merge_levels(None, b), a)
    want = round((_q(100) * 2 + _q(400)) / 3)
    assert abs(one[5] - want) <= 1 and abs(two[5] - want) <= 1 and one[53] == two[53] == 3
    assert levels.merge_levels(one, {}) == one
    assert (
        abs(levels.byte_watts(one[5]) - math.exp((2 * math.log(110) + math.log(410)) / 3) + 10) < 8
    )


# --- learning and scoring ---------------------------------------------------------------------

TODAY = date(2026, 11, 30)  # a Monday
NIGHT_W, DAY_W = 40.0, 300.0


def home_day(awake: range = range(14, 44), day_w: float = DAY_W, until: int = 48) -> bytes:
    """One stored day of a home at 40 W unattended and ``day_w`` while someone is up (07:00 to
    22:00), one reading per half-hour up to ``until``; a TV off every fourth half-hour."""
    sums = {}
    for slot in range(until):
        watts = day_w if slot in awake and slot % 4 else NIGHT_W + (slot % 3)
        sums[slot] = (levels.level_byte(watts), 1)
    return levels.merge_levels(None, sums)


def history(days: int = 28, **kw) -> dict[date, bytes]:
    return {TODAY - timedelta(days=k): home_day(**kw) for k in range(1, days + 1)}


def at(day: date, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=LOCAL_TZ)


def test_learning_needs_reference_days_and_round_trips():
    assert levels.learn_levels(history(10), TODAY) is None  # fewer than 14 reference days
    away = history(28) | {TODAY - timedelta(days=k): home_day(awake=range(0)) for k in range(1, 20)}
    assert levels.learn_levels(away, TODAY) is None  # 19 idle days are not reference days
    model = levels.learn_levels(history(), TODAY)
    assert model is not None and len(model.refs) == 28 and model.split
    blob = model.to_bytes()
    assert len(blob) < 6_500  # 6 KB a plug
    carried = dataclasses.replace(model, carry=12.5, carry_back=7)
    again = levels.LevelModel.from_bytes(carried.to_bytes())
    assert dataclasses.replace(again, table=model.table) == carried  # the same table object
    assert (again.table == model.table).all() and again.learned_on == TODAY
    q = round(levels.level_byte(NIGHT_W))
    assert model.evidence(TODAY, 24, q) > 1  # noon at the night load: absence
    assert model.evidence(TODAY, 24, round(levels.level_byte(DAY_W))) <= -levels.RESET
    assert abs(model.evidence(TODAY, 4, q)) < 0.5  # 02:00 at the night load says nothing
    with pytest.raises(ValueError, match="not a level model"):
        levels.LevelModel.from_bytes(b"\x02" + blob[1:])


def heated_day(awake: range = range(14, 44)) -> bytes:
    """A home whose nights carry a heater at 200-215 W and whose days are 600 W with someone
    up; never below 200 W."""
    sums = {}
    for slot in range(48):
        watts = 600.0 if slot in awake and slot % 4 else 200.0 + 5 * (slot % 4)
        sums[slot] = (levels.level_byte(watts), 1)
    return levels.merge_levels(None, sums)


def test_a_level_below_the_nights_counts_as_unattended():
    """After a stop the heater that ran at night is off: 60 W at noon, a level the window never
    showed at any hour. It is as much a sign of absence as the nights' level at noon (before,
    both densities called it unlikely and it said nothing); a use still resets S."""
    hist = {TODAY - timedelta(days=k): heated_day() for k in range(1, 29)}
    model = levels.learn_levels(hist, TODAY)
    low, night = round(levels.level_byte(60)), round(levels.level_byte(205))
    assert model.evidence(TODAY, 24, night) > 1  # noon at the night load: absence
    assert model.evidence(TODAY, 24, low) >= model.evidence(TODAY, 24, night)
    assert model.evidence(TODAY, 24, round(levels.level_byte(600))) <= -levels.RESET
    assert model.evidence(TODAY, 4, night) < 0.5  # 02:00 at the night load says nothing
    # the sliding learner gives the same table
    (each,) = levels.learn_levels_each(hist, [TODAY])
    assert (each.table == model.table).all()
    # a stop leaving 60 W at 10:00 builds S as the night load would
    stop = levels.merge_levels(
        None,
        {k: (levels.level_byte(600.0 if 14 <= k < 20 and k % 4 else 60.0), 1) for k in range(40)},
    )
    days = {TODAY - timedelta(days=1): heated_day(), TODAY: stop}
    assert levels.score_levels(model, days, at(TODAY, 20, 0), LOCAL_TZ).s >= 20


def test_the_cusum_reads_the_models_own_evidence_and_keeps_nothing_beside_it():
    """The CUSUM reads a table byte's evidence from one shared table: the same doubles as
    ``evidence`` (int8 / SCALE), and a scored model holds no copy of its table in floats (one
    per cached model held ≈ 1 GB in a worker's cache; a review's measurement)."""
    signed = np.arange(256, dtype=np.uint8).view(np.int8)
    assert tuple(float(b) / levels.SCALE for b in signed) == levels._EVIDENCE
    model = levels.learn_levels(history(), TODAY)
    for day, slot, q in ((TODAY, 24, 3), (TODAY + timedelta(days=2), 40, 200), (TODAY, 0, 254)):
        wk = int(model.split and day.weekday() >= 5)
        at_q = model.table.tobytes()[
            (wk * levels.SLOTS + slot) * levels.GRID + q * levels.GRID // 255
        ]
        assert levels._EVIDENCE[at_q] == model.evidence(day, slot, q)
    before = dict(vars(model))
    levels.score_levels(model, history(4), at(TODAY - timedelta(days=1), 23), LOCAL_TZ)
    assert vars(model).keys() == before.keys()


def test_a_stop_at_the_night_load_builds_evidence_a_use_resets_it():
    model = levels.learn_levels(history(), TODAY)
    # up as usual until 10:00 (slot 20), then the night load only
    today = home_day(awake=range(14, 20))
    days = {TODAY - timedelta(days=1): home_day(), TODAY: today}
    early = levels.score_levels(model, days, at(TODAY, 12, 0), LOCAL_TZ)
    late = levels.score_levels(model, days, at(TODAY, 20, 0), LOCAL_TZ)
    assert 0 < early.s < late.s and late.s >= 20
    assert late.since == at(TODAY, 10, 0) and early.since == late.since
    assert levels.level_stage_rank(late.s, 20) >= 1
    # the TV on at 15:00 (a level far likelier with someone there) resets S
    tv = levels.merge_levels(
        None, {k: (levels.level_byte(DAY_W if k == 30 else 40), 1) for k in range(31)}
    )
    after = levels.score_levels(model, {TODAY: tv}, at(TODAY, 15, 10), LOCAL_TZ)
    assert after.s == 0 and after.since is None
    normal = levels.score_levels(model, history(4), at(TODAY - timedelta(days=1), 23), LOCAL_TZ)
    assert normal.s < 20


def test_a_sign_of_life_restarts_the_run_from_the_half_hour_after_it():
    """A light switched on at 14:10 moves no power level: the run from 10:00 would go on and
    raise again at once what the sign of life just closed. Scored from the half-hour after the
    one holding it, with S from 0; a run that began after it is not touched."""
    model = levels.learn_levels(history(), TODAY)
    days = {TODAY - timedelta(days=1): home_day(), TODAY: home_day(awake=range(14, 20))}
    whole = levels.score_levels(model, days, at(TODAY, 20, 0), LOCAL_TZ)
    light = at(TODAY, 14, 10)
    restarted = levels.score_levels(model, days, at(TODAY, 20, 0), LOCAL_TZ, start=light)
    assert whole.since == at(TODAY, 10, 0) and 0 < restarted.s < whole.s
    assert restarted.since >= at(TODAY, 14, 30)
    # From 14:30 on, as if the evidence before it had never been: the same as a day whose
    # levels before 14:30 say nothing.
    blank = bytes([levels.NO_LEVEL] * 29) + days[TODAY][29:48] + bytes(29) + days[TODAY][77:]
    alone = levels.score_levels(model, {TODAY: blank}, at(TODAY, 20, 0), LOCAL_TZ)
    assert math.isclose(restarted.s, alone.s) and restarted.since == alone.since
    # A sign of life before the run began changes nothing.
    early = levels.score_levels(model, days, at(TODAY, 20, 0), LOCAL_TZ, start=at(TODAY, 9, 5))
    assert (early.s, early.since) == (whole.s, whole.since)


def test_a_model_learned_anew_starts_from_the_s_the_day_before_ended_on():
    """``carry_over``: S at midnight scored with yesterday's model; today's model goes on from
    it, so a stop at 20:00 yesterday keeps its evidence and its start."""
    yesterday = TODAY - timedelta(days=1)
    stored = history(29) | {yesterday: home_day(awake=range(14, 40))}  # stops at 20:00
    stored[TODAY] = home_day(awake=range(0), until=16)  # night load until 08:00
    old = levels.learn_levels(stored, yesterday)
    new = levels.carry_over(old, levels.learn_levels(stored, TODAY), stored, LOCAL_TZ)
    ended = levels.score_levels(old, stored, at(TODAY, 0) - timedelta(microseconds=1), LOCAL_TZ)
    assert new.carry == ended.s > 0 and new.carry_back == 8  # since 20:00, 8 half-hours
    now = levels.score_levels(new, stored, at(TODAY, 7, 59), LOCAL_TZ)
    assert now.s > new.carry and now.since == at(yesterday, 20).astimezone(LOCAL_TZ)
    fresh = levels.carry_over(None, levels.learn_levels(stored, TODAY), stored, LOCAL_TZ)
    assert fresh.carry == 0 and fresh.carry_back == -1


def test_the_nights_95th_percentile_is_numpys_bit_for_bit():
    """``learn_levels`` takes it by one partial sort: the same float as ``np.quantile``, so the
    stored unattended top (and every model) is what it was."""
    rng = np.random.default_rng(7)
    for _ in range(3000):
        x = rng.uniform(0, 5000, int(rng.integers(1, 500))) * rng.choice([1e-3, 1.0, 1e3])
        if rng.random() < 0.3:
            x = np.round(x)  # ties
        assert levels._quantile95(x) == float(np.quantile(x, 0.95))


def test_next_half_hour():
    assert levels.next_half_hour(at(TODAY, 10, 0)) == at(TODAY, 10, 30)
    assert levels.next_half_hour(at(TODAY, 10, 29, 59)) == at(TODAY, 10, 30)


# --- the rule -----------------------------------------------------------------------------------

TH = Thresholds(plug_routine={"level_enabled": False})  # the level test off (on by default)
LEVELS_ON = Thresholds(plug_routine={"level_enabled": True, "level_h": 20})


def _store_home(conn, plug: int, now: datetime, stop_slot: int) -> None:
    """28 days of a home as ingest leaves them, with signs of life on only 5 of them (no usable
    routine: the level test alone can tell), today up as usual until ``stop_slot``, then its
    night load; learned at midnight; the plug still reports."""
    today = now.astimezone(LOCAL_TZ).date()
    rows = [
        {
            "device_id": plug,
            "day": day,
            "events": 48,
            "activity_slots": (1 << 20) if (today - day).days <= 5 else 0,
            "level_slots": lv,
        }
        for day, lv in history(28).items()
    ]
    rows.append(
        {
            "device_id": plug,
            "day": today,
            "events": 40,
            "activity_slots": 0,
            "level_slots": home_day(awake=range(14, stop_slot), until=48),
        }
    )
    conn.execute(insert(DeviceDaily), rows)
    stop = at(today, stop_slot // 2, 30 * (stop_slot % 2)).astimezone(UTC)
    conn.execute(
        insert(DeviceState).values(
            device_id=plug,
            state="normal",
            state_since=stop,
            last_seen_at=now - timedelta(minutes=5),
            last_activity_at=stop,
            last_change_at=stop,
            last_power_w=NIGHT_W,
            first_seen_at=now - timedelta(days=60),
            first_received_at=now - timedelta(days=60),
            updated_at=now,
        )
    )


def _plug_alert(conn, plug: int):
    return conn.execute(
        select(Alert.stage, Alert.evidence).where(
            Alert.device_id == plug, Alert.rule == "plug_no_change", Alert.status != "closed"
        )
    ).first()


def test_the_tick_alerts_a_stop_at_the_night_load_by_the_level_test(db_engine):
    """A home whose routine is never sure (signs of life on 5 of 28 days) stops at 10:00: the
    level test alerts by 18:00 with its sentence; the same tick without it does not."""
    now = at(TODAY, 18, 0).astimezone(UTC)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        _store_home(conn, plug, now, stop_slot=20)
        learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), LEVELS_ON.plug_routine)
        stored = conn.scalar(
            select(DeviceRoutine.level_model).where(DeviceRoutine.device_id == plug)
        )
        assert stored is not None and levels.LevelModel.from_bytes(bytes(stored)).split
        run_silence_tick(conn, now, TH)
        assert _plug_alert(conn, plug) is None  # off: as before
        # the first tick scored the plug (its stillness record): the next comes score_every_min
        # later, and the changed thresholds void the routine's due time (rules.schedule)
        run_silence_tick(conn, now + timedelta(minutes=11), LEVELS_ON)
        alert = _plug_alert(conn, plug)
    assert alert is not None and alert.evidence["basis"] == "level"
    evidence = alert.evidence
    assert evidence["level_since"] == at(TODAY, 10, 0).astimezone(UTC).isoformat()
    assert evidence["level_s"] >= 20 and evidence["level_h"] == 20
    assert (evidence["level_above_days"], evidence["level_days"]) == (20, 20)  # every weekday
    assert evidence["level_day_kind"] == "weekday"
    assert evidence["explanation"] == (
        "Power at this home's night level since 10:00 (7 h 55 min); on 20 of its last 20 "
        "weekdays it was above it between 10:00 and 17:55."
    )
    assert explain_plug(evidence, "ko") == (
        "10:00 이후 전력이 이 집의 야간(무인) 수준에 머물러 있습니다(7시간 55분). "
        "최근 20일(평일) 중 20일은 10:00~17:55 사이에 그보다 높았습니다."
    )


def test_learning_skips_the_level_model_while_the_test_is_off(db_engine):
    now = at(TODAY, 18, 0).astimezone(UTC)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        _store_home(conn, plug, now, stop_slot=20)
        summary = learn_routines(conn, at(TODAY, 0, 5).astimezone(UTC), TH.plug_routine)
        stored = conn.scalar(
            select(DeviceRoutine.level_model).where(DeviceRoutine.device_id == plug)
        )
    assert stored is None and summary.with_levels == 0


# --- the threshold preview's scan -------------------------------------------------------------


def test_the_scan_opens_a_level_alert_when_the_live_test_first_would():
    """``detection.scan`` replays the level test with each day's model: on the stored days of a
    home whose routine is never sure, the spell's alert opens at the first half-hour where
    ``score_levels`` reaches 관심 (judged at each half-hour's start), with basis "level"; with
    the test off, nothing."""
    from dashboard.detection.scan import scan_plug

    stored = history(28) | {TODAY: home_day(awake=range(14, 20))}
    bits = {day: (1 << 20) if (TODAY - day).days <= 5 else 0 for day in stored}
    bits[TODAY] = 1 << 19  # the last sign of life at 09:30
    start, end = at(TODAY, 0).astimezone(UTC), at(TODAY, 20).astimezone(UTC)
    model = levels.learn_levels(stored, TODAY)
    first = next(
        t
        for t in (at(TODAY, 10) + timedelta(minutes=30 * k) for k in range(20))
        if levels.level_stage_rank(
            levels.score_levels(model, stored, t - timedelta(microseconds=1), LOCAL_TZ).s, 20
        )
    )
    scan = scan_plug(bits, LEVELS_ON, start, end, levels=stored)
    assert [(a.basis, a.opened_at) for a in scan.alerts] == [("level", first.astimezone(UTC))]
    assert scan_plug(bits, TH, start, end, levels=stored).alerts == []


def test_the_scan_restarts_the_run_at_a_sign_of_life_as_the_live_test_does():
    """A light switched on at 14:10 (an activity bit, no power change) during a run of S from
    10:00: the scan's spell after it opens its level alert where ``score_levels`` from that sign
    of life first reaches 관심, not at once on the run from before it."""
    from dashboard.detection.scan import scan_plug

    stored = history(28) | {TODAY: home_day(awake=range(14, 20))}
    bits = {day: (1 << 20) if (TODAY - day).days <= 5 else 0 for day in stored}
    bits[TODAY] = (1 << 19) | (1 << 28)  # signs of life at 09:30 and at 14:10 (slot 28)
    start, end = at(TODAY, 0).astimezone(UTC), at(TODAY, 23, 30).astimezone(UTC)
    model = levels.learn_levels(stored, TODAY)
    light, h = at(TODAY, 14, 10), 8  # a threshold the run from 10:00 has passed by 14:30
    on = Thresholds(plug_routine={"level_enabled": True, "level_h": h})

    def s_at(t: datetime, since: datetime | None) -> float:
        return levels.score_levels(model, stored, t - timedelta(microseconds=1), LOCAL_TZ, since).s

    slots = [at(TODAY, 14, 30) + timedelta(minutes=30 * k) for k in range(19)]
    # Without the restart the run from 10:00 would stand at 관심 right after the light.
    assert levels.level_stage_rank(s_at(slots[0], None), h)
    first = next(t for t in slots if levels.level_stage_rank(s_at(t, light), h))
    assert first > slots[0]
    scan = scan_plug(bits, on, start, end, levels=stored)
    after = [a for a in scan.alerts if a.since > light.astimezone(UTC)]
    assert [(a.basis, a.opened_at) for a in after] == [("level", first.astimezone(UTC))]


def test_the_scan_needs_the_sentences_support_as_the_live_test_does(monkeypatch):
    """The same evidence (+3 every half-hour) after a sign of life at 03:00: where the home's
    reference days were never above their night level in the window (evenings only), the scan
    opens no level alert, as ``plug_no_change`` raises none (``levels.supported``); where they
    were above it every morning, it opens one."""
    from dashboard.detection import scan as scan_module
    from dashboard.detection.scan import scan_plug

    table = np.full((2, levels.SLOTS, levels.GRID), 120, dtype=np.int8)
    stored = history(28) | {TODAY: home_day(awake=range(0))}
    bits = {day: 1 << 40 for day in stored}  # active at 20:00 every day: no routine stage at dawn
    bits[TODAY] = 1 << 6  # the last sign of life at 03:00
    start, end = at(TODAY, 0).astimezone(UTC), at(TODAY, 8).astimezone(UTC)

    def scanned(ref_bits: int) -> list[str]:
        def models(days, todays, window_days=28, min_days=14):
            return [
                levels.LevelModel(table, 0, False, ((False, ref_bits),) * 14, d) for d in todays
            ]

        monkeypatch.setattr(scan_module.levels, "learn_levels_each", models)
        found = scan_plug(bits, LEVELS_ON, start, end, levels=stored).alerts
        return [a.basis for a in found if a.since >= at(TODAY, 3).astimezone(UTC)]

    assert scanned(sum(1 << k for k in range(36, 48))) == []  # evenings only
    assert scanned(sum(1 << k for k in range(6, 16))) == ["level"]  # every morning


def test_an_hourly_plug_builds_evidence_as_fast_as_a_half_hourly_one():
    """Each stored half-hour counts for the half-hours since the previous one (at most 2): a
    plug reporting every hour, every other half-hour stored, gathers the same S."""

    def hourly(blob: bytes) -> bytes:
        lv, ct = bytearray(blob[:48]), bytearray(blob[48:])
        for k in range(1, 48, 2):
            lv[k], ct[k] = levels.NO_LEVEL, 0
        return bytes(lv + ct)

    stored = history(28) | {TODAY: home_day(awake=range(14, 20))}
    model = levels.learn_levels(stored, TODAY)
    every = levels.score_levels(model, stored, at(TODAY, 18, 59), LOCAL_TZ)
    half = {day: hourly(blob) for day, blob in stored.items()}
    other = levels.score_levels(model, half, at(TODAY, 18, 59), LOCAL_TZ)
    assert every.s > 20 and abs(other.s - every.s) <= 2 * levels.CLIP


@pytest.mark.parametrize("seed", range(12))
def test_no_report_before_the_bound_raises_the_level_test(seed):
    """``first_report_to_reach`` is never later than the first report that really brings S to
    h: on random homes, random stored half-hours (an hourly plug's gaps included), the last
    report's half-hour read again with another mean, and random thresholds."""
    rng = np.random.default_rng(seed)
    start_w = float(rng.choice([150.0, 300.0, 900.0]))
    model = levels.learn_levels(history(day_w=start_w), TODAY)
    assert model is not None
    hourly = bool(rng.integers(2))
    h = float(rng.choice([3.0, 8.0, 12.0, 20.0]))
    for _trial in range(6):
        sums_now: dict[int, tuple[float, int]] = {}
        # a home at its night level, up, or in between, half-hour by half-hour
        watts = rng.choice([NIGHT_W, 45.0, 80.0, start_w, 2_000.0], size=48)
        stored = [s for s in range(48) if not hourly or s % 2]
        j = int(rng.choice(stored[:-1]))
        for s in stored:
            if s <= j:
                sums_now[s] = (levels.level_byte(float(watts[s])), 1)
        today_now = levels.merge_levels(None, sums_now)
        seen = at(TODAY, j // 2, 30 * (j % 2) + 5).astimezone(UTC)
        bound = levels.first_report_to_reach(model, {TODAY: today_now}, seen, LOCAL_TZ, None, h)
        # the future: the last half-hour's mean moves, later ones are stored one by one
        watts[j] = float(rng.choice([NIGHT_W, start_w]))
        sums = dict(sums_now) | {j: (levels.level_byte(float(watts[j])), 1)}
        for m in (s for s in stored if s >= j):
            sums[m] = (levels.level_byte(float(watts[m])), 1)
            report = at(TODAY, m // 2, 30 * (m % 2) + 5)
            score = levels.score_levels(
                model, {TODAY: levels.merge_levels(None, sums)}, report, LOCAL_TZ
            )
            if score.s >= h:
                assert bound is None or bound <= report, (m, bound, score.s)
                break
