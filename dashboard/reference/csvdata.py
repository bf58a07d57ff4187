"""Read and validate the reference CSVs transcribed from the source documents.

Every problem raises :class:`ReferenceDataError` naming the file, the line and the column, so a
bad edit to a CSV is found where it was made instead of as a wrong number on a page.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from pathlib import Path

from dashboard.db.schema.reference import BUDGET_MEASURES

DATA_DIR = Path(__file__).resolve().parents[2] / "data"
REFERENCE_DIR = DATA_DIR / "reference"
FIGURES_CSV = REFERENCE_DIR / "published_figures.csv"
BUDGET_CSV = REFERENCE_DIR / "budget_lines.csv"
SOURCES_CSV = REFERENCE_DIR / "source_documents.csv"
FIGURE_SUMS_CSV = REFERENCE_DIR / "figure_sums.csv"
PROGRAMS_CSV = DATA_DIR / "programs.csv"

CITIES = ("goyang", "seoul", "daedeok")
FUNDING_SOURCES = ("national", "provincial", "city", "district", "private", "other")
BUDGET_UNITS = ("백만원", "천원")
FIGURE_UNITS = (
    "명",
    "건",
    "%",
    "%p",
    "백만원",
    "천원",
    "원",
    "회",
    "대",
    "개소",
    "개",
    "종",
    "식",
    "세",
    "가구",
)
# Column totals (계 column), the in-term subtotal (임기내 소계), and "not split by period".
AGGREGATE_PERIODS = ("total", "term")
PERIOD_WORDS = ("prior", "after", "cumulative", *AGGREGATE_PERIODS)
TOTAL_LABEL = "계"
GROUP_SEPARATOR = " > "

_PERIOD_RE = re.compile(r"^\d{4}(-\d{2})?$")
_FIGURE_PERIOD_RE = re.compile(
    r"^(\d{4}(-\d{2}(-\d{2})?)?|prior|cumulative)(/(\d{4}(-\d{2}(-\d{2})?)?))?$"
)
_KEY_RE = re.compile(r"^[a-z0-9_]+(\.[a-z0-9_]+)+$")

# Same limits as dashboard/db/schema/reference.py, so a value that fits here fits the database.
_MAX_LEN = {
    "figure_key": 80,
    "city": 20,
    "program_code": 40,
    "label_ko": 200,
    "label_en": 200,
    "unit": 20,
    "period": 40,
    "source_doc": 40,
    "source_table": 200,
    "unit_project": 120,
    "category": 80,
    "line_item": 200,
    "funding_source": 20,
    "measure": 10,
    "formula": 200,
}


class ReferenceDataError(ValueError):
    """A malformed reference CSV: says which file, line (1 = header) and column."""

    def __init__(self, path: Path | str, line: int, column: str, message: str) -> None:
        self.path = Path(path)
        self.line = line
        self.column = column
        super().__init__(f"{self.path.name}, line {line}, column {column!r}: {message}")


@dataclass(frozen=True)
class FigureRow:
    """One row of published_figures.csv; the fields are the columns of ``published_figures``."""

    figure_key: str
    city: str
    program_code: str | None
    label_ko: str
    label_en: str
    value: Decimal
    unit: str
    period: str | None
    source_doc: str
    source_table: str
    note: str | None
    csv_line: int = 0  # not stored; for error messages

    def db_values(self) -> dict[str, object]:
        return {c: getattr(self, c) for c in FIGURE_COLUMNS}


@dataclass(frozen=True)
class BudgetRow:
    """One cell of budget_lines.csv; the fields are the columns of ``budget_lines``."""

    city: str
    source_doc: str
    source_table: str
    unit_project: str
    category: str | None
    line_item: str | None
    funding_source: str | None
    period: str
    measure: str
    amount: Decimal
    unit: str
    formula: str | None = None
    unit_price_won: Decimal | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    is_total: bool = False
    csv_line: int = 0  # not stored; for error messages

    def db_values(self) -> dict[str, object]:
        return {c: getattr(self, c) for c in BUDGET_COLUMNS}


# CSV columns = the dataclass fields = the table columns (csv_line is ours, not stored).
FIGURE_COLUMNS = tuple(f.name for f in fields(FigureRow) if f.name != "csv_line")
BUDGET_COLUMNS = tuple(f.name for f in fields(BudgetRow) if f.name != "csv_line")


@dataclass(frozen=True)
class FigureSum:
    """A published total that must equal the sum of other published figures (e.g. a 누계)."""

    total_key: str
    part_keys: tuple[str, ...]
    note: str | None


def _rows(path: Path, columns: tuple[str, ...]) -> Iterator[tuple[int, dict[str, str]]]:
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        if header is None:
            raise ReferenceDataError(path, 1, "", "empty file, expected a header row")
        for col in columns:
            if col not in header:
                raise ReferenceDataError(path, 1, col, "missing column in the header")
        for col in header:
            if col not in columns:
                raise ReferenceDataError(path, 1, col, "unknown column in the header")
        if len(set(header)) != len(header):
            dup = next(c for c in header if header.count(c) > 1)
            raise ReferenceDataError(path, 1, dup, "column appears twice in the header")
        for values in reader:
            line = reader.line_num
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                col = header[min(len(values), len(header) - 1)]
                raise ReferenceDataError(
                    path, line, col, f"expected {len(header)} fields, found {len(values)}"
                )
            yield line, {h: v.strip() for h, v in zip(header, values, strict=True)}


class _Cells:
    """Typed access to one CSV row that reports the file, line and column on error."""

    def __init__(self, path: Path, line: int, row: dict[str, str]) -> None:
        self.path, self.line, self.row = path, line, row

    def fail(self, column: str, message: str) -> ReferenceDataError:
        return ReferenceDataError(self.path, self.line, column, message)

    def text(self, column: str, *, required: bool = True) -> str | None:
        value = self.row[column]
        if not value:
            if required:
                raise self.fail(column, "value is required")
            return None
        limit = _MAX_LEN.get(column)
        if limit and len(value) > limit:
            raise self.fail(column, f"longer than {limit} characters")
        return value

    def choice(self, column: str, allowed: tuple[str, ...], *, required: bool = True) -> str | None:
        value = self.text(column, required=required)
        if value is not None and value not in allowed:
            raise self.fail(column, f"{value!r} is not one of {', '.join(allowed)}")
        return value

    def decimal(self, column: str, *, required: bool = True) -> Decimal | None:
        raw = self.row[column]
        if not raw:
            if required:
                raise self.fail(column, "value is required")
            return None
        try:
            value = Decimal(raw)
        except InvalidOperation:
            raise self.fail(column, f"{raw!r} is not a plain decimal number") from None
        if not value.is_finite():
            raise self.fail(column, f"{raw!r} is not a finite number")
        return value

    def boolean(self, column: str) -> bool:
        raw = self.row[column].lower()
        if raw not in ("true", "false"):
            raise self.fail(column, f"{self.row[column]!r} must be true or false")
        return raw == "true"


def _known_codes(path: Path, column: str) -> set[str]:
    with path.open(encoding="utf-8", newline="") as fh:
        return {row[column] for row in csv.DictReader(fh)}


def read_published_figures(
    path: Path = FIGURES_CSV,
    *,
    source_docs: set[str] | None = None,
    program_codes: set[str] | None = None,
) -> list[FigureRow]:
    """Read and validate published_figures.csv (keys unique, codes known, values numeric)."""
    source_docs = (
        source_docs if source_docs is not None else _known_codes(SOURCES_CSV, "source_doc")
    )
    program_codes = (
        program_codes if program_codes is not None else _known_codes(PROGRAMS_CSV, "code")
    )
    figures: list[FigureRow] = []
    seen: dict[str, int] = {}
    for line, row in _rows(path, FIGURE_COLUMNS):
        c = _Cells(path, line, row)
        key = c.text("figure_key")
        if not _KEY_RE.match(key):
            raise c.fail("figure_key", f"{key!r} is not dotted lower-case (city.program.measure)")
        if key in seen:
            raise c.fail("figure_key", f"{key!r} already used on line {seen[key]}")
        seen[key] = line
        city = c.choice("city", CITIES)
        if key.split(".")[0] != city:
            raise c.fail("figure_key", f"{key!r} must start with its city {city!r}")
        program = c.text("program_code", required=False)
        if program is not None and program not in program_codes:
            raise c.fail("program_code", f"{program!r} is not a code in data/programs.csv")
        period = c.text("period", required=False)
        if period is not None and not _FIGURE_PERIOD_RE.match(period):
            raise c.fail("period", f"{period!r} is not YYYY[-MM[-DD]] or an interval A/B")
        source_doc = c.text("source_doc")
        if source_doc not in source_docs:
            raise c.fail("source_doc", f"{source_doc!r} is not in source_documents.csv")
        figures.append(
            FigureRow(
                figure_key=key,
                city=city,
                program_code=program,
                label_ko=c.text("label_ko"),
                label_en=c.text("label_en"),
                value=c.decimal("value"),
                unit=c.choice("unit", FIGURE_UNITS),
                period=period,
                source_doc=source_doc,
                source_table=c.text("source_table"),
                note=c.text("note", required=False),
                csv_line=line,
            )
        )
    return figures


def read_budget_lines(
    path: Path = BUDGET_CSV, *, source_docs: set[str] | None = None
) -> list[BudgetRow]:
    """Read and validate budget_lines.csv: one printed cell per row, totals marked ``is_total``."""
    source_docs = (
        source_docs if source_docs is not None else _known_codes(SOURCES_CSV, "source_doc")
    )
    lines: list[BudgetRow] = []
    seen: dict[tuple, int] = {}
    for line, row in _rows(path, BUDGET_COLUMNS):
        c = _Cells(path, line, row)
        source_doc = c.text("source_doc")
        if source_doc not in source_docs:
            raise c.fail("source_doc", f"{source_doc!r} is not in source_documents.csv")
        period = c.text("period")
        if period not in PERIOD_WORDS and not _PERIOD_RE.match(period):
            raise c.fail("period", f"{period!r} is not YYYY, YYYY-MM or one of {PERIOD_WORDS}")
        rate = c.decimal("rate", required=False)
        if rate is not None and not Decimal(0) < rate <= Decimal(1):
            raise c.fail("rate", f"{rate} must be a fraction in (0, 1], e.g. 0.5 for 50%")
        price = c.decimal("unit_price_won", required=False)
        if price is not None and price != price.to_integral_value():
            raise c.fail("unit_price_won", f"{price} must be whole won")
        quantity = c.decimal("quantity", required=False)
        if (price is None) != (quantity is None):
            col = "quantity" if quantity is None else "unit_price_won"
            raise c.fail(col, "unit_price_won and quantity go together")
        if rate is not None and price is None:
            raise c.fail("rate", "a rate needs unit_price_won and quantity")
        cell = BudgetRow(
            city=c.choice("city", CITIES),
            source_doc=source_doc,
            source_table=c.text("source_table"),
            unit_project=c.text("unit_project"),
            category=c.text("category", required=False),
            line_item=c.text("line_item", required=False),
            funding_source=c.choice("funding_source", FUNDING_SOURCES, required=False),
            period=period,
            measure=c.choice("measure", BUDGET_MEASURES),
            amount=c.decimal("amount"),
            unit=c.choice("unit", BUDGET_UNITS),
            formula=c.text("formula", required=False),
            unit_price_won=price,
            quantity=quantity,
            rate=rate,
            is_total=c.boolean("is_total"),
            csv_line=line,
        )
        ident = cell_key(cell)
        if ident in seen:
            raise c.fail("period", f"the same cell is already on line {seen[ident]}")
        seen[ident] = line
        lines.append(cell)
    _check_total_flags(path, lines)
    return lines


def cell_key(cell: BudgetRow) -> tuple:
    """Identity of a printed cell: table, row, column (period) and measure."""
    return (
        cell.city,
        cell.source_doc,
        cell.source_table,
        *row_key(cell),
        cell.period,
        cell.measure,
    )


def row_key(cell) -> tuple[str, str, str, str]:
    """The printed row a cell belongs to (None and "" are the same empty label)."""
    return (
        cell.unit_project or "",
        cell.category or "",
        cell.line_item or "",
        cell.funding_source or "",
    )


def is_grand_total_row(cell) -> bool:
    """A printed 계 row: 계 in any of the row's labels."""
    return TOTAL_LABEL in (cell.unit_project, cell.category, cell.line_item)


def group_parents(lines) -> set[tuple]:
    """Row keys (with the table) of line items that have ``parent > child`` lines under them."""
    items = {(c.city, c.source_doc, c.source_table, *row_key(c)) for c in lines}
    parents = set()
    for city, doc, table, project, category, item, source in items:
        if GROUP_SEPARATOR in item:
            parent_item = item.rsplit(GROUP_SEPARATOR, 1)[0]
            parents.add((city, doc, table, project, category, parent_item, source))
    return parents


def _check_total_flags(path: Path, lines: list[BudgetRow]) -> None:
    # is_total is derived from the layout; a mismatch means a mistyped row, not a choice.
    parents = group_parents(lines)
    for cell in lines:
        total_row = is_grand_total_row(cell) or (
            (cell.city, cell.source_doc, cell.source_table, *row_key(cell)) in parents
        )
        expected = total_row or cell.period in AGGREGATE_PERIODS
        if cell.is_total != expected:
            raise ReferenceDataError(
                path,
                cell.csv_line,
                "is_total",
                f"should be {str(expected).lower()}: a cell is a total when its row is 계 or a"
                f" group with '{GROUP_SEPARATOR.strip()}' children, or its period is"
                f" {' / '.join(AGGREGATE_PERIODS)}",
            )


def read_figure_sums(path: Path = FIGURE_SUMS_CSV) -> list[FigureSum]:
    """Read figure_sums.csv: ``total_key`` equals the sum of ``part_keys`` (joined by ' + ')."""
    sums = []
    for line, row in _rows(path, ("total_key", "part_keys", "note")):
        c = _Cells(path, line, row)
        parts = tuple(p.strip() for p in c.text("part_keys").split("+"))
        if len(parts) < 2 or not all(_KEY_RE.match(p) for p in parts):
            raise c.fail("part_keys", "expected two or more figure keys joined by ' + '")
        sums.append(FigureSum(c.text("total_key"), parts, c.text("note", required=False)))
    return sums
