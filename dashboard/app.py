"""Entry point: ``streamlit run dashboard/app.py``.

Page config, language and projector mode, first-run setup, then ``st.navigation``. Pages live
in the top-level ``pages/`` folder (never ``dashboard/pages``: a folder with that name beside the
entry script would let deep links run a page without this script).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st
from streamlit.navigation.page import Page

from dashboard.auth import allowed_pages
from dashboard.ui.auth import current_user, login_page, sidebar_user
from dashboard.ui.first_run import first_run_page, first_run_pending, first_run_welcome
from dashboard.ui.i18n import (
    language_switch,
    link_warnings,
    resolve_lang,
    resolve_projector,
    t,
)
from dashboard.ui.setup import ensure_ready
from dashboard.ui.theme import apply_css

# (section key, [(file, url_path, icon)]): url paths are ASCII and stable; titles translate.
SECTIONS = [
    (
        "nav.control",
        [
            ("live", ":material/monitor_heart:"),
            ("alerts", ":material/notifications_active:"),
            ("wandering", ":material/map:"),
        ],
    ),
    (
        "nav.analysis",
        [
            ("week", ":material/view_week:"),
            ("response", ":material/timer:"),
            ("vendors", ":material/handshake:"),
            ("complaints", ":material/smoke_free:"),
            ("participation", ":material/directions_walk:"),
            ("budget", ":material/account_balance:"),
        ],
    ),
    (
        "nav.briefing",
        [
            ("briefing", ":material/co_present:"),
        ],
    ),
    (
        "nav.manage",
        [
            ("people", ":material/elderly:"),
            ("devices", ":material/devices_other:"),
            ("users", ":material/manage_accounts:"),
            ("settings", ":material/tune:"),
            ("import", ":material/upload_file:"),
            ("system", ":material/dns:"),
        ],
    ),
]
# Pages whose script is not named like its url path ("import" reads badly as a file name).
PAGE_FILES = {"import": "import_events"}


def _refusal(name: str, home: Page) -> Callable[[], None]:
    def refuse() -> None:
        st.title(t(f"page.{name}"))
        st.error(t("auth.forbidden"))
        st.page_link(home, label=t("auth.go_home", page=home.title), icon=":material/home:")

    refuse.__name__ = f"refused_{name}"  # Streamlit keys function pages by their name
    return refuse


def build_navigation(role: str) -> Page:
    # Access control: only the role's pages are registered, so any other URL falls back to
    # the default page (visibility="hidden" would not stop a deep link).
    allowed = allowed_pages(role)
    pages = {
        t(section): [
            st.Page(
                f"../pages/{PAGE_FILES.get(name, name)}.py",
                url_path=name,
                title=t(f"page.{name}"),
                icon=icon,
            )
            for name, icon in entries
            if name in allowed
        ]
        for section, entries in SECTIONS
    }
    pages = {section: entries for section, entries in pages.items() if entries}
    by_path = {p.url_path: p for entries in pages.values() for p in entries}
    first = next(by_path[name] for name in allowed if name in by_path)

    def home() -> None:
        # Streamlit serves the default page at "/" and not at its url_path, so the role's first
        # page is not the default: "/" forwards to it (e.g. "/live") and both addresses work.
        # Every value of a repeated parameter goes along, for the page to name the repeat.
        params = {name: st.query_params.get_all(name) for name in st.query_params}
        st.switch_page(first, query_params=params)

    hidden_home = st.Page(
        home, title=first.title, url_path="home", default=True, visibility="hidden"
    )
    next(iter(pages.values())).insert(0, hidden_home)
    # Another role's page typed as an address says so (hidden, and never its script), instead
    # of quietly showing the role's first page as if the link were wrong.
    next(iter(pages.values())).extend(
        st.Page(_refusal(name, first), title=t(f"page.{name}"), url_path=name, visibility="hidden")
        for section, entries in SECTIONS
        for name, _icon in entries
        if name not in allowed
    )
    # Every page listed: collapsed, Streamlit would add an untranslated "View N more".
    return st.navigation(pages, expanded=True)


resolve_lang()
projector = resolve_projector()
st.set_page_config(
    page_title=t("app.name"),
    page_icon="💙",
    layout="wide",
    # A council room sees the page, not the menu.
    initial_sidebar_state="collapsed" if projector else "auto",
)
apply_css(projector)
link_warnings()  # a ?lang= or ?projector= value not used
ensure_ready()
user = current_user()
if user is None:
    # Every address shows the login page; a deep link (/alerts?alert=12) opens after login.
    # With no account at all (demo off), the first-run page takes its place.
    gate = first_run_page if first_run_pending() else login_page
    navigation = st.navigation(
        # "home" as in build_navigation: logging in at "/" reruns the role's home, not a 404.
        [st.Page(gate, title=t("auth.title"), url_path="home", default=True)]
        + [
            st.Page(gate, title=t("auth.title"), url_path=name, visibility="hidden")
            for _, entries in SECTIONS
            for name, _ in entries
        ],
        position="hidden",
    )
else:
    navigation = build_navigation(user.role)
    sidebar_user(user)
    first_run_welcome()
st.sidebar.caption(t("app.tagline"))
language_switch()
navigation.run()
