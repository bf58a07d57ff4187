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


@pytest.fixture
def db_engine(db_url) -> Iterator[Engine]:
    """An engine on an empty database with the full schema created from the models."""
    engine = make_engine(db_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


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
