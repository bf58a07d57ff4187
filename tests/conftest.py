"""Shared fixtures: a fresh database on SQLite and (when reachable) PostgreSQL.

``db_engine`` is parametrised over both backends. PostgreSQL tests run in a private schema that
is dropped afterwards. Without a reachable server they skip with a reason, except under CI=true,
where a missing service is a failure: CI must exercise every backend.

The suite runs in parallel (pytest-xdist; see docs/testing.md). Every worker is its own process
with its own ``tmp_path`` tree, so SQLite files, PostgreSQL schemas (random names), server ports
(a free port per server) and MQTT topic roots (random per test) never meet.
"""

from __future__ import annotations

import os
import uuid
import warnings
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Engine, text

from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata

POSTGRES_URL = os.environ.get(
    "ANBU_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing_service(reason: str) -> None:
    """Skip on a developer's machine; fail in CI, where every service must be present."""
    if IN_CI:
        pytest.fail(f"CI=true but {reason}")
    pytest.skip(reason)


def _postgres_reachable() -> str | None:
    try:
        engine = make_engine(POSTGRES_URL)
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # any connection problem means "not available here"
        return f"PostgreSQL not reachable at {POSTGRES_URL}: {exc.__class__.__name__}"


@pytest.fixture(scope="session")
def postgres_unavailable() -> str | None:
    return _postgres_reachable()


@pytest.fixture
def postgres_schema_url(postgres_unavailable) -> Iterator[str]:
    """URL of a fresh, empty PostgreSQL schema, dropped after the test."""
    with fresh_postgres_schema(postgres_unavailable) as url:
        yield url


@contextmanager
def fresh_postgres_schema(postgres_unavailable: str | None) -> Iterator[str]:
    """A fresh, empty PostgreSQL schema's URL for a fixture of any scope; dropped on exit."""
    if postgres_unavailable:
        missing_service(postgres_unavailable)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = make_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES_URL else "?"
    yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path) -> str:
    return f"sqlite:///{tmp_path / 'anbu-test.sqlite3'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path) -> str:
    """An empty database URL on each backend."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("postgres_schema_url")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_engine(request, tmp_path) -> Iterator[Engine]:
    """An engine on an empty database with the full schema created from the models.

    On PostgreSQL, building the schema (about 90 DDL statements) costs half a second, more than
    most tests using it: each worker keeps its schemas and empties one for the next test,
    unless the test changed the schema itself (then it is dropped and a new one built)."""
    if request.param == "sqlite":
        engine = make_engine(request.getfixturevalue("sqlite_url"))
        metadata.create_all(engine)
        yield engine
        engine.dispose()
        return
    unavailable = request.getfixturevalue("postgres_unavailable")
    with _pooled_postgres_schema(unavailable) as url:
        engine = make_engine(url)
        yield engine
        engine.dispose()


# The schema's shape: relations (tables, indexes, sequences), columns, constraints, triggers and
# functions, read through the catalogs' indexes (a scan of the bloated catalogs of a test server
# costs 0.2 s). A test that changed it (a partition, an index, a trigger) leaves a schema that
# can't be reused.
_SHAPE = """
WITH rel AS MATERIALIZED (
  SELECT oid, relnatts FROM pg_class WHERE relnamespace = current_schema()::regnamespace
)
SELECT (SELECT count(*) FROM rel), (SELECT sum(relnatts) FROM rel),
       (SELECT count(*) FROM rel JOIN pg_constraint k ON k.conrelid = rel.oid),
       (SELECT count(*) FROM rel JOIN pg_trigger t ON t.tgrelid = rel.oid),
       (SELECT count(*) FROM pg_proc WHERE pronamespace = current_schema()::regnamespace)
"""
# This worker's emptied schemas with the full model schema, and the shape they were built with.
_SCHEMA_POOL: list[str] = []
_POOL_SHAPE: list[tuple] = []


def _schema_url(schema: str) -> str:
    sep = "&" if "?" in POSTGRES_URL else "?"
    return f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"


@contextmanager
def _pooled_postgres_schema(postgres_unavailable: str | None) -> Iterator[str]:
    """A PostgreSQL schema with every model table, empty; emptied again after use."""
    if postgres_unavailable:
        missing_service(postgres_unavailable)
    if _SCHEMA_POOL:
        schema = _SCHEMA_POOL.pop()
    else:
        schema = f"t_{uuid.uuid4().hex[:12]}"
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        admin.dispose()
        engine = make_engine(_schema_url(schema))
        metadata.create_all(engine)
        with engine.connect() as conn:
            shape = tuple(conn.execute(text(_SHAPE)).one())
        engine.dispose()
        _POOL_SHAPE[:] = _POOL_SHAPE or [shape]
    try:
        yield _schema_url(schema)
    finally:
        if _emptied(schema):
            _SCHEMA_POOL.append(schema)
        else:
            admin = make_engine(POSTGRES_URL)
            with admin.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            admin.dispose()


def _emptied(schema: str) -> bool:
    """Delete every row and restart every sequence, if the schema still has the models' shape."""
    engine = make_engine(_schema_url(schema))
    try:
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL lock_timeout = '10s'"))
            conn.execute(text("SET LOCAL jit = off"))  # compiling costs more than the query
            if tuple(conn.execute(text(_SHAPE)).one()) != _POOL_SHAPE[0]:
                return False
            # Dependents first; the device counts last, since deleting devices fires the
            # triggers that keep them.
            names = [t.name for t in reversed(metadata.sorted_tables) if t.name != "device_counts"]
            names.append("device_counts")
            conn.exec_driver_sql(";".join(f'DELETE FROM "{name}"' for name in names))
            conn.execute(
                text(
                    "SELECT setval(c.oid, 1, false) FROM pg_class c "
                    "WHERE c.relkind = 'S' AND c.relnamespace = current_schema()::regnamespace"
                )
            )
        return True
    except Exception:  # a lock still held, a broken schema: drop it, never reuse it
        return False
    finally:
        engine.dispose()


@pytest.fixture(scope="session", autouse=True)
def _drop_pooled_schemas() -> Iterator[None]:
    yield
    if _SCHEMA_POOL:
        admin = make_engine(POSTGRES_URL)
        with admin.begin() as conn:
            for schema in _SCHEMA_POOL:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
        _SCHEMA_POOL.clear()


@pytest.fixture(autouse=True)
def no_live_loop_outlives_its_test() -> Iterator[None]:
    """Stop an embedded live loop that a test's app started: left running, it would keep feeding
    and ticking a database its test has finished with, on the CPU the rest of the run shares."""
    from dashboard import background

    before = background._CURRENT
    yield
    leftover = background._CURRENT
    if leftover is not None and leftover is not before:
        background.stop_live_services()
        # Named in the run's warnings summary, so the test can be given its own fixture.
        message = f"this test left the embedded live loop running ({leftover.ticks} ticks)"
        warnings.warn(message, stacklevel=2)
