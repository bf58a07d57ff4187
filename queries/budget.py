"""Budget lines as printed in the documents, and the derived execution table."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import BudgetLine
from queries.common import frame, where_all

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
