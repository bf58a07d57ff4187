"""When a quiet home must be scored again (``routine.next_stage_at``): never after the moment
its spell first reaches a stage, checked against the score itself on random homes; and the tick
skips a scored home until then unless it shows a sign of life."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

import pytest

from dashboard.detection.routine import SLOT, learn_routine, next_stage_at, score_quiet
from dashboard.rules.config import current_thresholds
from dashboard.rules.plug import routine_stage
from dashboard.settings import LOCAL_TZ

LEARNED = date(2026, 11, 20)


def _routine(rng: random.Random):
    wake, sleep, density = rng.randint(10, 20), rng.randint(38, 47), rng.choice([0.2, 0.5, 0.9])
    days = {}
    for k in range(1, 29):
        bits = 0
        if rng.random() > 0.06:
            lo = wake + rng.randint(-2, 2) + (rng.randint(4, 10) if rng.random() < 0.1 else 0)
            for j in range(lo, sleep + rng.randint(-2, 0)):
                if rng.random() < density:
                    bits |= 1 << j
        days[LEARNED - timedelta(days=k)] = bits
    return learn_routine(days, LEARNED)


def _due(routine, since, now, cfg):
    return next_stage_at(
        routine,
        since,
        now,
        LOCAL_TZ,
        quantile=cfg.min_share,
        attention_slots=cfg.attention_slots,
        min_quiet_h=cfg.min_quiet_h,
    )


def _first_stage(routine, since, now, cfg):
    """Brute force: the score at ``now``, at every half-hour after it and at the moment the
    spell is ``min_quiet_h`` old, until midnight; the first moment with a stage."""
    midnight = datetime.combine(now.astimezone(LOCAL_TZ).date() + timedelta(days=1), time.min,
                                LOCAL_TZ)  # fmt: skip
    local = now.astimezone(LOCAL_TZ)
    start = local.replace(minute=30 * (local.minute // 30), second=0, microsecond=0)
    moments = {now, since + timedelta(hours=cfg.min_quiet_h)}
    moments |= {start + k * SLOT for k in range(1, 49)}
    for at in sorted(m for m in moments if now <= m < midnight):
        score = score_quiet(routine, since, at, LOCAL_TZ, cfg.min_share)
        if routine_stage(score, cfg) is not None:
            return at
    return None


@pytest.mark.parametrize("seed", range(4))
def test_the_due_time_is_never_after_the_first_stage(seed):
    rng = random.Random(seed)
    cfg = current_thresholds().plug_routine
    checked = found = 0
    for _ in range(150):
        routine = _routine(rng)
        today = datetime.combine(LEARNED, time.min, LOCAL_TZ)
        since = today + timedelta(minutes=rng.randint(-600, 1200))
        now = max(since, today) + timedelta(minutes=rng.randint(0, 600))
        if now.astimezone(LOCAL_TZ).date() != LEARNED:
            continue
        due = _due(routine, since, now, cfg)
        first = _first_stage(routine, since, now, cfg)
        midnight = datetime.combine(LEARNED + timedelta(days=1), time.min, LOCAL_TZ)
        assert now <= due <= midnight
        if first is not None:
            found += 1
            assert due <= first, (since, now, due, first)
            # ... and not far before it: the score is judged per half-hour.
            assert first - due < SLOT, (since, now, due, first)
        checked += 1
    assert checked > 100 and found > 10  # the cases do reach stages


def test_a_morning_person_is_due_when_three_usual_half_hours_are_missed():
    cfg = current_thresholds().plug_routine
    usual = sum(1 << j for j in range(14, 44))  # 07:00–22:00 every day
    routine = learn_routine({LEARNED - timedelta(days=k): usual for k in range(1, 29)}, LEARNED)
    since = datetime.combine(LEARNED - timedelta(days=1), time(21, 50), LOCAL_TZ)
    now = datetime.combine(LEARNED, time(1, 0), LOCAL_TZ)
    due = _due(routine, since, now, cfg)
    # Normally back in the 07:00 half-hour; the three after it (07:30, 08:00, 08:30) missed:
    # 관심 from 09:00 (attention_slots = 2.5).
    assert cfg.attention_slots == 2.5
    assert due == datetime.combine(LEARNED, time(9, 0), LOCAL_TZ)
    assert routine_stage(score_quiet(routine, since, due, LOCAL_TZ), cfg) == "attention"
    before = due - timedelta(minutes=1)
    assert routine_stage(score_quiet(routine, since, before, LOCAL_TZ), cfg) is None
    assert due.astimezone(UTC).tzinfo is not None


def test_the_tick_skips_a_scored_home_until_its_due_time_or_a_sign_of_life(db_engine):
    from sqlalchemy import select, update

    from dashboard.db.schema import DeviceRoutine, DeviceState
    from dashboard.rules.engine import _candidates, run_silence_tick
    from dashboard.rules.facts import load_facts
    from tests.ingest_support import seed_catalog
    from tests.routine_support import give_routine

    th = current_thresholds()
    usual = sum(1 << j for j in range(14, 44))  # 07:00–22:00 every day
    now = datetime.combine(LEARNED, time(1, 0), LOCAL_TZ).astimezone(UTC)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        give_routine(conn, plug, now, bits=usual, quiet_h=3.2)  # quiet since 21:48

    def candidate(at: datetime) -> bool:
        """Among the tick's candidates at ``at``, the plug still reporting (flat readings)."""
        with db_engine.begin() as conn:
            conn.execute(
                update(DeviceState)
                .where(DeviceState.device_id == plug)
                .values(last_seen_at=at - timedelta(minutes=5), rules_due_at=None)  # as ingest
            )
        with db_engine.connect() as conn:
            return plug in {f.device_id for f in load_facts(conn, _candidates(conn, th, at))}

    assert candidate(now)
    with db_engine.begin() as conn:
        run_silence_tick(conn, now, th)
        due = conn.execute(
            select(DeviceRoutine.score_due_at).where(DeviceRoutine.device_id == plug)
        ).scalar()
    assert due.astimezone(LOCAL_TZ).time() == time(9, 0)  # as next_stage_at says above
    assert not candidate(now + timedelta(minutes=11))  # before: every 10 minutes
    assert not candidate(due - timedelta(minutes=1))
    assert candidate(due)
    # A sign of life starts a new spell: scored again once it is min_quiet_h old.
    with db_engine.begin() as conn:
        conn.execute(
            update(DeviceState)
            .where(DeviceState.device_id == plug)
            .values(last_activity_at=now + timedelta(minutes=20))
        )
    assert candidate(now + timedelta(minutes=20, hours=th.plug_routine.min_quiet_h, seconds=60))
    # Learning the routine again clears the schedule.
    from dashboard.detection.learning import learn_routines

    with db_engine.begin() as conn:
        learn_routines(conn, now + timedelta(hours=24), th.plug_routine)
        assert (
            conn.execute(
                select(DeviceRoutine.score_due_at).where(DeviceRoutine.device_id == plug)
            ).scalar()
            is None
        )


def test_a_plug_reading_0_w_after_twelve_quiet_hours_is_a_tick_candidate(db_engine):
    """A plug whose home always draws power reads 0 W, 13 h after its last sign of life: the
    device ticket (``plug_no_load``, at 12 h) is the tick's to raise, since ingest's pre-filter
    judges a plug only once its quiet reaches the ladder's 24 h. Without a usable routine, a
    level model or a still record the routine's branch does not take the plug either: the
    ticket waited for the ladder's 24 h (2026-12-06)."""
    from sqlalchemy import select, update

    from dashboard.db.schema import Alert, DeviceRoutine, DeviceState
    from dashboard.detection.background import Background
    from dashboard.detection.routine import Routine
    from dashboard.rules.engine import run_silence_tick
    from tests.ingest_support import seed_catalog
    from tests.routine_support import give_routine

    th = current_thresholds()
    now = datetime.combine(LEARNED, time(9, 0), LOCAL_TZ).astimezone(UTC)
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
        give_routine(conn, plug, now, bits=0, quiet_h=13)  # no active day: no usable routine
        # a home that always draws 40-60 W (its learned background)
        stored = conn.execute(
            select(DeviceRoutine.model).where(DeviceRoutine.device_id == plug)
        ).scalar_one()
        routine = replace(Routine.from_json(stored), background=Background(40.0, 60.0, 5.0, 28))
        conn.execute(
            update(DeviceRoutine)
            .where(DeviceRoutine.device_id == plug)
            .values(
                model=routine.to_json(),
                background_low_w=40.0,
                background_high_w=60.0,
                background_step_w=5.0,
            )
        )
        conn.execute(
            update(DeviceState)
            .where(DeviceState.device_id == plug)
            .values(last_power_w=0.0, rules_due_at=None)
        )
        run_silence_tick(conn, now, th)
        opened = conn.execute(
            select(Alert.rule, Alert.stage).where(Alert.device_id == plug, Alert.status != "closed")
        ).all()
    assert ("plug_no_load", "attention") in opened
