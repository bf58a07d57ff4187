"""``column IN (values)`` with one bound parameter, for lists whose length changes every call."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ARRAY,
    BigInteger,
    Connection,
    Enum,
    Integer,
    String,
    Text,
    any_,
    bindparam,
    cast,
    func,
    select,
)
from sqlalchemy.sql import ColumnElement
from sqlalchemy.types import NullType


def in_values(conn: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` as one parameter, whatever the number of values.

    An expanding ``IN (…)`` renders one placeholder per value: every batch's different length
    makes a new SQL string, which SQLAlchemy re-renders, SQLite re-prepares and psycopg
    re-parses (≈ 10 ms of a 1,000-event batch over its four look-ups). One array
    (PostgreSQL ``= ANY``) or one JSON text (SQLite ``json_each``) keeps the statement fixed.
    On PostgreSQL integers and texts travel as one array literal (:func:`array_literal`), an
    untyped parameter cast to the array type: PostgreSQL then parses it once, as a constant
    the planner sees (a ``text`` parameter cast at run time hid the list from the planner, and
    the rules' look-ups on ``device_events`` cost 10 times the server CPU).
    """
    values = list(values)
    if conn.dialect.name == "postgresql":
        literal = array_literal(values, column.type)
        if literal is not None:
            text, element = literal
            return column == any_(cast(bindparam(None, text, type_=NullType()), ARRAY(element)))
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if conn.dialect.name == "sqlite":
        return _in_json(column, bindparam(None, json.dumps(values), type_=Text()))
    return column.in_(values)


def in_bound(conn: Connection, column: Any, key: str) -> ColumnElement[bool]:
    """``in_values`` for a statement built once and run many times: the values are bound at
    execution under ``key``, as ``bound_values`` gives them. Integer and text columns only."""
    if conn.dialect.name == "postgresql":
        element = array_literal([], column.type)
        if element is None:
            raise TypeError(f"{column}: only integer and text columns take bound id lists")
        return column == any_(cast(bindparam(key, type_=NullType()), ARRAY(element[1])))
    if conn.dialect.name == "sqlite":
        return _in_json(column, bindparam(key, type_=Text()))
    raise NotImplementedError(f"bound id lists for SQLite and PostgreSQL, not {conn.dialect.name}")


def bound_values(conn: Connection, column: Any, values: Sequence[Any]) -> str:
    """The parameter of an ``in_bound`` condition holding ``values``."""
    values = list(values)
    if conn.dialect.name == "postgresql":
        literal = array_literal(values, column.type)
        if literal is None:
            raise TypeError(f"{column}: {values[:3]!r}… are not all integers or texts")
        return literal[0]
    return json.dumps(values)


def _in_json(column: Any, param: Any) -> ColumnElement[bool]:
    return column.in_(select(func.json_each(param).table_valued("value").c.value))


def array_literal(values: list[Any], type_: Any) -> tuple[str, Any] | None:
    """PostgreSQL's text form of an ``int[]`` or ``text[]`` holding ``values``, and the element
    type to cast it to; None for other types or values (they go through psycopg's dumper).

    psycopg dumps a list parameter element by element in Python (≈ 0.8 ms per 1,000 texts);
    the literal is one string built by ``str.join``. Texts are double-quoted, with ``\\`` and
    ``"`` escaped, so commas, braces, spaces, quotes and ``NULL`` stay plain text. The cast is
    to ``text[]``, never the column's ``varchar(n)[]``, which would cut a longer value to ``n``
    characters (and could then match another row).
    """
    if isinstance(type_, Integer):
        if not all(type(v) is int for v in values):  # bools, None, numpy scalars: the dumper
            return None
        # bigint[] for any integer column: an id past int4 then matches nothing, as a list does
        return "{" + ",".join(map(str, values)) + "}", BigInteger()
    if isinstance(type_, String) and not isinstance(type_, Enum):  # a native enum is no text
        if not all(type(v) is str for v in values):
            return None
        if not values:
            return "{}", Text()
        joined = '","'.join(values)
        if "\\" in joined or '"' in joined:
            joined = '","'.join(v.replace("\\", "\\\\").replace('"', '\\"') for v in values)
        return '{"' + joined + '"}', Text()
    return None
