"""기기 관리: every device with its vendor id, person, dong and current state, filtered in SQL;
the plugs slow to notice a stop (a closed section above the list); one device's state and alert
history (``?device=ID``); for leads and admins the device's actions (assign, replace, out of /
back in service), registering a device and the roster import."""

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import can_see_personal_data, personal_data_scope
from dashboard.formatting import format_age, format_date, format_datetime, format_number
from dashboard.i18n import localized, state_label
from dashboard.registry.columns import UID_PATTERN
from dashboard.ui.alerts import rule_label
from dashboard.ui.auth import require_page
from dashboard.ui.components import (
    multiselect_filter,
    page_header,
    pick_table,
    program_labels,
    region_labels,
    table,
)
from dashboard.ui.data import load
from dashboard.ui.device_actions import device_actions, register_section
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.reach_list import reach_list
from dashboard.ui.reach_panel import PLUG, device_reach
from dashboard.ui.roster_import import import_section
from dashboard.ui.safe_text import md_escape, shown_link_value
from dashboard.ui.url_filters import link_param
from queries.filters import programs
from queries.roster import (
    DEVICE_STATUSES,
    LIST_LIMIT,
    device_alerts,
    device_by_uid,
    device_dongs,
    device_list,
    device_types,
    vendors,
)

user = require_page("devices")  # devices name their people: re-check the role
page_header("page.devices", "devices.caption")
lang = current_lang()
areas = personal_data_scope(user)  # operators: their districts; leads: None; admins: ()
with_names = areas != ()  # admins: devices and references, no names
scope = None if user.role == "admin" else areas
if scope is not None:
    st.caption(t("people.scope", n=len(scope)))
now = clock.now()
reach_list(scope, with_names)  # the plugs slow to notice a stop, in the user's districts

device_programs = load(programs, kind="device")
types = load(device_types)
dongs = load(device_dongs, areas=scope)
vendor_names = load(vendors)
filters = {
    "programs": multiselect_filter(
        "filter.program", device_programs["code"], program_labels(device_programs), key="dev_prog"
    ),
    "types": multiselect_filter(
        "col.device_type",
        types["code"],
        {r["code"]: localized(r, "name", lang) for r in types.to_dict("records")},
        key="dev_types",
    ),
    "vendor_names": multiselect_filter(
        "devices.vendor", vendor_names, {v: v for v in vendor_names}, key="dev_vendors"
    ),
    "statuses": multiselect_filter(
        "col.status",
        DEVICE_STATUSES,
        {s: t(f"device_status.{s}") for s in DEVICE_STATUSES},
        key="dev_status",
    ),
    "dongs": multiselect_filter(
        "people.dong_filter", dongs["id"], region_labels(dongs), key="dev_dongs"
    ),
}
search = st.text_input(
    t("devices.search"), key="dev_search", placeholder=t("devices.search_hint"), max_chars=60
)
rows = load(
    device_list,
    **filters,
    search=search,
    with_names=with_names,
    areas=scope,
    limit=LIST_LIMIT + 1,
    live=True,
)


def _when(value) -> str:
    return "–" if value is None or value != value else format_datetime(value, lang)


raw_uid = link_param("device")
if rows.empty:
    st.info(t("devices.none"))
else:
    more = len(rows) > LIST_LIMIT
    rows = rows.head(LIST_LIMIT)
    if more:
        st.warning(t("devices.refine", n=format_number(LIST_LIMIT)))
    else:
        st.caption(t("devices.count", n=format_number(len(rows))))
    records = rows.to_dict("records")
    shown = rows.assign(
        type=[localized(r, "type", lang) for r in records],
        program=[localized(r, "program", lang) for r in records],
        dong=[localized(r, "region", lang) for r in records],
        ref=rows["external_ref"].fillna("–"),
        site=rows["label"].fillna("–"),
        installed=[format_date(d, lang) for d in rows["installed_on"]],
        status_text=[t(f"device_status.{s}") for s in rows["status"]],
        seen=[
            "–" if x is None or x != x else format_age(x, now, lang) for x in rows["last_seen_at"]
        ],
        state_text=["–" if s is None or s != s else state_label(s, lang) for s in rows["state"]],
    )
    columns = {
        "device_uid": t("devices.device_id"),
        "vendor": t("devices.vendor"),
        "type": t("col.device_type"),
        "program": t("col.program"),
        "ref": t("card.ref"),
    }
    if with_names:
        columns["recipient_masked"] = t("col.recipient")
    columns |= {
        "site": t("col.site"),
        "dong": t("col.dong"),
        "installed": t("devices.installed"),
        "status_text": t("col.status"),
        "seen": t("col.last_seen"),
        "state_text": t("col.state"),
    }
    raw_uid = pick_table(shown, columns, key="devices_table", link="device", id_column="device_uid")

if not raw_uid:
    st.caption(t("devices.select_hint"))
elif not UID_PATTERN.fullmatch(raw_uid):
    st.warning(t("devices.bad_link", value=shown_link_value(raw_uid)))
else:
    device = load(device_by_uid, raw_uid, with_names=with_names, live=True)
    if device is None or (
        user.role != "admin" and not can_see_personal_data(user, device["region_code"])
    ):
        st.warning(t("devices.not_found", uid=md_escape(raw_uid)))
    else:
        st.subheader(t("devices.title", uid=md_escape(device["device_uid"])))
        facts = {
            "devices.vendor": device["vendor"],
            "col.device_type": localized(device, "type", lang),
            "col.program": localized(device, "program", lang),
            "card.ref": device["external_ref"] or "–",
        }
        if with_names:
            facts["col.recipient"] = device.get("recipient_masked") or "–"
        facts |= {
            "col.site": device["label"] or "–",
            "col.dong": localized(device, "region", lang),
            "devices.installed": format_date(device["installed_on"], lang),
            "col.status": t(f"device_status.{device['status']}"),
            "col.state": "–" if not device["state"] else state_label(device["state"], lang),
            "devices.state_since": _when(device["state_since"]),
            "col.last_seen": _when(device["last_seen_at"]),
            "devices.last_activity": _when(device["last_activity_at"]),
            "col.battery": "–"
            if device["battery_pct"] is None or device["battery_pct"] != device["battery_pct"]
            else f"{format_number(device['battery_pct'])} %",
        }
        left, right = st.columns([2, 3], gap="large")
        with left:
            table(
                pd.DataFrame(
                    {"field": [t(k) for k in facts], "value": [str(v) for v in facts.values()]}
                ),
                {"field": "col.field", "value": "col.value"},
                height=38 + 35 * len(facts),  # every field at once, no inner scrolling
            )
        with right:
            st.markdown(f"**{t('devices.alerts')}**")
            alerts = load(device_alerts, int(device["id"]), live=True)
            if alerts.empty:
                st.caption(t("history.none"))
            else:
                table(
                    alerts.assign(
                        opened=[format_datetime(x, lang) for x in alerts["opened_at"]],
                        rule=[rule_label(r, lang) for r in alerts["rule"]],
                        stage=[state_label(s, lang) for s in alerts["stage"]],
                        status=[t(f"status.{s}") for s in alerts["status"]],
                        outcome=[
                            t(f"outcome.{o}") if isinstance(o, str) else "–"
                            for o in alerts["outcome"]
                        ],
                    ),
                    {
                        "id": "col.alert_id",
                        "opened": "col.opened_at",
                        "rule": "col.rule",
                        "stage": "col.stage",
                        "status": "col.status",
                        "outcome": "history.outcome",
                        "dispatches": "history.dispatch_count",
                    },
                )
        if device["type_code"] == PLUG:
            device_reach(int(device["id"]))
        device_actions(device)

st.divider()
register_section()
import_section("devices")
