"""Is a region inside an area? Decided from the national administrative codes alone.

A 10-digit 행정동 code reads ``SS GGG DDD RR``: 시도, 시군구, 읍면동, 리. A 시 with 일반구
(고양시 41280) shares its first four digits with its 구 (덕양구 41281, 일산동구 41285), and an
autonomous 구 or 군 ends its 시군구 part in 0 with no sibling in those four digits, so an area
code's significant prefix is: 2 digits for a 시도, 4 for a 시군구 ending in 0, 5 for an 일반구,
8 for a 읍면동. ``tests/unit/test_auth_regions.py`` checks this against every parent chain in
``data/regions.csv``.
"""

from __future__ import annotations

import re

_CODE = re.compile(r"^\d{10}$")


def area_prefix(area_code: str) -> str:
    """The leading digits every region inside ``area_code`` shares."""
    if not _CODE.match(area_code):
        raise ValueError(f"not a 10-digit administrative code: {area_code!r}")
    if area_code[2:] == "00000000":
        return area_code[:2]
    if area_code[5:] == "00000":
        return area_code[:4] if area_code[4] == "0" else area_code[:5]
    if area_code[8:] == "00":
        return area_code[:8]
    return area_code


def region_in_area(region_code: str | None, area_code: str) -> bool:
    """True when ``region_code`` is ``area_code`` or lies under it; malformed codes are outside."""
    if not region_code or not _CODE.match(region_code):
        return False
    return region_code.startswith(area_prefix(area_code))


def region_in_any(region_code: str | None, area_codes: tuple[str, ...] | list[str]) -> bool:
    return any(region_in_area(region_code, area) for area in area_codes)
