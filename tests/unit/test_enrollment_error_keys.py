"""Every refusal of the enrollment domain carries an i18n key that both languages translate,
with the parameters its texts name: a Korean page never shows the English CLI message."""

from __future__ import annotations

import ast
import string
from pathlib import Path

import pytest

from dashboard.i18n import LANGS, catalog

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "dashboard" / "enrollment").glob("*.py"))


def _raises() -> list[tuple[str, int, ast.Call]]:
    found = []
    for path in SOURCES:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Raise)
                and isinstance(node.exc, ast.Call)
                and isinstance(node.exc.func, ast.Name)
                and node.exc.func.id == "EnrollmentError"
            ):
                found.append((path.name, node.lineno, node.exc))
    return found


RAISES = _raises()


def test_the_walk_finds_the_raises() -> None:
    # Guards the walk itself: a refactor that hid the raises would make the test below vacuous.
    assert len(RAISES) >= 70
    assert {name for name, _, _ in RAISES} >= {"devices.py", "people.py", "geofence.py"}


def _placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(("name", "line", "call"), RAISES, ids=[f"{n}:{ln}" for n, ln, _ in RAISES])
def test_every_raise_has_a_translated_key(name: str, line: int, call: ast.Call) -> None:
    keywords = {kw.arg: kw.value for kw in call.keywords}
    key = keywords.get("key")
    assert isinstance(key, ast.Constant) and isinstance(key.value, str), (
        f"{name}:{line}: EnrollmentError without a literal key=…"
    )
    params = set(keywords) - {"key", None}
    assert not params & {"field", "message"}, f"{name}:{line}: a parameter shadows an argument"
    for lang in LANGS:
        text = catalog(lang).get(f"enrollment_error.{key.value}")
        assert text is not None, f"{name}:{line}: enrollment_error.{key.value} missing in {lang}"
        missing = _placeholders(text) - params
        assert not missing, f"{name}:{line}: {lang} text names {missing} the raise does not pass"
