"""Files the app hands out (CSV downloads): every one goes through here.

A spreadsheet treats a cell that begins with ``=``, ``+``, ``-``, ``@`` (or a tab or carriage
return, which some programs strip first) as a formula, so a vendor's ``=cmd|' /C calc'!A0``
in an import problem report would run on the lead's computer. Following the OWASP CSV-injection
guidance, such text cells get a leading apostrophe, which spreadsheets show as plain text. Real
numbers stay numbers (a negative number is data, not a formula).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# C0 control characters a worksheet cannot hold (XML 1.0; tab, line feed and carriage return
# are allowed). openpyxl refuses a whole workbook for one of them.
_NOT_IN_XLSX = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def neutralise_cell(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_TRIGGERS):
        return "'" + value
    return value


def spreadsheet_safe(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells and column names cannot start a formula."""
    safe = frame.rename(columns=lambda c: neutralise_cell(c) if isinstance(c, str) else c)
    for column in range(safe.shape[1]):
        values = safe.iloc[:, column]
        if not pd.api.types.is_numeric_dtype(values) and not _is_datetime(values):
            safe.isetitem(column, values.map(neutralise_cell))
    return safe


def to_csv_bytes(frame: pd.DataFrame) -> bytes:
    """Formula-safe CSV with a UTF-8 BOM: without it Excel on Korean Windows reads CP949.

    Rows end in CRLF (RFC 4180), which also makes the writer quote a lone carriage return in a
    cell instead of letting it split the row.
    """
    return spreadsheet_safe(frame).to_csv(index=False, lineterminator="\r\n").encode("utf-8-sig")


UTF8_BOM = b"\xef\xbb\xbf"


def csv_file_bytes(raw: bytes) -> bytes:
    """A stored UTF-8 CSV file (a sample, a template) as the app hands it out: with the BOM
    Excel on Korean Windows needs to read it as UTF-8, added once."""
    return raw if raw.startswith(UTF8_BOM) else UTF8_BOM + raw


def _is_datetime(values: pd.Series) -> bool:
    return pd.api.types.is_datetime64_any_dtype(values) or isinstance(values.dtype, pd.PeriodDtype)


XLSX_MIME = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def to_xlsx_bytes(frame: pd.DataFrame, sheet: str = "data") -> bytes:
    """The same formula-safe table as an Excel workbook (one sheet; text cells neutralised as in
    the CSV, so an imported file's text cannot become a formula on the lead's computer)."""
    import io

    buffer = io.BytesIO()
    # Control characters (a vertical tab pasted into the finance system's cell) are invisible
    # and cannot be written: left out before neutralising, so what they hid is checked too.
    safe = spreadsheet_safe(_without_control_characters(frame))
    for column in safe.columns:  # Excel has no time zones: write Seoul wall-clock times
        values = safe[column]
        if isinstance(values.dtype, pd.DatetimeTZDtype):
            safe[column] = values.dt.tz_convert("Asia/Seoul").dt.tz_localize(None)
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        safe.to_excel(writer, sheet_name=sheet[:31], index=False)
    return buffer.getvalue()


def _strip_controls(value: Any) -> Any:
    return _NOT_IN_XLSX.sub("", value) if isinstance(value, str) else value


def _without_control_characters(frame: pd.DataFrame) -> pd.DataFrame:
    clean = frame.rename(columns=_strip_controls)
    for column in range(clean.shape[1]):
        values = clean.iloc[:, column]
        if not pd.api.types.is_numeric_dtype(values) and not _is_datetime(values):
            clean.isetitem(column, values.map(_strip_controls))
    return clean
