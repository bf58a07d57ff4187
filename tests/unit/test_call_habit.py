"""A regular caller's habit moves the call rule's 관심 earlier; the fixed days stay a floor."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select

from dashboard.db.schema import Alert
from dashboard.detection.calls import call_habit
from dashboard.detection.explain import explain_alert
from dashboard.detection.learning import learn_routines
from dashboard.detection.routine import learn_routine, slot_of
from dashboard.ingest import ingest_events
from dashboard.rules.calls import call_no_activity
from dashboard.rules.config import Thresholds
from dashboard.rules.engine import run_silence_tick
from dashboard.rules.model import DeviceFacts
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

TH = Thresholds()
TODAY = date(2026, 11, 29)
H = timedelta(hours=1)


def local(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=LOCAL_TZ)


def call_days(times: list[datetime]) -> dict[date, int]:
    days: dict[date, int] = {}
    for t in times:
        days[t.date()] = days.get(t.date(), 0) | 1 << slot_of(t)
    return days


def daily_caller(n: int = 28, hour: int = 9) -> list[datetime]:
    """A call every morning at ``hour`` and one every evening at 19:00 for ``n`` days."""
    out = []
    for k in range(n, 0, -1):
        day = TODAY - timedelta(days=k)
        out += [local(day, hour, 10), local(day, 19, 40)]
    return out


def facts(last_call: datetime, routine) -> DeviceFacts:
    return DeviceFacts(
        device_id=7,
        type_code="phone_line",
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=93600,
        recipient_id=11,
        installed_at=last_call - timedelta(days=365),
        last_seen_at=last_call,
        last_activity_at=last_call.astimezone(UTC),
        routine=routine,
    )


def test_the_habit_is_the_longest_silence_between_two_calls():
    times = daily_caller()
    habit = call_habit(learn_routine(call_days(times), TODAY))
    assert habit is not None and habit.call_days == 28
    # 19:40 → 09:10 the next morning: the half hours 19:30 … 09:00, 14 h in whole slots
    assert habit.longest_gap_h == pytest.approx(14.0)
    times.remove(local(TODAY - timedelta(days=10), 9, 10))  # one morning without a call
    habit = call_habit(learn_routine(call_days(times), TODAY))
    # 19:40 → 19:40 the next day: the half hours 19:30 … 19:30, 24.5 h in whole slots
    assert habit.longest_gap_h == pytest.approx(24.5)
    assert habit.threshold_h(1.5, 24) == pytest.approx(36.75)


def test_a_daily_caller_silent_for_a_day_and_a_half_gets_the_check_in_call():
    times = daily_caller()
    times.remove(local(TODAY - timedelta(days=10), 9, 10))
    routine = learn_routine(call_days(times), TODAY)
    last = local(TODAY, 9, 10)
    f = facts(last, routine)
    assert (
        call_no_activity(f, TH, (last + 36.75 * H - timedelta(minutes=1)).astimezone(UTC)).stage
        is None
    )
    d = call_no_activity(f, TH, (last + 36.75 * H).astimezone(UTC))
    assert d.stage == "attention" and [o["channel"] for o in d.outbox] == ["auto_call"]
    e = d.evidence
    assert e["basis"] == "routine" and e["call_days"] == 28 and e["threshold_h"] == 36.8
    assert "never silent longer than 24 h 30 min" in e["explanation"]
    ko = explain_alert(e, "ko")
    assert "28일 통화" in ko and "24시간 30분보다 오래 조용한 적이 없었습니다" in ko


def test_a_weekly_caller_keeps_the_fixed_days():
    times = [local(TODAY - timedelta(days=k), 10, 0) for k in range(28, 0, -7)]
    routine = learn_routine(call_days(times), TODAY)
    last = local(TODAY - timedelta(days=1), 10, 0)
    f = facts(last, routine)
    assert call_no_activity(f, TH, (last + 71 * H).astimezone(UTC)).stage is None
    d = call_no_activity(f, TH, (last + 72 * H).astimezone(UTC))
    assert d.stage == "attention" and d.evidence["basis"] == "ladder"
    assert d.evidence["call_days"] is None  # too few days with a call to have a habit
    assert d.evidence["threshold_h"] == 72


def test_a_habit_never_moves_the_check_later_than_the_fixed_days():
    """Someone whose longest silence was 2 days (× 1.5 = 3 days + …) still gets it at 72 h."""
    times = daily_caller(28)
    for k in (5, 6):  # two whole days without a call, once
        day = TODAY - timedelta(days=k)
        times = [t for t in times if t.date() != day]
    routine = learn_routine(call_days(times), TODAY)
    assert call_habit(routine).threshold_h(1.5, 24) > 72
    last = local(TODAY, 9, 10)
    d = call_no_activity(facts(last, routine), TH, (last + 72 * H).astimezone(UTC))
    assert d.stage == "attention" and d.evidence["basis"] == "ladder"


def test_switched_off_the_habit_is_ignored():
    off = Thresholds(call_routine={"enabled": False})
    routine = learn_routine(call_days(daily_caller()), TODAY)
    last = local(TODAY, 9, 10)
    f = facts(last, routine)
    assert call_no_activity(f, off, (last + 30 * H).astimezone(UTC)).stage is None
    assert (
        call_no_activity(replace(f, routine=None), TH, (last + 30 * H).astimezone(UTC)).stage
        is None
    )


def test_calls_are_learned_and_the_tick_alerts_a_regular_caller_early(db_engine):
    """Ingest → daily learning → silence tick, on both backends: the habit reaches the rule."""
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
    phone = ids["phone-1"]
    times = daily_caller(28)
    events = [
        {
            "event_id": f"c{i:03d}",
            "device_id": "phone-1",
            "ts": t.isoformat(),
            "type": "call",
            "direction": "out",
            "duration_s": 90,
        }
        for i, t in enumerate(times)
    ]
    with db_engine.begin() as conn:
        ingest_events(conn, VENDOR, events, now=local(TODAY, 0, 5).astimezone(UTC))
        learn_routines(conn, local(TODAY, 0, 10).astimezone(UTC))
    last = times[-1]  # yesterday 19:40; longest silence 14 h → 24 h (min_quiet_h) rules
    for at, expected in (
        (last + 23 * H, None),
        (last + 24 * H + timedelta(minutes=10), "attention"),
    ):
        with db_engine.begin() as conn:
            run_silence_tick(conn, at.astimezone(UTC), TH)
            row = conn.execute(
                select(Alert.stage, Alert.evidence).where(
                    Alert.device_id == phone, Alert.rule == "call_no_activity"
                )
            ).first()
        assert (row.stage if row else None) == expected
    assert row.evidence["basis"] == "routine" and row.evidence["threshold_h"] == 24.0


def test_the_alert_detail_explains_a_habit_alert_without_a_plug_strip():
    from dashboard.ui.routine_panel import has_explanation, has_strip, sentence

    times = daily_caller()
    routine = learn_routine(call_days(times), TODAY)
    last = local(TODAY, 9, 10)
    d = call_no_activity(facts(last, routine), TH, (last + 30 * H).astimezone(UTC))
    alert = {"rule": "call_no_activity", "evidence": d.evidence}
    assert has_explanation(alert) and not has_strip(alert)
    assert sentence(d.evidence, "en").startswith("No call since")
    plug = {"rule": "plug_no_change", "evidence": {"basis": "ladder"}}
    assert has_explanation(plug) and has_strip(plug)
    assert not has_explanation({"rule": "call_no_activity", "evidence": {"quiet_h": 1}})
