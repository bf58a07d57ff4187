"""The silence tick's due time never comes after a decision changes (``dashboard.rules.due``).

Random facts of every device type; the clock is stepped minute by minute from ``now`` to the
due time (and to one second before it), with the facts the tick would load at each moment
(the routine once the quiet is long enough, the readings still inside their windows). What
the alert lifecycle acts on (each rule's stage, its evidence but the parts that only measure
time, its outbox keys) must be the same at every step as at ``now``.
"""

from __future__ import annotations

import json
import random
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np

from dashboard.detection import levels
from dashboard.detection.background import Background
from dashboard.detection.levels import LevelFacts
from dashboard.detection.routine import learn_routine
from dashboard.rules.clock import quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.due import MAX_WAIT, SPREAD_MIN, device_due
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.facts import CLOCK_SKEW, RESULTS_LOOKBACK, RESULTS_PER_LINE, routine_quiet
from dashboard.rules.lifecycle import VOLATILE_EVIDENCE
from dashboard.rules.model import Decision, DeviceFacts, Reading
from dashboard.rules.plug import person_activity
from dashboard.settings import LOCAL_TZ

TH = Thresholds()
NOW = datetime(2026, 3, 10, 13, 17, 23, tzinfo=UTC)
TYPES = ("smart_plug", "phone_line", "care_robot", "wandering_detector", "ai_call_line")
CASES = 600


def signature(decisions: list[Decision]) -> frozenset:
    """What ``apply_decisions`` acts on: time-only evidence and outbox due times left out."""
    return frozenset(
        (
            d.rule,
            d.stage,
            json.dumps(
                {k: v for k, v in d.evidence.items() if k not in VOLATILE_EVIDENCE},
                sort_keys=True,
                default=str,
            ),
            tuple((o["channel"], o["key"]) for o in d.outbox),
        )
        for d in decisions
    )


def _ago(rng: random.Random, hours: float) -> datetime:
    return NOW - timedelta(seconds=rng.uniform(0, hours * 3600))


def _routine(rng: random.Random):
    today = NOW.astimezone(LOCAL_TZ).date()
    days = rng.choice((5, 20, 28))
    bits = rng.getrandbits(48) | (1 << rng.randrange(48))
    history = {today - timedelta(days=i): bits for i in range(1, days + 1)}
    background = rng.choice((None, Background(8.0, 30.0, 2.0, 0), Background(0.5, 20.0, 1.0, 0)))
    return learn_routine(history, today, background=background)


def _levels(rng: random.Random, seen: datetime) -> LevelFacts:
    """A level model and the last days' levels whose CUSUM ends near the thresholds."""
    table = np.array([rng.randrange(-40, 121) for _ in range(2 * levels.SLOTS * levels.GRID)])
    # reference days above the night level at random half-hours, dense or sparse: a level
    # stage needs their support in its window (levels.supported), which some windows lack
    sparse = rng.random() < 0.5
    refs = tuple(
        (rng.random() < 0.3, rng.getrandbits(48) & (rng.getrandbits(48) if sparse else -1))
        for _ in range(14)
    )
    model = levels.LevelModel(
        table.reshape(2, levels.SLOTS, levels.GRID).astype(np.int8), 100, rng.random() < 0.5, refs
    )
    today = seen.astimezone(LOCAL_TZ).date()
    days = {
        today - timedelta(days=k): bytes(
            [rng.randrange(0, 256) for _ in range(levels.SLOTS)] + [1] * levels.SLOTS
        )
        for k in range(levels.LOOKBACK_DAYS)
    }
    return LevelFacts(model, days)


def random_case(rng: random.Random) -> tuple[DeviceFacts, list[Reading]]:
    """A device near the thresholds that matter: quiet spells up to a few days, history
    back-filled or not, an operator's close, an away period, readings near their windows."""
    kind = rng.choice(TYPES)
    seen = _ago(rng, 80)
    activity = min(seen, _ago(rng, 90)) if rng.random() < 0.9 else None
    first_seen = min(seen, _ago(rng, 400))
    received = rng.choice((None, first_seen, max(first_seen, _ago(rng, 60))))
    facts = DeviceFacts(
        device_id=rng.randrange(1, 10_000),
        type_code=kind,
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=rng.choice((3600, 7200, 86_400)),
        recipient_id=rng.choice((None, 11)),
        installed_at=rng.choice((None, _ago(rng, 2000), _ago(rng, 30))),
        registered_at=rng.choice((None, _ago(rng, 100))),
        last_seen_at=seen if rng.random() < 0.95 else None,
        last_activity_at=activity,
        last_power_w=rng.choice((None, 0.3, 1.0, 42.0)),
        battery_pct=rng.choice((None, 5.0, 50.0)),
        first_seen_at=first_seen,
        first_received_at=received,
        no_change_hours=rng.choice((None, 24, 30, 50)),
        region_code=None,
        away_until=rng.choice(
            (None, None, NOW.astimezone(LOCAL_TZ).date() + timedelta(days=rng.randrange(-1, 3)))
        ),
        human_closed_at={
            rule: _ago(rng, 60)
            for rule in (
                "device_silent",
                "plug_no_change",
                "call_no_activity",
                "ai_call_unanswered",
            )
            if rng.random() < 0.2
        },
    )
    routine = _routine(rng) if kind in ("smart_plug", "phone_line") and rng.random() < 0.7 else None
    facts = replace(facts, routine=routine)
    if kind == "smart_plug" and routine is not None:  # its own stream: the draws above stay
        facts = replace(facts, levels=_levels(random.Random(facts.device_id), seen))
    readings: list[Reading] = []
    if kind in ("phone_line", "ai_call_line"):
        for _ in range(rng.randrange(0, 5)):
            ts = NOW - timedelta(seconds=rng.uniform(0, RESULTS_LOOKBACK.total_seconds() + 7200))
            if rng.random() < 0.3:
                ts = NOW - RESULTS_LOOKBACK + timedelta(seconds=rng.uniform(0, 3600))
            outcome = rng.choice(("unanswered", "answered", "concern"))
            if outcome == "concern" and rng.random() < 0.5:  # near concern_max_age_h
                ts = NOW - timedelta(
                    hours=TH.ai_call.concern_max_age_h, minutes=-rng.uniform(0, 50)
                )
            readings.append(Reading(ts, "ai_call_result", None, {"outcome": outcome}))
    if kind == "care_robot":
        age = TH.robot.sos_max_age_h
        for _ in range(rng.randrange(0, 3)):
            readings.append(Reading(_ago(rng, age + 1), "sos"))
    if kind == "ai_call_line" and readings and rng.random() < 0.3:
        handled = min(r.ts for r in readings).isoformat()
        facts = replace(facts, last_evidence={"ai_call_concern": {"result_at": handled}})
    if kind == "care_robot" and readings and rng.random() < 0.5:
        handled = min(r.ts for r in readings)
        facts = replace(facts, last_evidence={"robot_sos": {"sos_at": handled.isoformat()}})
    if kind == "wandering_detector" and rng.random() < 0.9:
        facts, readings = _wanderer(rng, facts)
    sibling = random.Random(facts.device_id + 2)  # its own stream: the draws above stay
    if kind == "smart_plug" and sibling.random() < 0.3:
        # the person's later sign of life on another of their plugs (rules.household)
        other = NOW - timedelta(hours=sibling.uniform(0, 90))
        if activity is None or other > activity:
            facts = replace(facts, person_active_at=other)
    alerts = random.Random(facts.device_id + 1)  # its own stream: the draws above stay
    if kind == "smart_plug" and alerts.random() < 0.5:
        # an open alert: on this quiet spell (its steps count from its first stage) or another
        spell = quiet_since(facts, "plug_no_change", person_activity(facts))
        stored = spell.isoformat() if spell is not None and alerts.random() < 0.8 else None
        # first raised about 12 h or 24 h ago (the steps to 위험 and 심각 fall in the hour ahead)
        hours = alerts.choice((12, 24)) + alerts.uniform(-1.5, 0.5)
        facts = replace(facts, plug_alert=(stored, NOW - timedelta(hours=hours)))
    return facts, readings


HOME = (37.5665, 126.9780)


def _fix(ts: datetime, metres_north: float, accuracy: float | None) -> Reading:
    data = {"lat": HOME[0] + metres_north / 111_320, "lon": HOME[1]}
    if accuracy is not None:
        data["accuracy_m"] = accuracy
    return Reading(ts, "position", None, data)


def _wanderer(rng: random.Random, facts: DeviceFacts) -> tuple[DeviceFacts, list[Reading]]:
    """A zone and a short track near the thresholds: the newest fix minutes old (an exit's
    dwell still running) or about ``no_fix_inside_h`` old, inside, near the edge or far out,
    sometimes with an open left-zone episode or quiet hours."""
    zone_m = rng.choice((200.0, 500.0))
    newest = rng.choice(
        (
            NOW - timedelta(seconds=rng.uniform(0, 180)),
            NOW - timedelta(hours=TH.wandering.no_fix_inside_h, minutes=rng.uniform(-50, 5)),
            _ago(rng, 20),
        )
    )
    readings = []
    ts = newest - timedelta(seconds=rng.uniform(0, 600))
    where = rng.choice((0.5, 0.95, 1.1, 1.5, 3.0))
    for _ in range(rng.randrange(1, 8)):
        readings.append(
            _fix(ts, zone_m * where * rng.uniform(0.9, 1.1), rng.choice((None, 10.0, 60.0)))
        )
        ts += timedelta(seconds=rng.uniform(5, 90))
        if ts > newest:
            break
        if rng.random() < 0.3:
            where = rng.choice((0.5, 1.1, 3.0))
    # A detector reports between fixes: still reporting, or silent since its last fix.
    seen = rng.choice((newest, _ago(rng, 2), NOW - timedelta(hours=1, minutes=rng.uniform(-5, 50))))
    facts = replace(
        facts,
        last_seen_at=max(seen, newest),
        home_lat=HOME[0],
        home_lon=HOME[1],
        safe_zone_m=zone_m,
        quiet_start_min=rng.choice((None, 13 * 60 + 20)),  # near NOW's hour in Seoul (22:17)
        quiet_end_min=rng.choice((None, 23 * 60)),
    )
    if facts.quiet_start_min is None or facts.quiet_end_min is None:
        facts = replace(facts, quiet_start_min=None, quiet_end_min=None)
    if rng.random() < 0.3:
        crossed = min(r.ts for r in readings) - timedelta(minutes=rng.uniform(0, 60))
        facts = replace(
            facts,
            wander_episode={"outside_since": crossed.isoformat()},
            wander_since=crossed,
        )
    return facts, readings


def visible(
    facts: DeviceFacts, readings: list[Reading], t: datetime
) -> tuple[DeviceFacts, list[Reading]]:
    """The facts and readings the tick loads at ``t`` (``rules.facts.enrich``, ``_readings``)."""
    last = facts.last_activity_at
    if facts.type_code == "smart_plug":
        loaded = TH.plug_routine.enabled and (last is None or last <= t - routine_quiet(TH))
    elif facts.type_code == "phone_line":
        quiet = timedelta(hours=TH.call_routine.min_quiet_h)
        loaded = TH.call_routine.enabled and (last is None or last <= t - quiet)
    else:
        loaded = False
    shown = replace(
        facts,
        routine=facts.routine if loaded else None,
        levels=facts.levels if loaded and TH.plug_routine.level_enabled else None,
    )
    if facts.type_code in ("phone_line", "ai_call_line"):
        kept = [r for r in readings if t - RESULTS_LOOKBACK <= r.ts <= t + CLOCK_SKEW]
        kept = sorted(kept, key=lambda r: r.ts, reverse=True)[:RESULTS_PER_LINE]
    elif facts.type_code == "care_robot":
        oldest = t - timedelta(hours=TH.robot.sos_max_age_h)
        kept = [r for r in readings if oldest <= r.ts <= t + CLOCK_SKEW]
    elif facts.type_code == "wandering_detector":
        kept = [r for r in readings if r.ts <= t + CLOCK_SKEW]  # within the lookback of the newest
    else:
        kept = []
    return shown, kept


def decided(facts: DeviceFacts, readings: list[Reading], t: datetime) -> frozenset:
    shown, kept = visible(facts, readings, t)
    return signature(evaluate_device(shown, TH, t, kept))


def first_change_before(
    facts: DeviceFacts, readings: list[Reading], due: datetime
) -> datetime | None:
    """The first stepped moment before ``due`` whose decisions differ from ``NOW``'s."""
    at_now = decided(facts, readings, NOW)
    steps = int((due - NOW).total_seconds() // 60) + 1
    moments = [NOW + timedelta(minutes=k) for k in range(steps)] + [due - timedelta(seconds=1)]
    for t in sorted(m for m in moments if NOW <= m < due):
        if decided(facts, readings, t) != at_now:
            return t
    return None


def cases(seed: int, n: int = CASES):
    rng = random.Random(seed)
    for _ in range(n):
        facts, readings = random_case(rng)
        shown, kept = visible(facts, readings, NOW)
        yield facts, readings, device_due(shown, TH, NOW, kept)


def test_no_decision_changes_before_the_due_time():
    reached = 0
    wanderers = {"every tick": 0, "scheduled": 0}
    for facts, readings, due in cases(20261202):
        assert NOW <= due <= NOW + MAX_WAIT
        if facts.type_code == "wandering_detector" and readings:
            wanderers["every tick" if due == NOW else "scheduled"] += 1
        changed = first_change_before(facts, readings, due)
        assert changed is None, f"decision changed at {changed}, due {due}: {facts} {readings}"
        reached += due < NOW + MAX_WAIT - timedelta(minutes=SPREAD_MIN)
    # The random facts reach real thresholds, not only the hour's cap.
    assert reached > CASES // 10
    # Wanderers both outside (every tick) and at home (scheduled) were drawn.
    assert min(wanderers.values()) >= 10, wanderers


def test_no_decision_changes_before_the_due_time_with_the_level_test(monkeypatch):
    """The same with the level test on: its stage moves only with the stored levels (new
    readings clear the due time) and with the last report's half-hour."""
    monkeypatch.setattr(
        sys.modules[__name__],
        "TH",
        Thresholds(plug_routine={"level_enabled": True, "level_h": 6}),
    )
    by_level = 0
    rng = random.Random(20261203)
    for _ in range(300):
        facts, readings = random_case(rng)
        if facts.levels is not None and rng.random() < 0.5:  # days enough, no usable routine
            today = NOW.astimezone(LOCAL_TZ).date()
            sparse = {today - timedelta(days=i): int(i <= 5) << 30 for i in range(1, 21)}
            facts = replace(facts, routine=learn_routine(sparse, today))
        if facts.levels is not None and rng.random() < 0.3:  # a report stamped ahead
            facts = replace(facts, last_seen_at=NOW + timedelta(minutes=rng.uniform(0, 50)))
        shown, kept = visible(facts, readings, NOW)
        due = device_due(shown, TH, NOW, kept)
        assert NOW <= due <= NOW + MAX_WAIT
        changed = first_change_before(facts, readings, due)
        assert changed is None, f"decision changed at {changed}, due {due}: {facts}"
        shown, kept = visible(facts, readings, NOW)
        decisions = evaluate_device(shown, TH, NOW, kept)
        by_level += any(d.evidence.get("basis") == "level" for d in decisions)
    # Coverage: enough cases reach the level test (4 of these 300 since it restarts at the last
    # sign of life; a run from before it no longer counts).
    assert by_level >= 3


def test_the_level_test_is_judged_at_the_next_half_hour():
    """A stop at the night load 30 minutes before ``NOW``, a report stamped ahead: the next
    half-hour's level moves the level test's S across 관심, so the plug is due by then."""
    today = NOW.astimezone(LOCAL_TZ).date()
    every_half_hour = ((False, (1 << levels.SLOTS) - 1),) * 14  # the sentence's support
    model = levels.LevelModel(
        np.full((2, levels.SLOTS, levels.GRID), 120, np.int8), 0, False, every_half_hour
    )
    now_slot = NOW.astimezone(LOCAL_TZ).hour * 2 + NOW.astimezone(LOCAL_TZ).minute // 30
    lv = bytes([levels.NO_LEVEL] * now_slot + [10] * (levels.SLOTS - now_slot)) + bytes(48)
    sparse = {today - timedelta(days=i): int(i <= 5) << 30 for i in range(1, 21)}
    facts = DeviceFacts(
        device_id=29,  # no spread: the cap is a full hour ahead
        type_code="smart_plug",
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=7200,
        recipient_id=11,
        last_seen_at=NOW + timedelta(minutes=50),
        last_activity_at=NOW - timedelta(hours=5),
        last_change_at=NOW - timedelta(hours=5),
        last_power_w=40.0,
        first_seen_at=NOW - timedelta(days=40),
        first_received_at=NOW - timedelta(days=40),
        routine=learn_routine(sparse, today),
        levels=LevelFacts(model, {today: lv}),
    )
    th = Thresholds(plug_routine={"level_enabled": True, "level_h": 5})
    half = levels.next_half_hour(NOW)

    def plug(t: datetime):
        return next(d for d in evaluate_device(facts, th, t) if d.rule == "plug_no_change")

    assert plug(NOW).stage is None  # S = 3 at 22:00–22:30
    assert plug(half).stage == "attention" and plug(half).evidence["basis"] == "level"  # S = 6
    assert device_due(facts, th, NOW) <= half


def test_a_due_time_one_minute_late_is_caught():
    """The same check fails when every due time is a minute later: it can see a late one."""
    late = 0
    for facts, readings, due in cases(20261202):
        capped = due >= NOW + MAX_WAIT - timedelta(minutes=SPREAD_MIN)
        if not capped and first_change_before(facts, readings, due + timedelta(minutes=1)):
            late += 1
    assert late >= 5


def test_away_ends_at_local_midnight_and_the_ladder_resumes():
    """A concrete case: a quiet plug of a person away until tomorrow is due at 00:00 Seoul."""
    now = datetime(2026, 3, 10, 14, 30, tzinfo=UTC)  # 23:30 in Seoul
    tomorrow = now.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    facts = DeviceFacts(
        device_id=1,
        type_code="smart_plug",
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=7200,
        recipient_id=11,
        installed_at=now - timedelta(days=100),
        first_seen_at=now - timedelta(days=100),
        last_seen_at=now - timedelta(minutes=3),
        last_activity_at=now - timedelta(hours=30),
        away_until=tomorrow,
    )

    def plug(t: datetime) -> list:
        return [d.stage for d in evaluate_device(facts, TH, t) if d.rule == "plug_no_change"]

    assert plug(now) == []  # away: no opinion
    midnight = datetime(tomorrow.year, tomorrow.month, tomorrow.day, tzinfo=LOCAL_TZ)
    assert device_due(facts, TH, now) == midnight
    assert plug(midnight) == ["attention"]


def test_the_docs_state_the_cap_and_the_devices_judged_every_tick():
    """docs/rules.md names the hour's cap, its spread and the devices due at every tick."""
    from dashboard.settings import PROJECT_ROOT

    text = " ".join((PROJECT_ROOT / "docs" / "rules.md").read_text(encoding="utf-8").split())
    assert timedelta(hours=1) == MAX_WAIT and "never more than an hour ahead" in text
    assert f"up to {SPREAD_MIN} minutes less, by device id" in text
    assert "a wandering detector outside its zone stays due at every tick" in text
