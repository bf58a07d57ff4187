"""The roster files' columns: Korean header, English key, whether required, and the cell parser.

A parser turns one cell (CSV text, or an Excel number, date or text) into the stored value or
raises ``ValueError`` with the reason the user sees. Checks that need the database (does the
dong, program, person or vendor exist) are in :mod:`dashboard.registry.roster`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from dashboard.ingest.apikeys import check_vendor
from dashboard.ingest.refusal import Refused
from dashboard.plain_text import has_control_codes

MIN_BIRTH_YEAR = 1900
# No care program of these records predates it (the event contract's floor too): an earlier
# enrolment or installation day is a typo, and year 1 is not even a UTC moment in Seoul.
MIN_DAY = date(2000, 1, 1)
NO_CHANGE_HOURS = (24, 50)  # the per-person no-change period Seoul's districts use
# A person's zone and home take the bounds the person page and set_geofence/set_home_position
# hold them to (dashboard.enrollment.people, equal by a test; not imported, as enrollment
# imports this module): a wider roster bound stored radii the 배회 안전 구역 form crashed on.
SAFE_ZONE_M = (50, 5_000)
HOME_LAT = (33.0, 38.7)
HOME_LON = (124.5, 132.0)
# Korea's bounding box, as data/regions.csv is checked (catalog.read_regions).
LAT_RANGE = (33.0, 39.0)
LON_RANGE = (124.0, 132.0)


@dataclass(frozen=True)
class Column:
    key: str  # the English alias, and the name used in previews and errors
    ko: str  # the header of the templates
    required: bool
    parse: Callable[[Any, date], Any]  # (cell, today in Seoul) -> value, or ValueError


def text(limit: int) -> Callable[[Any], str]:
    def parse(value: Any) -> str:
        out = _as_text(value)
        if len(out) > limit:
            raise Refused(f"longer than {limit} characters", "too_long", max=limit)
        if has_control_codes(out):
            raise Refused("contains control codes (such as NUL)", "control_codes")
        return out

    return parse


def identifier(limit: int) -> Callable[[Any], str]:
    """An id such as 대상자번호 or 기기번호; Excel may hold ``12345`` as the number 12345.0."""

    def parse(value: Any) -> str:
        out = _as_text(value)
        if len(out) > limit:
            raise Refused(f"longer than {limit} characters", "too_long", max=limit)
        if any(c.isspace() for c in out):
            raise Refused("must not contain spaces", "no_spaces")
        return out

    return parse


# The ids the people and devices pages open by link (``?person=``, ``?device=``) and
# register_device accepts: ASCII letters, digits and a few separators, so every stored row can
# be opened (an id the pages refuse would be a person or device nobody can reach).
REF_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,39}")
UID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,59}")


def linkable(limit: int, pattern: re.Pattern[str], allowed: str) -> Callable[[Any], str]:
    """An identifier that must also match ``pattern`` (``allowed`` says which characters)."""
    check = identifier(limit)

    def parse(value: Any) -> str:
        out = check(value)
        if not pattern.fullmatch(out):
            raise Refused(
                f"only letters, digits and {allowed}, starting with a letter or digit "
                f"(got {out!r})",
                "id_characters",
                allowed=allowed,
                value=out,
            )
        return out

    return parse


def whole_number(lo: int, hi: int) -> Callable[[Any], int]:
    def parse(value: Any) -> int:
        number = _as_number(value)
        if not float(number).is_integer():
            raise Refused(f"must be a whole number (got {value!r})", "not_whole", value=value)
        if not lo <= number <= hi:
            raise Refused(
                f"must be between {lo:,} and {hi:,} (got {int(number):,})",
                "out_of_range",
                low=f"{lo:,}",
                high=f"{hi:,}",
                value=f"{int(number):,}",
            )
        return int(number)

    return parse


def coordinate(lo: float, hi: float) -> Callable[[Any], float]:
    def parse(value: Any) -> float:
        number = float(_as_number(value))
        if not lo <= number <= hi:
            # No "got": a home's coordinates are personal data, and errors are printed.
            raise Refused(
                f"must be between {lo} and {hi} (inside Korea)", "outside_korea", low=lo, high=hi
            )
        return number

    return parse


def birth_year(value: Any, today: date) -> int:
    return whole_number(MIN_BIRTH_YEAR, today.year)(value)


_SEXES = {
    "M": "M",
    "F": "F",
    "남": "M",
    "여": "F",
    "남자": "M",
    "여자": "F",
    "남성": "M",
    "여성": "F",
}


def sex(value: Any) -> str:
    raw = _as_text(value).upper()
    known = _SEXES
    if raw not in known:
        raise Refused(f"must be M or F (남 or 여); got {raw!r}", "bad_sex", value=raw)
    return known[raw]


_MOBILE = re.compile(r"^01[016789]\d{7,8}$")
_SEOUL = re.compile(r"^02\d{7,8}$")
_AREA = re.compile(r"^0(?:[3-6][1-5]|70)\d{7,8}$")  # regional codes and 070 internet phones


def phone(value: Any) -> str:
    """A Korean phone number, stored as 010-1234-5678, 02-123-4567, 031-123-4567 and so on.

    Accepts digits with or without dashes, spaces, dots or parentheses, a +82 prefix, and an
    Excel number that lost its leading zero (1012345678), also as the text of a CSV that Excel
    saved after reading the column as numbers.
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        digits = str(int(value)) if float(value).is_integer() else ""
        digits = "0" + digits if digits and not digits.startswith("0") else digits
    else:
        raw = _as_text(value)
        digits = re.sub(r"[\s\-.()]", "", raw)
        if digits.startswith("+82"):
            digits = "0" + digits[3:].lstrip("0")
        elif raw.isdigit() and raw.isascii() and not raw.startswith("0"):
            digits = "0" + raw  # the patterns below still decide whether it is a number
    if _MOBILE.match(digits) or _AREA.match(digits):
        head = 3
    elif _SEOUL.match(digits):
        head = 2
    else:
        # The number itself is not echoed: errors are printed and audited pages show them.
        raise Refused(
            "not a Korean phone number; write it like 010-1234-5678 or 02-123-4567", "bad_phone"
        )
    return f"{digits[:head]}-{digits[head:-4]}-{digits[-4:]}"


_DATE = re.compile(r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})\.?$")


def day(value: Any, today: date) -> date:
    """An ISO date (2024-03-01; also 2024.03.01 and 2024/03/01) or an Excel date cell; not after
    ``today`` (Seoul's calendar) nor before ``MIN_DAY``."""
    if isinstance(value, datetime):
        out = value.date()
    elif isinstance(value, date):
        out = value
    else:
        match = _DATE.match(_as_text(value))
        if not match:
            raise Refused(
                f"not a date (got {value!r}); write it as YYYY-MM-DD", "not_a_date", value=value
            )
        try:
            out = date(*(int(g) for g in match.groups()))
        except ValueError as exc:
            raise Refused(
                f"not a date (got {value!r}): {exc}", "no_such_date", value=value
            ) from None
    if out < MIN_DAY:
        raise Refused(
            f"{out.isoformat()} is before {MIN_DAY.isoformat()}; check the year",
            "date_too_early",
            date=out.isoformat(),
            min=MIN_DAY.isoformat(),
        )
    if out > today:
        raise Refused(
            f"{out.isoformat()} is in the future (today is {today.isoformat()})",
            "future_date",
            date=out.isoformat(),
            today=today.isoformat(),
        )
    return out


def dong_code(value: Any) -> str:
    raw = _as_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        raw = str(int(value))
    if not re.fullmatch(r"\d{10}", raw):
        raise Refused(
            f"must be the 10-digit 행정기관코드 of a dong (got {raw!r})", "bad_dong_code", value=raw
        )
    return raw


def code(value: Any) -> str:
    return _as_text(value).lower()


def vendor(value: Any) -> str:
    return check_vendor(_as_text(value).lower())


def _plain(parse: Callable[[Any], Any]) -> Callable[[Any, date], Any]:
    return lambda value, _today: parse(value)


PEOPLE_COLUMNS: tuple[Column, ...] = (
    Column("external_ref", "대상자번호", True, _plain(linkable(40, REF_PATTERN, ". _ -"))),
    Column("name", "성명", True, _plain(text(40))),
    Column("birth_year", "출생연도", True, birth_year),
    Column("sex", "성별", True, _plain(sex)),
    Column("phone", "연락처", False, _plain(phone)),
    Column("address", "주소", False, _plain(text(200))),
    Column("dong_code", "행정동코드", True, _plain(dong_code)),
    Column("home_lat", "위도", False, _plain(coordinate(*HOME_LAT))),
    Column("home_lon", "경도", False, _plain(coordinate(*HOME_LON))),
    Column("guardian_name", "보호자성명", False, _plain(text(40))),
    Column("guardian_phone", "보호자연락처", False, _plain(phone)),
    Column("program", "사업", True, _plain(code)),
    Column("enrolled_on", "등록일", True, day),
    Column("no_change_hours", "무변화기준시간", False, _plain(whole_number(*NO_CHANGE_HOURS))),
    Column("safe_zone_m", "안심반경", False, _plain(whole_number(*SAFE_ZONE_M))),
)

DEVICE_COLUMNS: tuple[Column, ...] = (
    Column("device_id", "기기번호", True, _plain(linkable(60, UID_PATTERN, ". _ : -"))),
    Column("vendor", "제조사", True, _plain(vendor)),
    Column("type", "기기종류", True, _plain(code)),
    Column("program", "사업", True, _plain(code)),
    Column("external_ref", "대상자번호", True, _plain(linkable(40, REF_PATTERN, ". _ -"))),
    Column("dong_code", "행정동코드", False, _plain(dong_code)),
    Column("installed_on", "설치일", True, day),
)

# Roster key → care_recipients / devices column, for the fields compared and stored as they are.
PEOPLE_FIELDS = {
    "name": "pii_name",
    "birth_year": "birth_year",
    "sex": "sex",
    "phone": "pii_phone",
    "address": "pii_address",
    "home_lat": "pii_home_lat",
    "home_lon": "pii_home_lon",
    "guardian_name": "pii_guardian_name",
    "guardian_phone": "pii_guardian_phone",
    "enrolled_on": "enrolled_on",
    "no_change_hours": "no_change_hours",
    "safe_zone_m": "safe_zone_m",
}
DEVICE_FIELDS = {"vendor": "vendor", "type": "type_code", "installed_on": "installed_on"}


def _as_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return str(int(value))  # Excel keeps 12345 as 12345.0
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value).strip()


def _as_number(value: Any) -> float:
    if isinstance(value, bool):
        raise Refused(f"must be a number (got {value!r})", "not_a_number", value=value)
    if isinstance(value, int | float):
        number = float(value)
    else:
        try:
            number = float(_as_text(value).replace(",", ""))
        except ValueError:
            raise Refused(
                f"must be a number (got {value!r})", "not_a_number", value=value
            ) from None
    if not math.isfinite(number):
        raise Refused(f"must be a number (got {value!r})", "not_a_number", value=value)
    return number
