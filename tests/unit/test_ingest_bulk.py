"""``bulk_write`` stores exactly what a plain SQLAlchemy insert stores, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import Float, Integer, String, cast, insert, select

from dashboard.db.engine import make_engine
from dashboard.db.inlist import array_literal, bound_values, in_bound, in_values
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import DeviceEvent, metadata
from dashboard.ingest.bulk import SQLITE_ROWS_PER_STATEMENT, bulk_write
from dashboard.ingest.core import idempotency_key
from tests.ingest_support import seed_catalog

AT = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)  # no microseconds: the format must still match


def row(uid: str, device_id: int, **extra) -> dict:
    return {
        "vendor": "acme",
        "event_uid": uid,
        "device_id": device_id,
        "ts": AT,
        "received_at": AT.replace(microsecond=123),
        "type": "power",
        "value": 5,  # an int: the Float column's processor makes it 5.0
        "data": {"battery_pct": 50.0, "note": "무릎"},
    } | extra


def insert_new(conn, rows) -> list[str]:
    table = DeviceEvent.__table__
    returned = bulk_write(
        conn,
        table,
        rows,
        lambda stmt: stmt.on_conflict_do_nothing(index_elements=idempotency_key(conn)).returning(
            table.c.event_uid
        ),
        key="test_bulk_events",
    )
    return sorted(r.event_uid for r in returned)


def test_bulk_write_stores_what_sqlalchemy_stores(db_engine):
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        assert insert_new(conn, [row("bulk", device)]) == ["bulk"]
        conn.execute(insert(DeviceEvent), row("plain", device))
        e = DeviceEvent.__table__
        stored = {
            r.event_uid: r[1:]
            for r in conn.execute(
                select(
                    e.c.event_uid,
                    cast(e.c.ts, String),
                    cast(e.c.received_at, String),
                    e.c.value,
                    cast(e.c.data, String),
                    e.c.ts,
                    e.c.data,
                )
            )
        }
    assert stored["bulk"] == stored["plain"]
    assert stored["bulk"][-2:] == (AT, {"battery_pct": 50.0, "note": "무릎"})


def test_bulk_write_returns_only_new_rows_across_statements(db_engine):
    count = SQLITE_ROWS_PER_STATEMENT + 7  # more than one multi-row statement on SQLite
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        assert insert_new(conn, [row("old", device)]) == ["old"]
        rows = [row(f"n{i:05d}", device) for i in range(count)] + [row("old", device)]
        assert insert_new(conn, rows) == sorted(f"n{i:05d}" for i in range(count))
        assert insert_new(conn, []) == []


def test_ingesting_sqlite_connections_checkpoint_less_often(tmp_path):
    from sqlalchemy import event

    from dashboard.db.engine import make_engine
    from dashboard.ingest.core import (
        SQLITE_WAL_AUTOCHECKPOINT,
        _sqlite_ingest_pragmas,
        tune_engine_for_ingest,
    )

    engine = make_engine(f"sqlite:///{tmp_path / 'tuned.sqlite3'}")
    assert tune_engine_for_ingest(tune_engine_for_ingest(engine)) is engine  # idempotent
    assert event.contains(engine, "connect", _sqlite_ingest_pragmas)
    with engine.connect() as conn:
        pragma = conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar()
        assert pragma == SQLITE_WAL_AUTOCHECKPOINT
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    engine.dispose()


def test_bulk_write_twice_in_one_transaction_and_after_a_rollback(db_engine):
    """PostgreSQL's staging table is emptied after each write and re-created after a rollback."""
    with db_engine.connect() as conn:
        device = seed_catalog(conn)["plug-1"]
        conn.commit()
        with conn.begin():
            assert insert_new(conn, [row("a", device)]) == ["a"]
            assert insert_new(conn, [row("b", device)]) == ["b"]  # not "a" again
        trans = conn.begin()
        assert insert_new(conn, [row("c", device)]) == ["c"]
        trans.rollback()  # also drops a staging table created in this transaction
        with conn.begin():
            assert insert_new(conn, [row("c", device), row("a", device)]) == ["c"]


def test_in_values_matches_an_in_list_of_any_length(db_engine):
    """One parameter for any number of ids or texts (past SQLite's 32,766 parameters too)."""
    e = DeviceEvent.__table__
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        insert_new(conn, [row(uid, device) for uid in ("무릎", "x'y", "plain")])

        def uids(values) -> list[str]:
            found = conn.execute(
                select(e.c.event_uid).where(in_values(conn, e.c.event_uid, values))
            )
            return sorted(found.scalars())

        assert uids([]) == []
        assert uids(["무릎", "x'y", "missing"]) == sorted(["무릎", "x'y"])
        many = [f"u{i}" for i in range(40_000)] + ["plain"]
        assert uids(many) == ["plain"]
        ids = conn.execute(select(e.c.id).where(in_values(conn, e.c.device_id, [device, -1])))
        assert len(ids.all()) == 3


AWKWARD = [
    'quo"te',
    '"',
    "com,ma",
    "back\\slash",
    "\\",
    '\\"',
    "{brace}",
    "}",
    "sp ace",
    " lead",
    "trail ",
    "NULL",
    "null",
    "",
    "무릎",
    "é\u200b",
]


def test_in_values_finds_awkward_texts_exactly(db_engine):
    """Texts travel to PostgreSQL as one array literal: quotes, commas, backslashes, braces,
    spaces, NULL and non-ASCII must still match themselves and nothing else."""
    e = DeviceEvent.__table__
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        insert_new(conn, [row(uid, device) for uid in [*AWKWARD, "x" * 80]])

        def uids(values) -> list[str]:
            query = select(e.c.event_uid).where(in_values(conn, e.c.event_uid, values))
            return sorted(conn.execute(query).scalars())

        assert uids(AWKWARD) == sorted(AWKWARD)
        for one in AWKWARD:
            assert uids([one, "missing"]) == [one]
        # one longer than the column: never cut to the column's 80 characters
        assert uids(["x" * 81]) == []
        assert uids(["x" * 80]) == ["x" * 80]


def test_in_values_integers(db_engine):
    """Integers travel as one literal too (``bigint[]``)."""
    e = DeviceEvent.__table__
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        insert_new(conn, [row("a", device), row("b", device)])

        def count(values) -> int:
            query = select(e.c.id).where(in_values(conn, e.c.device_id, values))
            return len(conn.execute(query).all())

        assert count([device]) == 2
        assert count([device, 2**40]) == 2  # past int4: matches nothing, raises nothing
        assert count([]) == 0


def test_array_literal_leaves_other_values_to_the_driver():
    assert array_literal([1, 22], Integer())[0] == "{1,22}"
    assert array_literal(['a"b', "c\\d"], String(10))[0] == '{"a\\"b","c\\\\d"}'
    assert array_literal([1, True], Integer()) is None  # a bool would print as "True"
    assert array_literal(["a", None], String()) is None
    assert array_literal([1.5], Float()) is None


def test_a_prebuilt_id_list_binds_the_values_of_each_call(db_engine):
    """A statement built once (``prebuilt`` + ``in_bound``) must not keep its first values."""
    e = DeviceEvent.__table__
    with db_engine.begin() as conn:
        device = seed_catalog(conn)["plug-1"]
        insert_new(conn, [row(uid, device) for uid in ("a", 'b"', "c")])

        def uids(values) -> list[str]:
            query = prebuilt(
                conn,
                "test.uids",
                lambda c: select(e.c.event_uid).where(in_bound(c, e.c.event_uid, "uids")),
            )
            found = conn.execute(query, {"uids": bound_values(conn, e.c.event_uid, values)})
            return sorted(found.scalars())

        assert uids(["a"]) == ["a"]
        assert uids(['b"', "c", "x"]) == ['b"', "c"]
        assert uids([]) == []


def test_postgres_plans_the_id_list_as_a_constant(postgres_schema_url):
    """The literal must reach PostgreSQL as an array constant the planner sees: a ``text``
    parameter cast to ``bigint[]`` at run time is opaque to it and made the rules' look-ups
    on ``device_events`` cost ten times the server's CPU."""
    db_engine = make_engine(postgres_schema_url)
    metadata.create_all(db_engine)
    e = DeviceEvent.__table__
    with db_engine.connect() as conn:
        for condition, bound in (
            (in_values(conn, e.c.device_id, [1, 2]), {}),
            (in_values(conn, e.c.event_uid, ["a", 'b"']), {}),
            (in_bound(conn, e.c.device_id, "ids"), {"ids": bound_values(conn, e.c.id, [1, 2])}),
        ):
            compiled = select(e.c.id).where(condition).compile(conn)
            plan = conn.exec_driver_sql(
                f"EXPLAIN (VERBOSE) {compiled.string}", compiled.params | bound
            ).scalars()
            text = "\n".join(plan)
            # a constant: ANY ('{…}'::bigint[]); not ANY (('{…}'::cstring)::bigint[])
            assert re.search(r"ANY \('[^']*'::(bigint|text)\[\]\)", text), text
    db_engine.dispose()
