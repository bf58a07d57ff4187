"""Review 2: the level test's quiet gate (quiet_h >= min_quiet_h, on the rule's clock) opens
without a report and before the due time when an operator closed the alert after the last
sign of life (quiet_since restarts at the close; the tick loads the levels from
last_activity_at + min_quiet_h, and level_due yields nothing without a report stamped ahead)."""

from __future__ import annotations

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
