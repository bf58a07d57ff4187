"""A failed upgrade leaves the database exactly as it was, and the next upgrade succeeds."""

from __future__ import annotations

import json
import logging
from datetime import UTC, date, datetime

import pytest
from alembic.ddl.impl import DefaultImpl
from alembic.operations.batch import BatchOperationsImpl
from sqlalchemy import inspect, text

from dashboard.db import migrate
from dashboard.db.engine import make_engine
from tests.unit.test_migrations import CATALOG_AT_0002

START = "0002_dead_letters"  # before every table rebuild (0004 devices … 0010 data_imports)
POPULATE = (
    *CATALOG_AT_0002,
    "INSERT INTO care_recipients (id, program_id, region_id, external_ref, birth_year, sex,"
    " household, enrolled_on, pii_name) VALUES (1, 1, 1, 'R1', 1940, 'F', 'alone', :day, 'n')",
    "INSERT INTO devices (id, device_uid, type_code, program_id, vendor, region_id, recipient_id,"
    " installed_on, status) VALUES (1, 'd1', 'smart_plug', 1, 'v', 1, 1, :day, 'active')",
    "INSERT INTO device_state (device_id, state, state_since, updated_at)"
    " VALUES (1, 'normal', :t, :t)",
    "INSERT INTO device_events (vendor, event_uid, device_id, ts, received_at, type)"
    " VALUES ('v', 'e1', 1, :t, :t, 'heartbeat')",
)


class InjectedFailure(RuntimeError):
    pass


@pytest.fixture
def engine(db_url):
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _populated(engine) -> None:
    migrate.upgrade(engine, START)
    values = {"day": date(2024, 1, 1), "t": datetime(2024, 3, 1, 9, tzinfo=UTC)}
    with engine.begin() as conn:
        for statement in POPULATE:
            conn.execute(text(statement), values)


def _text(found: dict) -> str:
    return json.dumps(found, sort_keys=True, default=str)  # an index's WHERE is an expression


def _snapshot(engine) -> dict:
    """Every table's columns, keys, indexes, checks and rows (and SQLite's full dump)."""
    with engine.connect() as conn:
        insp, found = inspect(conn), {}
        for table in sorted(insp.get_table_names()):
            found[table] = (
                [(c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)],
                insp.get_pk_constraint(table),
                sorted(map(_text, insp.get_foreign_keys(table))),
                sorted(map(_text, insp.get_indexes(table))),
                sorted(map(_text, insp.get_unique_constraints(table))),
                sorted(map(_text, insp.get_check_constraints(table))),
                sorted(map(repr, conn.execute(text(f'SELECT * FROM "{table}"')).all())),
            )
        if conn.dialect.name == "sqlite":
            found["sqlite dump"] = list(conn.connection.dbapi_connection.iterdump())
            found["foreign keys on"] = conn.exec_driver_sql("PRAGMA foreign_keys").scalar()
    return found


def test_a_failure_late_in_the_chain_rolls_every_revision_back(engine, monkeypatch):
    """0003 … 0009 and part of 0010 (on SQLite the devices, care_recipients and data_imports
    rebuilds) run before the injected failure: none of it stays."""
    _populated(engine)
    before = _snapshot(engine)
    real_flush = BatchOperationsImpl.flush

    def flush_then_fail(self):
        real_flush(self)
        if self.table_name == "enrolments":
            raise InjectedFailure("injected after the enrolments batch of 0010")

    monkeypatch.setattr(BatchOperationsImpl, "flush", flush_then_fail)
    with pytest.raises(InjectedFailure):
        migrate.upgrade(engine)
    assert migrate.current_revision(engine) == START
    assert _snapshot(engine) == before
    monkeypatch.undo()

    migrate.upgrade(engine)
    assert migrate.current_revision(engine) == migrate.head_revision()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT recipient_id FROM devices")).scalar() == 1
        assert conn.execute(text("SELECT count(*) FROM device_events")).scalar() == 1


def test_a_failure_inside_a_sqlite_table_rebuild_leaves_no_copy_behind(sqlite_url, monkeypatch):
    """The worst moment of a rebuild: the copy is made and the original dropped, then the
    rename fails. Before upgrades were one transaction this left ``_alembic_tmp_devices``."""
    engine = make_engine(sqlite_url)
    try:
        _populated(engine)
        before = _snapshot(engine)
        real_rename = DefaultImpl.rename_table

        def rename_or_fail(self, old, new, schema=None):
            if old == "_alembic_tmp_devices":
                raise InjectedFailure("injected before renaming the devices copy")
            real_rename(self, old, new, schema=schema)

        monkeypatch.setattr(DefaultImpl, "rename_table", rename_or_fail)
        with pytest.raises(InjectedFailure):
            migrate.upgrade(engine)
        after = _snapshot(engine)
        assert not [t for t in after if t.startswith(migrate.BATCH_TMP_PREFIX)]
        assert after == before
        monkeypatch.undo()

        migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        with engine.connect() as conn:  # the pooled connection is back to its settings
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.connection.dbapi_connection.isolation_level == ""
    finally:
        engine.dispose()


def test_a_copy_left_by_an_older_failed_upgrade_is_dropped_and_logged(sqlite_url, caplog):
    engine = make_engine(sqlite_url)
    try:
        _populated(engine)
        migrate.upgrade(engine, "0009_complaint_import")
        with engine.begin() as conn:  # what an interrupted rebuild of 0010 used to leave
            conn.exec_driver_sql("CREATE TABLE _alembic_tmp_data_imports (id INTEGER)")
        with caplog.at_level(logging.WARNING, logger="dashboard.db.migrate"):
            migrate.upgrade(engine)
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert "_alembic_tmp_data_imports" not in inspect(engine).get_table_names()
        assert "dropping _alembic_tmp_data_imports" in caplog.text
    finally:
        engine.dispose()


def test_a_copy_without_its_original_is_refused_and_kept(sqlite_url):
    """The copy may hold the only rows: nothing is dropped, the error names the table."""
    engine = make_engine(sqlite_url)
    try:
        _populated(engine)
        with engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE _alembic_tmp_vanished (id INTEGER)")
            conn.exec_driver_sql("INSERT INTO _alembic_tmp_vanished VALUES (7)")
        before = _snapshot(engine)
        with pytest.raises(migrate.StaleRebuildError, match=r"_alembic_tmp_vanished.*vanished"):
            migrate.upgrade(engine)
        assert _snapshot(engine) == before
    finally:
        engine.dispose()


def test_a_rebuild_outside_the_runner_says_how_to_run_it(sqlite_url):
    """Alembic driven directly keeps foreign keys on: the rebuild refuses instead of failing
    halfway on the DROP of a table other rows point at."""
    from alembic import command

    engine = make_engine(sqlite_url)
    try:
        _populated(engine)
        with pytest.raises(RuntimeError, match=r"dashboard\.db\.migrate"), engine.begin() as conn:
            cfg = migrate.alembic_config()
            cfg.attributes["connection"] = conn
            command.upgrade(cfg, "0004_enrollment")
        assert migrate.current_revision(engine) == START
    finally:
        engine.dispose()
