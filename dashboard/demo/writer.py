"""Bulk writes: chunked executemany of plain dicts, with ids allocated up front.

Generators build whole columns with numpy; ids are assigned here before insert so that rows of
one table can reference rows of another without a round trip per row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, timedelta
from typing import Any

import numpy as np
from sqlalchemy import Connection, Table, func, insert, select, text

CHUNK = 20_000


def next_id(conn: Connection, table: Table) -> int:
    """First free integer id of ``table``."""
    return int(conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()) + 1


def sync_sequence(conn: Connection, table: Table) -> None:
    """After inserting explicit ids on PostgreSQL, move the serial past them."""
    if conn.dialect.name != "postgresql":
        return
    conn.execute(
        text(
            f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
            f"GREATEST((SELECT COALESCE(MAX(id), 0) FROM {table.name}), 1))"
        )
    )


def to_dates(day0: date, index: np.ndarray) -> list[date]:
    """Day indices relative to ``day0`` → dates (via a small lookup table)."""
    index = np.asarray(index)
    if index.size == 0:
        return []
    table = [day0 + timedelta(days=i) for i in range(int(index.max()) + 1)]
    return [table[i] for i in index.tolist()]


def columns_to_rows(columns: dict[str, Sequence[Any] | np.ndarray]) -> list[dict[str, Any]]:
    """Column arrays → list of row dicts with plain Python values (NaN → None)."""
    names = list(columns)
    lists = []
    for name in names:
        col = columns[name]
        if isinstance(col, np.ndarray):
            if col.dtype.kind == "f":
                values = col.astype(object)
                values[np.isnan(col)] = None
                lists.append([None if v is None else float(v) for v in values.tolist()])
            else:
                lists.append(col.tolist())
        else:
            lists.append(list(col))
    return [dict(zip(names, values, strict=True)) for values in zip(*lists, strict=True)]


def bulk_insert(conn: Connection, table: Table, rows: Iterable[dict[str, Any]]) -> int:
    """executemany in chunks; returns the number of rows written."""
    n = 0
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= CHUNK:
            conn.execute(insert(table), batch)
            n += len(batch)
            batch = []
    if batch:
        conn.execute(insert(table), batch)
        n += len(batch)
    return n
