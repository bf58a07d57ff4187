"""``python -m dashboard evaluate-detection --quick`` end to end, through the real replay."""

from __future__ import annotations

import importlib.util
import json

import pytest

from dashboard import cli

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("dashboard.replay") is None,
    reason="the replay command (issue #9) is not in this tree yet",
)

METHOD_KEYS = {
    "stops",
    "stops_by_residual",
    "stops_by_onset",
    "stops_by_source",
    "false_alarms",
    "absences",
    "device_faults",
    "slow_decline",
}
STOP_KEYS = {
    "n",
    "median_first_alert_h",
    "p90_first_alert_h",
    "median_severe_h",
    "p90_severe_h",
    "sensitivity_6h",
    "sensitivity_24h",
    "sensitivity_48h",
    "missed_96h",
}


def test_quick_run_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "eval.json"
    assert cli.main(["evaluate-detection", "--quick", "--workers", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "REPORT part (published figures)" in printed and "median time to first alert" in printed
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert doc["quick"] is True and doc["published_part"] == "report"
    assert set(doc["results"]) == {"tune", "report"}
    assert "demo/plug-01" in doc["parts"]["tune"]
    for part in doc["results"].values():
        assert set(part) == {"model", "fixed", "fixed_caught_model_missed", "decline_flag"}
        assert part["decline_flag"]["study"] is None  # --quick skips the study (time)
        assert set(part["decline_flag"]["normal_periods"]) >= {"flags", "per_household_year"}
        assert part["fixed_caught_model_missed"] == []
        for method in ("model", "fixed"):
            assert set(part[method]) == METHOD_KEYS
            assert set(part[method]["stops"]) == STOP_KEYS
            by_onset = part[method]["stops_by_onset"]  # every stop in one band of the clock
            assert sum(b["n"] for b in by_onset.values()) == part[method]["stops"]["n"]
            by_source = part[method]["stops_by_source"]  # every stop under its recording
            assert sum(b["n"] for b in by_source.values()) == part[method]["stops"]["n"]
            assert set(part[method]["false_alarms"]) >= {"per_household_per_50_days", "alerts"}
    tune = [c for c in doc["cases"] if c["part"] == "tune"]
    assert {c["kind"] for c in tune} == {"stop", "absence", "fault"}
    # A plug reporting 0 W with no light is a flat line: the fixed ladder's 관심 comes 24 h after
    # the last change (at the latest the first 0 W reading, an hour after the onset), at the
    # next 10-minute tick; 심각 24 h later.
    zero = next(c for c in tune if c["variant"] == "flat_zero")["fixed"]
    assert zero["first_alert_h"] is not None and zero["first_alert_h"] <= 24 + 1 + 1 / 6
    assert zero["severe_h"] == pytest.approx(zero["first_alert_h"] + 24, abs=0.2)
    # A silent plug is a device fault within the plug's 2 h heartbeat timeout (+ a tick).
    silent = next(c for c in tune if c["variant"] == "no_data")["fixed"]
    assert silent["first_fault_h"] is not None and silent["first_fault_h"] <= 2.5


def test_part_replays_only_that_part(tmp_path, capsys):
    """``--part tune`` is what the model may be adjusted on: no report home is replayed."""
    out = tmp_path / "tune.json"
    argv = ["evaluate-detection", "--quick", "--workers", "1", "--part", "tune", "--json", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "TUNE part" in printed and "REPORT part" not in printed
    doc = json.loads(out.read_text(encoding="utf-8"))
    assert set(doc["results"]) == {"tune"}
    assert {c["part"] for c in doc["cases"]} == {"tune"}
    assert doc["parts"]["report"] == []


@pytest.mark.parametrize(
    ("onset", "band"),
    [
        ("2024-03-01 06:00", "06-12"),
        ("2024-03-01 11:59", "06-12"),
        ("2024-03-01 12:00", "12-18"),
        ("2024-03-01 21:30", "18-22"),
        ("2024-03-01 22:00", "22-06"),
        ("2024-03-02 00:10", "22-06"),
        ("2024-03-02 05:59", "22-06"),
    ],
)
def test_a_stop_falls_in_one_band_of_the_clock(onset, band):
    from dashboard.evaluation.commands import onset_band

    assert onset_band(onset) == band


@pytest.mark.parametrize(
    ("home", "source"),
    [
        ("demo/plug-01", "demo"),
        ("london/MAC000002", "london"),
        ("london/MAC000002@1h", "london@1h"),
        ("london/MAC000003@1h#2", "london@1h"),
        ("opsd/DE_KN_residential4#2", "opsd"),
        ("hue/residential_1#1", "hue"),
    ],
)
def test_a_stop_is_counted_under_its_recording(home, source):
    from dashboard.evaluation.commands import source_of

    assert source_of(home) == source
