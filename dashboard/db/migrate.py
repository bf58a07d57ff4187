"""Schema migrations with Alembic, driven from code so no alembic.ini is needed."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"


class UnknownDatabaseError(RuntimeError):
    """The database has tables but no migration history: it is not ours to change."""


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
    """Apply migrations up to ``revision``. Refuses a non-empty database it did not create."""
    if current_revision(engine) is None:
        existing = [t for t in inspect(engine).get_table_names() if t != "alembic_version"]
        if existing:
            raise UnknownDatabaseError(
                f"the database already has tables ({', '.join(sorted(existing)[:5])}, …) but no "
                "Anbu migration history; refusing to change it. Point ANBU_DATABASE_URL at an "
                "empty database or an Anbu database."
            )
    cfg = alembic_config()
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
