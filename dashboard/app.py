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
            st.Page(
                f"../pages/{name}.py",
                url_path=name,
                title=t(f"page.{name}"),
                icon=icon,
                default=(name == "live"),
            )
            for name, icon in entries
        ]
        for section, entries in SECTIONS
    }
    return st.navigation(pages)


resolve_lang()
st.set_page_config(page_title=t("app.name"), page_icon=":material/favorite:", layout="wide")
apply_css(resolve_projector())
ensure_ready()
navigation = build_navigation()
st.sidebar.caption(t("app.tagline"))
language_switch()
navigation.run()
