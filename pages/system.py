"""시스템 상태: ingest, rule worker, outbox, database and leader, for administrators.

Read from the database (``queries.system``), so staff see the system's health without
Prometheus; the same figures as the processes' /metrics (docs/operations.md).
"""

import streamlit as st

from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.system_status import REFRESH_S, status_view

require_page("system")  # admins only: re-check the role, not just the menu
page_header("page.system", "system.caption")


@st.fragment(run_every=REFRESH_S)
def _live() -> None:
    status_view()


_live()
