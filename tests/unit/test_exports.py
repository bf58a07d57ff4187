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


def _sheet(data: bytes) -> list[tuple]:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data)).active
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)  # no formula
    return [tuple(c.value for c in row) for row in sheet.iter_rows()]


def test_the_excel_file_keeps_formulas_as_text() -> None:
    from dashboard.exports import to_xlsx_bytes

    rows = _sheet(to_xlsx_bytes(pd.DataFrame({"사업": [PAYLOAD, "@SUM(1)"], "n": [-1, 2]})))
    assert rows == [("사업", "n"), ("'" + PAYLOAD, -1), ("'@SUM(1)", 2)]


def test_a_control_character_from_an_import_does_not_break_the_excel_file() -> None:
    """A vertical tab or other C0 control character (pasted from a word processor into the
    finance system's cell) cannot be stored in a worksheet: openpyxl refuses the whole file,
    which broke the budget page for everyone allowed to export. It is left out of the cell;
    tabs and line breaks, which Excel keeps, stay."""
    from dashboard.exports import to_xlsx_bytes

    frame = pd.DataFrame({"단위\x07사업": ["사업\x0b이름", "a\tb\nc", "\x01=1+2"], "n": [1, 2, 3]})
    assert _sheet(to_xlsx_bytes(frame)) == [
        ("단위사업", "n"),
        ("사업이름", 1),
        ("a\tb\nc", 2),
        ("'=1+2", 3),  # what the control character hid is neutralised like any formula
    ]


def test_the_participation_samples_open_in_korean_excel() -> None:
    """The import section's two sample files were handed out as stored, UTF-8 without a BOM:
    Excel on Korean Windows reads them as CP949 and shows the Korean headers garbled. They
    get the BOM like every other CSV the app hands out (and the importer reads them back)."""
    from dashboard.ui.participation_import import SAMPLES, sample_bytes

    for path in SAMPLES.values():
        raw = path.read_bytes()
        data = sample_bytes(path)
        assert data.startswith(b"\xef\xbb\xbf") and data.count(b"\xef\xbb\xbf") == 1
        assert data.decode("utf-8-sig") == raw.decode("utf-8-sig")
