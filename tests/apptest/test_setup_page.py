"""The first-start progress page every visitor sees while the server prepares the database.

The job is the real ``SetupJob`` with its real file guard; its step is the test's, so the page
can be looked at while a step is under way and after one failed.
"""

from __future__ import annotations

import threading

import pytest
from streamlit.testing.v1 import AppTest

from dashboard.bootstrap import ensure_database
from dashboard.db.engine import make_engine
from dashboard.i18n import translate
from dashboard.settings import get_settings
from dashboard.setup_job import Phase, SetupJob, forget_job, guard_for, register_job
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import APP, TIMEOUT
from tests.waiting import wait_until


@pytest.fixture
def new_file(tmp_path, monkeypatch):
    """The app pointed at a file that does not exist yet (demo off: no city to build)."""
    url = f"sqlite:///{tmp_path / 'var' / 'anbu.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    engine = make_engine(url)
    yield engine
    forget_job(engine)
    engine.dispose()
    get_settings.cache_clear()


def _job(engine, step) -> SetupJob:
    job = SetupJob(step, lambda: False, guard_for(engine), poll_s=0.05)
    register_job(engine, job)
    return job


def _run(lang: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.query_params["lang"] = lang
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _progress(at: AppTest) -> list[tuple[float, str]]:
    return [(p.proto.value, p.proto.text) for p in at.get("progress")]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_every_visitor_sees_the_step_and_how_far(new_file, lang):
    go = threading.Event()

    def step(progress) -> None:
        progress(0.4, "writing daily rollups")
        go.wait(TIMEOUT)

    job = _job(new_file, step)
    try:
        job.start()
        assert wait_until(lambda: job.status().step, timeout=TIMEOUT)
        for _visitor in range(2):  # a second tab or browser: the same page, no second build
            at = _run(lang)
            assert [t.value for t in at.title] == [translate("setup.title", lang)]
            label = translate("setup_step.writing_daily_rollups", lang)
            assert _progress(at) == [(40, translate("setup.step", lang, step=label, percent=40))]
            captions = [c.value for c in at.caption]
            assert translate("setup.background", lang) in captions
            assert not at.text_input  # no login form before the database is ready
        assert job.status().phase is Phase.RUNNING
    finally:
        go.set()
        job.join(TIMEOUT)


def test_a_failure_shows_its_error_and_a_retry_that_works(new_file):
    attempts = []

    def step(progress) -> None:
        attempts.append(1)
        if len(attempts) == 1:
            progress(0.1, "catalog")
            raise OSError("disk full")
        settings = get_settings()
        ensure_database(new_file, settings, progress)  # the real preparation, demo off

    job = _job(new_file, step)
    assert job.start() and job.join(TIMEOUT).phase is Phase.FAILED
    at = _run("en")
    assert [e.value for e in at.error] == [
        translate("setup.failed", "en", error=md_escape("OSError: disk full"))
    ]
    assert translate("setup.failed_help", "en") in [m.value for m in at.markdown]
    catalog = translate("setup_step.catalog", "en")
    assert _progress(at) == [(10, translate("setup.stopped", "en", step=catalog, percent=10))]
    assert not at.caption[1:]  # no running clock on a failure
    at.button[0].click().run()
    assert job.join(TIMEOUT).phase is Phase.READY, job.status().error
    assert len(attempts) == 2
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    titles = [t.value for t in at.title]
    assert translate("setup.title", "en") not in titles
    assert titles == [translate("first_run.title", "en")]  # no account yet: the first-run form
