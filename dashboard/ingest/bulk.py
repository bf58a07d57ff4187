"""Set-based writes: ``INSERT ... ON CONFLICT`` from many rows in one statement per backend.

``bulk_write`` is the entry point. PostgreSQL gets the rows by COPY into a session-private
staging table and one ``INSERT … SELECT … ON CONFLICT`` from it (``_postgres_copy_write``).
SQLite gets the same statement, compiled once per process, executed straight on the driver
(``exec_driver_sql``) with the parameters run through the columns' own bind processors: the
same values SQLAlchemy would send, without its per-row bookkeeping, which cost more than
SQLite itself on a 1,000-event batch.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from functools import lru_cache
from itertools import chain
from operator import itemgetter
from typing import Any

from psycopg.rows import namedtuple_row
from sqlalchemy import (
    ARRAY,
    Column,
    Connection,
    DateTime,
    MetaData,
    Table,
    Text,
    bindparam,
    cast,
    column,
    func,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

__all__ = ["bulk_insert", "bulk_write", "dialect_insert"]

SQLITE_ROWS_PER_STATEMENT = 1_000  # multi-row VALUES with RETURNING; well under 32,766 params
_VALUES = re.compile(r"VALUES (\([?, ]+\))")


class _SqliteStatement:
    """A one-row INSERT as SQLAlchemy compiles it for SQLite, and how to bind rows to it."""

    def __init__(self, sql: str, names: tuple[str, ...], processors: list, returning: bool):
        self.sql = sql
        self.returning = returning
        self._columns = [(itemgetter(n), p) for n, p in zip(names, processors, strict=True)]

    def params(self, rows: list[dict[str, Any]]) -> list[tuple]:
        """Each row's parameters in the statement's order, through the columns' processors.

        Built column by column (``map`` over an ``itemgetter``, then the processor): no Python
        frame per row, which cost more than SQLite's own insert of the row.
        """
        columns = [
            map(process, map(get, rows)) if process else map(get, rows)
            for get, process in self._columns
        ]
        return list(zip(*columns, strict=True))


_compiled: dict[tuple[str, str, tuple[str, ...]], _SqliteStatement] = {}


def bulk_write(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    finish: Callable[[Insert], Insert],
    *,
    key: str,
) -> list[Any]:
    """Insert ``rows`` (same keys in each) with the statement ``finish`` completes
    (``on_conflict_*``, ``returning``); returns the RETURNING rows (empty without RETURNING).

    ``key`` names the statement: on SQLite it is compiled once per key and column list, so
    ``finish`` must build the same statement every time for a given key.
    """
    if not rows:
        return []
    if conn.dialect.name == "postgresql":
        return _postgres_copy_write(conn, table, rows, finish, key)
    if conn.dialect.name != "sqlite":
        stmt, params = bulk_insert(conn, table, rows)
        result = conn.execute(finish(stmt), params)
        return list(result) if result.returns_rows else []
    compiled = _sqlite_statement(conn, table, tuple(rows[0]), finish, key)
    if not compiled.returning:
        conn.exec_driver_sql(compiled.sql, compiled.params(rows))
        return []
    out: list[Any] = []
    for start in range(0, len(rows), SQLITE_ROWS_PER_STATEMENT):
        part = rows[start : start + SQLITE_ROWS_PER_STATEMENT]
        one = _VALUES.search(compiled.sql)
        assert one is not None, compiled.sql
        sql = (
            compiled.sql[: one.start(1)]
            + ", ".join([one.group(1)] * len(part))
            + compiled.sql[one.end(1) :]
        )
        flat = tuple(chain.from_iterable(compiled.params(part)))
        out.extend(conn.exec_driver_sql(sql, flat))
    return out


def _sqlite_statement(
    conn: Connection,
    table: Table,
    names: tuple[str, ...],
    finish: Callable[[Insert], Insert],
    key: str,
) -> _SqliteStatement:
    cache_key = (key, table.name, names)
    found = _compiled.get(cache_key)
    if found is None:
        stmt = finish(sqlite.insert(table))
        c = stmt.compile(dialect=conn.dialect, column_keys=list(names))
        order = tuple(c.positiontup or ())
        if set(order) != set(names) or len(order) != len(names):
            raise ValueError(f"{key}: the statement's parameters {order} are not the row's {names}")
        found = _compiled[cache_key] = _SqliteStatement(
            c.string,
            order,
            [_processor(table.c[n].type, conn.dialect) for n in order],
            bool(c.returning),
        )
    return found


class _PostgresStatement:
    """The statements of one ``bulk_write`` key on PostgreSQL: a session-private staging table
    with the written columns (emptied at commit), the COPY into it, and the INSERT … SELECT from it
    that ``finish`` completes (compiled once; it has no parameters)."""

    def __init__(self, table: Table, names: tuple[str, ...], finish: Callable, dialect) -> None:
        # Only the written columns, their types and nothing else (no defaults: a serial id
        # would draw from the table's sequence); one per key and column list.
        digest = hashlib.sha1(",".join(names).encode()).hexdigest()[:8]
        staging = f"_bulk_{table.name}_{digest}"
        cols = ", ".join(f'"{n}"' for n in names)
        self.create = (
            f'CREATE TEMPORARY TABLE IF NOT EXISTS "{staging}" ON COMMIT DELETE ROWS '
            f'AS SELECT {cols} FROM "{table.name}" WITH NO DATA'
        )
        self.copy = f'COPY "{staging}" ({cols}) FROM STDIN'
        self.empty = f'DELETE FROM "{staging}"'
        source = Table(staging, MetaData(), *(Column(n, table.c[n].type) for n in names))
        stmt = finish(postgresql.insert(table).from_select(names, select(*source.c)))
        compiled = stmt.compile(dialect=dialect)
        if compiled.params:
            raise ValueError(f"{table.name}: a bulk statement must not carry parameters")
        self.insert = compiled.string
        self.returning = bool(compiled.returning)
        json_cols = {n for n in names if _is_json(table, n)}
        self.json_at = [i for i, n in enumerate(names) if n in json_cols]


_pg_compiled: dict[tuple[str, str, tuple[str, ...]], _PostgresStatement] = {}


def _postgres_copy_write(
    conn: Connection,
    table: Table,
    rows: list[dict[str, Any]],
    finish: Callable[[Insert], Insert],
    key: str,
) -> list[Any]:
    """COPY the rows into the staging table, then one INSERT … SELECT ON CONFLICT from it.

    COPY sends the rows as one stream formatted by psycopg's C code; the former one statement
    with one array parameter per column spent more time in psycopg's Python array dumper than
    the server spent inserting. The conflict rules and RETURNING are the same statement's.
    """
    names = tuple(rows[0])
    cache_key = (key, table.name, names)
    stmt = _pg_compiled.get(cache_key)
    if stmt is None:
        stmt = _pg_compiled[cache_key] = _PostgresStatement(table, names, finish, conn.dialect)
    get = itemgetter(*names) if len(names) > 1 else (lambda row: (row[names[0]],))
    raw = conn.connection.driver_connection
    with raw.cursor(row_factory=namedtuple_row) as cur:
        cur.execute(stmt.create)
        with cur.copy(stmt.copy) as copy:
            for row in rows:
                values = get(row)
                if stmt.json_at:
                    values = list(values)
                    for i in stmt.json_at:
                        if values[i] is not None:
                            values[i] = json.dumps(values[i])
                copy.write_row(values)
        cur.execute(stmt.insert)
        out = cur.fetchall() if stmt.returning else []
        cur.execute(stmt.empty)  # a second write of this table in the same transaction
    return out


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


def _processor(type_: Any, dialect: Any) -> Callable[[Any], Any] | None:
    # The dialect's implementation (SQLite's DATETIME string format, JSON serializer), as
    # SQLAlchemy itself binds it; the generic type's processor would leave datetimes to the driver.
    process = type_.dialect_impl(dialect).bind_processor(dialect)
    if process is not None and isinstance(getattr(type_, "impl", type_), DateTime):
        # A batch repeats few instants (received_at, state_since, updated_at are all "now", a
        # device reports on the minute): format each once. Equal aware datetimes are the same
        # instant, so they format alike; a naive one is never equal to them and still raises.
        return lru_cache(maxsize=4096)(process)
    return process


def _is_json(table: Table, name: str) -> bool:
    return isinstance(table.c[name].type.dialect_impl(postgresql.dialect()), postgresql.JSON)
