"""Alembic migrations build exactly the schema of the models, on both backends."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text

from dashboard.clock import as_utc
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata


@pytest.fixture
def empty_engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def test_upgrade_from_empty_matches_models(empty_engine):
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert not migrate.needs_upgrade(empty_engine)
    with empty_engine.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(ctx, metadata)
    assert diff == [], f"models and migrations disagree: {diff}"


def test_upgrade_twice_is_harmless(empty_engine):
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_refuses_a_foreign_database(empty_engine):
    with empty_engine.begin() as conn:
        conn.execute(text("CREATE TABLE customers (id INTEGER PRIMARY KEY, name TEXT)"))
        conn.execute(text("INSERT INTO customers VALUES (1, 'kept')"))
    with pytest.raises(migrate.UnknownDatabaseError, match="customers"):
        migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        assert conn.execute(text("SELECT name FROM customers")).scalar() == "kept"


CATALOG_AT_0002 = (
    "INSERT INTO regions (id, code, level, name_ko, name_en)"
    " VALUES (1, '4128500000', 'district', 'r', 'r')",
    "INSERT INTO programs (id, code, kind, name_ko, name_en, region_id)"
    " VALUES (1, 'p', 'device', 'p', 'p', 1)",
    "INSERT INTO device_types (code, name_ko, name_en, heartbeat_timeout_s)"
    " VALUES ('smart_plug', 'p', 'p', 7200)",
)
DEVICE_AT_0002 = (
    "INSERT INTO devices (id, device_uid, type_code, program_id, vendor, region_id, installed_on,"
    " status) VALUES (:id, :uid, 'smart_plug', 1, 'v', 1, :day, 'active')"
)
STATE_AT_0002 = (
    "INSERT INTO device_state (device_id, state, state_since, updated_at)"
    " VALUES (:id, 'normal', :t, :t)"
)
EVENT_AT_0002 = (
    "INSERT INTO device_events (vendor, event_uid, device_id, ts, received_at, type)"
    " VALUES ('v', :uid, 1, :ts, :ts, 'heartbeat')"
)


def test_0003_gives_reporting_devices_their_first_event_time(empty_engine):
    """A device that reported before the upgrade starts its clocks from its oldest event."""
    migrate.upgrade(empty_engine, "0002_dead_letters")
    first, installed = datetime(2024, 3, 1, 9, 0, tzinfo=UTC), date(2024, 1, 1)
    with empty_engine.begin() as conn:
        for statement in CATALOG_AT_0002:
            conn.execute(text(statement))
        for did in (1, 2):
            conn.execute(text(DEVICE_AT_0002), {"id": did, "uid": f"d{did}", "day": installed})
            conn.execute(text(STATE_AT_0002), {"id": did, "t": first})
        for n, later in enumerate((timedelta(hours=5), timedelta(0), timedelta(days=1))):
            conn.execute(text(EVENT_AT_0002), {"uid": f"e{n}", "ts": first + later})
    migrate.upgrade(empty_engine)
    with empty_engine.connect() as conn:
        rows = conn.execute(
            text("SELECT device_id, first_seen_at, first_received_at FROM device_state")
        ).all()
        assert conn.execute(text("SELECT count(*) FROM vendors")).scalar() == 0
    found = sorted((r[0], r[1] and as_utc(r[1]), r[2] and as_utc(r[2])) for r in rows)
    assert found == [
        (1, first, first),
        (2, None, None),  # never reported: counts from registration or installation
    ]
