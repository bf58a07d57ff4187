"""Import of vendor exports (CSV or Excel .xlsx): all or nothing, with a per-row error report.

The first row names the columns: ``event_id, device_id, ts, type`` and the type fields
(``watts``, ``lux``, ``battery_pct``, ``direction``, ``duration_s``, ``outcome``, ``note``,
``kind``, ``lat``, ``lon``, ``accuracy_m``). An empty cell means "not given". Every row goes
through the same validation as the HTTP API; if any row is wrong nothing is stored and the
report lists each problem by spreadsheet row and column. Rows already stored (same vendor and
``event_id``) count as duplicates, so importing the same file twice is harmless.

The work is bounded whoever sends the file (the leads' page or the CLI): at most
``MAX_FILE_BYTES``, an .xlsx archive is measured before anything is parsed, the rows stream and
stop at ``MAX_ROWS``, and reading has a wall-clock budget. Refusals say which limit and why.
"""

from __future__ import annotations

import csv
import io
import re
import time
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any
from xml.etree import ElementTree

from sqlalchemy import Connection

from dashboard.ingest.apikeys import check_vendor
from dashboard.ingest.core import UNIQUE_PER_VENDOR, check_events, ingest_events, reused_ids
from dashboard.ingest.events import (
    ALL_FIELDS,
    COMMON_FIELDS,
    NUMBER_FIELDS,
    Rejection,
    number_from_text,
)
from dashboard.ingest.refusal import Refused

MB = 1024 * 1024
MAX_ROWS = 100_000  # rows with a value, below the header
MAX_FILE_BYTES = 64 * MB  # 100,000 rows of a wide export are ~20 MB of CSV
# An .xlsx is a zip archive: its parts are bounded before any XML is parsed.
MAX_XLSX_EXPANDED = 200 * MB  # all parts unpacked; 100,000 rows × 15 inline-text cells ≈ 150 MB
MAX_XLSX_RATIO = 100  # per part over 1 MB; real sheets compress 5-20:1, zip bombs 1000:1
MAX_XLSX_MEMBERS = 1000
# Wall-clock budget for reading rows (not for checking them): a legitimate 100,000-row workbook
# reads in ~10 s on a busy 2-core server; the checks above refuse hostile files long before.
READ_BUDGET_S = 60.0
ID_COLUMNS = ("event_id", "device_id")


@dataclass(frozen=True)
class RowError:
    row: int  # spreadsheet row: 1 is the header, 0 the file as a whole
    column: str | None
    reason: str  # English: the CLI's and the JSON report's text
    # The page's translation (``import_error.<key>``); not part of the error's identity.
    key: str | None = field(default=None, compare=False)
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, row: int, column: str | None, exc: Exception) -> RowError:
        """The error for ``exc`` at ``row``/``column``, keeping a :class:`Refused`'s key."""
        if isinstance(exc, Refused):
            return cls(row, column, str(exc), exc.key, dict(exc.params))
        return cls(row, column, str(exc))

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
    naive_ts: int = 0  # rows whose ts had no zone
    timezone: str | None = None  # the vendor's zone those were read in

    @property
    def ok(self) -> bool:
        return not self.errors

    def summary(self) -> str:
        if self.ok:
            zone = (
                f"; {self.naive_ts} time(s) without a zone read in {self.timezone}"
                if self.naive_ts
                else ""
            )
            return (
                f"{self.filename}: {self.rows} row(s); {self.accepted} stored, "
                f"{self.duplicates} already stored{zone}"
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
        report.errors.append(RowError.of(0, None, exc))
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
            report.errors.append(value_without_header(number))
        events.append(_event_from(header, cells))
        row_numbers.append(number)
    report.rows = len(events)
    if not events:
        report.errors.append(no_rows())
        return report

    # A file is not received when its rows happened: a wrong clock is the row's problem, an
    # sos's too (stamped at the import, it would be alerted as a new press).
    checked = check_events(conn, vendor, events, now=now, correct_clock=False)
    report.errors += [
        RowError(row_numbers[r.index], r.field, r.message, r.key, r.params)
        for r in checked.rejections
    ]
    report.errors += [_reused_row(r, row_numbers) for r in reused_ids(conn, vendor, checked.valid)]
    report.errors.sort(key=lambda e: e.row)
    if report.errors:
        return report
    result = ingest_events(conn, vendor, events, now=now, correct_clock=False)
    if result.rejected:
        raise ImportConflict(f"{filename}: rows changed validity while importing; nothing stored")
    report.accepted, report.duplicates = result.accepted, result.duplicates
    report.naive_ts, report.timezone = result.naive_ts, result.timezone
    return report


def _reused_row(rejection: Rejection, row_numbers: list[int]) -> RowError:
    """An id this vendor used for another device or type, said with spreadsheet rows."""
    row, params = row_numbers[rejection.index], rejection.params
    if rejection.key != "event_id_reused_in_batch":
        return RowError(row, rejection.field, rejection.message, rejection.key, params)
    first = row_numbers[params["index"]]
    return RowError(
        row,
        "event_id",
        f"{params['id']!r} is already used on row {first} (device {params['device']!r}, "
        f"{params['kind']}); {UNIQUE_PER_VENDOR}",
        "event_id_reused_in_file",
        {"id": params["id"], "row": first, "device": params["device"], "kind": params["kind"]},
    )


def read_head(data: bytes, filename: str, rows: int) -> tuple[list[str], list[list[Any]]]:
    """The header and the first ``rows`` rows with a value, read and bounded like an import."""
    header, numbered = _read_table(data, filename, head=rows)
    return header, [cells for _number, cells in numbered]


def read_table(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """The header (stripped, lower-cased) and every row with a value, numbered as the
    spreadsheet shows it (the header is row 1); bounded like an import. ``ValueError`` says
    why a file cannot be read."""
    return _read_table(data, filename)


def _read_table(
    data: bytes, filename: str, head: int | None = None
) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    suffix = Path(filename).suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise Refused(
            f"unsupported file type {suffix or '(none)'!r}; use .csv or .xlsx",
            "unsupported_type",
            suffix=suffix or "(none)",
        )
    if len(data) > MAX_FILE_BYTES:
        raise Refused(
            f"the file is larger than {MAX_FILE_BYTES // MB} MB, the limit per file",
            "too_large",
            mb=MAX_FILE_BYTES // MB,
        )
    deadline = time.monotonic() + READ_BUDGET_S
    if suffix == ".csv":
        return _collect(_csv_rows(data), deadline, head)
    _check_workbook_archive(data)
    return _collect(_xlsx_rows(data, deadline), deadline, head)


def _collect(
    rows: Iterator[list[Any]], deadline: float, head: int | None
) -> tuple[list[str], list[tuple[int, list[Any]]]]:
    """The header and the numbered rows with a value, read no further than the row limit
    (or than ``head`` rows, for a preview)."""
    header_row = next(rows, None)
    if header_row is None:
        raise Refused("the file is empty", "empty_file")
    header = [str(c).strip().lower() if c is not None else "" for c in header_row]
    while header and header[-1] == "":  # trailing empty columns from spreadsheets
        header.pop()
    kept: list[tuple[int, list[Any]]] = []
    for number, cells in enumerate(rows, start=2):
        if number % 1000 == 0:
            _check_deadline(deadline)
        if all(_blank(c) for c in cells):
            continue
        if len(kept) == head:
            break
        if len(kept) == MAX_ROWS:
            raise _too_many_rows()
        kept.append((number, list(cells)))
    return header, kept


def _csv_rows(data: bytes) -> Iterator[list[str]]:
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        try:  # Korean Excel saves CSV as CP949 unless told otherwise
            text = data.decode("cp949")
        except UnicodeDecodeError:
            line = data[: exc.start].count(b"\n") + 1
            raise Refused(
                f"the CSV file is neither UTF-8 nor CP949 text (line {line} is not UTF-8);"
                " save it as CSV UTF-8",
                "not_utf8",
                line=line,
            ) from None
    if "\x00" in text:
        # PostgreSQL text cannot hold NUL, and no spreadsheet writes one: a damaged or binary
        # file (a UTF-16 export read as CP949, say). Refused here for every importer at once.
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise Refused(
            f"line {line} contains a NUL character (0x00); save the file again as CSV UTF-8",
            "csv_nul",
            line=line,
        )
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        # The csv module refuses a field over csv.field_size_limit() (128 KiB): a clear
        # refusal naming the line instead of an unhandled error.
        yield from reader
    except csv.Error as exc:
        raise Refused(
            f"line {reader.line_num} is not valid CSV ({exc})", "bad_csv", line=reader.line_num
        ) from None


def _check_workbook_archive(data: bytes) -> None:
    """Refuse an .xlsx before any parsing when its archive would expand out of proportion.

    Python's zipfile never inflates a member beyond its declared size (it checks the CRC), so
    the sizes read here bound the work openpyxl can be made to do.
    """
    try:
        members = zipfile.ZipFile(io.BytesIO(data)).infolist()
    except (zipfile.BadZipFile, OSError):
        raise Refused("not a readable .xlsx workbook (not a zip archive)", "xlsx_not_zip") from None
    if len(members) > MAX_XLSX_MEMBERS:
        raise Refused(
            f"not a plain .xlsx workbook: {len(members):,} parts (at most {MAX_XLSX_MEMBERS:,})",
            "xlsx_parts",
            n=f"{len(members):,}",
            max=f"{MAX_XLSX_MEMBERS:,}",
        )
    expanded = sum(m.file_size for m in members)
    if expanded > MAX_XLSX_EXPANDED:
        raise Refused(
            f"the workbook expands to {expanded / MB:,.0f} MB when unpacked;"
            f" at most {MAX_XLSX_EXPANDED // MB} MB",
            "xlsx_expands",
            mb=f"{expanded / MB:,.0f}",
            max=MAX_XLSX_EXPANDED // MB,
        )
    for member in members:
        ratio = member.file_size / max(member.compress_size, 1)
        if member.file_size > MB and ratio > MAX_XLSX_RATIO:
            raise Refused(
                f"the workbook part {member.filename} is compressed {ratio:,.0f}:1"
                f" (at most {MAX_XLSX_RATIO}:1); not a vendor export",
                "xlsx_ratio",
                part=member.filename,
                ratio=f"{ratio:,.0f}",
                max=MAX_XLSX_RATIO,
            )


def _xlsx_rows(data: bytes, deadline: float) -> Iterator[list[Any]]:
    from openpyxl import load_workbook

    # Count the first sheet's rows with a value in its raw XML before openpyxl opens it
    # (C-speed inflate and regex, stopping past the limit): openpyxl reads ~10,000 rows a
    # second, and when a sheet lacks <dimension> its read-only open alone parses the whole sheet.
    try:
        archive, part = _first_sheet_part(data)
        with archive:
            rows = 0
            if part is not None:
                with archive.open(part) as xml:
                    rows = _rows_with_values(xml, MAX_ROWS + 2, deadline)
    except ReadTimeout:
        raise
    except Exception as exc:  # openpyxl raises several kinds for a damaged or foreign file
        raise _unreadable(exc) from None
    if rows > MAX_ROWS + 1:  # the header and MAX_ROWS rows
        raise _too_many_rows()
    try:
        workbook = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
        sheet = workbook.worksheets[0]
    except Exception as exc:
        raise _unreadable(exc) from None
    try:
        for row in sheet.iter_rows(values_only=True):  # streamed: read-only mode keeps no rows
            yield list(row)
    except (zipfile.BadZipFile, zlib.error, ElementTree.ParseError, KeyError, TypeError) as exc:
        raise _unreadable(exc) from None
    finally:
        workbook.close()


def _first_sheet_part(data: bytes) -> tuple[zipfile.ZipFile, str | None]:
    """The archive and the part openpyxl reads as ``worksheets[0]`` (None: no worksheet)."""
    from openpyxl.reader.excel import ExcelReader

    package = ExcelReader(io.BytesIO(data), read_only=True)
    package.read_manifest()
    package.read_workbook()
    for _sheet, rel in package.parser.find_sheets():
        if rel.target in package.valid_files and "chartsheet" not in rel.Type:
            return package.archive, rel.target
    return package.archive, None


_ROW_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?row[\s/>]")  # <row …> or <x:row …>
_VALUE_TAG = re.compile(rb"<(?:[A-Za-z_][\w.-]*:)?(?:v|is)[\s>]")  # a cell value or inline text
_CHUNK = MB
_OVERLAP = 64  # bytes kept from one chunk to the next so no tag is cut in two


def _rows_with_values(xml: IO[bytes], stop_after: int, deadline: float) -> int:
    """How many ``<row>`` elements of a sheet hold a value, counting up to ``stop_after``."""
    count, tail = 0, b""
    open_row_empty, open_from = False, 0  # a row without a value yet, and where it starts
    while chunk := xml.read(_CHUNK):
        _check_deadline(deadline)
        buffer = tail + chunk
        starts = [m.start() for m in _ROW_TAG.finditer(buffer) if m.end() > len(tail)]
        # The row still open from the previous chunk ends where the first new row begins.
        first = starts[0] if starts else len(buffer)
        if open_row_empty and _VALUE_TAG.search(buffer, open_from, first):
            count, open_row_empty = count + 1, False
        for i, start in enumerate(starts):
            end = starts[i + 1] if i + 1 < len(starts) else len(buffer)
            open_row_empty = _VALUE_TAG.search(buffer, start, end) is None
            count += not open_row_empty
        if count >= stop_after:
            break
        tail = buffer[-_OVERLAP:]
        open_from = max(0, (starts[-1] if starts else open_from) - (len(buffer) - len(tail)))
    return count


def _unreadable(exc: Exception) -> Refused:
    kind = exc.__class__.__name__
    return Refused(f"not a readable .xlsx workbook ({kind})", "xlsx_unreadable", kind=kind)


def _too_many_rows() -> Refused:
    return Refused(
        f"more than {MAX_ROWS:,} rows with values; at most {MAX_ROWS:,} per file (split it)",
        "too_many_rows",
        max=f"{MAX_ROWS:,}",
    )


def value_without_header(row: int) -> RowError:
    """Shared by the importers: a cell right of the last named column."""
    return RowError(row, None, "a value in a column without a header", "value_without_header")


def no_rows() -> RowError:
    return RowError(0, None, "no data rows below the header", "no_rows")


class ReadTimeout(Refused):
    """Reading the rows took longer than ``READ_BUDGET_S``."""


def _check_deadline(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise ReadTimeout(
            f"reading the file took longer than {READ_BUDGET_S:.0f} s; split it into smaller files",
            "read_timeout",
            s=f"{READ_BUDGET_S:.0f}",
        )


def _check_header(header: list[str]) -> list[RowError]:
    errors = []
    seen: set[str] = set()
    for name in header:
        if name == "":
            errors.append(RowError(1, None, "a column has no name", "column_no_name"))
        elif name not in ALL_FIELDS and name != "type":
            known = ", ".join(ALL_FIELDS)
            errors.append(
                RowError(
                    1,
                    name,
                    f"unknown column (known columns: {known})",
                    "unknown_column",
                    {"known": known},
                )
            )
        elif name in seen:
            errors.append(RowError(1, name, "column appears twice", "column_twice"))
        seen.add(name)
    errors += [
        RowError(1, c, "required column is missing", "column_missing")
        for c in COMMON_FIELDS
        if c not in seen
    ]
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
