"""Import of vendor exports (CSV or Excel .xlsx): all or nothing, with a per-row error report.

The first row names the columns: ``event_id, device_id, ts, type`` and the type fields
(``watts``, ``lux``, ``battery_pct``, ``direction``, ``duration_s``, ``outcome``, ``note``,
``kind``, ``lat``, ``lon``, ``accuracy_m``). An empty cell means "not given". Every row goes
through the same validation as the HTTP API; if any row is wrong nothing is stored and the
report lists each problem by spreadsheet row and column. Rows already stored (same vendor and
``event_id``) count as duplicates, so importing the same file twice is harmless.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection

from dashboard.ingest.apikeys import check_vendor
from dashboard.ingest.core import check_events, ingest_events
from dashboard.ingest.events import ALL_FIELDS, COMMON_FIELDS, NUMBER_FIELDS, number_from_text

MAX_ROWS = 100_000
ID_COLUMNS = ("event_id", "device_id")
TEXT_ENCODINGS = ("utf-8-sig", "cp949")  # Korean Excel saves CSV as CP949 unless told otherwise


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row: 1 is the header, 0 the file as a whole
    column: str | None
    reason: str

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.reason}"


@dataclass
class ImportReport:
    filename: str
    rows: int = 0
    accepted: int = 0
    duplicates: int = 0
    errors: list[RowError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.ok:
            return (
                f"{self.filename}: {self.rows} row(s); {self.accepted} stored, "
                f"{self.duplicates} already stored"
            )
        lines = [f"{self.filename}: {len(self.errors)} problem(s); nothing was stored"]
        lines += [f"  {error}" for error in self.errors]
        return "\n".join(lines)


class ImportConflict(RuntimeError):
    """The database changed between checking and storing; the caller must roll back."""


def import_file(
    conn: Connection,
    source: str | Path | bytes,
    filename: str,
    vendor: str,
    now: datetime,
) -> ImportReport:
    """Check every row, then store all of them or none (on the caller's transaction)."""
    report = ImportReport(filename)
    try:
        check_vendor(vendor)
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        table = _read_table(data, filename)
    except (ValueError, OSError) as exc:
        report.errors.append(RowError(0, None, str(exc)))
        return report
    header, rows = table
    report.errors += _check_header(header)
    if report.errors:
        return report
    events, row_numbers = [], []
    for number, cells in rows:
        if all(_blank(c) for c in cells):
            continue
        if any(not _blank(c) for c in cells[len(header) :]):
            report.errors.append(RowError(number, None, "a value in a column without a header"))
        events.append(_event_from(header, cells))
        row_numbers.append(number)
    report.rows = len(events)
    if not events:
        report.errors.append(RowError(0, None, "no data rows below the header"))
        return report
    if len(events) > MAX_ROWS:
        report.errors.append(RowError(0, None, f"{len(events)} rows; at most {MAX_ROWS} per file"))
        return report

    checked = check_events(conn, vendor, events, now=now)
    report.errors += [
        RowError(row_numbers[r.index], r.field, r.message) for r in checked.rejections
    ]
    report.errors.sort(key=lambda e: e.row)
    if report.errors:
        return report
    result = ingest_events(conn, vendor, events, now=now)
    if result.rejected:
        raise ImportConflict(f"{filename}: rows changed validity while importing; nothing stored")
    report.accepted, report.duplicates = result.accepted, result.duplicates
    return report


def _read_table(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    suffix = Path(filename).suffix.lower()
    if suffix == ".csv":
        return _split(_csv_rows(data))
    if suffix == ".xlsx":
        return _split(_xlsx_rows(data))
    raise ValueError(f"unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx")


def _csv_rows(data: bytes) -> list[list[Any]]:
    for encoding in TEXT_ENCODINGS:
        try:
            text = data.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:
        raise ValueError("the CSV file is neither UTF-8 nor CP949 text")
    return list(csv.reader(io.StringIO(text, newline="")))


def _xlsx_rows(data: bytes) -> list[list[Any]]:
    from openpyxl import load_workbook

    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises several kinds for a damaged or foreign file
        raise ValueError(f"not a readable .xlsx workbook ({exc.__class__.__name__})") from None
    try:
        sheet = workbook.worksheets[0]
        return [list(row) for row in sheet.iter_rows(values_only=True)]
    finally:
        workbook.close()


def _split(rows: list[list[Any]]) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    if not rows:
        raise ValueError("the file is empty")
    header = [str(c).strip().lower() if c is not None else "" for c in rows[0]]
    while header and header[-1] == "":  # trailing empty columns from spreadsheets
        header.pop()
    return header, [(i + 2, list(r)) for i, r in enumerate(rows[1:])]


def _check_header(header: list[str]) -> list[RowError]:
    errors = []
    seen: set[str] = set()
    for name in header:
        if name == "":
            errors.append(RowError(1, None, "a column has no name"))
        elif name not in ALL_FIELDS and name != "type":
            known = ", ".join(ALL_FIELDS)
            errors.append(RowError(1, name, f"unknown column (known columns: {known})"))
        elif name in seen:
            errors.append(RowError(1, name, "column appears twice"))
        seen.add(name)
    errors += [RowError(1, c, "required column is missing") for c in COMMON_FIELDS if c not in seen]
    return errors


def _event_from(header: list[str], cells: list[Any]) -> dict[str, Any]:
    event: dict[str, Any] = {}
    for name, value in zip(header, cells, strict=False):
        if _blank(value):
            continue
        if isinstance(value, str):
            value = value.strip()
            if name in NUMBER_FIELDS:  # the contract wants numbers; a CSV cell is always text
                value = number_from_text(value)
        elif name in ID_COLUMNS and isinstance(value, int | float) and not isinstance(value, bool):
            # Excel stores a numeric-looking id as a number: 12345 or 12345.0 → "12345".
            value = str(int(value)) if float(value).is_integer() else str(value)
        event[name] = value
    return event


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")
