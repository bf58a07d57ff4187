"""The evaluation's figures on hand-made transitions, with known answers."""

from __future__ import annotations

import pytest

from dashboard.evaluation.metrics import (
    Transition,
    first_time_h,
    openings,
    parse_transitions,
    per_50_days,
    percentile,
    share_within,
    stop_summary,
)

H = 3600


def tr(at_h: float, stage: str | None, rule: str = "plug_no_change", kind: str = "person", dev="d"):
    return Transition(dev, rule, kind, stage, int(at_h * H))


def test_percentiles_interpolate_and_misses_count_as_beyond():
    assert percentile([4, 1, 3, 2], 50) == pytest.approx(2.5)
    assert percentile(list(range(1, 11)), 90) == pytest.approx(9.1)
    assert percentile([5.0], 90) == 5.0
    # 10 incidents, 1 missed: the median is finite, the 90th percentile touches the miss.
    values = [1, 2, 3, 4, 5, 6, 7, 8, 9, None]
    assert percentile(values, 50) == pytest.approx(5.5)
    assert percentile(values, 90) is None
    assert percentile([None, None, 1], 50) is None
    assert percentile([], 50) is None


def test_sensitivity_and_summary():
    first = [5.0, 24.0, 30.0, None]
    severe = [29.0, 48.0, None, None]
    assert share_within(first, 24) == 0.5
    assert share_within(first, 48) == 0.75
    s = stop_summary(first, severe)
    assert s["n"] == 4 and s["missed_96h"] == 1
    assert s["median_first_alert_h"] == pytest.approx(27.0)
    assert s["median_severe_h"] is None  # half the incidents never reached 심각
    assert s["sensitivity_24h"] == 0.5 and s["sensitivity_48h"] == 0.75
    assert s["sensitivity_6h"] == 0.25  # the median target's hour


def test_first_alert_and_severe_after_onset_only():
    ts = [
        tr(-5, "attention"),  # an alert before the incident does not count
        tr(-1, None),
        tr(24.5, "attention"),
        tr(36.5, "risk"),
        tr(48.5, "severe"),
        tr(50, "attention", rule="device_silent", kind="device_fault"),
    ]
    assert first_time_h(ts, 0, 96 * H) == 24.5
    assert first_time_h(ts, 0, 96 * H, stage="severe") == 48.5
    assert first_time_h(ts, 0, 48 * H, stage="severe") is None  # outside the window
    assert first_time_h(ts, 0, 96 * H, kind="device_fault") == 50


def test_openings_count_alerts_not_stage_changes():
    ts = [
        tr(1, "attention"),
        tr(2, "risk"),
        tr(3, None),
        tr(4, "attention"),
        tr(5, "attention", dev="e"),
        tr(6, "risk", rule="device_silent", kind="device_fault"),
    ]
    assert [t.at // H for t in openings(ts)] == [1, 4, 5]
    assert len(openings(ts, None)) == 4
    assert len(openings(ts, "device_fault")) == 1


def test_false_alarm_rate_per_household_per_50_days():
    assert per_50_days(3, 150.0) == pytest.approx(1.0)
    assert per_50_days(0, 365.0) == 0.0
    assert per_50_days(1, 0) is None


def test_parse_transitions_contract_and_zones():
    doc = {
        "transitions": [
            {
                "device_id": "a",
                "rule": "r",
                "kind": "person",
                "stage": None,
                "at": "2024-01-01T10:00:00+09:00",
                "explanation": "x",
            },
            {
                "device_id": "a",
                "rule": "r",
                "kind": "person",
                "stage": "attention",
                "at": "2024-01-01T00:00:00",
                "explanation": "y",
            },  # naive: Seoul
        ]
    }
    out = parse_transitions(doc)
    assert [t.stage for t in out] == ["attention", None]
    assert out[1].at - out[0].at == 10 * H
    with pytest.raises(ValueError, match="contract"):
        parse_transitions({"transitions": [{"device_id": "a"}]})
