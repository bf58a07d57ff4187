"""경보·출동: the operators' queue (gravest first, the unowned, then the longest-waiting; live
timers), one alert's detail with the recipient card (audited reveal) and the action buttons.
``?alert=ID`` selects; the queue's filters are kept in the URL too (``?stage=severe,risk&…``)."""

import streamlit as st

from dashboard import clock
from dashboard.actions.transitions import STATUSES
from dashboard.auth import personal_data_scope
from dashboard.i18n import STAGES
from dashboard.ui.alert_actions import BUST_KEY, changed_since_shown, remember_shown
from dashboard.ui.alert_detail import fresh, render_detail
from dashboard.ui.alerts import REFRESH_S, QueueFilters, show_queue, stage_metrics
from dashboard.ui.auth import check_session, require_page
from dashboard.ui.components import (
    districts_in_scope,
    page_header,
    program_labels,
    region_labels,
    state_labels,
)
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import shown_link_value
from dashboard.ui.url_filters import link_param, parse_row_id, url_multiselect
from queries.alerts import OPEN_STATUSES, alert_by_id, open_alerts
from queries.filters import districts_with_devices, programs

user = require_page("alerts")  # personal data and actions: re-check the role, not just the menu
page_header("page.alerts", "alerts.caption")
areas = personal_data_scope(user)  # operators: their districts; leads: None (all)
if areas is not None:
    st.caption(t("queue.scope", n=len(areas)))

device_programs = load(programs, kind="device")
districts = districts_in_scope(load(districts_with_devices), areas)  # only the operator's


def _url_filter(label_key: str, options: list, labels: dict, param: str) -> tuple:
    """A sidebar multiselect kept in ``?param=a,b`` like the review pages' (a link opens the
    queue filtered; an unknown value is dropped with a warning naming it)."""
    return url_multiselect(
        t(label_key),
        options,
        param=param,
        format_func=lambda o: labels.get(o, str(o)),
        placeholder=t("filter.all"),
        container=st.sidebar,
    )


district_ids = dict(zip(districts["code"], districts["id"], strict=True))
filters = QueueFilters(
    programs=_url_filter(
        "filter.program", list(device_programs["code"]), program_labels(device_programs), "program"
    ),
    stages=_url_filter("filter.stage", list(reversed(STAGES)), state_labels(STAGES), "stage"),
    districts=tuple(
        int(district_ids[code])
        for code in _url_filter(
            "filter.district", list(district_ids), region_labels(districts, "code"), "district"
        )
    ),
    statuses=_url_filter(
        "queue.status_filter",
        list(OPEN_STATUSES),
        {s: t(f"status.{s}") for s in STATUSES},
        "status",
    ),
    areas=None if areas is None else tuple(areas),
)

raw_id = link_param("alert")
selected_id = parse_row_id(raw_id)
if raw_id and selected_id is None:
    st.warning(t("alerts.bad_link", value=shown_link_value(raw_id)))


@st.fragment(run_every=REFRESH_S)
def queue_panel(filters: QueueFilters, selected_id: int | None) -> None:
    check_session()  # timer reruns skip the login gate: end an idle session here
    if changed_since_shown(selected_id):
        st.rerun(scope="app")  # the alert below changed under the operator: draw it again
    # After this session's own action, read past the shared cache so the queue shows it.
    bucket = clock.now() if st.session_state.pop(BUST_KEY, False) else live_now()
    alerts = load(
        open_alerts,
        bucket,
        programs=filters.programs,
        stages=filters.stages,
        districts=filters.districts,
        statuses=filters.statuses,
        areas=filters.areas,
        live=True,
    )
    now = clock.now()  # the timers count from the real clock, not the cache bucket
    stage_metrics(alerts, now)
    if alerts.empty:
        st.success(t("alerts.none"))
        return
    picked = show_queue(alerts, now, selected_id)
    if picked is not None and picked != selected_id:
        st.query_params["alert"] = str(picked)
        st.rerun(scope="app")  # the detail lives outside this fragment


# Read fresh, not from the shared cache: the version shown is the one actions carry. Read
# before the queue, whose timer compares it with the alert's version now.
match = None if selected_id is None else fresh(alert_by_id, selected_id, clock.now(), areas)
if match is not None and not match.empty:
    remember_shown(selected_id, int(match.iloc[0]["version"]))

queue_panel(filters, selected_id)

if match is None:
    st.caption(t("alerts.select_hint"))
elif match.empty:
    st.warning(t("alerts.not_found", id=selected_id))
else:
    render_detail(user, match.iloc[0].to_dict(), clock.now())
