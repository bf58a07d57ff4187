"""The level test's two moments without a report (found by a review): its quiet gate
(``quiet_h >= min_quiet_h`` on the rule's own clock, which an operator's close restarts) is a
due time; and a last report before the learning midnight is scored with the carried S, not the
new model run over the old days."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import numpy as np

from dashboard.detection import levels
from dashboard.detection.levels import LevelFacts
from dashboard.detection.routine import learn_routine
from dashboard.rules.config import Thresholds
from dashboard.rules.due import device_due
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.model import DeviceFacts
from dashboard.settings import LOCAL_TZ
from tests.unit.test_detection import plug_facts
from tests.unit.test_rules_due import NOW


def test_level_gate_opening_after_an_operator_close_is_due():
    th = Thresholds()  # the level test on by default, level_h = 12
    today = NOW.astimezone(LOCAL_TZ).date()
    support = ((False, (1 << levels.SLOTS) - 1),) * 14
    model = levels.LevelModel(
        np.full((2, levels.SLOTS, levels.GRID), 120, np.int8), 0, False, support, today
    )
    lv = bytes([10] * levels.SLOTS) + bytes([1] * levels.SLOTS)  # every half-hour stored
    sparse = {today - timedelta(days=i): int(i <= 5) << 30 for i in range(1, 21)}
    closed = NOW - timedelta(hours=1, minutes=50)  # 20:27 KST; the gate opens at NOW + 10 min
    facts = DeviceFacts(
        device_id=29,
        type_code="smart_plug",
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=7200,
        recipient_id=11,
        last_seen_at=NOW - timedelta(minutes=1),  # reporting; no report after NOW
        last_activity_at=NOW - timedelta(hours=10),
        last_change_at=NOW - timedelta(hours=10),
        last_power_w=40.0,
        first_seen_at=NOW - timedelta(days=40),
        first_received_at=NOW - timedelta(days=40),
        human_closed_at={"plug_no_change": closed},
        routine=learn_routine(sparse, today),
        levels=LevelFacts(model, {today - timedelta(days=k): lv for k in range(4)}),
    )

    def plug(t):
        return next(d for d in evaluate_device(facts, th, t) if d.rule == "plug_no_change")

    due = device_due(facts, th, NOW)
    later = NOW + timedelta(minutes=11)
    assert plug(NOW).stage is None
    assert plug(later).stage == "attention" and plug(later).evidence["basis"] == "level"
    assert due <= later, f"due {due}: the level stage appears at {later} without a report"


def test_a_model_learned_at_midnight_does_not_rescore_the_past():
    """The nightly learning runs at the first tick after midnight (``daily_learn``) and carries
    the S the day ended on (``carry_over``); a plug whose last report is before midnight is then
    scored with ``until`` on the day before ``learned_on``: with the carry, not with the new
    model over the old days from 0, which raised a stage the day never held at 00:01 (then held
    by ``lifecycle._level_held``) although the first report after midnight drops S to the carry."""
    from datetime import UTC, date, datetime

    from dashboard.detection.levels import carry_over
    from dashboard.rules.plug import plug_no_change

    day = date(2026, 11, 30)
    nxt = day + timedelta(days=1)
    support = ((False, (1 << levels.SLOTS) - 1),) * 14
    old = levels.LevelModel(np.full((2, 48, 64), -120, np.int8), 0, False, support, day)
    new = levels.LevelModel(np.full((2, 48, 64), 120, np.int8), 0, False, support, nxt)
    lv = bytes([10] * levels.SLOTS) + bytes([1] * levels.SLOTS)
    stored = {day - timedelta(days=k): lv for k in range(3)} | {nxt: lv}
    new = carry_over(old, new, stored, LOCAL_TZ)
    assert new.carry == 0.0  # the day ended on S = 0 by its own model
    sparse = {nxt - timedelta(days=i): int(i <= 5) << 30 for i in range(1, 21)}
    noon = datetime(2026, 11, 30, 12, 0, tzinfo=LOCAL_TZ)
    facts = replace(
        plug_facts(noon, learn_routine(sparse, nxt), last_change_at=noon.astimezone(UTC)),
        last_seen_at=datetime(2026, 11, 30, 23, 55, tzinfo=LOCAL_TZ).astimezone(UTC),
        last_power_w=40.0,
        levels=LevelFacts(new, stored),
    )
    at_0001 = plug_no_change(facts, Thresholds(), datetime(2026, 12, 1, 0, 1, tzinfo=LOCAL_TZ))
    reported = replace(facts, last_seen_at=datetime(2026, 12, 1, 0, 20, tzinfo=LOCAL_TZ))
    at_0021 = plug_no_change(reported, Thresholds(), datetime(2026, 12, 1, 0, 21, tzinfo=LOCAL_TZ))
    assert at_0021.evidence["level_s"] == 3.0  # the carry (0) and one new half-hour
    assert at_0001.evidence["level_s"] <= 3.0, (at_0001.stage, at_0001.evidence["level_s"])
