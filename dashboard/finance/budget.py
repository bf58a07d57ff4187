"""Budget execution import: monthly execution per unit project × district × funding source.

The file is the finance system's (e-호조 style) monthly execution export; docs/imports.md gives
its columns. Amounts are stored in the file's unit (the header's "(단위: 천원)"). Execution is
stored per month: a file whose execution column is cumulative (누계) is turned into monthly
amounts from the previous month's cumulative, in the file or imported before. A line is one
(회계연도, 월, 구, 단위사업, 재원); importing it again with other amounts updates it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dashboard.auth.principal import SessionUser
from dashboard.db.schema import BudgetExecution
from dashboard.finance.common import (
    Col,
    Districts,
    FileKind,
    FileReport,
    cell,
    col,
    local_today,
    map_columns,
    run_import,
    sheet_reader,
    year_month,
)
from dashboard.finance.sheet import UNITS, blank, parse_amount, text_of
from dashboard.ingest.files import RowError, no_rows, value_without_header
from dashboard.ingest.refusal import Refused

KIND = "budget_execution"
LABEL = "budget execution"
FORMULA_TOLERANCE_WON = 1_000  # documents truncate won products to whole 천원 (queries.budget)

COLUMNS: tuple[Col, ...] = (
    col("fiscal_year", "회계연도", "회계연도", "연도", "년도", "예산연도", "year"),
    col("month", "월", "월", "집행월", "기준월", "month"),
    col("district", "구", "구", "자치구", "시군구", "지역", "district"),
    col("unit_project", "단위사업", "단위사업", "단위사업명", "사업명"),
    col("funding_source", "재원", "재원", "재원구분", "fund"),
    col("plan", "예산액", "예산액", "계획액", "예산현액"),
    col("secured", "확보액", "확보액", "배정액"),
    col("executed", "집행액", "집행액", "월집행액", "당월집행액", "집행액당월", "executedmonth"),
    col(
        "executed_cumulative",
        "누계집행액",
        "누계집행액",
        "집행누계",
        "집행액누계",
        "누적집행액",
        "집행액누적",
    ),
    col("planned", "월계획액", "월계획액", "집행계획액", "월집행계획", "계획집행액"),
    col("unit_price", "단가", "단가"),
    col("quantity", "수량", "수량"),
)
REQUIRED = ("month", "district", "unit_project", "funding_source", "plan")
AMOUNTS = ("plan", "secured", "executed", "executed_cumulative", "planned")

FUNDING = {
    "국비": "national",
    "도비": "provincial",
    "시도비": "provincial",
    "광역시비": "city",
    "시비": "city",
    "구비": "district",
    "군비": "district",
    "민자": "private",
    "민간": "private",
    "기타": "other",
    "기금": "other",
    **{k: k for k in ("national", "provincial", "city", "district", "private", "other")},
}
# Stored fields compared on re-import (besides the key).
FIELDS = ("unit", "plan", "secured", "executed", "planned", "unit_price_won", "quantity")


def import_budget(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
) -> FileReport:
    """Check and (unless ``dry_run`` or refused) store a budget execution file, all or nothing;
    needs ``import_data``; audited as ``budget_execution_import`` when stored."""
    return run_import(engine, FILE, data, filename, principal, now, dry_run=dry_run)


def _unit(sheet, positions: dict[str, int], report: FileReport) -> str | None:
    """The amounts' one unit: a note above or in the header, or the amount columns' own
    (단가 has its own unit, 원 unless its header names another)."""
    stated = {
        sheet.column_units[i]
        for k, i in positions.items()
        if k in AMOUNTS and i in sheet.column_units
    }
    units = stated | ({sheet.unit} if sheet.unit else set())
    if len(units) > 1:
        report.errors.append(
            RowError(
                sheet.header_row,
                None,
                f"the amounts are in several units ({', '.join(sorted(units))}); use one per file",
                "units_several",
                {"units": ", ".join(sorted(units))},
            )
        )
        return None
    if not units:
        report.errors.append(
            RowError(
                sheet.header_row,
                None,
                "no unit: say it above the header, e.g. (단위: 천원) or (단위: 백만원)",
                "no_unit",
            )
        )
        return None
    return units.pop()


def _funding(value: Any) -> str:
    raw = text_of(value).replace("·", "").replace(" ", "")
    if raw.lower() in FUNDING:
        return FUNDING[raw.lower()]
    raise Refused(
        f"unknown funding source {text_of(value)!r} (국비, 도비, 시비, 구비, 기타)",
        "unknown_funding",
        value=text_of(value),
    )


def _check(conn: Connection, sheet, report: FileReport, now: datetime) -> list[dict[str, Any]]:
    positions, errors = map_columns(sheet, COLUMNS, REQUIRED)
    report.errors += errors
    if "executed" not in positions and "executed_cumulative" not in positions:
        report.errors.append(
            RowError(
                sheet.header_row,
                "집행액",
                "give 집행액 (monthly) or 누계집행액 (cumulative)",
                "executed_missing",
            )
        )
    if report.errors:
        return []
    unit = _unit(sheet, positions, report)
    if unit is None:
        return []
    report.unit = unit
    price_unit = sheet.column_units.get(positions.get("unit_price", -1), "원")
    where = {k: sheet.written[i] for k, i in positions.items()}
    districts = Districts(conn)
    today = local_today(now)
    rows: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    for number, cells in sheet.rows:
        row_errors: list[RowError] = []
        if any(not blank(c) for c in cells[len(sheet.names) :]):
            row_errors.append(value_without_header(number))
        period = year_month(number, cells, positions, sheet, today, row_errors)
        values: dict[str, Any] = {"number": number}
        for key, parse in (
            ("district", districts.find),
            ("unit_project", _project),
            ("funding_source", _funding),
        ):
            raw = cell(cells, positions, key)
            if blank(raw):
                if key in REQUIRED:
                    row_errors.append(RowError(number, where[key], "required", "required"))
                continue
            try:
                values[key] = parse(raw)
            except ValueError as exc:
                row_errors.append(RowError.of(number, where[key], exc))
        for key in (*AMOUNTS, "unit_price", "quantity"):
            raw = cell(cells, positions, key)
            if blank(raw):
                values[key] = None
                if key == "plan" or (
                    key in ("executed", "executed_cumulative") and key in positions
                ):
                    row_errors.append(RowError(number, where[key], "required", "required"))
                continue
            try:
                values[key] = parse_amount(raw, 0 if key == "unit_price" else 3)
            except ValueError as exc:
                row_errors.append(RowError.of(number, where[key], exc))
        if (values.get("unit_price") is None) != (values.get("quantity") is None) and not any(
            e.column in (where.get("unit_price"), where.get("quantity")) for e in row_errors
        ):
            missing = "quantity" if values.get("quantity") is None else "unit_price"
            row_errors.append(
                RowError(
                    number,
                    where.get(missing, missing),
                    "give both 단가 and 수량, or neither",
                    "price_quantity_pair",
                )
            )
        report.errors += row_errors
        report.rows += 1
        if row_errors or period is None:
            continue
        values["fiscal_year"], values["month"] = period
        key = _key(values)
        if key in seen:
            report.errors.append(
                RowError(
                    number,
                    where["unit_project"],
                    f"the same line and month as row {seen[key]}",
                    "same_line_month",
                    {"first": seen[key]},
                )
            )
            continue
        seen[key] = number
        rows.append(values)
    if report.rows == 0:
        report.errors.append(no_rows())
    if report.errors:
        return []
    stored = _stored(conn, rows)
    _monthly(rows, stored, unit, where, report)
    if report.errors:
        return []
    plan = []
    for values in rows:
        _flag_formula(values, unit, price_unit, where, report)
        planned = {
            "unit": unit,
            "plan": values["plan"],
            "secured": values["secured"],
            "executed": values["executed"],
            "planned": values["planned"],
            "unit_price_won": None
            if values["unit_price"] is None
            else values["unit_price"] * UNITS[price_unit],
            "quantity": values["quantity"],
        }
        old = stored.get(_key(values))
        key_text = (
            f"{values['fiscal_year']}-{values['month']:02d} {values['unit_project']} "
            f"({districts.code_of[values['district']]}, {values['funding_source']})"
        )
        if old is None:
            report.new.append(key_text)
            plan.append({"op": "insert", "values": planned | _key_values(values)})
            continue
        changed = tuple(f for f in FIELDS if not _same(planned[f], getattr(old, f)))
        if not changed:
            report.unchanged += 1
            continue
        report.changed.append((key_text, changed))
        plan.append({"op": "update", "id": old.id, "values": {f: planned[f] for f in changed}})
    return plan


def _project(value: Any) -> str:
    out = text_of(value)
    if len(out) > 120:
        raise Refused("longer than 120 characters", "too_long", max=120)
    return out


def _key(values: dict[str, Any]) -> tuple:
    return (
        values["fiscal_year"],
        values["month"],
        values["district"],
        values["unit_project"],
        values["funding_source"],
    )


def _key_values(values: dict[str, Any]) -> dict[str, Any]:
    return {
        "fiscal_year": values["fiscal_year"],
        "month": values["month"],
        "region_id": values["district"],
        "unit_project": values["unit_project"],
        "funding_source": values["funding_source"],
    }


def _same(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, Decimal) or isinstance(b, Decimal):
        return Decimal(str(a)) == Decimal(str(b))
    return a == b


def _stored(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple, Any]:
    """The stored months of every (year, district, project, source) line the file touches."""
    years = sorted({r["fiscal_year"] for r in rows})
    regions = sorted({r["district"] for r in rows})
    found = {}
    if not rows:
        return found
    stmt = select(BudgetExecution).where(
        BudgetExecution.fiscal_year.in_(years), BudgetExecution.region_id.in_(regions)
    )
    for row in conn.execute(stmt):
        key = (row.fiscal_year, row.month, row.region_id, row.unit_project, row.funding_source)
        found[key] = row
    return found


def _in_unit(amount: Decimal, unit: str, target: str) -> Decimal:
    return Decimal(amount) * UNITS[unit] / UNITS[target]


def _monthly(
    rows: list[dict[str, Any]],
    stored: dict[tuple, Any],
    unit: str,
    where: dict[str, str],
    report: FileReport,
) -> None:
    """Give every row its month's execution; a cumulative column is turned into monthly
    amounts (and checked against a monthly column when the file has both)."""
    lines: dict[tuple, dict[int, dict[str, Any]]] = defaultdict(dict)
    for values in rows:
        line = (
            values["fiscal_year"],
            values["district"],
            values["unit_project"],
            values["funding_source"],
        )
        lines[line][values["month"]] = values
    for (year, region, project, fund), months in lines.items():
        for month in sorted(months):
            values = months[month]
            cumulative = values["executed_cumulative"]
            if cumulative is None:
                continue
            before = _cumulative_before(months, stored, (year, region, project, fund), month, unit)
            if before is None:
                report.errors.append(
                    RowError(
                        values["number"],
                        where["executed_cumulative"],
                        f"cumulative execution for month {month} needs month {month - 1} of "
                        "this line, in this file or imported before",
                        "cumulative_needs_previous",
                        {"month": month, "previous": month - 1},
                    )
                )
                continue
            monthly = cumulative - before
            if values["executed"] is None:
                values["executed"] = monthly
            elif values["executed"] != monthly:
                report.errors.append(
                    RowError(
                        values["number"],
                        where["executed_cumulative"],
                        f"cumulative {cumulative:,} is not the previous months' {before:,} plus "
                        f"this month's {values['executed']:,}",
                        "cumulative_mismatch",
                        {
                            "cumulative": f"{cumulative:,}",
                            "before": f"{before:,}",
                            "executed": f"{values['executed']:,}",
                        },
                    )
                )


def _cumulative_before(
    months: dict[int, dict[str, Any]],
    stored: dict[tuple, Any],
    line: tuple,
    month: int,
    unit: str,
) -> Decimal | None:
    """The line's execution from January to the month before ``month``: the file's months
    (already made monthly, as months are taken in order) and the stored ones; None if one is
    missing."""
    year, region, project, fund = line
    total = Decimal(0)
    for m in range(1, month):
        if m in months:
            executed = months[m]["executed"]
            if executed is None:
                return None
            total += executed
            continue
        row = stored.get((year, m, region, project, fund))
        if row is None:
            return None
        total += _in_unit(row.executed, row.unit, unit)
    return total


def _flag_formula(
    values: dict[str, Any], unit: str, price_unit: str, where: dict[str, str], report: FileReport
) -> None:
    """단가 × 수량 against 예산액, in won: flagged (stored anyway), as the documents' checks do."""
    if values["unit_price"] is None or values["quantity"] is None:
        return
    computed = values["unit_price"] * UNITS[price_unit] * values["quantity"]
    stated = values["plan"] * UNITS[unit]
    if abs(computed - stated) >= FORMULA_TOLERANCE_WON:
        report.flags.append(
            RowError(
                values["number"],
                where["plan"],
                f"단가 × 수량 = {computed / UNITS[unit]:,.0f} {unit}, "
                f"but 예산액 is {values['plan']:,} {unit}",
                "formula_flag",
                {
                    "computed": f"{computed / UNITS[unit]:,.0f}",
                    "plan": f"{values['plan']:,}",
                    "unit": unit,
                },
            )
        )


def _apply(conn: Connection, plan: list[dict[str, Any]], import_id: int) -> None:
    inserts = [w["values"] | {"import_id": import_id} for w in plan if w["op"] == "insert"]
    if inserts:
        conn.execute(insert(BudgetExecution), inserts)
    for write in plan:
        if write["op"] == "update":
            conn.execute(
                update(BudgetExecution)
                .where(BudgetExecution.id == write["id"])
                .values(write["values"] | {"import_id": import_id})
            )


FILE = FileKind(KIND, LABEL, sheet_reader(COLUMNS), _check, _apply)
