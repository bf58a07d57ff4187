"""Editing data/rules.toml from the settings page: validate, write atomically, reload."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from dashboard.rules.config import (
    DEFAULT_PATH,
    Thresholds,
    current_thresholds,
    load_thresholds,
    parse_thresholds,
)
from dashboard.rules.edit import (
    ThresholdsInvalid,
    changes,
    flatten,
    nest,
    problems_of,
    render_toml,
    save_thresholds,
    unit_of,
)


@pytest.fixture
def rules(tmp_path: Path) -> Path:
    path = tmp_path / "rules.toml"
    shutil.copy(DEFAULT_PATH, path)
    return path


def test_flatten_render_round_trip() -> None:
    values = flatten(Thresholds())
    assert values["plug_no_change.min_hours"] == 24
    assert values["device_silent.timeout_s.smart_plug"] == 7200
    assert values["ai_call.concern_stage"] == "attention"
    assert nest(values)["device_silent"]["timeout_s"] == {"smart_plug": 7200}
    assert parse_thresholds(render_toml(values)) == Thresholds()


def test_repo_file_flattens_to_defaults() -> None:
    assert flatten(load_thresholds(DEFAULT_PATH)) == flatten(Thresholds())


def test_save_writes_validates_and_reloads(rules: Path) -> None:
    assert current_thresholds(rules).plug_no_change.risk_after_attention_h == 12
    before = rules.read_text(encoding="utf-8")
    new = save_thresholds(
        {"plug_no_change.risk_after_attention_h": 10.0, "battery.low_pct": 15.0}, rules
    )
    assert new.plug_no_change.risk_after_attention_h == 10
    assert new.battery.low_pct == 15
    assert new.robot.no_interaction_h == 48  # untouched settings keep their values
    text = rules.read_text(encoding="utf-8")
    assert text.startswith(before.split("\n", 1)[0])  # header comment kept
    assert text.count("# Saved from the settings page") == 1
    assert load_thresholds(rules) == new
    assert current_thresholds(rules).plug_no_change.risk_after_attention_h == 10
    save_thresholds({"battery.low_pct": 18.0}, rules)  # the note is not repeated
    assert rules.read_text(encoding="utf-8").count("# Saved from the settings page") == 1
    assert [p.name for p in rules.parent.iterdir()] == ["rules.toml"]  # no temp file left


@pytest.mark.parametrize(
    ("values", "keys"),
    [
        (
            {"plug_no_change.risk_after_attention_h": -1.0},
            {"plug_no_change.risk_after_attention_h"},
        ),
        (
            {"plug_no_change.min_hours": 60.0},
            {"plug_no_change.min_hours", "plug_no_change.max_hours"},
        ),
        ({"battery.clear_pct": 10.0}, {"battery.clear_pct", "battery.low_pct"}),
        ({"ai_call.risk_in_a_row": 2}, {"ai_call.risk_in_a_row", "ai_call.unanswered_in_a_row"}),
        ({"device_silent.timeout_s.smart_plug": 30}, {"device_silent.timeout_s.smart_plug"}),
        ({"ai_call.concern_stage": "panic"}, {"ai_call.concern_stage"}),
    ],
)
def test_invalid_values_write_nothing(rules: Path, values: dict, keys: set[str]) -> None:
    before = rules.read_bytes()
    with pytest.raises(ThresholdsInvalid) as info:
        save_thresholds(values, rules)
    assert set(info.value.problems) == keys
    assert rules.read_bytes() == before
    assert [p.name for p in rules.parent.iterdir()] == ["rules.toml"]


def test_problems_name_the_setting() -> None:
    values = flatten(Thresholds()) | {"plug_no_change.risk_after_attention_h": -1.0}
    problems = problems_of(values)
    assert problems == {"plug_no_change.risk_after_attention_h": ["Input should be greater than 0"]}
    assert problems_of(flatten(Thresholds())) == {}


def test_unknown_key_is_refused(rules: Path) -> None:
    with pytest.raises(ThresholdsInvalid) as info:
        save_thresholds({"battery.typo": 3}, rules)
    assert info.value.problems == {"battery.typo": ["unknown setting"]}


def test_broken_file_is_replaced_by_a_valid_one(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text("[battery]\nlow_pct = -5\n", encoding="utf-8")
    new = save_thresholds({"battery.low_pct": 15.0}, path)
    assert new.battery.low_pct == 15 and load_thresholds(path) == new


def test_units_and_changes() -> None:
    assert unit_of("plug_no_change.min_hours") == "h"
    assert unit_of("device_silent.timeout_s.smart_plug") == "s"
    assert unit_of("wandering.no_position_min") == "min"
    assert unit_of("battery.low_pct") == "pct"
    assert unit_of("call_no_activity.days") == "days"
    assert changes({"a": 1, "b": 2}, {"a": 1, "b": 3}) == {"b": [2, 3]}
