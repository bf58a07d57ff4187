"""Start-up defaults: demo mode only on the embedded file, a server database never migrated.

The demo city build itself is tested in test_demo.py (it takes 20-30 s); here the decision to
build it (``wants_demo_city``, the condition ``ensure_database`` uses) is checked, with one
person stored where a test needs "the city exists" so start-up does not build it.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, insert, inspect, select, text

from dashboard.auth import DEMO_ACCOUNTS, sync_demo_accounts
from dashboard.auth.users import list_users
from dashboard.bootstrap import (
    SchemaOutdatedError,
    check_schema,
    ensure_database,
    needs_setup,
    wants_demo_city,
)
from dashboard.catalog import load_catalog
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import CareRecipient, Program, Region
from dashboard.settings import Settings

NOW = datetime(2024, 11, 29, 9, 0, tzinfo=UTC)


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _one_person(engine) -> None:
    """The smallest "city": one stored person, so start-up does not build the demo city."""
    with engine.begin() as conn:
        load_catalog(conn)
        program = conn.execute(select(Program.id).limit(1)).scalar_one()
        region = conn.execute(select(Region.id).where(Region.level == "dong").limit(1)).scalar_one()
        conn.execute(
            insert(CareRecipient).values(
                program_id=program,
                region_id=region,
                external_ref="T-1",
                birth_year=1940,
                sex="F",
                household="alone",
                enrolled_on=date(2024, 1, 1),
                pii_name="테스트",
            )
        )


def _people(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(CareRecipient)).scalar_one()


def _usernames(engine) -> list[str]:
    with engine.connect() as conn:
        return [u.username for u in list_users(conn)]


def _server(db_url: str) -> bool:
    return not db_url.startswith("sqlite")


def test_default_demo_mode_follows_the_backend(engine, db_url) -> None:
    settings = Settings(database_url=db_url)
    assert settings.demo is None
    assert settings.demo_enabled is not _server(db_url)
    assert not settings.demo_on_server
    assert Settings(database_url=db_url, demo=True).demo_on_server is _server(db_url)


def test_empty_server_database_is_not_migrated(engine, db_url) -> None:
    settings = Settings(database_url=db_url)
    if not _server(db_url):
        check_schema(engine, settings)  # the embedded file is the app's own to migrate
        return
    for demo in (None, True, False):
        with pytest.raises(SchemaOutdatedError, match="db upgrade") as caught:
            ensure_database(engine, Settings(database_url=db_url, demo=demo))
        assert caught.value.empty and "users add" in str(caught.value)
    assert inspect(engine).get_table_names() == []  # not even alembic_version


def test_server_database_at_another_revision_is_not_migrated(engine, db_url) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'older0000'"))
    settings = Settings(database_url=db_url)
    if not _server(db_url):
        check_schema(engine, settings)
        return
    with pytest.raises(SchemaOutdatedError, match="revision older0000") as caught:
        ensure_database(engine, settings)
    assert not caught.value.empty
    assert migrate.current_revision(engine) == "older0000"


def test_migrated_server_database_gets_no_demo_by_default(engine, db_url) -> None:
    migrate.upgrade(engine)
    with engine.begin() as conn:
        load_catalog(conn)
        sync_demo_accounts(conn, True, NOW)  # left over from an earlier demo run
    settings = Settings(database_url=db_url)
    assert wants_demo_city(engine, settings) is not _server(db_url)
    if not _server(db_url):
        return  # the embedded default is demo as before: see the next test
    ensure_database(engine, settings)
    assert _usernames(engine) == []  # the leftover demo accounts are gone
    assert _people(engine) == 0
    assert not needs_setup(engine, settings)  # nothing left to do: the app starts at once


def test_demo_mode_on_each_backend(engine, db_url, caplog) -> None:
    """The embedded default, and a server database with an explicit ANBU_DEMO=true."""
    migrate.upgrade(engine)
    settings = Settings(database_url=db_url, demo=True if _server(db_url) else None)
    assert wants_demo_city(engine, settings)
    _one_person(engine)
    assert not wants_demo_city(engine, settings)  # never over existing people
    with caplog.at_level(logging.WARNING, logger="dashboard.bootstrap"):
        ensure_database(engine, settings)
    assert _usernames(engine) == sorted(DEMO_ACCOUNTS)
    assert _people(engine) == 1
    warned = [r for r in caplog.records if "DEMO MODE ON A SERVER DATABASE" in r.getMessage()]
    assert len(warned) == (1 if _server(db_url) else 0)
    assert all(r.levelno == logging.WARNING for r in warned)
