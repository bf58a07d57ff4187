"""배회 지도: wandering detectors' last positions against safe zones in 백석1·2동.

The sidebar toggle lives outside the live fragment (a fragment cannot write to the sidebar);
everything that moves is read and drawn inside it, every REFRESH_S seconds.
"""

import streamlit as st

from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.i18n import t
from dashboard.ui.wandering import wandering_panel

require_page("wandering")  # personal data: re-check the role, not just the menu
page_header("page.wandering", "wandering.caption")
offline_tiles = st.sidebar.toggle(
    t("wandering.offline_tiles"), key="wandering_offline", help=t("wandering.offline_help")
)
wandering_panel(None if offline_tiles else "OpenStreetMap")
