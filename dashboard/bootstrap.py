"""First-run and start-up preparation of the database.

On the embedded default a new user gets everything with no server: schema, catalog, reference
figures and (in demo mode) the demo city. A production database is only ever migrated by an
explicit ``python -m dashboard db upgrade``; the app refuses to start on a stale schema rather
than change it behind an operator's back. Existing data is never dropped or rewritten here.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, func, select

from dashboard import clock
from dashboard.db import migrate
from dashboard.db.schema import CareRecipient
from dashboard.settings import Settings

Progress = Callable[[float, str], None]


class SchemaOutdatedError(RuntimeError):
    """The configured production database needs ``python -m dashboard db upgrade``."""


def _noop(_fraction: float, _message: str) -> None:
    return None


def needs_setup(engine: Engine, settings: Settings) -> bool:
    """True when ``ensure_database`` has work to do (so the UI shows its progress)."""
    try:
        if migrate.needs_upgrade(engine):
            return True
    except Exception:
        return True
    from dashboard.db.schema import PublishedFigure

    with engine.connect() as conn:
        has_figures = conn.execute(select(func.count()).select_from(PublishedFigure)).scalar()
    return not has_figures or (settings.demo and not _has_people(engine))


def ensure_database(engine: Engine, settings: Settings, progress: Progress | None = None) -> None:
    """Bring the database to a usable state, reporting progress as (fraction, message)."""
    report = progress or _noop
    if migrate.needs_upgrade(engine):
        if not settings.is_embedded and migrate.current_revision(engine) is not None:
            raise SchemaOutdatedError(
                "the database schema is older than this version of Anbu; "
                "run `python -m dashboard db upgrade` first"
            )
        report(0.02, "schema")
        migrate.upgrade(engine)

    from dashboard.auth.demo import sync_demo_accounts
    from dashboard.catalog import load_catalog
    from dashboard.reference.load import load_reference

    report(0.08, "catalog")
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        # Demo accounts exist only in demo mode: created here, or removed when it is off.
        sync_demo_accounts(conn, settings.demo, clock.now())

    if settings.demo and not _has_people(engine):
        from dashboard.demo import build_demo

        def demo_progress(fraction: float, message: str) -> None:
            report(0.1 + 0.9 * fraction, message)

        build_demo(
            engine, scale=settings.demo_scale, seed=settings.demo_seed, progress=demo_progress
        )
    report(1.0, "ready")


def _has_people(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(CareRecipient)).scalar())
