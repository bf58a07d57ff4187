"""Possible duplicates: one senior enrolled twice, under two 대상자번호.

A city enrolls people from several vendors' spreadsheets and the dong welfare centers' own
lists; the same person may come in twice (once by the smart-plug program, once by the AI-call
program, or again after a typo in the 대상자번호) and become two people with two alert
histories. Two people are *suspected* to be one when they live in the same city, have the same
normalised name and birth year, and share at least one more key: phone, address, guardian
phone, or a home within ``HOME_RADIUS_M``.

Pure functions over :class:`Identity` (personal data, normalised): the import and the person
page read the rows (``queries.duplicates``) and show only the other person's 대상자번호 and the
names of the keys that matched, never a value (docs/roster.md).
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from dashboard.rules.geo import haversine_m

HOME_RADIUS_M = 30.0  # two homes this close are one (GPS and geocoding scatter a few metres)
# The second keys, in the order they are named.
KEYS = ("phone", "address", "guardian_phone", "home")
# 특별시, 광역시 and 특별자치시 have 시도 codes below 40 (11 Seoul … 36 Sejong): one city each.
_METROPOLITAN_BELOW = 40


@dataclass(frozen=True)
class Identity:
    """What the check compares, normalised. ``who`` tells the sides apart (the caller's key:
    a stored person's id, a file row); personal data, never shown or logged."""

    who: Any
    city: str
    name: str
    birth_year: int
    phone: str | None
    address: str | None
    guardian_phone: str | None
    home: tuple[float, float] | None

    @property
    def group(self) -> tuple[str, str, int]:
        return (self.city, self.name, self.birth_year)


@lru_cache(maxsize=4096)  # a few hundred dong codes, read once per stored person
def city_prefix(dong_code: str) -> str:
    """The city a dong lies in, as a prefix of its 10-digit code: a 특별시·광역시·특별자치시
    is one city (``11`` Seoul, ``30`` Daejeon); in a province it is the 시 or 군, the first four
    digits (``4128`` 고양시 with its 일반구 덕양구, 일산동구, 일산서구)."""
    if not re.fullmatch(r"\d{10}", dong_code or ""):
        raise ValueError(f"not a 10-digit administrative code: {dong_code!r}")
    return dong_code[:2] if int(dong_code[:2]) < _METROPOLITAN_BELOW else dong_code[:4]


def _text(value: str | None) -> str:
    # NFKC: full-width letters and digits, and Hangul typed as separate jamo, become one form.
    return unicodedata.normalize("NFKC", value or "").casefold()


def name_key(name: str | None) -> str:
    """A name without any whitespace: "홍 길동" and "홍길동" are one name."""
    return "".join(_text(name).split())  # split(): every Unicode space, U+3000 too


def phone_key(phone: str | None) -> str | None:
    """A phone as its digits with the leading zero: 010-1234-5678, 010 1234 5678, +82 10…,
    and 1012345678 (the zero Excel dropped) are one number. None without a plausible number."""
    text = _text(phone).strip()
    if text.startswith("+82"):
        text = "0" + text[3:].lstrip(" -.()0")
    digits = re.sub(r"\D", "", text)
    if digits and not digits.startswith("0"):
        digits = "0" + digits
    return digits if len(digits) >= 9 else None


def address_key(address: str | None) -> str | None:
    """An address without its spacing, commas and parenthesised reference part (참고항목,
    such as "(사직동)" or "(사직동, 시험아파트)" after a road-name address, which one list
    writes and another does not): "종로구 시험로 1, 101동" and "종로구시험로 1 101동 (사직동)"
    are one address."""
    text = re.sub(r"\([^)]*\)", "", _text(address))
    text = re.sub(r"[\s,]+", "", text)
    return text or None


def identity(
    who: Any,
    dong_code: str,
    name: str | None,
    birth_year: int,
    *,
    phone: str | None = None,
    address: str | None = None,
    guardian_phone: str | None = None,
    home_lat: float | None = None,
    home_lon: float | None = None,
) -> Identity:
    home = None if home_lat is None or home_lon is None else (float(home_lat), float(home_lon))
    return Identity(
        who=who,
        city=city_prefix(dong_code),
        name=name_key(name),
        birth_year=int(birth_year),
        phone=phone_key(phone),
        address=address_key(address),
        guardian_phone=phone_key(guardian_phone),
        home=home,
    )


def matching_keys(a: Identity, b: Identity) -> tuple[str, ...]:
    """The second keys ``a`` and ``b`` share (in ``KEYS`` order); empty: not suspected. The
    caller has checked the first: same city, name and birth year."""
    found = []
    for key in ("phone", "address", "guardian_phone"):
        mine, theirs = getattr(a, key), getattr(b, key)
        if mine is not None and mine == theirs:
            found.append(key)
    if a.home is not None and b.home is not None and haversine_m(*a.home, *b.home) <= HOME_RADIUS_M:
        found.append("home")
    return tuple(found)


@dataclass(frozen=True)
class Suspected:
    first: Identity
    second: Identity
    keys: tuple[str, ...]  # the second keys that matched, never their values


def suspected_pairs(identities: Iterable[Identity]) -> list[Suspected]:
    """Every suspected pair among ``identities`` (in the order given: ``first`` came first),
    compared only within a (city, name, birth year) group, so the cost is the number of
    people plus the few same-name pairs."""
    groups: dict[tuple[str, str, int], list[Identity]] = defaultdict(list)
    for person in identities:
        if person.name:  # an empty name is no name: it matches nobody
            groups[person.group].append(person)
    found = []
    for members in groups.values():
        for i, first in enumerate(members):
            for second in members[i + 1 :]:
                keys = matching_keys(first, second)
                if keys:
                    found.append(Suspected(first, second, keys))
    return found


def pair(a: int, b: int) -> tuple[int, int]:
    """A pair of people's ids as ``different_people`` stores it: the lower id first."""
    return (a, b) if a < b else (b, a)
