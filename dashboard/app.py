"""Entry point: ``streamlit run dashboard/app.py``.

Page config, language and projector mode, first-run setup, then ``st.navigation``. Pages live
in the top-level ``pages/`` folder (never ``dashboard/pages``: a folder with that name beside the
entry script would let deep links run a page without this script).
"""

from __future__ import annotations

import streamlit as st
from streamlit.navigation.page import Page

from dashboard.ui.i18n import language_switch, resolve_lang, resolve_projector, t
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
]


def build_navigation() -> Page:
    pages = {
        t(section): [
            st.Page(f"../pages/{name}.py", url_path=name, title=t(f"page.{name}"), icon=icon)
            for name, icon in entries
        ]
        for section, entries in SECTIONS
    }
    live = pages[t("nav.control")][0]

    def home() -> None:
        # Streamlit serves the default page at "/" and not at its url_path, so the live page
        # is not the default: "/" forwards to "/live" and both addresses work on a wall screen.
        st.switch_page(live, query_params=dict(st.query_params))

    hidden_home = st.Page(
        home, title=t("page.live"), url_path="home", default=True, visibility="hidden"
    )
    pages[t("nav.control")].insert(0, hidden_home)
    return st.navigation(pages)


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
ensure_ready()
navigation = build_navigation()
st.sidebar.caption(t("app.tagline"))
language_switch()
navigation.run()
