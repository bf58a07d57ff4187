"""First-run and start-up preparation of the database.

On the embedded default a new user gets everything with no server: schema, catalog, reference
figures and (in demo mode) the demo city. A server database is only ever migrated by an explicit
``python -m dashboard db upgrade``, empty or not: the app refuses to start on a missing or stale
schema rather than change it behind an operator's back. Existing data is never dropped or
rewritten here.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from dashboard import clock
from dashboard.db import migrate
from dashboard.db.errors import SchemaOutdatedError
from dashboard.db.schema import CareRecipient
from dashboard.settings import Settings

log = logging.getLogger(__name__)
Progress = Callable[[float, str], None]


def check_schema(engine: Engine, settings: Settings) -> None:
    """Raise ``SchemaOutdatedError`` when a server database is not at this code's revision.

    The embedded file passes: ``ensure_database`` migrates it, being the app's own.
    """
    if settings.is_embedded or not migrate.needs_upgrade(engine):
        return
    current = migrate.current_revision(engine)
    if current is None:
        raise SchemaOutdatedError(
            "the server database has no Anbu schema yet; the app never migrates a server "
            "database: run `python -m dashboard db upgrade`, then create the first account "
            "with `python -m dashboard users add NAME --role admin`",
            empty=True,
        )
    raise SchemaOutdatedError(
        f"the database schema is at revision {current}, this version of Anbu needs "
        f"{migrate.head_revision()}; run `python -m dashboard db upgrade` first",
        empty=False,
    )


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
    return not has_figures or wants_demo_city(engine, settings)


def ensure_database(engine: Engine, settings: Settings, progress: Progress | None = None) -> None:
    """Bring the database to a usable state, reporting progress as (fraction, message).

    Raises ``SchemaOutdatedError`` for a server database that is not at this code's revision.
    """
    report = progress or _noop
    check_schema(engine, settings)
    if settings.demo_on_server:
        log.warning(
            "DEMO MODE ON A SERVER DATABASE (ANBU_DEMO=true): demo accounts with the published "
            "password and, on an empty database, a fake demo city; notifications use the demo "
            "transports (the log by default). Unset ANBU_DEMO for a real deployment."
        )
    if migrate.needs_upgrade(engine):  # only the embedded file gets here
        report(0.02, "schema")
        migrate.upgrade(engine)

    from dashboard.auth.demo import sync_demo_accounts
    from dashboard.catalog import load_catalog
    from dashboard.reference.load import load_reference
    from dashboard.responders.police import ensure_police_boxes

    report(0.08, "catalog")
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        ensure_police_boxes(conn, clock.now())
        # Demo accounts exist only in demo mode: created here, or removed when it is off.
        sync_demo_accounts(conn, settings.demo_enabled, clock.now())

    if wants_demo_city(engine, settings):
        from dashboard.demo import build_demo

        def demo_progress(fraction: float, message: str) -> None:
            report(0.1 + 0.9 * fraction, message)

        build_demo(
            engine,
            scale=settings.demo_scale,
            seed=settings.demo_seed,
            days=settings.demo_days,
            progress=demo_progress,
        )
    report(1.0, "ready")


def wants_demo_city(engine: Engine, settings: Settings) -> bool:
    """Build the demo city? Only in demo mode (see ``Settings.demo_enabled``) and never over
    existing people."""
    return settings.demo_enabled and not _has_people(engine)


def _has_people(engine: Engine) -> bool:
    with engine.connect() as conn:
        return bool(conn.execute(select(func.count()).select_from(CareRecipient)).scalar())
