"""The search tab of a wandering alert: the episode's trail, the nearest responders and the
"notify" action for each (a dispatch through the outbox, like the other actions)."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard.auth import SessionUser, can
from dashboard.formatting import format_datetime
from dashboard.settings import get_settings
from dashboard.ui import search_map
from dashboard.ui.alert_actions import may_act, run_action
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.maps import base_map, responders_layer, trail_layer
from dashboard.ui.safe_text import md_escape
from dashboard.ui.wandering import map_labels, no_position_after, render_nearest
from queries.trails import episode_window

SEARCH_RULES = frozenset({"wander_left_zone", "wander_no_position"})
NOTIFY_BUTTONS = 3  # the nearest few: further ones are for the phone, not a button
MAP_HEIGHT = 460


def is_search_alert(alert: dict) -> bool:
    return alert.get("rule") in SEARCH_RULES and alert.get("device_id") is not None


def _notify(alert_id: int, version: int, region: str | None, responder_id: int) -> None:
    run_action(alert_id, "notify_responder", version, region, responder_id=responder_id)


def render_search(user: SessionUser, alert: dict, now: datetime) -> None:
    lang = current_lang()
    since, until = load(episode_window, int(alert["id"]), now, live=True)
    fixes, read = search_map.trail_fixes(int(alert["device_id"]), since, until)
    st.caption(
        t(
            "trail.episode_caption",
            start=format_datetime(since, lang),
            end=format_datetime(until, lang),
            n=read,
            k=len(fixes),
        )
    )
    if not fixes:
        st.info(t("trail.episode_empty"))
        return
    last = fixes[-1]
    near = search_map.nearest(last.lat, last.lon)
    # The live map's labels: the legend names every status (LEGEND_ORDER), with the rules'
    # own lost-after minutes.
    minutes = int(no_position_after().total_seconds() // 60)
    labels = map_labels(lang, minutes)
    tiles, attribution = get_settings().tiles or ("OpenStreetMap", None)
    offline = bool(st.session_state.get("wandering_offline"))
    span = until - since
    fmap = base_map(labels, None, None if offline else tiles, None if offline else attribution)
    trail_layer(fixes, lambda f: search_map.time_label(f, span)).add_to(fmap)
    responders_layer(near, labels, named=3).add_to(fmap)
    lats = [f.lat for f in fixes] + near["lat"].astype(float).tolist()
    lons = [f.lon for f in fixes] + near["lon"].astype(float).tolist()
    fmap.fit_bounds([[min(lats), min(lons)], [max(lats), max(lons)]], padding=(30, 30))
    st_folium(
        fmap, returned_objects=[], height=MAP_HEIGHT, use_container_width=True,
        key=f"alert_trail_{alert['id']}",
    )  # fmt: skip
    render_nearest(near, lang)
    if near.empty:
        return
    region = alert.get("person_region_code") or alert.get("region_code")
    if alert["status"] == "closed" or not can(user.role, "notify_responder"):
        return
    if not may_act(user, region):
        st.caption(t("act.outside_districts"))
        return
    cols = st.columns(NOTIFY_BUTTONS)
    for col, row in zip(cols, near.head(NOTIFY_BUTTONS).to_dict("records"), strict=False):
        col.button(
            t("responders.notify", name=md_escape(row["name"]), d=row["distance_text"]),
            key=f"notify_{alert['id']}_{row['id']}",
            on_click=_notify,
            args=(int(alert["id"]), int(alert["version"]), region, int(row["id"])),
            icon=":material/local_police:",
            use_container_width=True,
        )


def with_search_tab(alert: dict) -> bool:
    """Whether the alert detail gets the search tab."""
    return is_search_alert(alert) and not pd.isna(alert.get("device_id"))
