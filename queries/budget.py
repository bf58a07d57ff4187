"""Budget lines as printed in the documents, and the derived execution table."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import (
    BudgetExecution,
    BudgetLine,
    DataImport,
    IncentiveLedger,
    Program,
    Region,
)
from queries.common import frame, in_filter, where_all
from queries.participation import ledger_months

_WON_PER_UNIT = {"원": 1, "천원": 1_000, "백만원": 1_000_000}


def budget_lines(conn: Connection, city: str | None = None) -> pd.DataFrame:
    """Every budget cell (totals included, flagged ``is_total``) in document order."""
    cols = [c for c in BudgetLine.__table__.columns]
    stmt = where_all(select(*cols), BudgetLine.city == city if city else None)
    df = frame(conn, stmt.order_by(BudgetLine.id))
    for col in ("amount", "unit_price_won", "quantity", "rate"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def execution_table(lines: pd.DataFrame) -> pd.DataFrame:
    """Plan, secured and executed side by side per unit project × funding source × period.

    Uses the detail cells only (``is_total`` false) so the sums can be compared with the
    printed totals. Rates are in percent: executed of secured, secured of plan.
    """
    detail = lines[~lines["is_total"].astype(bool)]
    detail = detail[detail["measure"].isin(["plan", "secured", "executed"])]
    if detail.empty:
        return pd.DataFrame(
            columns=[
                "unit_project",
                "funding_source",
                "period",
                "unit",
                "plan",
                "secured",
                "executed",
                "execution_rate",
                "secured_rate",
            ]
        )
    keys = ["unit_project", "funding_source", "period", "unit"]
    table = detail.pivot_table(
        index=keys, columns="measure", values="amount", aggfunc="sum", dropna=False
    ).reset_index()
    for measure in ("plan", "secured", "executed"):
        if measure not in table:
            table[measure] = float("nan")
    table["execution_rate"] = (
        table["executed"] / table["secured"].where(table["secured"] != 0) * 100
    )
    table["secured_rate"] = table["secured"] / table["plan"].where(table["plan"] != 0) * 100
    table.columns.name = None
    return table.dropna(how="all", subset=["plan", "secured", "executed"]).reset_index(drop=True)


def formula_check(lines: pd.DataFrame) -> pd.DataFrame:
    """Line items with a unit × quantity (× rate) formula: the computed amount and whether it
    matches the printed one (in the printed unit, to the unit's whole number)."""
    items = lines[lines["unit_price_won"].notna() & lines["quantity"].notna()].copy()
    if items.empty:
        items["computed"] = []
        items["matches"] = []
        return items
    rate = items["rate"].fillna(1.0)
    per_unit = items["unit"].map(_WON_PER_UNIT).astype(float)
    items["computed"] = [
        float(Decimal(str(p)) * Decimal(str(q)) * Decimal(str(r)) / Decimal(str(u)))
        for p, q, r, u in zip(
            items["unit_price_won"], items["quantity"], rate, per_unit, strict=True
        )
    ]
    # Documents truncate won products to whole 천원; under 1,000 won is rounding, not an error.
    items["matches"] = (items["computed"] - items["amount"]).abs() * per_unit < 1_000
    return items


def findings(conn: Connection) -> pd.DataFrame:
    """Inconsistencies in the printed tables (sums, formulas, executed > secured), as rows.

    The checks are the reference package's; they run on the stored lines so an imported or
    edited budget is checked the same way as the transcribed documents.
    """
    from dashboard.db.schema import PublishedFigure
    from dashboard.reference.checks import check_budget_tables

    lines = conn.execute(select(BudgetLine.__table__).order_by(BudgetLine.id)).all()
    figures = conn.execute(select(PublishedFigure.__table__)).all()
    rows = [
        {
            "kind": f.kind,
            "city": f.city,
            "source_doc": f.source_doc,
            "table": f.table,
            "where": f.where,
            "expected": None if f.expected is None else float(f.expected),
            "printed": None if f.printed is None else float(f.printed),
            "unit": f.unit,
            "message_ko": f.message_ko,
            "message_en": f.message_en,
        }
        for f in check_budget_tables(lines, figures)
    ]
    return pd.DataFrame(
        rows,
        columns=[
            "kind",
            "city",
            "source_doc",
            "table",
            "where",
            "expected",
            "printed",
            "unit",
            "message_ko",
            "message_en",
        ],
    )


def printed_table(lines: pd.DataFrame, source_table: str) -> pd.DataFrame:
    """One document table in its printed shape: a row per project × item × source × measure,
    a column per period in document order, totals included."""
    part = lines[lines["source_table"] == source_table].copy()
    if part.empty:
        return pd.DataFrame()
    keys = ["unit_project", "category", "line_item", "funding_source", "measure"]
    part[keys] = part[keys].fillna("")
    periods = list(dict.fromkeys(part["period"]))
    table = (
        part.pivot_table(index=keys, columns="period", values="amount", aggfunc="first", sort=False)
        .reindex(columns=periods)
        .reset_index()
    )
    table.columns.name = None
    return table


# --- imported monthly execution (budget_execution) and incentive statements ---------------------


def execution_years(conn: Connection) -> list[int]:
    """Fiscal years with imported execution, newest first."""
    stmt = select(BudgetExecution.fiscal_year).distinct().order_by(BudgetExecution.fiscal_year)
    return sorted(conn.execute(stmt).scalars(), reverse=True)


def execution_options(conn: Connection, year: int) -> pd.DataFrame:
    """The districts and funding sources a year's execution has (for the filters)."""
    stmt = (
        select(
            Region.id.label("region_id"),
            Region.code,
            Region.name_ko,
            Region.name_en,
            BudgetExecution.funding_source,
        )
        .join(Region, Region.id == BudgetExecution.region_id)
        .where(BudgetExecution.fiscal_year == year)
        .distinct()
        .order_by(Region.code, BudgetExecution.funding_source)
    )
    return frame(conn, stmt)


def execution_rows(
    conn: Connection,
    year: int,
    region_ids: Iterable[int] | None = None,
    sources: Iterable[str] | None = None,
) -> pd.DataFrame:
    """A year's monthly execution rows (amounts in each row's own unit, as floats), with the
    district's names and the import each row came from (file name, time)."""
    stmt = (
        select(
            BudgetExecution.fiscal_year,
            BudgetExecution.month,
            BudgetExecution.region_id,
            Region.code.label("region_code"),
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            BudgetExecution.unit_project,
            BudgetExecution.funding_source,
            BudgetExecution.unit,
            BudgetExecution.plan,
            BudgetExecution.secured,
            BudgetExecution.executed,
            BudgetExecution.planned,
            BudgetExecution.unit_price_won,
            BudgetExecution.quantity,
            DataImport.filename,
            DataImport.imported_at,
        )
        .join(Region, Region.id == BudgetExecution.region_id)
        .join(DataImport, DataImport.id == BudgetExecution.import_id)
        .where(BudgetExecution.fiscal_year == year)
        .order_by(
            Region.code,
            BudgetExecution.unit_project,
            BudgetExecution.funding_source,
            BudgetExecution.month,
        )
    )
    stmt = where_all(
        stmt,
        in_filter(BudgetExecution.region_id, region_ids),
        in_filter(BudgetExecution.funding_source, sources),
    )
    df = frame(conn, stmt, times=["imported_at"])
    for col in ("plan", "secured", "executed", "planned", "unit_price_won", "quantity"):
        df[col] = pd.to_numeric(df[col], errors="coerce").astype(float)
    return df


def execution_formula_flags(rows: pd.DataFrame) -> pd.DataFrame:
    """Imported lines whose 단가 × 수량 disagrees with the stated plan, checked as the
    documents' line items are (:func:`formula_check`, plan as the printed amount)."""
    items = rows.rename(columns={"plan": "amount"}).assign(rate=float("nan"))
    checked = formula_check(items)
    if checked.empty:
        return checked
    wrong = checked[~checked["matches"].astype(bool)].rename(columns={"amount": "plan"})
    # One row per line: its latest month (every month repeats the line's formula).
    keys = ["region_id", "unit_project", "funding_source"]
    return wrong.sort_values("month").drop_duplicates(keys, keep="last").reset_index(drop=True)


INCENTIVE_TABLE = "예산 총괄"  # the 2023 budget statement's summary: 기타보상금 is the incentive
INCENTIVE_CATEGORY = "기타보상금"


def incentive_budgets(conn: Connection) -> pd.DataFrame:
    """The incentive budget per year as the document prints it (year, amount, unit, source)."""
    stmt = select(
        BudgetLine.period.label("year"),
        BudgetLine.amount,
        BudgetLine.unit,
        BudgetLine.source_doc,
        BudgetLine.source_table,
    ).where(
        BudgetLine.source_table == INCENTIVE_TABLE,
        BudgetLine.category == INCENTIVE_CATEGORY,
        BudgetLine.measure == "budget",
    )
    df = frame(conn, stmt.order_by(BudgetLine.period))
    df = df[df["year"].astype(str).str.fullmatch(r"\d{4}")].copy()
    df["year"] = df["year"].astype(int)
    df["amount"] = df["amount"].astype(float)
    return df.reset_index(drop=True)


def incentive_months(conn: Connection, program_code: str, year: int) -> pd.DataFrame:
    """Points per month and kind in ``year`` (earned positive, redeemed and expired negative)
    from the operator's imported statements only: the per-person ledger is a sample of
    participants who are already in the statements, so added to them it counts those people
    twice, and alone it is a few thousand people set against the whole city's budget
    (docs/analysis.md, "one series per source")."""
    df = ledger_months(conn, program_code, date(year, 1, 1), date(year, 12, 31))
    df = df[df["source"] == "statement"]
    if df.empty:
        return pd.DataFrame(columns=["month", "kind", "points"])
    return df.groupby(["month", "kind"], as_index=False)["points"].sum()


def incentive_years(conn: Connection, program_code: str) -> list[int]:
    """Years with imported statement rows for the program (the budget tab's ledger)."""
    stmt = (
        select(IncentiveLedger.occurred_on)
        .join(Program, Program.id == IncentiveLedger.program_id)
        .where(Program.code == program_code, IncentiveLedger.import_id.is_not(None))
        .distinct()
    )
    return sorted({d.year for d in frame(conn, stmt, dates=["occurred_on"])["occurred_on"]})


def imports(conn: Connection, kind: str, year: int | None = None) -> pd.DataFrame:
    """The stored imports of ``kind`` (newest first) that rows of ``year`` still come from."""
    stmt = select(
        DataImport.id,
        DataImport.filename,
        DataImport.imported_at,
        DataImport.imported_by,
        DataImport.rows,
        DataImport.unit,
    ).where(DataImport.kind == kind)
    if year is not None and kind == "budget_execution":
        stmt = stmt.where(
            DataImport.id.in_(
                select(BudgetExecution.import_id).where(BudgetExecution.fiscal_year == year)
            )
        )
    if year is not None and kind == "incentive_ledger":
        stmt = stmt.where(
            DataImport.id.in_(
                select(IncentiveLedger.import_id).where(
                    IncentiveLedger.occurred_on >= date(year, 1, 1),
                    IncentiveLedger.occurred_on <= date(year, 12, 31),
                )
            )
        )
    return frame(conn, stmt.order_by(DataImport.imported_at.desc()), times=["imported_at"])
