"""Rebuilding a referenced SQLite table inside a migration.

SQLite changes a CHECK constraint by rebuilding the table (copy, drop, rename: alembic's batch
mode). Dropping a table other rows point at fails while ``foreign_keys`` is on, and the pragma
only takes effect outside a transaction: ``dashboard.db.migrate`` switches it off before the
run's one transaction and checks every reference before committing.
"""

from __future__ import annotations

from alembic import op


def require_foreign_keys_off() -> None:
    """Fail clearly when a rebuild would run with foreign keys on (outside ``migrate``)."""
    bind = op.get_bind()
    if bind.dialect.name == "sqlite" and bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "this migration rebuilds a table other rows point at: run it through "
            "dashboard.db.migrate (upgrade/downgrade or `python -m dashboard db upgrade`), "
            "which switches SQLite's foreign keys off around its one transaction"
        )


def check_foreign_keys(what: str) -> None:
    """Verify every reference right after the rebuild (``what`` names the rebuilt table)."""
    if op.get_bind().dialect.name == "sqlite":
        broken = op.get_bind().exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the {what} rebuild: {broken[:5]}")
