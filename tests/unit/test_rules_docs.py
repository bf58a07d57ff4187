"""The thresholds the docs state are the ones data/rules.toml ships (what actually runs)."""

from __future__ import annotations

import re
import tomllib
from collections import Counter

import pytest

from dashboard.rules.config import DEFAULT_PATH, Thresholds, load_thresholds
from dashboard.settings import PROJECT_ROOT

DOCS = sorted((PROJECT_ROOT / "docs").glob("*.md"))
TABLE_ROW = re.compile(r"^\| `([a-z_]+(?:\.[a-z_]+)+)` \| ([^|]+?) \|", re.MULTILINE)
# `section.key` (5 W …) or, for a key whose name is unique, `key` (30 lux …)
QUOTED = re.compile(r"`([a-z_]+(?:\.[a-z_]+)*)` \((-?[\d][\d,]*(?:\.\d+)?)")


def _flat(table: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            out |= _flat(value, f"{prefix}{key}.")
        else:
            out[f"{prefix}{key}"] = value
    return out


SHIPPED = _flat(tomllib.loads(DEFAULT_PATH.read_text(encoding="utf-8")))
LEAVES = Counter(key.rsplit(".", 1)[-1] for key in SHIPPED)


def _same(doc_value: str, value: object) -> bool:
    if isinstance(value, str):
        return doc_value.strip().strip('"') == value
    if isinstance(value, bool):
        return doc_value.strip() == str(value).lower()
    return float(doc_value.replace(",", "")) == float(value)


def test_the_shipped_file_equals_the_defaults() -> None:
    """A missing setting takes the default, so the two must not tell different stories."""
    assert load_thresholds(DEFAULT_PATH) == Thresholds()


def test_rules_md_lists_every_setting_with_its_shipped_value() -> None:
    rows = dict(TABLE_ROW.findall((PROJECT_ROOT / "docs" / "rules.md").read_text("utf-8")))
    assert set(rows) == set(SHIPPED), "docs/rules.md's settings table and data/rules.toml differ"
    wrong = {k: (rows[k], SHIPPED[k]) for k in rows if not _same(rows[k], SHIPPED[k])}
    assert wrong == {}, f"docs/rules.md (doc, file): {wrong}"


def _quotes() -> list[tuple[str, str, str]]:
    found = []
    for path in DOCS:
        for name, value in QUOTED.findall(path.read_text(encoding="utf-8")):
            if name in SHIPPED:
                found.append((path.name, name, value))
            elif "." not in name and LEAVES[name] == 1:
                full = next(k for k in SHIPPED if k.rsplit(".", 1)[-1] == name)
                found.append((path.name, full, value))
    return found


def test_docs_quote_the_thresholds_that_run() -> None:
    quotes = _quotes()
    # The margins of a sign of life are quoted outside rules.md: they must be found, or the
    # pattern has stopped matching the docs and this test checks nothing.
    assert {("ingest-api.md", "plug_no_change.power_margin_w")} <= {q[:2] for q in quotes}
    wrong = [q for q in quotes if not _same(q[2], SHIPPED[q[1]])]
    assert wrong == [], f"docs quote values data/rules.toml does not have: {wrong}"


@pytest.mark.parametrize(
    ("text", "ok"),
    [("`plug_no_change.power_margin_w` (5 W)", True), ("`power_margin_w` (10 W)", False)],
)
def test_a_wrong_quote_is_caught(text: str, ok: bool) -> None:
    ((name, value),) = QUOTED.findall(text)
    full = name if name in SHIPPED else f"plug_no_change.{name}"
    assert _same(value, SHIPPED[full]) is ok
