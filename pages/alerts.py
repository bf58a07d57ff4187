"""경보·출동: open alerts, gravest and longest-waiting first; ``?alert=ID`` selects one."""

import streamlit as st

from dashboard.i18n import STAGES
from dashboard.ui.alerts import QUEUE_COLUMNS, detail, queue_table, stage_metrics
from dashboard.ui.auth import require_page
from dashboard.ui.components import (
    multiselect_filter,
    page_header,
    program_labels,
    region_labels,
    state_labels,
)
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import t
from queries.alerts import alert_by_id, open_alerts
from queries.filters import districts_with_devices, programs

require_page("alerts")  # personal data: re-check the role, not just the menu
page_header("page.alerts", "alerts.caption")

device_programs = load(programs, kind="device")
districts = load(districts_with_devices)
chosen_programs = multiselect_filter(
    "filter.program",
    device_programs["code"],
    program_labels(device_programs),
    key="alerts_programs",
)
chosen_stages = multiselect_filter(
    "filter.stage", list(reversed(STAGES)), state_labels(STAGES), key="alerts_stages"
)
chosen_districts = multiselect_filter(
    "filter.district", districts["id"], region_labels(districts), key="alerts_districts"
)

now = live_now()
alerts = load(
    open_alerts,
    now,
    programs=chosen_programs,
    stages=chosen_stages,
    districts=chosen_districts,
    live=True,
)
stage_metrics(alerts, now)

raw_id = st.query_params.get("alert")
selected_id = int(raw_id) if raw_id and raw_id.isdigit() else None
if raw_id and selected_id is None:
    st.warning(t("alerts.bad_link", value=raw_id))

if alerts.empty:
    st.success(t("alerts.none"))
else:
    shown = queue_table(alerts, now)
    headers = {c: t(k) for c, k in QUEUE_COLUMNS.items()}
    event = st.dataframe(
        shown.rename(columns=headers),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key="alerts_queue",
        height=min(38 + 35 * len(shown), 520),
    )
    rows = event.selection.rows if event is not None else []
    if rows:
        selected_id = int(shown.iloc[rows[0]]["id"])
        st.query_params["alert"] = str(selected_id)

if selected_id is not None:
    match = alerts[alerts["id"] == selected_id]
    if match.empty:  # closed, or outside the filters: still answer the deep link
        match = load(alert_by_id, selected_id, now, live=True)
    if match.empty:
        st.warning(t("alerts.not_found", id=selected_id))
    else:
        detail(match.iloc[0].to_dict(), now)
else:
    st.caption(t("alerts.select_hint"))
