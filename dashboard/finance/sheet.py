"""Reading a finance-system export: title rows, a one- or two-row Korean header, units, △.

Files are read by the importers' one bounded reader (:func:`dashboard.ingest.files.read_table`);
this module only interprets what it returns. An e-호조 style export looks like::

    2024년 스마트 돌봄 세출예산 집행현황                         (title rows: skipped)
    (단위: 천원)                                                 (the unit, anywhere above)
    회계연도 | 월 | 자치구 | 단위사업 | 재원 | 예산액 | 확보액 | 집행액 |       (header)
             |    |        |          |      |        |        |  당월  | 누계  (optional 2nd row)
    2024     | 3  | 강남구 | 스마트…  | 시비 | 1,200  | 1,200  |  △50   | 310

A merged cell is read as its top-left value with blanks to its right, so a blank top cell above
a sub-header takes the group name on its left ("집행액" + "누계" → "집행액누계").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

from dashboard.ingest.refusal import Refused

HEADER_SEARCH_ROWS = 10  # title rows tolerated above the header
UNITS = {"원": 1, "천원": 1_000, "백만원": 1_000_000}
_UNIT_WORDS = "|".join(sorted(UNITS, key=len, reverse=True))
# "(단위: 천원)", "[단위 : 백만원]", "단위:천원", and "예산액(천원)" on a column
_UNIT_NOTE = re.compile(rf"[\(\[]?\s*단위\s*[:：]?\s*({_UNIT_WORDS})\s*(?:[,，][^\)\]]*)?[\)\]]?")
_COLUMN_UNIT = re.compile(rf"[\(\[]\s*({_UNIT_WORDS}|포인트|p|점)\s*[\)\]]", re.IGNORECASE)
_NEGATIVE = ("△", "▲", "-", "−", "－")


@dataclass(frozen=True)
class Sheet:
    """The header (normalised names, one per column), its spreadsheet row, the data rows."""

    names: list[str]  # normalised: no spaces, brackets or units ("집행액누계")
    written: list[str]  # as written (joined over two rows), for error messages
    header_row: int
    rows: list[tuple[int, list[Any]]]
    unit: str | None  # the unit stated above or in the header ("천원"), if any
    column_units: dict[int, str]  # a unit written on one column: "예산액(백만원)"
    below: list[str] | None = None  # a second header row's own names ("단가" under "산출근거")


def normalise(name: str) -> str:
    """A header cell for matching: no unit note, spaces, brackets or separators; lower case."""
    name = _UNIT_NOTE.sub("", name)
    name = _COLUMN_UNIT.sub("", name)
    return re.sub(r"[\s\(\)\[\]·ㆍ/_\-.:,]", "", name).lower()


def text_of(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def find_unit(text: str) -> str | None:
    match = _UNIT_NOTE.search(text)
    return match.group(1) if match else None


def read_sheet(
    header: list[str], rows: list[tuple[int, list[Any]]], known: set[str], required: int = 3
) -> Sheet:
    """Find the header among the first rows (the row with at least ``required`` known column
    names), join a second header row when the next row is all text, and collect the unit."""
    table = [(1, list(header)), *rows]
    unit: str | None = None
    for index, (number, cells) in enumerate(table[:HEADER_SEARCH_ROWS]):
        names = [normalise(text_of(c)) for c in cells]
        for cell in cells:
            unit = unit or find_unit(text_of(cell))
        if sum(n in known for n in names) < required:
            continue
        written = [text_of(c) for c in cells]
        rest = table[index + 1 :]
        below = None
        if rest and _is_sub_header(rest[0][1], written, known):
            below = [normalise(text_of(c)) for c in rest[0][1]]
            written = _join_two_rows(written, [text_of(c) for c in rest[0][1]])
            for cell in rest[0][1]:
                unit = unit or find_unit(text_of(cell))
            rest = rest[1:]
        while written and written[-1] == "":
            written.pop()
        column_units = {}
        for i, w in enumerate(written):
            match = _COLUMN_UNIT.search(w)
            if match and match.group(1) in UNITS:
                column_units[i] = match.group(1)
        return Sheet(
            names=[normalise(w) for w in written],
            written=written,
            header_row=number,
            rows=rest,
            unit=unit,
            column_units=column_units,
            below=below,
        )
    raise HeaderNotFound(
        f"no header row found in the first {HEADER_SEARCH_ROWS} rows (a row naming at least "
        f"{required} of the known columns)",
        "no_header",
        rows=HEADER_SEARCH_ROWS,
        n=required,
    )


class HeaderNotFound(Refused):
    pass


def _is_sub_header(cells: list[Any], top: list[str], known: set[str]) -> bool:
    """A second header row: no amounts, and at least one of its names is a known column on
    its own ("단가") or joined to the group above it ("집행액" + "누계"). Without the second
    test, a first data row of text and dates (a participant list) would be taken for one."""
    values = [c for c in cells if text_of(c) != ""]
    if not values:
        return False
    bottom = [text_of(c) for c in cells]
    joined = _join_two_rows(top, bottom)
    if not any(
        b and (normalise(b) in known or normalise(j) in known)
        for b, j in zip(bottom, joined, strict=False)
    ):
        return False
    for cell in values:
        try:
            parse_amount(cell)
            return False
        except ValueError:
            continue
    return True


def _join_two_rows(top: list[str], bottom: list[str]) -> list[str]:
    width = max(len(top), len(bottom))
    top = top + [""] * (width - len(top))
    bottom = bottom + [""] * (width - len(bottom))
    joined, group = [], ""
    for t, b in zip(top, bottom, strict=True):
        if t:
            group = t
        if b and not t:
            joined.append(f"{group}{b}")  # under a merged group cell
        elif b:
            joined.append(f"{t}{b}")
        else:
            joined.append(t)
    return joined


def parse_amount(value: Any, places: int = 3) -> Decimal:
    """An amount as finance exports print it: ``1,234``, ``△1,234`` or ``▲1,234`` (negative),
    ``-`` alone (zero), an Excel number. At most ``places`` decimals."""
    if isinstance(value, bool):
        raise Refused(f"not an amount (got {value!r})", "not_an_amount", value=value)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise Refused(f"not an amount (got {value!r})", "not_an_amount", value=value)
        number = Decimal(repr(value))
    else:
        raw = re.sub(r"\s", "", str(value))
        if raw in ("-", "−", "－", "–"):
            return Decimal(0)
        sign = 1
        if raw[:1] in _NEGATIVE:
            sign, raw = -1, raw[1:]
        if raw.startswith("(") and raw.endswith(")"):  # accounting style (1,234)
            sign, raw = -sign, raw[1:-1]
        if not re.fullmatch(r"\d{1,3}(,\d{3})*(\.\d+)?|\d+(\.\d+)?", raw):
            raise Refused(
                f"not an amount (got {value!r}); write it like 1,234 or △1,234",
                "not_an_amount_hint",
                value=value,
            )
        try:
            number = Decimal(raw.replace(",", "")) * sign
        except InvalidOperation:
            raise Refused(f"not an amount (got {value!r})", "not_an_amount", value=value) from None
    if -number.as_tuple().exponent > places and number != number.quantize(
        Decimal(1).scaleb(-places)
    ):
        raise Refused(
            f"{value!r} has more than {places} decimals",
            "too_many_decimals",
            value=value,
            places=places,
        )
    return number


def blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")
