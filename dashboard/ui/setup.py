"""First-start preparation: every visitor sees its progress while the server builds.

The work itself is ``dashboard.setup_job``: one background job per server process, guarded
against a second process on the same database. A session only starts it (the first visit does)
and reads its status, so closing a tab neither pauses nor cancels anything.
"""

from __future__ import annotations

import logging
import re
import threading

import streamlit as st

from dashboard import clock
from dashboard.bootstrap import SchemaOutdatedError, check_schema, ensure_database, needs_setup
from dashboard.i18n import translate_or
from dashboard.settings import get_settings
from dashboard.setup_job import Phase, SetupJob, SetupStatus, setup_job
from dashboard.ui.data import database_url, get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

log = logging.getLogger(__name__)
REFRESH_S = 2.0  # how often the progress page looks at the job again
_LOCK = threading.Lock()
_READY: set[str] = set()  # database URLs prepared by this process


def ensure_ready() -> None:
    """Return when the database is ready; otherwise show the progress page and stop the run.

    A server database the app may not migrate stops every page with what to run instead.
    """
    url = database_url()
    if url in _READY:
        return
    engine, settings = get_engine(), get_settings()
    try:
        check_schema(engine, settings)
    except SchemaOutdatedError as exc:
        _schema_page(exc)  # not marked ready: the next run after `db upgrade` goes on
    job = setup_job(engine, settings)
    status = job.status()
    if status.phase is Phase.IDLE:
        if not needs_setup(engine, settings):
            with _LOCK:
                if url not in _READY:
                    ensure_database(engine, settings)  # cheap: idempotent catalog refresh
                    _ready(url)
            return
        status = job.start()
    if status.phase is Phase.READY:
        _ready(url)
        return
    _progress_page(job)
    st.stop()


def _ready(url: str) -> None:
    _live_services(url)
    _READY.add(url)


SETUP_KEY = "anbu-setup"  # the page's container (CSS class st-key-anbu-setup): browser tests


def _progress_page(job: SetupJob) -> None:
    with st.container(key=SETUP_KEY):
        st.title(t("setup.title"))
        st.caption(t("setup.background"))
        _progress(job)


@st.fragment(run_every=REFRESH_S)
def _progress(job: SetupJob) -> None:
    status = job.status()
    if status.phase is Phase.READY:
        st.rerun(scope="app")  # the app itself: login page or the page asked for
    failed = status.phase is Phase.FAILED
    if failed:
        st.error(t("setup.failed", error=md_escape(status.error)))  # exception text: escaped
        st.markdown(t("setup.failed_help"))
        if st.button(t("setup.retry"), type="primary"):
            job.retry()
            st.rerun(scope="app")
    elif status.phase is Phase.WAITING:
        st.info(t("setup.waiting_other"))
    st.progress(status.fraction, text=_progress_text(status))
    if status.started_at is not None and not failed:
        seconds = max(int((clock.now() - status.started_at).total_seconds()), 0)
        st.caption(t("setup.elapsed", minutes=seconds // 60, seconds=seconds % 60))


def _progress_text(status: SetupStatus) -> str:
    if not status.step:
        return t("setup.start")
    step = translate_or(f"setup_step.{_slug(status.step)}", status.step, current_lang())
    key = "setup.stopped" if status.phase is Phase.FAILED else "setup.step"
    return t(key, step=step, percent=round(status.fraction * 100))


def _schema_page(exc: SchemaOutdatedError) -> None:
    log.error("%s", exc)
    st.title(t("setup.schema_title"))
    st.error(t("setup.schema_empty" if exc.empty else "setup.schema_outdated"))
    commands = "python -m dashboard db upgrade"
    if exc.empty:
        commands += "\npython -m dashboard users add NAME --role admin"
    st.code(commands, language="bash")
    st.caption(t("setup.schema_docs"))
    st.stop()


@st.cache_resource(show_spinner=False)
def _live_services(url: str):  # the URL keys the cache: one loop per database
    """The embedded demo's live loop, once per server process (no-op otherwise); see
    dashboard/background.py."""
    from dashboard.background import start_live_services

    return start_live_services(get_engine(), get_settings())


def _slug(message: str) -> str:
    """Step names from the setup code ("writing raw events") as translation keys."""
    return re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
