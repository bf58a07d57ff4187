"""Published figures from the source documents, as loaded into ``published_figures``."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import PublishedFigure
from queries.common import frame, in_filter, where_all


def published_figures(
    conn: Connection,
    city: str | None = None,
    program_codes: Iterable[str] | None = None,
    keys: Iterable[str] | None = None,
) -> pd.DataFrame:
    """figure_key, city, program_code, label_ko, label_en, value, unit, period, source_doc, …"""
    stmt = select(
        PublishedFigure.figure_key,
        PublishedFigure.city,
        PublishedFigure.program_code,
        PublishedFigure.label_ko,
        PublishedFigure.label_en,
        PublishedFigure.value,
        PublishedFigure.unit,
        PublishedFigure.period,
        PublishedFigure.source_doc,
        PublishedFigure.source_table,
        PublishedFigure.note,
    )
    stmt = where_all(
        stmt,
        PublishedFigure.city == city if city else None,
        in_filter(PublishedFigure.program_code, program_codes),
        in_filter(PublishedFigure.figure_key, keys),
    ).order_by(PublishedFigure.id)
    df = frame(conn, stmt)
    df["value"] = df["value"].astype(float)
    return df
