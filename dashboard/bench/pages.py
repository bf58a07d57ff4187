"""Server-side run time of every page, measured in-process with Streamlit's AppTest.

A lead logs in on the cached city (an admin for the admin-only 시스템 상태); the app runs its
default page once, as the server has done by the time a user clicks in the sidebar. For each
page then:

- ``first``: the page's first run in a new session, Streamlit's data caches emptied;
- ``warm``: the median of five reruns, each again with the data caches emptied. This is
  stricter than a second visit inside the cache's lifetime: it is what every refresh of a live
  page costs once its 10-second cache has expired, and what a review page costs after 5 minutes.

On the embedded SQLite database the app starts its live loop (simulator and silence tick) as
it does for a user, so the pages are timed while it writes. The database is the benchmark's
throw-away copy, since the app's start-up writes too (catalog, demo accounts).

The clock the pages read (``dashboard.clock.now``) is moved to the city's own end, so the pages
show the city as it was built (live timers, "silent for", trails of the last hours) whenever
the benchmark runs.
"""

from __future__ import annotations

import logging
import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from unittest import mock

from dashboard.settings import PROJECT_ROOT, get_settings

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
# The app's url paths whose script has another name (see dashboard.app.PAGE_FILES).
SCRIPT_OF = {"import": "import_events"}
ROLE = "lead"  # opens every page but the admins' own
ADMIN_ROLE = "admin"  # for the pages only admins open (시스템 상태)
USERNAME = "bench-lead"  # a real account: sessions are checked against the database each run
USERNAMES = {ROLE: USERNAME, ADMIN_ROLE: "bench-admin"}
WARM_RUNS = 5
RUN_TIMEOUT_S = 120


@dataclass(frozen=True)
class PageFigures:
    page: str
    first_s: float
    warm_s: float
    problems: tuple[str, ...]  # exceptions or error elements the page showed


def measure_pages(
    url: str, city_now: datetime, pages: tuple[str, ...] | None = None
) -> list[PageFigures]:
    """Time every page (or ``pages``) against the database at ``url``."""
    import streamlit as st

    from dashboard.auth.roles import PAGES
    from dashboard.background import stop_live_services

    chosen = pages or PAGES
    _ensure_account(url)
    with _app_database(url), _clock_at(city_now), _quiet_streamlit():
        try:
            return [_measure(page) for page in chosen]
        finally:
            # The embedded database's live loop started with the app: it ran during the
            # measurement (as in a real session) and ends with it, as do the cached engines.
            from dashboard.ui.data import get_engine

            stop_live_services()
            get_engine().dispose()  # its connections would keep the database in use
            st.cache_resource.clear()
            st.cache_data.clear()


def _role_for(page: str) -> str:
    from dashboard.auth.roles import can_open

    return ROLE if can_open(ROLE, page) else ADMIN_ROLE


def _measure(page: str) -> PageFigures:
    import streamlit as st

    from dashboard.ui.auth import USER_KEY

    at = _session(_role_for(page))
    at.run(timeout=RUN_TIMEOUT_S)  # the default page: imports and the engine are warm now
    st.cache_data.clear()
    started = time.perf_counter()
    at.switch_page(f"../pages/{SCRIPT_OF.get(page, page)}.py").run(timeout=RUN_TIMEOUT_S)
    first = time.perf_counter() - started
    warm = []
    for _ in range(WARM_RUNS):
        st.cache_data.clear()
        _touch(at)
        started = time.perf_counter()
        at.run(timeout=RUN_TIMEOUT_S)
        warm.append(time.perf_counter() - started)
    problems = tuple(str(e.value)[:200] for e in (*at.exception, *at.error))
    if USER_KEY not in at.session_state:  # timed the login form, not the page
        problems += ("the session was logged out",)
    return PageFigures(page, round(first, 3), round(statistics.median(warm), 3), problems)


def _ensure_account(url: str) -> None:
    """The lead and admin accounts the timed sessions use (demo accounts exist only in demo
    mode)."""
    import secrets

    from dashboard import clock
    from dashboard.auth.principal import cli_principal
    from dashboard.auth.users import create_user, get_user
    from dashboard.db.engine import make_engine

    engine = make_engine(url)
    try:
        with engine.begin() as conn:
            for role, username in USERNAMES.items():
                if get_user(conn, username) is None:
                    password = secrets.token_urlsafe(24)  # nobody logs in with it
                    create_user(conn, username, role, password, clock.now(), cli_principal())
    finally:
        engine.dispose()


def _session(role: str = ROLE):
    from streamlit.testing.v1 import AppTest

    from dashboard.auth import SessionUser
    from dashboard.ui.auth import USER_KEY

    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    username = USERNAMES[role]
    at.session_state[USER_KEY] = SessionUser(username, username, role)
    _touch(at)
    return at


def _touch(at) -> None:
    """Mark the session active now, so the idle timeout never ends a timed run."""
    from dashboard import clock
    from dashboard.ui.auth import ACTIVITY_KEY

    at.session_state[ACTIVITY_KEY] = clock.now()


@contextmanager
def _app_database(url: str) -> Iterator[None]:
    previous = os.environ.get("ANBU_DATABASE_URL")
    os.environ["ANBU_DATABASE_URL"] = url
    get_settings.cache_clear()
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop("ANBU_DATABASE_URL", None)
        else:
            os.environ["ANBU_DATABASE_URL"] = previous
        get_settings.cache_clear()


@contextmanager
def _clock_at(city_now: datetime) -> Iterator[None]:
    """``dashboard.clock.now`` runs from the city's end instead of the wall clock."""
    from dashboard import clock

    wall = clock.now  # the real one, kept before it is replaced
    offset = city_now - wall()
    with mock.patch("dashboard.clock.now", lambda: wall() + offset):
        yield


@contextmanager
def _quiet_streamlit() -> Iterator[None]:
    # AppTest outside `streamlit run` logs "missing ScriptRunContext" for every cached call.
    logger = logging.getLogger("streamlit")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)
