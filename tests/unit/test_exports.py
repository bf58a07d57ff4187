"""Spreadsheet exports: text that a spreadsheet would run as a formula is neutralised."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest

from dashboard.exports import neutralise_cell, spreadsheet_safe, to_csv_bytes

PAYLOAD = "=cmd|' /C calc'!A0"


def _read(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # Excel on Korean Windows needs the BOM
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_the_classic_payload_is_exported_as_text() -> None:
    rows = _read(to_csv_bytes(pd.DataFrame({"reason": [f"unknown device {PAYLOAD!r}", PAYLOAD]})))
    assert rows == [["reason"], [f"unknown device {PAYLOAD!r}"], ["'" + PAYLOAD]]


@pytest.mark.parametrize("trigger", ["=", "+", "-", "@", "\t", "\r"])
def test_every_trigger_character_gets_an_apostrophe(trigger: str) -> None:
    cell = f"{trigger}1+2"
    assert neutralise_cell(cell) == "'" + cell
    assert _read(to_csv_bytes(pd.DataFrame({"c": [cell]})))[1] == ["'" + cell]


def test_a_cell_with_line_breaks_stays_one_cell() -> None:
    rows = _read(to_csv_bytes(pd.DataFrame({"c": ["a\rb", "c\nd"], "n": [1, 2]})))
    assert rows == [["c", "n"], ["a\rb", "1"], ["c\nd", "2"]]


def test_harmless_text_and_a_leading_space_are_kept() -> None:
    # A leading space is not a formula in Excel or LibreOffice; changing it would alter data.
    frame = pd.DataFrame({"c": [" =1+2", "plug-1", "a=b", "", None]})
    safe = spreadsheet_safe(frame)
    assert safe["c"].equals(frame["c"])


def test_numbers_stay_numbers_and_text_columns_are_neutralised() -> None:
    frame = pd.DataFrame(
        {"delta": [-3, 4], "rate": [-0.5, None], "name": ["-3", "+82 10"], "@who": ["a", "b"]}
    )
    safe = spreadsheet_safe(frame)
    assert safe["delta"].tolist() == [-3, 4] and safe["delta"].dtype == frame["delta"].dtype
    assert safe["rate"].iloc[0] == -0.5
    assert safe["name"].tolist() == ["'-3", "'+82 10"]  # text that looks numeric is still text
    assert list(safe.columns) == ["delta", "rate", "name", "'@who"]
    assert _read(to_csv_bytes(frame))[1:] == [["-3", "-0.5", "'-3", "a"], ["4", "", "'+82 10", "b"]]
    assert frame["name"].tolist() == ["-3", "+82 10"]  # the caller's frame is untouched
