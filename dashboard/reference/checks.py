"""Arithmetic checks on the transcribed budget tables and published figures.

The checks report what the documents print and what the arithmetic gives; they never correct
either. A finding is a fact about the source document (or about an imported file), to be shown
to staff, not a transcription to be "fixed".

Cells are anything with the attributes of :class:`~dashboard.reference.csvdata.BudgetRow`
(the CSV rows, ORM ``BudgetLine`` objects or result rows read back from the database).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from dashboard.reference.csvdata import (
    AGGREGATE_PERIODS,
    GROUP_SEPARATOR,
    TOTAL_LABEL,
    FigureSum,
    group_parents,
    is_grand_total_row,
    row_key,
)

WON_PER_UNIT = {"원": Decimal(1), "천원": Decimal(1_000), "백만원": Decimal(1_000_000)}
# Documents print 천원 amounts of a won product truncated or rounded (33,852,816원 × 50명 =
# 1,692,640.8천원 printed 1,692,640). Anything under 1천원 is that; 1천원 or more is a real gap.
FORMULA_TOLERANCE_WON = Decimal(1_000)
# Printed change percentages are whole numbers, rounded half up.
PERCENT_TOLERANCE = Decimal("0.5")

# Detail tables whose leaf lines, summed per category, must equal a summary table's row.
CATEGORY_ROLLUPS = (("seoul", "seed-001", "산출근거", "예산 총괄"),)
# Tables printing the same grand total for the same period.
SAME_GRAND_TOTAL = (("seoul", "seed-001", "2023년도 추진일정", "예산 총괄", "2023"),)


@dataclass(frozen=True)
class ChangeColumns:
    """Where a summary table prints 증감 (B-A) and (B-A)*100/A for a row (in published figures)."""

    city: str
    source_doc: str
    table: str
    category: str
    from_period: str
    to_period: str
    change_key: str
    percent_key: str


_SEOUL_SUMMARY_SLUGS = {
    "계": "total",
    "기간제근로자등보수": "temp_staff",
    "사무관리비": "office",
    "공공운영비": "public_operation",
    "기타보상금": "other_compensation",
    "기타자본이전": "other_capital_transfer",
}
CHANGE_COLUMNS = tuple(
    ChangeColumns(
        "seoul",
        "seed-001",
        "예산 총괄",
        category,
        "2022",
        "2023",
        f"seoul.wrist_doctor.budget.{slug}.change",
        f"seoul.wrist_doctor.budget.{slug}.change_pct",
    )
    for category, slug in _SEOUL_SUMMARY_SLUGS.items()
)


@dataclass(frozen=True)
class Finding:
    """One disagreement between printed figures and their arithmetic.

    ``expected`` is what the arithmetic gives (None when it is undefined, e.g. a percentage
    change from zero); ``printed`` is what the document prints; both in ``unit``.
    """

    kind: str  # row_total, column_total, cross_table, formula, executed_exceeds_secured,
    # change_amount, change_percent, change_percent_undefined, figure_sum
    city: str
    source_doc: str
    table: str
    where: str
    expected: Decimal | None
    printed: Decimal | None
    unit: str
    message_ko: str
    message_en: str


@dataclass(frozen=True)
class FormulaCheck:
    """Result of checking one ``unit price × quantity × rate = amount`` line."""

    expected: Decimal  # in the amount's unit, unrounded
    printed: Decimal
    difference_won: Decimal  # printed − expected, in won
    ok: bool


def check_formula_line(
    unit_price_won: Decimal,
    quantity: Decimal,
    rate: Decimal | None,
    amount: Decimal,
    unit: str,
) -> FormulaCheck:
    """Check one formula line: unit price (won) × quantity × rate against the printed amount.

    ``quantity`` is the product of all printed multipliers (명 × 개월 …); ``rate`` is a fraction
    (0.5 for 50%) or None; ``amount`` is in ``unit`` (원, 천원 or 백만원). Differences under
    :data:`FORMULA_TOLERANCE_WON` are rounding. Pure: reuse it for imported spreadsheet lines.
    """
    if unit not in WON_PER_UNIT:
        raise ValueError(f"unknown money unit {unit!r}; expected one of {', '.join(WON_PER_UNIT)}")
    won = Decimal(unit_price_won) * Decimal(quantity) * (Decimal(1) if rate is None else rate)
    difference = Decimal(amount) * WON_PER_UNIT[unit] - won
    return FormulaCheck(
        expected=won / WON_PER_UNIT[unit],
        printed=Decimal(amount),
        difference_won=difference,
        ok=abs(difference) < FORMULA_TOLERANCE_WON,
    )


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return "—"
    text = f"{value.normalize():,f}"
    return text


def _row_label(cell) -> str:
    parts = [cell.unit_project, cell.category, cell.line_item, cell.funding_source]
    return " / ".join(p for p in parts if p)


def _tables(lines: Iterable) -> dict[tuple, list]:
    tables: dict[tuple, list] = defaultdict(list)
    for cell in lines:
        tables[(cell.city, cell.source_doc, cell.source_table)].append(cell)
    return tables


def _sum_finding(kind, table_key, where, expected, printed, unit, what_ko, what_en) -> Finding:
    city, doc, table = table_key
    return Finding(
        kind=kind,
        city=city,
        source_doc=doc,
        table=table,
        where=where,
        expected=expected,
        printed=printed,
        unit=unit,
        message_ko=f"{doc} 「{table}」 {where}: {what_ko} {_fmt(expected)}{unit}, "
        f"인쇄된 값 {_fmt(printed)}{unit}",
        message_en=f"{doc} '{table}' {where}: {what_en} {_fmt(expected)} {unit}, "
        f"printed {_fmt(printed)} {unit}",
    )


def _period_members(total_period: str, periods: Iterable[str]) -> list[str]:
    detail = [p for p in periods if p not in AGGREGATE_PERIODS and p != "cumulative"]
    if total_period == "term":  # 임기내 소계: the in-term years only
        return [p for p in detail if p not in ("prior", "after")]
    return detail


def _check_rows(table_key, cells) -> list[Finding]:
    """Row totals (계 / 합계 / 소계 columns) against the sum of the row's period cells."""
    findings = []
    rows: dict[tuple, dict[str, object]] = defaultdict(dict)
    for cell in cells:
        rows[(cell.measure, cell.unit, row_key(cell))][cell.period] = cell
    for (measure, unit, _), by_period in rows.items():
        for total_period in AGGREGATE_PERIODS:
            total = by_period.get(total_period)
            members = _period_members(total_period, by_period)
            if total is None or not members:
                continue
            expected = sum((by_period[p].amount for p in members), Decimal(0))
            if expected != total.amount:
                where = f"{measure} · {_row_label(total)} · {total_period} ({'+'.join(members)})"
                findings.append(
                    _sum_finding(
                        "row_total",
                        table_key,
                        where,
                        expected,
                        total.amount,
                        unit,
                        "행 합계",
                        "the row adds up to",
                    )
                )
    return findings


def _check_columns(table_key, cells, parents) -> list[Finding]:
    """Printed 계 rows and group subtotals against the sum of the rows under them."""
    findings = []
    grids: dict[tuple, list] = defaultdict(list)
    for cell in cells:
        grids[(cell.measure, cell.unit)].append(cell)
    for (measure, unit), grid in grids.items():
        keyed = {(row_key(c), c.period): c for c in grid}
        row_keys = {row_key(c) for c in grid}
        is_parent = {rk for rk in row_keys if (*table_key, *rk) in parents}
        leaves = {rk for rk in row_keys if rk not in is_parent and TOTAL_LABEL not in rk[:3]}
        for cell in grid:
            rk = row_key(cell)
            if is_grand_total_row(cell):
                children = leaves
            elif rk in is_parent:
                prefix = rk[2] + GROUP_SEPARATOR
                children = {  # direct children only, so nested groups are not counted twice
                    k
                    for k in row_keys
                    if k[:2] == rk[:2]
                    and k[3] == rk[3]
                    and k[2].startswith(prefix)
                    and GROUP_SEPARATOR not in k[2][len(prefix) :]
                }
            else:
                continue
            expected = sum(
                (keyed[(k, cell.period)].amount for k in children if (k, cell.period) in keyed),
                Decimal(0),
            )
            if expected != cell.amount:
                where = f"{measure} · {_row_label(cell)} · {cell.period}"
                findings.append(
                    _sum_finding(
                        "column_total",
                        table_key,
                        where,
                        expected,
                        cell.amount,
                        unit,
                        "아래 행의 합",
                        "the rows below add up to",
                    )
                )
    return findings


def _check_formulas(table_key, cells) -> list[Finding]:
    findings = []
    for cell in cells:
        if cell.unit_price_won is None or cell.quantity is None:
            continue
        result = check_formula_line(
            cell.unit_price_won, cell.quantity, cell.rate, cell.amount, cell.unit
        )
        if not result.ok:
            formula = cell.formula or f"{cell.unit_price_won}원 × {cell.quantity}"
            where = f"{_row_label(cell)} · {cell.period} · {formula}"
            findings.append(
                _sum_finding(
                    "formula",
                    table_key,
                    where,
                    result.expected,
                    cell.amount,
                    cell.unit,
                    "산출식 계산값",
                    "the formula gives",
                )
            )
    return findings


def _check_executed(table_key, cells) -> list[Finding]:
    secured = {(row_key(c), c.period): c for c in cells if c.measure == "secured"}
    findings = []
    for cell in cells:
        if cell.measure != "executed":
            continue
        ref = secured.get((row_key(cell), cell.period))
        if ref is not None and cell.amount > ref.amount:
            where = f"{_row_label(cell)} · {cell.period}"
            findings.append(
                _sum_finding(
                    "executed_exceeds_secured",
                    table_key,
                    where,
                    ref.amount,
                    cell.amount,
                    cell.unit,
                    "집행액이 확보액을 초과: 확보액",
                    "executed exceeds secured",
                )
            )
    return findings


def _leaf_sum_by_category(cells, parents, table_key) -> dict[tuple[str, str], Decimal]:
    sums: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for cell in cells:
        if cell.is_total or (*table_key, *row_key(cell)) in parents:
            continue
        sums[(cell.category or "", cell.period)] += cell.amount
    return sums


def _check_cross_tables(tables, parents) -> list[Finding]:
    findings = []
    for city, doc, detail_name, summary_name in CATEGORY_ROLLUPS:
        detail = tables.get((city, doc, detail_name), [])
        summary = tables.get((city, doc, summary_name), [])
        if not detail or not summary:
            continue
        sums = _leaf_sum_by_category(detail, parents, (city, doc, detail_name))
        periods = {p for _, p in sums}
        for cell in summary:
            if cell.is_total or cell.period not in periods:
                continue
            expected = sums.get((cell.category or "", cell.period), Decimal(0))
            if expected != cell.amount:
                where = f"{cell.category} · {cell.period} ← 「{detail_name}」"
                findings.append(
                    _sum_finding(
                        "cross_table",
                        (city, doc, summary_name),
                        where,
                        expected,
                        cell.amount,
                        cell.unit,
                        "세부 내역의 합",
                        "the detail lines add up to",
                    )
                )
    for city, doc, a_name, b_name, period in SAME_GRAND_TOTAL:
        totals = []
        for name in (a_name, b_name):
            cells = tables.get((city, doc, name), [])
            totals.append(
                next((c for c in cells if is_grand_total_row(c) and c.period == period), None)
            )
        a, b = totals
        if a is not None and b is not None and a.amount != b.amount:
            where = f"{TOTAL_LABEL} · {period} ← 「{b_name}」"
            findings.append(
                _sum_finding(
                    "cross_table",
                    (city, doc, a_name),
                    where,
                    b.amount,
                    a.amount,
                    a.unit,
                    f"「{b_name}」의 계",
                    f"'{b_name}' prints the total as",
                )
            )
    return findings


def check_budget_changes(lines: Iterable, figures: Iterable) -> list[Finding]:
    """Printed 증감 (B-A) and (B-A)*100/A columns (kept as published figures) against A and B.

    A blank A cell counts as 0, as the printed 계 implies; a percentage change from 0 is
    undefined, so any printed percentage there is reported.
    """
    by_key = {f.figure_key: f for f in figures}
    tables = _tables(lines)
    findings = []
    for spec in CHANGE_COLUMNS:
        cells = {
            c.period: c
            for c in tables.get((spec.city, spec.source_doc, spec.table), [])
            if (c.category or "") == spec.category
        }
        if spec.to_period not in cells:
            continue
        b = cells[spec.to_period].amount
        a = cells[spec.from_period].amount if spec.from_period in cells else Decimal(0)
        unit = cells[spec.to_period].unit
        key = (spec.city, spec.source_doc, spec.table)
        change = by_key.get(spec.change_key)
        if change is not None and change.value != b - a:
            where = f"{spec.category} · 증감 (B-A)"
            findings.append(
                _sum_finding(
                    "change_amount",
                    key,
                    where,
                    b - a,
                    change.value,
                    unit,
                    "B-A",
                    "B-A is",
                )
            )
        pct = by_key.get(spec.percent_key)
        if pct is None:
            continue
        where = f"{spec.category} · (B-A)*100/A"
        if a == 0:
            findings.append(
                Finding(
                    kind="change_percent_undefined",
                    city=spec.city,
                    source_doc=spec.source_doc,
                    table=spec.table,
                    where=where,
                    expected=None,
                    printed=pct.value,
                    unit="%",
                    message_ko=f"{spec.source_doc} 「{spec.table}」 {where}: "
                    f"A({spec.from_period})가 0이라 증감률을 계산할 수 없는데 "
                    f"{_fmt(pct.value)}%로 인쇄됨",
                    message_en=f"{spec.source_doc} '{spec.table}' {where}: A ({spec.from_period})"
                    f" is 0, so the percentage change is undefined, yet {_fmt(pct.value)}% is"
                    " printed",
                )
            )
            continue
        expected = (b - a) * 100 / a
        if abs(expected - pct.value) > PERCENT_TOLERANCE:
            findings.append(
                _sum_finding(
                    "change_percent",
                    key,
                    where,
                    expected.quantize(Decimal("0.01"), ROUND_HALF_UP),
                    pct.value,
                    "%",
                    "증감률 계산값",
                    "the change is",
                )
            )
    return findings


def check_budget_tables(lines: Iterable, figures: Iterable | None = None) -> list[Finding]:
    """Check every budget table: row and column totals, formula lines, executed ≤ secured.

    With ``figures`` (published figures), also check the printed change columns of summary
    tables (see :data:`CHANGE_COLUMNS`). Returns findings in table order; empty when the
    tables add up.
    """
    lines = list(lines)
    tables = _tables(lines)
    parents = group_parents(lines)
    findings: list[Finding] = []
    for table_key, cells in tables.items():
        findings += _check_rows(table_key, cells)
        findings += _check_columns(table_key, cells, parents)
        findings += _check_formulas(table_key, cells)
        findings += _check_executed(table_key, cells)
    findings += _check_cross_tables(tables, parents)
    if figures is not None:
        findings += check_budget_changes(lines, figures)
    return findings


def check_figure_sums(figures: Iterable, sums: Sequence[FigureSum]) -> list[Finding]:
    """Published totals (누계 and breakdowns) against the sum of their printed parts."""
    by_key = {f.figure_key: f for f in figures}
    findings = []
    for rule in sums:
        missing = [k for k in (rule.total_key, *rule.part_keys) if k not in by_key]
        if missing:
            raise KeyError(f"figure_sums refers to unknown figure keys: {', '.join(missing)}")
        total = by_key[rule.total_key]
        expected = sum((by_key[k].value for k in rule.part_keys), Decimal(0))
        if expected != total.value:
            findings.append(
                _sum_finding(
                    "figure_sum",
                    (total.city, total.source_doc, total.source_table),
                    f"{total.figure_key} = {' + '.join(rule.part_keys)}",
                    expected,
                    total.value,
                    total.unit,
                    "부분의 합",
                    "the parts add up to",
                )
            )
    return findings
