"""Leads' management of responders on the 배회 지도: register a partner place, and put a
police box (placed at its dong's centroid by the import) where it really is with a map click.
Every write goes through dashboard.responders, which checks the role and audits."""

from __future__ import annotations

import folium
import streamlit as st
from streamlit_folium import st_folium

from dashboard import clock
from dashboard.auth import SessionUser
from dashboard.auth.permissions import NotPermitted
from dashboard.db.schema.responders import RESPONDER_KINDS
from dashboard.responders import ResponderError, move_responder, register_responder
from dashboard.ui.auth import acting_user
from dashboard.ui.data import clear_loads, get_engine, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.maps import BAEKSEOK_CENTER, LEAFLET_CSS, LEAFLET_JS, responders_layer
from dashboard.ui.safe_text import md_escape
from dashboard.ui.search_map import map_labels
from queries.responders import responder_list

PICK_KEY = "responders_pick"
FLASH_KEY = "responders_flash"


def _flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, text = flash
        (st.success if kind == "success" else st.error)(text)


def _error_text(err: Exception) -> str:
    if isinstance(err, ResponderError):
        labels = {"position": t("responders.col_position"), "kind": t("responders.kind"),
                  "name": t("responders.name"), "phone": t("responders.phone"),
                  "responder": t("responders.col_name")}  # fmt: skip
        message = t(f"responder_error.{err.key}", **err.params)
        field = labels.get(err.field, err.field)
        return t("responders.error", field=md_escape(field), message=md_escape(message))
    return t("responders.not_permitted")


def _register(_drawn_for: SessionUser) -> None:
    s = st.session_state
    user = acting_user()  # as it is now, not as the form was drawn for: the gate runs later
    if user is None:
        return
    try:
        with get_engine().begin() as conn:
            register_responder(
                conn,
                user,
                clock.now(),
                kind=s["resp_kind"],
                name=s.get("resp_name") or "",
                lat=s.get("resp_lat"),
                lon=s.get("resp_lon"),
                phone=s.get("resp_phone") or None,
            )
    except (ResponderError, NotPermitted) as err:
        s[FLASH_KEY] = ("error", _error_text(err))
        return
    s[FLASH_KEY] = ("success", t("responders.added", name=md_escape(s.get("resp_name"))))
    clear_loads()


def _move(_drawn_for: SessionUser, responder_id: int, name: str, lat: float, lon: float) -> None:
    user = acting_user()  # as it is now, not as the map was drawn for
    if user is None:
        return
    try:
        with get_engine().begin() as conn:
            move_responder(conn, user, clock.now(), responder_id, lat, lon)
    except (ResponderError, NotPermitted) as err:
        st.session_state[FLASH_KEY] = ("error", _error_text(err))
        return
    st.session_state[FLASH_KEY] = ("success", t("responders.moved", name=md_escape(name)))
    clear_loads()


def responders_admin(user: SessionUser, *, offline: bool) -> None:
    lang = current_lang()
    with st.expander(t("responders.manage"), expanded=False):
        _flash()
        st.markdown(f"**{t('responders.add_title')}**")
        with st.form("responder_add", clear_on_submit=False, border=False):
            c = st.columns([2, 3, 2, 2, 2])
            c[0].selectbox(
                t("responders.kind"),
                [k for k in RESPONDER_KINDS if k != "police_box"] + ["police_box"],
                format_func=lambda k: t(f"kind.{k}"),
                key="resp_kind",
            )
            c[1].text_input(t("responders.name"), max_chars=120, key="resp_name")
            c[2].number_input(
                t("responders.lat"), value=BAEKSEOK_CENTER[0], format="%.5f", key="resp_lat"
            )
            c[3].number_input(
                t("responders.lon"), value=BAEKSEOK_CENTER[1], format="%.5f", key="resp_lon"
            )
            c[4].text_input(t("responders.phone"), max_chars=40, key="resp_phone")
            st.form_submit_button(t("responders.add"), on_click=_register, args=(user,))

        st.markdown(f"**{t('responders.move_title')}**")
        df = load(responder_list, live=True)
        if df.empty:
            st.caption(t("common.no_data"))
            return
        unplaced = int(df["lat"].isna().sum())
        if unplaced:
            st.caption(t("responders.unplaced", n=unplaced))
        # Approximate and unplaced first: those are the ones to correct.
        ranked = df.assign(_r=(~df["approximate"].astype(bool)).astype(int)).sort_values(
            ["_r", "name"]
        )
        options = {int(r["id"]): r for r in ranked.to_dict("records")}
        chosen = st.selectbox(
            t("responders.move_pick"),
            list(options),
            format_func=lambda i: (
                f"{options[i]['name']} · {t('kind.' + options[i]['kind'])}"
                + (f" · {t('responders.approximate')}" if options[i]["approximate"] else "")
            ),
            key=PICK_KEY,
        )
        row = options[chosen]
        center = (
            (float(row["lat"]), float(row["lon"])) if row["lat"] == row["lat"] else BAEKSEOK_CENTER
        )
        fmap = folium.Map(
            location=center, zoom_start=16, tiles=None if offline else "OpenStreetMap"
        )
        fmap.default_js, fmap.default_css = LEAFLET_JS, LEAFLET_CSS  # no CDN on a closed network
        responders_layer(ranked[ranked["id"] == chosen], map_labels(lang)).add_to(fmap)
        st.caption(t("responders.move_click"))
        clicked = st_folium(
            fmap, height=360, returned_objects=["last_clicked"], key="responders_move_map"
        )
        point = (clicked or {}).get("last_clicked")
        if point:
            lat, lon = float(point["lat"]), float(point["lng"])
            st.caption(t("responders.move_clicked", lat=f"{lat:.5f}", lon=f"{lon:.5f}"))
            st.button(
                t("responders.move_save"),
                on_click=_move,
                args=(user, chosen, row["name"], lat, lon),
                key="responders_move_save",
            )
