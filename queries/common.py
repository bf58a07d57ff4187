"""Helpers shared by the query modules: run a Core statement into a typed DataFrame, filters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from decimal import Decimal

import pandas as pd
from sqlalchemy import Connection, Select, or_
from sqlalchemy.sql import ColumnElement

from dashboard.db.schema import Region


def frame(
    conn: Connection,
    stmt: Select,
    times: Sequence[str] = (),
    dates: Sequence[str] = (),
) -> pd.DataFrame:
    """Execute and return a DataFrame; ``times`` become tz-aware UTC, Decimals become floats.

    Columns are parsed explicitly because SQLite hands back strings and pandas would keep them.
    """
    result = conn.execute(stmt)
    df = pd.DataFrame(result.fetchall(), columns=list(result.keys()))
    for col in times:
        df[col] = pd.to_datetime(df[col], utc=True)
    for col in dates:
        df[col] = pd.to_datetime(df[col]).dt.date if len(df) else df[col]
    for col in df.columns:
        sample = df[col].dropna()
        if len(sample) and isinstance(sample.iloc[0], Decimal):
            df[col] = df[col].astype(float)
    return df


def _clean(values: Iterable | None) -> list | None:
    """None or empty means "no filter"."""
    if values is None:
        return None
    values = [v for v in values if v is not None]
    return values or None


def in_filter(column: ColumnElement, values: Iterable | None) -> ColumnElement | None:
    values = _clean(values)
    return None if values is None else column.in_(values)


def region_filter(
    region: type[Region] | object, region_ids: Iterable[int] | None
) -> ColumnElement | None:
    """Match a region itself or its parent, so a district id selects all its dongs."""
    ids = _clean(region_ids)
    if ids is None:
        return None
    return or_(region.id.in_(ids), region.parent_id.in_(ids))


def where_all(stmt: Select, *conditions: ColumnElement | None) -> Select:
    for condition in conditions:
        if condition is not None:
            stmt = stmt.where(condition)
    return stmt
