"""실시간 현황: device states by program and dong, open-alert ticker, silent devices."""

import streamlit as st

from dashboard.i18n import STATES
from dashboard.ui.auth import check_session, require_page
from dashboard.ui.components import (
    multiselect_filter,
    page_header,
    program_labels,
    region_labels,
    state_labels,
)
from dashboard.ui.data import load
from dashboard.ui.live import REFRESH_S, fetch_live, render_snapshot
from queries.filters import districts_with_devices, programs
from queries.live import LiveFilters

require_page("live")  # personal data: re-check the role, not just the menu
page_header("page.live", "live.caption")

device_programs = load(programs, kind="device")
districts = load(districts_with_devices)
filters = LiveFilters(
    programs=multiselect_filter(
        "filter.program",
        device_programs["code"],
        program_labels(device_programs),
        key="live_programs",
    ),
    districts=multiselect_filter(
        "filter.district", districts["id"], region_labels(districts), key="live_districts"
    ),
    states=multiselect_filter("filter.state", STATES, state_labels(STATES), key="live_states"),
)


@st.fragment(run_every=REFRESH_S)
def live_panel(filters: LiveFilters) -> None:
    check_session()  # timer reruns skip the login gate: end an idle session here
    # Loaded inside the fragment so each tick reads fresh data.
    render_snapshot(fetch_live(filters))


live_panel(filters)
