"""Incentive statement import: the smart-band program's points per month × district.

The operator of 손목닥터 9988 reports points earned (적립), redeemed (사용·전환 to Seoul Pay)
and expired (소멸) each month; the city keeps them aggregated per district, never per person
(the per-person rows of ``incentive_ledger`` are the demo's sample). Each (program, district,
month, kind) is one ``incentive_ledger`` row dated the month's last day, with ``region_id`` and
``import_id`` set; earned points are stored positive, redeemed and expired negative (as the
per-person ledger does). One point is one won; a file in 원, 천원 or 백만원 is converted.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dashboard.auth.principal import SessionUser
from dashboard.db.schema import IncentiveLedger, Program
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

KIND = "incentive_ledger"
LABEL = "incentive statement (entries: month × district × kind)"
DEFAULT_PROGRAM = "seoul_wrist_doctor"
REASON = "monthly_statement"

COLUMNS: tuple[Col, ...] = (
    col("fiscal_year", "연도", "회계연도", "연도", "년도", "year"),
    col("month", "월", "월", "기준월", "지급월", "month"),
    col("district", "구", "구", "자치구", "시군구", "지역", "district"),
    col("program", "사업", "사업", "사업코드", "program"),
    col("earn", "적립", "적립", "적립포인트", "적립액", "지급포인트", "earned"),
    col("redeem", "사용", "사용", "사용포인트", "전환", "전환포인트", "전환액", "redeemed"),
    col("expire", "소멸", "소멸", "소멸포인트", "expired"),
)
REQUIRED = ("month", "district")
KINDS = ("earn", "redeem", "expire")
SIGN = {"earn": 1, "redeem": -1, "expire": -1}
# Points are won: a statement in 천원 or 백만원 is multiplied out.
POINT_UNITS = {"포인트": 1, **UNITS}


def import_incentives(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
) -> FileReport:
    """Check and (unless ``dry_run`` or refused) store an incentive statement, all or nothing;
    needs ``import_data``; audited as ``incentive_ledger_import`` when stored."""
    return run_import(engine, FILE, data, filename, principal, now, dry_run=dry_run)


def month_end(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _programs(conn: Connection) -> dict[str, tuple[int, str]]:
    return {c: (i, k) for c, i, k in conn.execute(select(Program.code, Program.id, Program.kind))}


def _check(conn: Connection, sheet, report: FileReport, now: datetime) -> list[dict[str, Any]]:
    positions, errors = map_columns(sheet, COLUMNS, REQUIRED)
    report.errors += errors
    if not any(k in positions for k in KINDS):
        report.errors.append(
            RowError(
                sheet.header_row,
                "적립",
                "give at least one of 적립, 사용 and 소멸",
                "points_missing",
            )
        )
    units = {sheet.column_units[i] for i in positions.values() if i in sheet.column_units}
    units |= {sheet.unit} if sheet.unit else set()
    if len(units) > 1:
        report.errors.append(
            RowError(
                sheet.header_row,
                None,
                f"several units ({', '.join(sorted(units))})",
                "units_several",
                {"units": ", ".join(sorted(units))},
            )
        )
    if report.errors:
        return []
    unit = units.pop() if units else "포인트"
    report.unit = unit
    where = {k: sheet.written[i] for k, i in positions.items()}
    districts, programs = Districts(conn), _programs(conn)
    today = local_today(now)
    rows, seen = [], {}
    for number, cells in sheet.rows:
        row_errors: list[RowError] = []
        report.rows += 1
        if any(not blank(c) for c in cells[len(sheet.names) :]):
            row_errors.append(value_without_header(number))
        period = year_month(number, cells, positions, sheet, today, row_errors)
        values: dict[str, Any] = {"number": number}
        raw = cell(cells, positions, "district")
        if blank(raw):
            row_errors.append(RowError(number, where["district"], "required", "required"))
        else:
            try:
                values["region_id"] = districts.find(raw)
            except ValueError as exc:
                row_errors.append(RowError.of(number, where["district"], exc))
        code = text_of(cell(cells, positions, "program")).lower() or DEFAULT_PROGRAM
        found = programs.get(code)
        if found is None or found[1] != "participation":
            row_errors.append(
                RowError(
                    number,
                    where.get("program", "사업"),
                    f"{code!r} is not a participation program of the catalog",
                    "not_participation_program",
                    {"value": code},
                )
            )
        else:
            values["program_id"] = found[0]
        for kind in KINDS:
            if kind not in positions:
                continue
            raw = cell(cells, positions, kind)
            if blank(raw):
                row_errors.append(
                    RowError(number, where[kind], "required (write 0 for none)", "required_zero")
                )
                continue
            try:
                points = parse_amount(raw) * POINT_UNITS[unit]
            except ValueError as exc:
                row_errors.append(RowError.of(number, where[kind], exc))
                continue
            if points != points.to_integral_value():
                row_errors.append(
                    RowError(
                        number,
                        where[kind],
                        f"{points} is not a whole number of points",
                        "points_not_whole",
                        {"value": points},
                    )
                )
                continue
            values[kind] = int(points) * SIGN[kind]
        report.errors += row_errors
        if row_errors or period is None:
            continue
        values["occurred_on"] = month_end(*period)
        key = (values["program_id"], values["region_id"], values["occurred_on"])
        if key in seen:
            report.errors.append(
                RowError(
                    number,
                    where["district"],
                    f"the same district and month as row {seen[key]}",
                    "same_district_month",
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
    plan = []
    for values in rows:
        for kind in KINDS:
            if kind not in values:
                continue
            key = (values["program_id"], values["region_id"], values["occurred_on"], kind)
            label = f"{values['occurred_on']:%Y-%m} {districts.code_of[values['region_id']]} {kind}"
            old = stored.get(key)
            if old is None:
                report.new.append(label)
                plan.append(
                    {
                        "op": "insert",
                        "values": {
                            "program_id": values["program_id"],
                            "region_id": values["region_id"],
                            "occurred_on": values["occurred_on"],
                            "kind": kind,
                            "reason": REASON,
                            "points": values[kind],
                            "enrolment_id": None,
                        },
                    }
                )
            elif Decimal(str(old.points)) != values[kind]:
                report.changed.append((label, ("points",)))
                plan.append({"op": "update", "id": old.id, "points": values[kind]})
            else:
                report.unchanged += 1
    return plan


def _stored(conn: Connection, rows: list[dict[str, Any]]) -> dict[tuple, Any]:
    days = sorted({r["occurred_on"] for r in rows})
    stmt = select(
        IncentiveLedger.id,
        IncentiveLedger.program_id,
        IncentiveLedger.region_id,
        IncentiveLedger.occurred_on,
        IncentiveLedger.kind,
        IncentiveLedger.points,
    ).where(IncentiveLedger.import_id.is_not(None), IncentiveLedger.occurred_on.in_(days))
    return {(r.program_id, r.region_id, r.occurred_on, r.kind): r for r in conn.execute(stmt)}


def _apply(conn: Connection, plan: list[dict[str, Any]], import_id: int) -> None:
    inserts = [w["values"] | {"import_id": import_id} for w in plan if w["op"] == "insert"]
    if inserts:
        conn.execute(insert(IncentiveLedger), inserts)
    for write in plan:
        if write["op"] == "update":
            conn.execute(
                update(IncentiveLedger)
                .where(IncentiveLedger.id == write["id"])
                .values(points=write["points"], import_id=import_id)
            )


FILE = FileKind(KIND, LABEL, sheet_reader(COLUMNS), _check, _apply)
