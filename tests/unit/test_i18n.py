"""The translation layer: both languages complete, every key used in the code defined."""

from __future__ import annotations

import re

import pytest

from dashboard.i18n import (
    LANGS,
    STATES,
    catalog,
    normalize_lang,
    state_label,
    translate,
    translate_or,
)
from dashboard.settings import PROJECT_ROOT

SOURCES = [*(PROJECT_ROOT / "pages").glob("*.py"), *(PROJECT_ROOT / "dashboard").rglob("*.py")]
KEY_PATTERN = re.compile(
    r"""\b(?:t|translate|page_header|multiselect_filter)\(\s*["']([a-z_]+\.[a-z_0-9.]+)["']"""
)
TABLE_KEYS = re.compile(r"""["'](col|measure|state)\.([a-z_0-9]+)["']""")


def test_both_languages_have_the_same_keys() -> None:
    ko, en = catalog("ko"), catalog("en")
    assert set(ko) - set(en) == set(), "missing in English"
    assert set(en) - set(ko) == set(), "missing in Korean"


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        used |= set(KEY_PATTERN.findall(text))
        used |= {f"{a}.{b}" for a, b in TABLE_KEYS.findall(text)}
    assert used, "the pattern found no keys: it is broken"
    for lang in LANGS:
        missing = sorted(k for k in used if k not in catalog(lang))
        assert not missing, f"{lang}: {missing}"


@pytest.mark.parametrize("section", ["page", "nav", "state", "status", "rule", "fund", "measure"])
def test_sections_translated_differently(section: str) -> None:
    """Keys whose English equals the Korean are probably untranslated (names excepted)."""
    ko, en = catalog("ko"), catalog("en")
    same = [k for k in ko if k.startswith(f"{section}.") and ko[k] == en[k]]
    assert not same


def test_states_and_stages() -> None:
    assert [state_label(s) for s in STATES] == ["정상", "관심", "위험", "심각", "장애"]
    assert [state_label(s, "en") for s in STATES] == [
        "Normal",
        "Attention",
        "Risk",
        "Severe",
        "Offline",
    ]


def test_formatting_arguments_and_fallbacks() -> None:
    assert translate("age.minutes", "ko", n=3) == "3분 전"
    assert translate("no.such.key") == "⟦no.such.key⟧"
    assert translate_or("rule.brand_new_rule", "brand_new_rule") == "brand_new_rule"
    assert normalize_lang("EN") == "en"
    assert normalize_lang("fr") == "ko"
    assert normalize_lang(None) == "ko"


def test_placeholders_match_between_languages() -> None:
    ko, en = catalog("ko"), catalog("en")
    fields = re.compile(r"{(\w+)}")
    for key in ko:
        assert set(fields.findall(ko[key])) == set(fields.findall(en[key])), key


def test_every_plug_evidence_key_has_a_label() -> None:
    """The alert detail shows each evidence field by its translated label (raw keys such as
    ``change_since`` read as code to an operator): every key the plug rule can write, and every
    word value it can write, is in both languages."""
    import ast

    from dashboard.detection.levels import LevelScore
    from dashboard.detection.routine import QuietScore
    from dashboard.rules.plug import LEVEL_SENTENCE_KEYS
    from dashboard.ui.alert_detail import _HIDDEN_EVIDENCE

    tree = ast.parse((PROJECT_ROOT / "dashboard" / "rules" / "plug.py").read_text("utf-8"))
    keys = {*LevelScore.EVIDENCE_KEYS, *QuietScore.EVIDENCE_KEYS, *LEVEL_SENTENCE_KEYS}
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            keys |= {k.value for k in node.keys if isinstance(k, ast.Constant)}
        elif (
            isinstance(node, ast.Subscript)
            and isinstance(node.value, ast.Name)
            and node.value.id == "evidence"
            and isinstance(node.slice, ast.Constant)
        ):
            keys.add(node.slice.value)
    keys -= _HIDDEN_EVIDENCE  # not shown as fields
    assert {"change_since", "level_s", "level_day_kind", "basis"} <= keys
    keys.add("held_by")  # written beside them by rules.lifecycle
    values = {"routine", "ladder", "net", "level", "still", "weekday", "weekend", "day"}
    values |= {"activity", "change"}  # ladder_clock
    for lang in LANGS:
        missing = {k for k in keys if translate_or(f"evidence.{k}", "", lang) == ""}
        assert not missing, (lang, sorted(missing))
        missing = {v for v in values if translate_or(f"evidence.value.{v}", "", lang) == ""}
        assert not missing, (lang, sorted(missing))
