"""Rebuilding a referenced SQLite table inside a migration.

SQLite changes a CHECK constraint by rebuilding the table (copy, drop, rename: alembic's batch
mode). Dropping a table other rows point at fails while ``foreign_keys`` is on, and the pragma
only takes effect outside a transaction.
"""

from __future__ import annotations

from alembic import op


def defer_foreign_keys() -> None:
    """Commit the upgrade's work so far (complete and stamped: the driver opened a transaction
    before an earlier revision's first DML) and switch the foreign-key check off."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        raw = bind.connection.dbapi_connection
        if raw.in_transaction:
            raw.commit()
        op.execute("PRAGMA foreign_keys = OFF")


def restore_foreign_keys(what: str) -> None:
    """Switch the check back on and verify every reference (``what`` names the rebuild)."""
    if op.get_bind().dialect.name == "sqlite":
        op.execute("PRAGMA foreign_keys = ON")
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the {what} rebuild: {broken[:5]}")
