"""대상자 관리: the roster of people, filtered and searched in SQL, one person's panel
(``?person=REF``) and, for leads and admins, the roster import."""

import streamlit as st

from dashboard import clock
from dashboard.auth import can_see_personal_data, personal_data_scope
from dashboard.formatting import format_date, format_number
from dashboard.i18n import localized
from dashboard.registry.columns import REF_PATTERN
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import require_page
from dashboard.ui.components import (
    multiselect_filter,
    page_header,
    pick_table,
    program_labels,
    region_labels,
)
from dashboard.ui.data import load
from dashboard.ui.duplicates import duplicates_list
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.person import render_person, risk_label
from dashboard.ui.roster_import import import_section
from dashboard.ui.safe_text import md_escape, shown_link_value
from dashboard.ui.slow_risk import slow_risk_list
from dashboard.ui.url_filters import link_param
from queries.filters import programs
from queries.roster import (
    LIST_LIMIT,
    PERSON_STATUSES,
    people_dongs,
    people_list,
    person_by_ref,
    risk_groups,
)

user = require_page("people")  # personal data: re-check the role, not just the menu
page_header("page.people", "people.caption")
lang = current_lang()
areas = personal_data_scope(user)  # operators: their districts; leads: None; admins: ()
# Admins manage the roster but see no personal data: every person, no name (not even masked).
with_names = areas != ()
scope = None if user.role == "admin" else areas
if scope is not None:
    st.caption(t("people.scope", n=len(scope)))
today = clock.now().astimezone(LOCAL_TZ).date()
slow_risk_list(user)  # the case workers' slow-risk flags (not alerts), in the user's districts
duplicates_list(user, scope)  # 동일인 의심: pairs for the roster's managers (leads, admins)

device_programs = load(programs, kind="device")
dongs = load(people_dongs, areas=scope)
groups = load(risk_groups)
chosen_programs = multiselect_filter(
    "filter.program", device_programs["code"], program_labels(device_programs), key="people_prog"
)
chosen_dongs = multiselect_filter(
    "people.dong_filter", dongs["id"], region_labels(dongs), key="people_dongs"
)
chosen_statuses = multiselect_filter(
    "queue.status_filter",
    PERSON_STATUSES,
    {s: t(f"person.status.{s}") for s in PERSON_STATUSES},
    key="people_status",
)
chosen_groups = multiselect_filter(
    "people.risk_filter", groups, {g: risk_label(g) for g in groups}, key="people_risk"
)
search = st.text_input(
    t("people.search"),
    key="people_search",
    placeholder=t("people.search_names" if with_names else "people.search_refs"),
    max_chars=40,
)

rows = load(
    people_list,
    today,
    programs=chosen_programs,
    dongs=chosen_dongs,
    statuses=chosen_statuses,
    risk_groups=chosen_groups,
    search=search,
    with_names=with_names,
    areas=scope,
    limit=LIST_LIMIT + 1,
    live=True,
)
raw_ref = link_param("person")
if rows.empty:
    st.info(t("people.none"))
else:
    more = len(rows) > LIST_LIMIT
    rows = rows.head(LIST_LIMIT)
    if more:
        st.warning(t("people.refine", n=format_number(LIST_LIMIT)))
    else:
        st.caption(t("people.count", n=format_number(len(rows))))
    shown = rows.assign(
        dong=[localized(r, "region", lang) for r in rows.to_dict("records")],
        program=[localized(r, "program", lang) for r in rows.to_dict("records")],
        enrolled=[format_date(d, lang) for d in rows["enrolled_on"]],
        status_text=[t(f"person.status.{s}") for s in rows["status"]],
        risk=[risk_label(g) for g in rows["risk_group"]],
    )
    columns = {"external_ref": t("card.ref")}
    if with_names:
        columns["recipient_masked"] = t("col.recipient")
    columns |= {
        "dong": t("col.dong"),
        "program": t("col.program"),
        "risk": t("person.risk_group"),
        "enrolled": t("person.enrolled"),
        "status_text": t("col.status"),
        "devices": t("people.devices"),
        "open_alerts": t("people.open_alerts"),
    }
    raw_ref = pick_table(
        shown, columns, key="people_table", link="person", id_column="external_ref"
    )

if not raw_ref:
    st.caption(t("people.select_hint"))
elif not REF_PATTERN.fullmatch(raw_ref):
    st.warning(t("people.bad_link", value=shown_link_value(raw_ref)))
else:
    person = load(person_by_ref, raw_ref, live=True)
    # An operator's deep link to someone outside their districts reads as "not found".
    if person is None or (
        user.role != "admin" and not can_see_personal_data(user, person["region_code"])
    ):
        st.warning(t("people.not_found", ref=md_escape(raw_ref)))
    else:
        ended = person["ended_on"]
        person["status"] = "ended" if ended is not None and ended <= today else "active"
        tiles = (
            None
            if st.sidebar.toggle(t("wandering.offline_tiles"), key="people_offline")
            else "OpenStreetMap"
        )
        render_person(user, person, tiles)

st.divider()
import_section("people")
