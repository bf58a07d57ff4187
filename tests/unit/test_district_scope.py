"""The live wall and the alert queue offer an operator only the districts of their areas, by
one function (dashboard.ui.components.districts_in_scope); a lead is offered all."""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd

from dashboard.ui.components import districts_in_scope

ROOT = Path(__file__).resolve().parents[2]
DISTRICTS = pd.DataFrame(
    {
        "id": [1, 2, 3],
        "code": ["4128500000", "4128700000", "1168000000"],  # 일산동구, 일산서구, 강남구
    }
)


def test_an_operator_is_offered_the_districts_of_their_areas() -> None:
    goyang = districts_in_scope(DISTRICTS, ("4128000000",))  # the whole city of Goyang
    assert goyang["id"].tolist() == [1, 2]
    assert districts_in_scope(DISTRICTS, ("1168000000",))["id"].tolist() == [3]
    assert districts_in_scope(DISTRICTS, ())["id"].tolist() == []


def test_a_lead_is_offered_every_district() -> None:
    assert districts_in_scope(DISTRICTS, None) is DISTRICTS


def test_the_pages_narrow_by_the_one_function() -> None:
    for page in ("live.py", "alerts.py"):
        source = (ROOT / "pages" / page).read_text(encoding="utf-8")
        called = {
            node.func.id
            for node in ast.walk(ast.parse(source))
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        }
        assert "districts_in_scope" in called and "region_in_any" not in called, page
