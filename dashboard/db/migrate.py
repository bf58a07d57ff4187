"""Schema migrations with Alembic, driven from code so no alembic.ini is needed.

Every upgrade or downgrade runs in one transaction on both backends: a failure anywhere leaves
the database exactly as it was. PostgreSQL has transactional DDL; on SQLite the Python driver
would run DDL outside any transaction (it only opens one before INSERT/UPDATE/DELETE), so a
failed table rebuild left alembic's ``_alembic_tmp_<table>`` behind and the next upgrade
failed on it. Here the driver's implicit transactions are switched off and the run is wrapped
in an explicit ``BEGIN IMMEDIATE`` … ``COMMIT``, with foreign keys off around it (the pragma is
ignored inside a transaction) and every reference checked before the commit: SQLite's own
recipe for rebuilding a table (https://sqlite.org/lang_altertable.html#otheralter).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, inspect

from dashboard.db.errors import UnknownDatabaseError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
BATCH_TMP_PREFIX = "_alembic_tmp_"  # alembic's batch mode: the copy, renamed over the original
_BATCH_TMP_MAX_LEN = 50  # alembic cuts the copy's name to 50 characters

log = logging.getLogger(__name__)


class StaleRebuildError(RuntimeError):
    """A table rebuild copy is left over and its original is gone: it may hold the only data."""


def alembic_config(url: str | None = None) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    if url:
        cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def head_revision() -> str:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def needs_upgrade(engine: Engine) -> bool:
    return current_revision(engine) != head_revision()


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Apply migrations up to ``revision``, all or nothing. Refuses a non-empty database it did
    not create."""
    if current_revision(engine) is None:
        existing = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        if existing:
            raise UnknownDatabaseError(
                f"the database already has tables ({', '.join(sorted(existing)[:5])}, …) but no "
                "Anbu migration history; refusing to change it. Point ANBU_DATABASE_URL at an "
                "empty database or an Anbu database."
            )
    _run(engine, lambda cfg: command.upgrade(cfg, revision))


def downgrade(engine: Engine, revision: str) -> None:
    """Revert migrations down to ``revision``, all or nothing."""
    _run(engine, lambda cfg: command.downgrade(cfg, revision))


def _run(engine: Engine, step: Callable[[Config], None]) -> None:
    cfg = alembic_config()
    with engine.connect() as conn:
        if conn.dialect.name == "sqlite":
            with _sqlite_transaction(conn):
                drop_stale_batch_tables(conn)
                cfg.attributes["connection"] = conn
                step(cfg)
        else:
            with conn.begin():
                cfg.attributes["connection"] = conn
                step(cfg)


@contextmanager
def _sqlite_transaction(conn: Connection) -> Iterator[None]:
    """One explicit SQLite transaction around DDL and DML, foreign keys off and checked."""
    raw = conn.connection.dbapi_connection
    legacy = raw.isolation_level
    raw.isolation_level = None  # no implicit BEGIN/COMMIT: ours below covers the DDL too
    try:
        raw.execute("PRAGMA foreign_keys = OFF")
        # SQLAlchemy's commit and rollback reach the driver's, which end the open transaction.
        with conn.begin():
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # the write lock now, not halfway through
            yield
            broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
            if broken:
                raise RuntimeError(f"the migration left broken foreign keys: {broken[:5]}")
    finally:
        try:
            if raw.in_transaction:
                raw.rollback()
            raw.execute("PRAGMA foreign_keys = ON")
            raw.isolation_level = legacy
        except Exception:
            conn.invalidate()  # never hand a connection without foreign keys back to the pool
            raise


def drop_stale_batch_tables(conn: Connection) -> list[str]:
    """Drop the ``_alembic_tmp_*`` copies an interrupted SQLite rebuild (before upgrades were
    one transaction) left behind; return their names.

    Safe while the original table exists: the copy became the table only by a rename in the
    same transaction as the drop of the original, so a copy that is still there was never
    committed in its place and the original holds the data. Without its original, the copy may
    hold the only rows: refuse (``StaleRebuildError``) and leave both for a person to look at.
    """
    tables = set(inspect(conn).get_table_names())
    dropped = []
    for name in sorted(t for t in tables if t.startswith(BATCH_TMP_PREFIX)):
        target = name[len(BATCH_TMP_PREFIX) :]
        cut = len(name) == _BATCH_TMP_MAX_LEN  # the original's name may be longer
        originals = [t for t in tables - {name} if t == target or (cut and t.startswith(target))]
        if not originals:
            raise StaleRebuildError(
                f"table {name} is left over from an interrupted migration and its original "
                f"table {target} is missing, so it may hold the only copy of the data; "
                "refusing to migrate. Restore a backup or rename it to the original by hand."
            )
        log.warning(
            "dropping %s, left over from an interrupted migration (the original %s is intact)",
            name,
            originals[0],
        )
        conn.exec_driver_sql(f'DROP TABLE "{name}"')
        dropped.append(name)
    return dropped
