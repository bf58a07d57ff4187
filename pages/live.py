"""실시간 현황: device states by program and dong, open-alert ticker, silent devices; below, the
watch list of homes drifting from their routine and the people marked away (own timer)."""

from dataclasses import replace

import streamlit as st

from dashboard.auth import personal_data_scope
from dashboard.i18n import STATES
from dashboard.ui.auth import check_session, require_page
from dashboard.ui.components import (
    districts_in_scope,
    multiselect_filter,
    page_header,
    program_labels,
    region_labels,
    state_labels,
)
from dashboard.ui.data import load
from dashboard.ui.i18n import t
from dashboard.ui.live import REFRESH_S, fetch_live, render_snapshot
from dashboard.ui.watch import REFRESH_S as WATCH_REFRESH_S
from dashboard.ui.watch import fetch_watch, render_watch
from queries.filters import districts_with_devices, programs
from queries.live import LiveFilters

user = require_page("live")  # personal data: re-check the role, not just the menu
page_header("page.live", "live.caption")

scope = personal_data_scope(user)  # operators: their districts; leads: None (all)
device_programs = load(programs, kind="device")
districts = load(districts_with_devices)
if scope is not None:  # an operator's wall screen shows their districts only
    st.caption(t("live.scope", n=len(scope)))
    districts = districts_in_scope(districts, scope)
    if districts.empty:
        st.info(t("live.no_districts"))
        st.stop()
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
if scope is not None and not filters.districts:  # nothing picked: all of *their* districts
    filters = replace(filters, districts=tuple(int(i) for i in districts["id"]))


@st.fragment(run_every=REFRESH_S)
def live_panel(filters: LiveFilters) -> None:
    check_session()  # timer reruns skip the login gate: end an idle session here
    # Loaded inside the fragment so each tick reads fresh data.
    render_snapshot(fetch_live(filters))


live_panel(filters)


@st.fragment(run_every=WATCH_REFRESH_S)
def watch_panel(filters: LiveFilters, areas: tuple[str, ...] | None) -> None:
    check_session()
    # Outside the live fragment: scoring quiet homes does not fit its 0.1 s budget.
    render_watch(*fetch_watch(filters, areas))


watch_panel(filters, None if scope is None else tuple(scope))
