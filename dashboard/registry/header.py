"""Finding a roster's header as cities keep it: a title above, spaces in the names, a group cell.

A roster kept by hand in Excel rarely starts with the bare header row. It has a title merged
across the top (``2025년 일산동구 돌봄 대상자 명단``), a date line, names written with spaces
or notes (``대상자 번호``, ``연락처(휴대폰)``) and a group cell over two columns (``보호자`` over
``성명 | 연락처``). The reader (:func:`dashboard.ingest.files.read_table`) gives the first row as
the header and the rest numbered as the spreadsheet shows them; this module finds the real
header among the first rows, joins a second header row below a group cell, and matches names
without spaces or bracketed notes. Row numbers stay the spreadsheet's. Merged cells are read
as their top-left value with blanks elsewhere (openpyxl), which is what the join relies on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

SEARCH_ROWS = 10  # title and note rows tolerated above the header
MIN_KNOWN = 3  # a header row names at least this many known columns


@dataclass(frozen=True)
class Header:
    names: list[str]  # as written (a joined group: "보호자 연락처"), one per column
    row: int  # the spreadsheet row of the (first) header row
    rows: list[tuple[int, list[Any]]]  # the data rows below the header


def normalise(name: Any) -> str:
    """A header cell for matching: lower case, no spaces, no bracketed note."""
    text = "" if name is None else str(name)
    text = re.sub(r"\(.*?\)|\[.*?\]|（.*?）", "", text)
    return re.sub(r"\s+", "", text).lower()


def _text(value: Any) -> str:
    return "" if value is None else str(value).strip()


def find_header(header: list[str], table: list[tuple[int, list[Any]]], known: set[str]) -> Header:
    """The header row (the first of the first rows naming ``MIN_KNOWN`` known columns, after
    normalising) with a second header row joined to it, and the rows below. Without such a row,
    row 1 as it is: the column checks then say what is missing."""
    candidates = [(1, list(header)), *table[: SEARCH_ROWS - 1]]
    for index, (number, cells) in enumerate(candidates):
        if sum(normalise(c) in known for c in cells) < MIN_KNOWN:
            continue
        top = [_text(c) for c in cells]
        rest = table[index:]  # candidate k is the row above table[k]
        if rest and rest[0][0] == number + 1:
            joined = _join(top, rest[0][1], known)
            if joined is not None:
                return Header(_trim(joined), number, rest[1:])
        return Header(_trim(top), number, rest)
    return Header(list(header), 1, table)


def _join(top: list[str], cells: list[Any], known: set[str]) -> list[str] | None:
    """The two rows as one, when ``cells`` is a second header row: only text, each name known
    on its own or after its group (the nearest name to its left above it, for a merged group
    cell). None when it is not (a data row, whose values are no column names)."""
    bottom = [_text(c) for c in cells]
    if not any(bottom) or any(c is not None and not isinstance(c, str) for c in cells):
        return None
    width = max(len(top), len(bottom))
    top, bottom = top + [""] * (width - len(top)), bottom + [""] * (width - len(bottom))
    out, group = [], ""
    for above, below in zip(top, bottom, strict=True):
        group = above or group
        if not below:
            out.append(above)
        elif normalise(group + below) in known:
            out.append(f"{group} {below}")
        elif normalise(below) in known:
            out.append(below)
        else:
            return None
    return out


def _trim(names: list[str]) -> list[str]:
    names = list(names)
    while names and names[-1] == "":
        names.pop()
    return names
