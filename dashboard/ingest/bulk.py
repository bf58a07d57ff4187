"""Set-based writes: ``INSERT ... ON CONFLICT`` from many rows in one statement per backend.

SQLite gets a plain executemany (fast in-process). PostgreSQL gets one statement whose rows come
from ``unnest()`` over one array per column: a handful of parameters instead of thousands keeps
psycopg from re-parsing a huge multi-VALUES statement for every batch.
"""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import ARRAY, Connection, Table, Text, bindparam, cast, column, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert


def dialect_insert(conn: Connection, table: Table):
    if conn.dialect.name == "postgresql":
        return postgresql.insert(table)
    if conn.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"ingest supports SQLite and PostgreSQL, not {conn.dialect.name}")


def bulk_insert(conn: Connection, table: Table, rows: list[dict[str, Any]]) -> tuple[Insert, Any]:
    """An insert for ``rows`` (same keys in each) and the parameters to execute it with.

    Add ``on_conflict_*`` and ``returning`` to the statement, then ``conn.execute(stmt, params)``.
    """
    names = list(rows[0])
    stmt = dialect_insert(conn, table)
    if conn.dialect.name != "postgresql":
        return stmt, rows
    json_cols = {name for name in names if _is_json(table, name)}
    arrays = {f"a_{name}": [row[name] for row in rows] for name in names}
    for name in json_cols:  # JSON travels as text[] and is cast back in the SELECT
        arrays[f"a_{name}"] = [None if v is None else json.dumps(v) for v in arrays[f"a_{name}"]]
    params = (
        bindparam(f"a_{n}", type_=ARRAY(Text() if n in json_cols else table.c[n].type))
        for n in names
    )
    src = (
        func.unnest(*params)
        .table_valued(*(column(name) for name in names))
        .render_derived(name="u")
    )
    cols = [cast(src.c[n], table.c[n].type) if n in json_cols else src.c[n] for n in names]
    return stmt.from_select(names, select(*cols)), arrays


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type.dialect_impl(postgresql.dialect()), postgresql.JSON)
