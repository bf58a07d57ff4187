"""What the budget-execution and incentive-statement imports share: the report, the column
mapping, year/month and district cells, and the one transaction that stores and audits.

Both imports follow the roster's rules (docs/roster.md): every row is checked, then compared
with the database into a plan of new, changed and unchanged rows; a file with any problem stores
nothing; a clean file is stored in one transaction with a ``data_imports`` row (the file name
and time each figure cites) and one audit row. Re-importing the same file changes nothing.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.db.schema import DataImport, Region
from dashboard.finance.sheet import HeaderNotFound, Sheet, blank, read_sheet, text_of
from dashboard.ingest.files import RowError, read_table
from dashboard.ingest.refusal import Refused
from dashboard.registry.roster import RosterReport
from dashboard.settings import LOCAL_TZ

PERMISSION = "import_data"  # the file imports' right: leads and admins (docs/access-control.md)
ENTITY = "data_import"
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass
class FileReport(RosterReport):
    """The roster's report (preview counts, errors, outcome) plus flags that do not refuse
    the file (a unit price × quantity that disagrees with the stated amount) and the unit."""

    flags: list[RowError] = field(default_factory=list)
    unit: str | None = None
    import_id: int | None = None
    unreadable: bool = False  # the file itself could not be read as a table (CLI exit 2)

    def summary(self, max_lines: int = 200) -> str:
        text = super().summary(max_lines)
        if self.ok and self.flags:
            lines = [f"{len(self.flags)} flag(s) (stored, shown on the budget page):"]
            lines += [f"  {flag}" for flag in self.flags[:max_lines]]
            text += "\n" + "\n".join(lines)
        return text

    def audit_detail(self) -> dict[str, Any]:
        return super().audit_detail() | {"flags": len(self.flags), "unit": self.unit}


@dataclass(frozen=True)
class Col:
    key: str
    aliases: frozenset[str]  # normalised header names (dashboard.finance.sheet.normalise)
    label: str  # the Korean header named in messages


def col(key: str, label: str, *aliases: str) -> Col:
    return Col(key, frozenset({key.replace("_", ""), *aliases}), label)


def known_names(columns: tuple[Col, ...]) -> set[str]:
    return {a for c in columns for a in c.aliases}


def sheet_reader(columns: tuple[Col, ...]) -> Callable[[bytes, str, FileReport], Sheet | None]:
    """A file kind's reader: the bounded table of the upload, its header found among these
    columns; a file that cannot be read is one error on row 0, nothing else."""
    names = known_names(columns)

    def read(data: bytes, filename: str, report: FileReport) -> Sheet | None:
        try:
            header, rows = read_table(data, filename)
            return read_sheet(header, rows, names)
        except (ValueError, OSError, HeaderNotFound) as exc:
            report.errors.append(RowError.of(0, None, exc))
            report.unreadable = True
            return None

    return read


def map_columns(
    sheet: Sheet, columns: tuple[Col, ...], required: tuple[str, ...]
) -> tuple[dict[str, int], list[RowError]]:
    """Column key → position; unknown, repeated and missing columns are errors on the header."""
    by_alias = {a: c for c in columns for a in c.aliases}
    positions: dict[str, int] = {}
    errors = []
    row = sheet.header_row
    for index, name in enumerate(sheet.names):
        written = sheet.written[index]
        column = by_alias.get(name)
        if column is None and sheet.below and index < len(sheet.below):
            column = by_alias.get(sheet.below[index])  # "단가" under a group such as "산출근거"
        if name == "":
            if any(not blank(cells[index]) for _n, cells in sheet.rows if index < len(cells)):
                errors.append(
                    RowError(
                        row,
                        None,
                        f"column {index + 1} has values but no name",
                        "column_n_values_no_name",
                        {"n": index + 1},
                    )
                )
        elif column is None:
            known = ", ".join(c.label for c in columns)
            errors.append(
                RowError(
                    row,
                    written,
                    f"unknown column (known columns: {known})",
                    "unknown_column",
                    {"known": known},
                )
            )
        elif column.key in positions:
            errors.append(
                RowError(
                    row,
                    written,
                    f"column {column.label} appears twice",
                    "column_twice_label",
                    {"label": column.label},
                )
            )
        else:
            positions[column.key] = index
    by_key = {c.key: c for c in columns}
    for key in required:
        if key not in positions:
            errors.append(
                RowError(row, by_key[key].label, "required column is missing", "column_missing")
            )
    return positions, errors


def cell(cells: list[Any], positions: dict[str, int], key: str) -> Any:
    index = positions.get(key)
    return cells[index] if index is not None and index < len(cells) else None


_YEAR_MONTH = re.compile(r"^(\d{4})\s*(?:년|[-./])?\s*(\d{1,2})\s*월?\.?$")
_MONTH = re.compile(r"^(\d{1,2})\s*월?$")
_YEAR = re.compile(r"^(\d{4})\s*년?(?:도)?$")


def parse_year(value: Any) -> int:
    match = _YEAR.match(text_of(value))
    if not match:
        raise Refused(
            f"not a year (got {text_of(value)!r}); write it like 2024",
            "not_a_year",
            value=text_of(value),
        )
    year = int(match.group(1))
    _check_year(year)
    return year


def _check_year(year: int) -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise Refused(
            f"year {year} is outside {MIN_YEAR}–{MAX_YEAR}",
            "year_out_of_range",
            year=year,
            low=MIN_YEAR,
            high=MAX_YEAR,
        )


def parse_month(value: Any) -> tuple[int | None, int]:
    """``3``, ``3월``, ``03`` (no year) or ``2024-03``, ``2024.3``, ``2024년 3월``, ``202403``,
    or an Excel date: (year or None, month)."""
    if isinstance(value, datetime | date):
        return value.year, value.month
    raw = text_of(value)
    if re.fullmatch(r"\d{6}", raw):
        raw = f"{raw[:4]}-{raw[4:]}"
    match = _YEAR_MONTH.match(raw)
    year, month = (int(match.group(1)), int(match.group(2))) if match else (None, None)
    if match is None:
        match = _MONTH.match(raw)
        if not match:
            raise Refused(
                f"not a month (got {raw!r}); write 1–12 or 2024-03", "not_a_month", value=raw
            )
        month = int(match.group(1))
    if not 1 <= month <= 12:
        raise Refused(f"month {month} is not 1–12", "month_out_of_range", month=month)
    if year is not None:
        _check_year(year)
    return year, month


def year_month(
    number: int,
    cells: list[Any],
    positions: dict[str, int],
    sheet: Sheet,
    today: date,
    errors: list[RowError],
) -> tuple[int, int] | None:
    """The row's (year, month) from the year and month columns; not after this month."""
    where = {k: sheet.written[i] for k, i in positions.items()}
    year = None
    raw_year = cell(cells, positions, "fiscal_year")
    if not blank(raw_year):
        try:
            year = parse_year(raw_year)
        except ValueError as exc:
            errors.append(RowError.of(number, where["fiscal_year"], exc))
            return None
    raw_month = cell(cells, positions, "month")
    if blank(raw_month):
        errors.append(RowError(number, where.get("month", "월"), "required", "required"))
        return None
    try:
        month_year, month = parse_month(raw_month)
    except ValueError as exc:
        errors.append(RowError.of(number, where["month"], exc))
        return None
    if year is not None and month_year is not None and year != month_year:
        errors.append(
            RowError(
                number,
                where["month"],
                f"month {raw_month!r} is not in the year {year}",
                "month_not_in_year",
                {"value": text_of(raw_month), "year": year},
            )
        )
        return None
    year = year if year is not None else month_year
    if year is None:
        errors.append(
            RowError(
                number,
                where["month"],
                "no year: add a 회계연도 column or write 2024-03",
                "no_year",
            )
        )
        return None
    if (year, month) > (today.year, today.month):
        errors.append(
            RowError(
                number,
                where["month"],
                f"{year}-{month:02d} is in the future",
                "month_in_future",
                {"month": f"{year}-{month:02d}"},
            )
        )
        return None
    return year, month


class Districts:
    """Districts (or a whole city or province) by Korean name, full name or 10-digit code;
    with ``dongs``, every region of the catalog, dongs included (participation records)."""

    def __init__(self, conn: Connection, *, dongs: bool = False) -> None:
        self.by_code: dict[str, int] = {}
        self.by_name: dict[str, list[tuple[int, str]]] = {}
        self.code_of: dict[int, str] = {}
        self.dongs = dongs
        query = select(Region.id, Region.code, Region.name_ko)
        for rid, code, name in conn.execute(
            query if dongs else query.where(Region.level != "dong")
        ):
            self.by_code[code] = rid
            self.code_of[rid] = code
            self.by_name.setdefault(name, []).append((rid, code))

    def __bool__(self) -> bool:
        return bool(self.by_code)

    def find(self, value: Any) -> int:
        raw = text_of(value)
        if re.fullmatch(r"\d{10}", raw):
            if raw in self.by_code:
                return self.by_code[raw]
            raise Refused(
                f"unknown region code {raw} (not in data/regions.csv)",
                "unknown_region_code",
                code=raw,
            )
        candidates = self.by_name.get(raw) or self.by_name.get(raw.split()[-1] if raw else "")
        if not candidates and self.dongs:
            raise Refused(
                f"unknown dong or district {raw!r}; give its 10-digit code",
                "unknown_dong_or_district",
                value=raw,
            )
        if not candidates:
            raise Refused(
                f"unknown district {raw!r} (a 구, 시 or 시·도 of data/regions.csv)",
                "unknown_district",
                value=raw,
            )
        if len(candidates) > 1:
            codes = ", ".join(code for _id, code in candidates)
            raise Refused(
                f"{raw!r} names several regions ({codes}); give the 10-digit code",
                "ambiguous_region",
                value=raw,
                codes=codes,
            )
        return candidates[0][0]


Checker = Callable[[Connection, Sheet, FileReport, datetime], list[dict[str, Any]]]
Applier = Callable[[Connection, list[dict[str, Any]], int], None]


@dataclass(frozen=True)
class FileKind:
    """One import: its ``data_imports.kind``, its name in reports, and its three steps."""

    kind: str
    label: str
    read: Callable[[bytes, str, FileReport], Sheet | None]
    check: Checker
    apply: Applier


def run_import(
    engine: Engine,
    kind: FileKind,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool,
) -> FileReport:
    """Check, then (unless refused, a dry run or already matching) store with a
    ``data_imports`` row and an audit row in one transaction. Needs ``import_data``."""
    actor = require(principal, PERMISSION).username
    try:
        with engine.begin() as conn:
            return import_into(conn, kind, data, filename, actor, now, dry_run=dry_run)
    except IntegrityError:  # another import stored the same lines meanwhile: rolled back
        report = FileReport(kind.label, filename, len(data), dry_run=dry_run)
        report.errors.append(
            RowError(
                0,
                None,
                "the data changed while importing; nothing was stored, try again",
                "conflict",
            )
        )
        return report


def import_into(
    conn: Connection,
    kind: FileKind,
    data: bytes,
    filename: str,
    actor: str,
    now: datetime,
    *,
    dry_run: bool = False,
) -> FileReport:
    """The import on the caller's transaction (the demo builder's, or :func:`run_import`'s),
    by ``actor`` whose right the caller has checked."""
    report = FileReport(kind.label, filename, len(data), dry_run=dry_run)
    sheet = kind.read(data, filename, report)
    if sheet is None:
        return report
    if not Districts(conn):
        report.errors.append(
            RowError(
                0,
                None,
                "the catalog is not loaded: run `python -m dashboard init` first",
                "catalog_not_loaded",
            )
        )
        return report
    plan = kind.check(conn, sheet, report, now)
    report.errors.sort(key=lambda e: (e.row, e.column or ""))
    if not report.ok or not plan or dry_run:
        return report
    import_id = conn.execute(
        insert(DataImport).returning(DataImport.id),
        {
            "kind": kind.kind,
            "filename": filename[:200],
            "sha256": hashlib.sha256(data).hexdigest(),
            "size_bytes": len(data),
            "rows": report.rows,
            "unit": report.unit,
            "imported_at": now,
            "imported_by": actor[:60],
        },
    ).scalar_one()
    kind.apply(conn, plan, import_id)
    write_audit(
        conn,
        at=now,
        actor=actor,
        action=f"{kind.kind}_import"[:40],
        entity_type=ENTITY,
        entity_id=import_id,
        detail=report.audit_detail(),
    )
    report.stored, report.import_id = True, import_id
    return report


def local_today(now: datetime) -> date:
    return now.astimezone(LOCAL_TZ).date()
