"""Every setting the 설정 page renders has a label and section in both languages, with its unit
once; every validation problem (pydantic's range and type errors, the cross-field checks)
carries an i18n key both languages translate, so the Korean page never shows pydantic's
English. New settings or checks without texts fail here."""

from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest

from dashboard.i18n import LANGS, catalog
from dashboard.rules import config
from dashboard.rules.config import Thresholds
from dashboard.rules.districts import FIELDS as DISTRICT_FIELDS
from dashboard.rules.districts import proposed_thresholds
from dashboard.rules.edit import ThresholdsInvalid, flatten, problems_of, unit_of

RENDERED = [*flatten(Thresholds()), *DISTRICT_FIELDS]  # what the city and district forms show


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("lang", LANGS)
def test_every_rendered_setting_and_section_is_translated(lang: str) -> None:
    texts = catalog(lang)
    assert len(RENDERED) > 60
    missing = [k for k in RENDERED if f"settings_page.field.{k}" not in texts]
    missing += [
        f"section {s}"
        for s in {k.split(".")[0] for k in RENDERED}
        if f"settings_page.section.{s}" not in texts
    ]
    assert not missing, missing
    assert all(f"settings_page.unit.{unit_of(k)}" in texts for k in RENDERED)


@pytest.mark.parametrize("lang", LANGS)
def test_a_label_does_not_repeat_its_unit(lang: str) -> None:
    """The page adds the unit in parentheses; a label that says it again reads twice."""
    texts = catalog(lang)
    units = {v for k, v in texts.items() if k.startswith("settings_page.unit.")}
    for key in RENDERED:
        label = texts[f"settings_page.field.{key}"]
        for inner in re.findall(r"\(([^)]*)\)", label):
            assert inner not in units and not re.search(r"단위|unit|hour", inner), (key, label)


def _assert_translated(problems: dict[str, list[str]]) -> None:
    assert problems
    for key, found in problems.items():
        for problem in found:
            assert getattr(problem, "key", None), (key, problem)
            params = set(problem.params)
            for lang in LANGS:
                text = catalog(lang).get(f"settings_page.error.{problem.key}")
                assert text is not None, (lang, problem.key, problem)
                assert _placeholders(text) <= params, (lang, problem.key, problem.params)


NUMERIC = [k for k, v in flatten(Thresholds()).items() if not isinstance(v, bool | str)]


@pytest.mark.parametrize("value", [10**9, -(10**9), 0, 0.5, "abc", True])
def test_every_range_and_type_error_is_keyed(value: object) -> None:
    valid = flatten(Thresholds())
    for key in NUMERIC:
        problems = problems_of({**valid, key: value})
        if problems:
            _assert_translated(problems)


def test_type_errors_of_toggles_and_stages_and_unknown_settings_are_keyed() -> None:
    valid = flatten(Thresholds())
    for bad in (
        {"plug_routine.enabled": "maybe"},
        {"ai_call.concern_stage": "panic"},
        {"battery.typo": 1},
        {"battery.low_pct": 500},
    ):
        _assert_translated(problems_of({**valid, **bad}))
    problems = problems_of({**valid, "battery.low_pct": 500})
    assert problems["battery.low_pct"][0].key == "type.less_than_equal"
    assert problems["battery.low_pct"][0].params == {"le": 100}


def test_cross_field_checks_are_keyed_with_the_settings_they_name() -> None:
    valid = flatten(Thresholds())
    problems = problems_of({**valid, "plug_no_change.min_hours": 60.0})
    _assert_translated(problems)
    first = problems["plug_no_change.min_hours"][0]
    assert first == "min_hours must not be greater than max_hours"  # the CLI's text is kept
    assert first.key == "rule.not_greater"
    assert first.params == {"a": "plug_no_change.min_hours", "b": "plug_no_change.max_hours"}


def test_district_refusals_are_keyed() -> None:
    th = Thresholds()
    code = "1111000000"
    for values in (
        {"plug_routine.attention_slots": 7.0},  # not below risk_slots
        {"plug_routine.min_share": 2.0},  # a range error of the district's own model
        {"plug_no_change.risk_after_attention_h": 99.0},  # later than the city's ladder
    ):
        with pytest.raises(ThresholdsInvalid) as err:
            proposed_thresholds(th, code, values)
        _assert_translated(err.value.problems)
    assert err.value.problems["plug_no_change.risk_after_attention_h"][0].key == (
        "rule.district_later"
    )


def _rule_errors() -> list[tuple[int, str, set[str], bool]]:
    tree = ast.parse(Path(config.__file__).read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "RuleError":
            key = node.args[1] if len(node.args) > 1 else None
            if isinstance(key, ast.Constant):
                names = {kw.arg for kw in node.keywords if kw.arg}
                forwards = any(kw.arg is None for kw in node.keywords)
                found.append((node.lineno, key.value, names, forwards))
    return found


def test_every_rule_error_in_the_model_has_texts() -> None:
    found = _rule_errors()
    assert len(found) >= 8, found
    for line, key, names, forwards in found:
        assert not names & {"message", "key"}, (line, key)  # would collide with the arguments
        for lang in LANGS:
            text = catalog(lang).get(f"settings_page.error.rule.{key}")
            assert text is not None, (line, key, lang)
            assert forwards or _placeholders(text) <= names, (line, key, lang)
