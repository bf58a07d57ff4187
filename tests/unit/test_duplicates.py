"""Possible duplicates (one senior under two 대상자번호): what the check compares and when it
suspects a pair, on the normalised keys alone (no database)."""

from __future__ import annotations

import csv

import pytest

from dashboard.registry.duplicates import (
    HOME_RADIUS_M,
    address_key,
    city_prefix,
    identity,
    name_key,
    phone_key,
    suspected_pairs,
)
from dashboard.settings import PROJECT_ROOT

SAJIK, CHEONGUN, BAEKSEOK = "1111053000", "1111051500", "4128552000"
HOME = (37.5759, 126.9688)
# About 0.000009° of latitude per metre.
NEAR = (HOME[0] + 20 * 0.000009, HOME[1])  # 20 m north
FAR = (HOME[0] + 45 * 0.000009, HOME[1])  # 45 m north


def _person(who, dong=SAJIK, name="김복순", year=1944, **keys):
    home = keys.pop("home", None)
    lat, lon = home if home else (None, None)
    return identity(who, dong, name, year, home_lat=lat, home_lon=lon, **keys)


def _keys(a, b) -> tuple[str, ...] | None:
    found = suspected_pairs([a, b])
    return found[0].keys if found else None


@pytest.mark.parametrize(
    ("mine", "theirs", "keys"),
    [
        ({"phone": "010-1234-5678"}, {"phone": "01012345678"}, ("phone",)),
        ({"phone": "010-1234-5678"}, {"phone": "1012345678"}, ("phone",)),  # Excel's lost zero
        ({"phone": "010-1234-5678"}, {"phone": "+82 10 1234 5678"}, ("phone",)),
        (
            {"address": "종로구 시험로 1, 101동"},
            {"address": "종로구시험로 1 101동 (사직동)"},
            ("address",),
        ),
        ({"guardian_phone": "02-123-4567"}, {"guardian_phone": "02 123 4567"}, ("guardian_phone",)),
        ({"home": HOME}, {"home": NEAR}, ("home",)),
        (
            {"phone": "010-1234-5678", "home": HOME},
            {"phone": "010-1234-5678", "home": HOME},
            ("phone", "home"),
        ),
    ],
    ids=["phone", "phone-no-zero", "phone-plus82", "address", "guardian", "home", "two-keys"],
)
def test_a_second_key_makes_a_suspect(mine, theirs, keys) -> None:
    assert _keys(_person(1, **mine), _person(2, name="김 복순", **theirs)) == keys


@pytest.mark.parametrize(
    ("theirs", "why"),
    [
        ({"phone": "010-9999-9999", "home": FAR}, "same name and birth year only"),
        ({"year": 1945, "phone": "010-1234-5678"}, "another birth year"),
        ({"name": "김복희", "phone": "010-1234-5678"}, "another name"),
        ({"dong": BAEKSEOK, "phone": "010-1234-5678"}, "another city"),
        ({"phone": None, "address": None}, "nothing on file to compare"),
    ],
    ids=["name-and-year-only", "birth-year", "name", "city", "blanks"],
)
def test_near_misses_are_not_suspects(theirs, why) -> None:
    mine = _person(1, phone="010-1234-5678", home=HOME)
    assert _keys(mine, _person(2, **theirs)) is None, why


def test_a_home_just_outside_the_radius_is_another_home() -> None:
    assert HOME_RADIUS_M == 30.0
    assert _keys(_person(1, home=HOME), _person(2, home=FAR)) is None
    # A blank phone is no phone: two people without one do not share it.
    assert _keys(_person(1, phone=""), _person(2, phone=" ")) is None


def test_another_dong_of_the_same_city_matches() -> None:
    """Seoul is one city (a 특별시); a re-enrolment after a move to another 구 is the case."""
    assert _keys(_person(1, phone="010-1234-5678"), _person(2, dong=CHEONGUN, phone="01012345678"))


def test_normalisation() -> None:
    assert name_key(" 홍 길동\u3000") == name_key("홍길동") == "홍길동"
    assert name_key("ＫＩＭ Bok") == "kimbok"  # full-width and case
    assert phone_key("010-1234-5678") == phone_key("010.1234.5678") == "01012345678"
    assert phone_key("+82-2-123-4567") == phone_key("21234567") == "021234567"
    assert phone_key("123") is None and phone_key(None) is None
    assert address_key("서울 종로구  시험로 12-3") == "서울종로구시험로12-3"
    assert address_key("시험로 12-3") != address_key("시험로 1-23")  # hyphens are kept
    assert address_key(" (사직동) ") is None


def test_city_prefix_on_every_dong_of_the_catalog() -> None:
    """Seoul and Daejeon are one city each; 고양시 keeps its three 일반구 together."""
    with (PROJECT_ROOT / "data" / "regions.csv").open(encoding="utf-8") as fh:
        dongs = [r["code"] for r in csv.DictReader(fh) if r["level"] == "dong"]
    cities = {city_prefix(code) for code in dongs}
    assert cities == {"11", "30", "4128"}
    assert city_prefix("4128155000") == city_prefix("4128752000") == "4128"  # 덕양구, 일산서구
    with pytest.raises(ValueError):
        city_prefix("4128")
