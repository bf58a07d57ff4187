"""Region containment from administrative codes agrees with the parent chains in regions.csv."""

from __future__ import annotations

import csv

import pytest

from dashboard.auth.regions import area_prefix, region_in_area
from dashboard.settings import DATA_DIR


def _regions() -> dict[str, str | None]:
    with (DATA_DIR / "regions.csv").open(encoding="utf-8") as fh:
        return {r["code"]: r["parent_code"] or None for r in csv.DictReader(fh)}


def _ancestors(code: str, parents: dict[str, str | None]) -> set[str]:
    out = {code}
    while parents.get(code):
        code = parents[code]
        out.add(code)
    return out


def test_prefix_rule_matches_every_parent_chain() -> None:
    parents = _regions()
    assert len(parents) > 400
    for region in parents:
        ancestors = _ancestors(region, parents)
        for area in parents:
            assert region_in_area(region, area) == (area in ancestors), (region, area)


@pytest.mark.parametrize(
    ("area", "prefix"),
    [
        ("1100000000", "11"),  # 서울특별시
        ("4128000000", "4128"),  # 고양시, a 시 with 일반구
        ("4128500000", "41285"),  # 일산동구
        ("1121500000", "11215"),  # 광진구
        ("3023000000", "3023"),  # 대덕구
        ("4128554000", "41285540"),  # a dong
    ],
)
def test_area_prefix(area: str, prefix: str) -> None:
    assert area_prefix(area) == prefix


def test_malformed_codes_are_outside() -> None:
    assert not region_in_area("41285", "4128000000")
    assert not region_in_area("", "4128000000")
    with pytest.raises(ValueError):
        area_prefix("4128")
