"""사용자 관리: leads and admins manage accounts; admins also manage vendor API keys and see
ingest dead letters."""

import streamlit as st

from dashboard.auth import can
from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.dead_letters import dead_letters_tab
from dashboard.ui.i18n import t
from dashboard.ui.users_admin import api_keys_tab, users_tab

user = require_page("users")  # writes accounts: re-check the role, not just the menu
page_header("page.users", "users_admin.caption")

if can(user.role, "manage_api_keys"):
    users, keys, dead = st.tabs(
        [t("users_admin.tab_users"), t("users_admin.tab_keys"), t("dead_letters.tab")]
    )
    with users:
        users_tab(user)
    with keys:
        api_keys_tab()
    with dead:
        dead_letters_tab(user)
else:
    users_tab(user)
st.caption(t("users_admin.audited"))
