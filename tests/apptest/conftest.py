"""One demo database per test session, and helpers to read what an AppTest page shows.

Under pytest-xdist the demo city is built once per run, not once per worker: the first worker
to need it builds it under a lock in the run's shared temporary directory, and every worker then
works on its own copy (its tests may write, and SQLite files are not shared between processes).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from pathlib import Path

try:
    import fcntl
except ImportError:  # Windows: no flock, so each xdist worker builds its own copy
    fcntl = None

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


def _build_demo(path: Path) -> None:
    """A migrated SQLite file with catalog, reference figures and the small demo city."""
    from dashboard.catalog import load_catalog
    from dashboard.demo import build_demo
    from dashboard.reference.load import load_reference

    engine = make_engine(f"sqlite:///{path}")
    try:
        migrate.upgrade(engine)
        with engine.begin() as conn:
            load_catalog(conn)
            load_reference(conn)
        build_demo(engine, scale="small", seed=DEMO_SEED, days=30, end=DEMO_END)
    finally:
        engine.dispose()


def _copy_sqlite(source: Path, target: Path) -> None:
    """Copy through SQLite's backup API: consistent whatever the journal mode."""
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    try:
        with dst:
            src.backup(dst)
    finally:
        src.close()
        dst.close()


def _demo_file(tmp_path_factory, path: Path) -> None:
    """Put the demo database at ``path``: built here, or copied from the run's shared build."""
    if os.environ.get("PYTEST_XDIST_WORKER") is None or fcntl is None:
        _build_demo(path)
        return
    # Each worker's base temp is <run dir>/popen-gwN; the run dir is common to all workers.
    shared = tmp_path_factory.getbasetemp().parent / "apptest-demo.sqlite3"
    with shared.with_suffix(".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released on close, or by the OS if the worker dies
        if not shared.exists():
            partial = shared.with_suffix(".partial")
            for leftover in (partial, *(Path(f"{partial}{x}") for x in ("-wal", "-shm"))):
                leftover.unlink(missing_ok=True)  # from a worker that failed while building
            _build_demo(partial)
            with closing(sqlite3.connect(partial)) as conn:
                conn.execute("PRAGMA journal_mode=DELETE")  # fold any WAL in: one file to rename
            partial.rename(shared)  # only a complete build ever has the shared name
    _copy_sqlite(shared, path)


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Iterator[Engine]:
    """This worker's demo database, made the app's database for the session."""
    path: Path = tmp_path_factory.mktemp("apptest") / "anbu-apptest.sqlite3"
    _demo_file(tmp_path_factory, path)
    url = f"sqlite:///{path}"
    previous = os.environ.get("ANBU_DATABASE_URL")
    os.environ["ANBU_DATABASE_URL"] = url
    get_settings.cache_clear()
    engine = make_engine(url)
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
    _copy_sqlite(Path(demo_db.url.database), path)
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


@contextmanager
def without_live_loop(reason: str) -> Iterator[None]:
    """The app does not start the embedded demo's live loop while the block runs.

    For a private copy whose rows report at the real clock: that makes the demo city look live,
    so the app would start the loop, whose tick opens alerts for those rows (and feeds a file
    other modules never see) and outlives the test."""
    import dashboard.background as background

    def no_live_loop(*_args, **_kwargs) -> background.LiveServices:
        return background.LiveServices(reason=reason)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(background, "start_live_services", no_live_loop)
        yield


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


def texts(at: AppTest, *, decks: bool = True) -> list[str]:
    """Every string the page shows: text elements, metric labels and values, table cells,
    chart specs and data (pydeck maps' too unless ``decks`` is False). Used to assert on
    content and on the absence of personal data."""
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
        if kind == "deck_gl_json_chart" and not decks:
            continue
        for e in at.get(kind):
            out.append(MessageToJson(e.proto, ensure_ascii=False))
    for w in (*at.multiselect, *at.radio, *at.selectbox, *at.toggle):
        out += [str(w.label)] + [str(o) for o in getattr(w, "options", [])]
    return out


def metric(at: AppTest, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}; have {[m.label for m in at.metric]}"
    return found[0]


def metric_column_share(at: AppTest, label: str) -> float:
    """The share of its row that the column holding metric ``label`` takes (1/4: four a row)."""
    from streamlit.testing.v1.element_tree import Column, Metric

    def walk(node, share: float) -> float | None:
        if isinstance(node, Metric) and node.label == label:
            return share
        children = list(getattr(node, "children", {}).values())
        total = sum(c.weight for c in children if isinstance(c, Column))
        for child in children:
            inner = child.weight / total if isinstance(child, Column) else share
            found = walk(child, inner)
            if found is not None:
                return found
        return None

    found = walk(at._tree, 1.0)
    assert found is not None, f"no metric {label!r}"
    return found
