"""배회 지도: wandering detectors' last positions against safe zones (the demo's in 백석1·2동),
a person's trail and the nearest responders; below, the exits review (pydeck) and, for leads, the
responders' management.

The sidebar toggle lives outside the live fragment (a fragment cannot write to the sidebar);
everything that moves is read and drawn inside it, every REFRESH_S seconds.
"""

import streamlit as st

from dashboard.auth import personal_data_scope
from dashboard.settings import get_settings
from dashboard.ui.auth import require_page, user_can
from dashboard.ui.components import page_header
from dashboard.ui.deck import exits_review
from dashboard.ui.i18n import t
from dashboard.ui.responders_admin import responders_admin
from dashboard.ui.wandering import wandering_panel

user = require_page("wandering")  # personal data: re-check the role, not just the menu
page_header("page.wandering", "wandering.caption")
offline_tiles = st.sidebar.toggle(
    t("wandering.offline_tiles"), key="wandering_offline", help=t("wandering.offline_help")
)
# ANBU_TILE_URL (a national basemap, or tiles served from a local folder) else OpenStreetMap.
tiles, attribution = get_settings().tiles or ("OpenStreetMap", None)
areas = personal_data_scope(user)  # operators: their districts; leads: every district
wandering_panel(None if offline_tiles else tiles, None if offline_tiles else attribution, areas)
exits_review(areas, offline=offline_tiles)
if user_can("manage_responders"):
    responders_admin(user, offline=offline_tiles)
