"""Load the reference CSVs into ``published_figures`` and ``budget_lines``."""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import Connection, delete, func, insert, select

from dashboard.db.schema.reference import BudgetLine, PublishedFigure
from dashboard.reference.csvdata import (
    BUDGET_CSV,
    FIGURES_CSV,
    read_budget_lines,
    read_published_figures,
)

log = logging.getLogger(__name__)


def load_reference(
    conn: Connection,
    *,
    replace: bool = False,
    figures_csv: Path = FIGURES_CSV,
    budget_csv: Path = BUDGET_CSV,
) -> dict[str, int]:
    """Insert the validated reference CSVs, inside the caller's transaction.

    If either table already holds rows and ``replace`` is False, nothing is written and the
    counts are zero: stored reference data is only rewritten when someone asks for it.
    With ``replace`` both tables are emptied and reloaded. Returns rows inserted per table.
    """
    # Read and validate everything first, so a bad CSV never leaves a half-written load.
    figures = read_published_figures(figures_csv)
    lines = read_budget_lines(budget_csv)
    existing = {
        "published_figures": conn.scalar(select(func.count()).select_from(PublishedFigure)),
        "budget_lines": conn.scalar(select(func.count()).select_from(BudgetLine)),
    }
    if any(existing.values()):
        if not replace:
            log.info("reference tables already hold rows %s; not loading", existing)
            return {"published_figures": 0, "budget_lines": 0}
        conn.execute(delete(PublishedFigure))
        conn.execute(delete(BudgetLine))
    conn.execute(insert(PublishedFigure), [f.db_values() for f in figures])
    conn.execute(insert(BudgetLine), [line.db_values() for line in lines])
    return {"published_figures": len(figures), "budget_lines": len(lines)}
