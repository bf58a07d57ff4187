"""One demo database per test session, and helpers to read what an AppTest page shows."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from google.protobuf.json_format import MessageToJson
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.settings import PROJECT_ROOT, get_settings

APP = str(PROJECT_ROOT / "dashboard" / "app.py")
DEMO_SEED = 20241129
# Fixed end so every figure is reproducible; the live page therefore shows the stale banner.
DEMO_END = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
TIMEOUT = 60


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Iterator[Engine]:
    """A migrated SQLite file with catalog, reference figures and the small demo city."""
    from dashboard.catalog import load_catalog
    from dashboard.demo import build_demo
    from dashboard.reference.load import load_reference

    path: Path = tmp_path_factory.mktemp("apptest") / "anbu-apptest.sqlite3"
    url = f"sqlite:///{path}"
    previous = os.environ.get("ANBU_DATABASE_URL")
    os.environ["ANBU_DATABASE_URL"] = url
    get_settings.cache_clear()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
    build_demo(engine, scale="small", seed=DEMO_SEED, days=30, end=DEMO_END)
    yield engine
    engine.dispose()
    if previous is None:
        os.environ.pop("ANBU_DATABASE_URL", None)
    else:
        os.environ["ANBU_DATABASE_URL"] = previous
    get_settings.cache_clear()


@contextmanager
def private_copy(demo_db: Engine, directory: Path) -> Iterator[Engine]:
    """A copy of the session database, made the app's database while the block runs.

    For tests that write (imports, accounts, settings) without disturbing what others assert.
    """
    path = directory / "anbu-private.sqlite3"
    source = sqlite3.connect(demo_db.url.database)
    target = sqlite3.connect(path)
    with target:
        source.backup(target)
    source.close()
    target.close()
    previous = os.environ["ANBU_DATABASE_URL"]
    os.environ["ANBU_DATABASE_URL"] = f"sqlite:///{path}"
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{path}")
    try:
        yield engine
    finally:
        engine.dispose()
        os.environ["ANBU_DATABASE_URL"] = previous
        get_settings.cache_clear()


def login_as(at: AppTest, role: str | None) -> AppTest:
    """Put the demo account ``role`` in the session, as the login form would (``None``: nobody)."""
    from dashboard.auth import DEMO_ACCOUNTS, SessionUser
    from dashboard.ui.auth import ACTIVITY_KEY, USER_KEY

    if role is not None:
        display_name, districts = DEMO_ACCOUNTS[role]
        at.session_state[USER_KEY] = SessionUser(role, display_name, role, districts)
        at.session_state[ACTIVITY_KEY] = datetime.now(UTC)
    return at


def open_page(page: str | None = None, role: str | None = "lead", **params: str) -> AppTest:
    """Run the app as ``role`` (through its navigation) and switch to ``page`` (e.g. "alerts")."""
    at = login_as(AppTest.from_file(APP, default_timeout=TIMEOUT), role)
    for key, value in params.items():
        at.query_params[key] = value
    at.run()
    if page:
        at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def texts(at: AppTest) -> list[str]:
    """Every string the page shows: text elements, metric labels and values, table cells,
    chart specs and data. Used to assert on content and on the absence of personal data."""
    out: list[str] = []
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "text",
        "info",
        "success",
        "warning",
        "error",
        "code",
        "latex",
    ):
        out += [str(e.value) for e in at.get(kind)]
    for m in at.metric:
        out += [str(m.label), str(m.value)]
    for kind in ("dataframe", "table"):
        for df in at.get(kind):
            value = df.value
            out.append(value.to_csv(index=False))
            out += [str(c) for c in value.columns]
    for kind in (
        "arrow_vega_lite_chart",
        "vega_lite_chart",
        "html",
        "iframe",
        "deck_gl_json_chart",
        "component_instance",
    ):
        for e in at.get(kind):
            out.append(MessageToJson(e.proto, ensure_ascii=False))
    for w in (*at.multiselect, *at.radio, *at.selectbox, *at.toggle):
        out += [str(w.label)] + [str(o) for o in getattr(w, "options", [])]
    return out


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0]
