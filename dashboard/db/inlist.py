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


def in_values(conn: Connection, column: Any, values: Sequence[Any]) -> ColumnElement[bool]:
    """``column IN values`` as one parameter, whatever the number of values.

    An expanding ``IN (…)`` renders one placeholder per value: every batch's different length
    makes a new SQL string, which SQLAlchemy re-renders, SQLite re-prepares and psycopg
    re-parses (≈ 10 ms of a 1,000-event batch over its four look-ups). One array
    (PostgreSQL ``= ANY``) or one JSON text (SQLite ``json_each``) keeps the statement fixed.
    On PostgreSQL integers and texts travel as one array literal (:func:`array_literal`).
    """
    values = list(values)
    if conn.dialect.name == "postgresql":
        literal = array_literal(values, column.type)
        if literal is not None:
            text, element = literal
            array = cast(bindparam(None, text, type_=Text()), ARRAY(element))
            return column == any_(array)
        return column == any_(bindparam(None, values, type_=ARRAY(column.type)))
    if conn.dialect.name == "sqlite":
        listed = func.json_each(bindparam(None, json.dumps(values), type_=Text())).table_valued(
            "value"
        )
        return column.in_(select(listed.c.value))
    return column.in_(values)


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
