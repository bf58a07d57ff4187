"""First-run database preparation, with progress shown to whoever triggered it."""

from __future__ import annotations

import logging
import re
import threading

import streamlit as st

from dashboard.bootstrap import SchemaOutdatedError, check_schema, ensure_database, needs_setup
from dashboard.i18n import translate_or
from dashboard.settings import get_settings
from dashboard.ui.data import database_url, get_engine
from dashboard.ui.i18n import current_lang, t

log = logging.getLogger(__name__)
_LOCK = threading.Lock()
_READY: set[str] = set()  # database URLs prepared by this process


def ensure_ready() -> None:
    """Run ``ensure_database`` once per process and URL; other sessions wait on the lock.

    The progress box appears only when there is work to do (a new or outdated database). A
    server database the app may not migrate stops every page with what to run instead.
    """
    url = database_url()
    if url in _READY:
        return
    with _LOCK:
        if url in _READY:
            return
        engine, settings = get_engine(), get_settings()
        try:
            check_schema(engine, settings)
        except SchemaOutdatedError as exc:
            _schema_page(exc)  # not marked ready: the next run after `db upgrade` goes on
        if not needs_setup(engine, settings):
            ensure_database(engine, settings)  # cheap: idempotent catalog/reference refresh
            _live_services(url)
            _READY.add(url)
            return
        with st.status(t("setup.title"), expanded=True) as status:
            bar = st.progress(0.0, text=t("setup.start"))

            def progress(fraction: float, message: str) -> None:
                step = translate_or(f"setup_step.{_slug(message)}", message, current_lang())
                bar.progress(min(max(fraction, 0.0), 1.0), text=t("setup.step", step=step))

            ensure_database(engine, settings, progress)
            status.update(label=t("setup.done"), state="complete", expanded=False)
        _live_services(url)
        _READY.add(url)


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
