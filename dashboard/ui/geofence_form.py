"""The person panel's geofence form (leads): radius, a polygon zone drawn on the map or pasted
as GeoJSON or as ``lat, lon`` lines, and quiet hours. The domain
(``dashboard.enrollment.geofence``) validates, writes and audits; this only collects the values
and shows what it said. A drawn polygon fills the corner field; saving the form stores it."""

from __future__ import annotations

import json
from collections.abc import Mapping

import folium
import streamlit as st
from branca.element import MacroElement
from folium.plugins import Draw
from jinja2 import Template
from streamlit_folium import st_folium

from dashboard import clock
from dashboard.auth import SessionUser, can_see_personal_data
from dashboard.auth.permissions import NotPermitted, may
from dashboard.enrollment.errors import EnrollmentError, NotFound
from dashboard.enrollment.geofence import (
    check_polygon,
    parse_polygon,
    polygon_from_drawing,
    set_geofence,
)
from dashboard.rules.facts import stored_polygon
from dashboard.ui.auth import acting_user
from dashboard.ui.data import get_engine
from dashboard.ui.enrollment_errors import error_text
from dashboard.ui.i18n import t
from dashboard.ui.maps import LEAFLET_CSS, LEAFLET_JS
from dashboard.ui.safe_text import html_escape, md_escape
from queries.geofence import geofence_settings
from queries.roster import home_position

ACTION = "manage_roster"
_FLASH = "geofence_flash"
FIELDS = ("safe_zone_m", "polygon", "quiet_start", "quiet_end", "quiet_hours")
# Leaflet.draw from our own static folder (folium's Draw would fetch it from a CDN).
DRAW_JS = [("leaflet_draw_js", "/app/static/leaflet-draw/leaflet.draw.js")]
DRAW_CSS = [("leaflet_draw_css", "/app/static/leaflet-draw/leaflet.draw.css")]
DRAW_MAP_HEIGHT = 340
ZONE_COLOR = "#1c7ed6"


def _key(recipient_id: int, name: str) -> str:
    return f"geofence_{recipient_id}_{name}"


def clock_text(minutes: int | None) -> str:
    return "" if minutes is None else f"{minutes // 60:02d}:{minutes % 60:02d}"


def polygon_text(polygon: list | None) -> str:
    """The stored polygon as the form shows it: one ``lat, lon`` line per corner."""
    return "\n".join(f"{lat:.6f}, {lon:.6f}" for lat, lon in polygon or [])


def field_label(field: str) -> str:
    return t(f"geofence.field.{field}") if field in FIELDS else field


def _on_save(recipient_id: int) -> None:
    state = st.session_state
    user = acting_user()  # the account as it is now: callbacks run before the page's gate
    if user is None or not may(user, ACTION):
        return
    radius = state.get(_key(recipient_id, "radius"))
    try:
        polygon = parse_polygon(state.get(_key(recipient_id, "polygon"), ""))
        with get_engine().begin() as conn:  # the row and its audit entry, or neither
            set_geofence(
                conn,
                user,
                clock.now(),
                recipient_id,
                safe_zone_m=int(radius) if radius else None,
                polygon=polygon,
                quiet_hours=(
                    state.get(_key(recipient_id, "quiet_start"), ""),
                    state.get(_key(recipient_id, "quiet_end"), ""),
                ),
            )
    except EnrollmentError as err:
        # Translated where the refusal has a key; what was typed is escaped either way, so
        # "**x** [a](http://…)" shows as typed instead of as bold text and a live link.
        message = error_text(err)
        state[_FLASH] = (
            "error",
            t("geofence.refused", field=field_label(err.field), message=message),
        )
        return
    except (NotPermitted, NotFound) as err:
        state[_FLASH] = ("error", t("geofence.not_allowed", message=md_escape(err)))
        return
    state[_FLASH] = ("success", t("geofence.saved"))


class _DrawTexts(MacroElement):
    """Leaflet.draw's polygon texts in the page's language (it ships English only); set before
    the Draw control is built. JSON-encoded: valid JS strings that cannot close the script."""

    _template = Template(
        """{% macro script(this, kwargs) %}
(function (d) {
  var x = {{ this.texts_json }};
  d.toolbar.actions.text = x.cancel; d.toolbar.finish.text = x.finish;
  d.toolbar.undo.text = x.undo; d.toolbar.buttons.polygon = x.button;
  d.handlers.polygon.tooltip.start = x.start; d.handlers.polygon.tooltip.cont = x.cont;
  d.handlers.polygon.tooltip.end = x.end; d.handlers.polyline.error = x.cross;
})(L.drawLocal.draw);
{% endmacro %}"""
    )

    def __init__(self, texts: Mapping[str, str]) -> None:
        super().__init__()
        self._name = "DrawTexts"
        self.texts_json = json.dumps({k: html_escape(v) for k, v in texts.items()}).replace(
            "</", "<\\/"
        )


DRAW_TEXT_KEYS = ("cancel", "finish", "undo", "button", "start", "cont", "end", "cross")


def _drawing_key(rid: int) -> str:
    return _key(rid, "drawn")


def apply_drawing(rid: int, drawing: Mapping | None, home: tuple[float, float] | None) -> None:
    """Put a newly drawn polygon's corners into the form's field (once per drawing: the map
    returns its last drawing on every rerun) and say at once what saving would refuse."""
    state = st.session_state
    if not drawing:
        return
    signature = json.dumps(drawing, sort_keys=True)
    if state.get(_drawing_key(rid)) == signature:
        return
    state[_drawing_key(rid)] = signature
    try:
        corners = polygon_from_drawing(dict(drawing))
        if corners is None:
            return
        state[_key(rid, "polygon")] = polygon_text(corners)
        check_polygon(corners, home)
    except EnrollmentError as err:
        state[_FLASH] = ("error", t("geofence.drawn_refused", message=error_text(err)))
        return
    state[_FLASH] = ("success", t("geofence.drawn", n=len(corners)))


def _draw_map(rid: int, settings: dict, home: tuple[float, float] | None, tiles) -> None:
    """The home, the zone on file and a polygon tool (the one drawing tool offered)."""
    polygon = settings["pii_zone_polygon"]
    centre = home or (tuple(polygon[0]) if polygon else None)
    if centre is None:  # no home and no polygon: nothing to draw around
        st.caption(t("geofence.draw_no_home"))
        return
    fmap = folium.Map(location=centre, zoom_start=16, tiles=tiles, control_scale=True)
    fmap.default_js = LEAFLET_JS
    fmap.default_css = LEAFLET_CSS
    if home is not None:
        folium.CircleMarker(
            home, radius=7, color=ZONE_COLOR, weight=3, fill=True, fill_opacity=0.9
        ).add_to(fmap)
        if settings["safe_zone_m"]:
            folium.Circle(
                home, radius=float(settings["safe_zone_m"]), color=ZONE_COLOR, fill=False,
                dash_array="5 5", weight=1.5,
            ).add_to(fmap)  # fmt: skip
    if polygon:
        folium.Polygon(
            [tuple(p) for p in polygon], color=ZONE_COLOR, weight=2.5, fill=True, fill_opacity=0.1
        ).add_to(fmap)
    fmap.add_child(_DrawTexts({k: t(f"geofence.draw.{k}") for k in DRAW_TEXT_KEYS}))
    draw = Draw(
        export=False,
        draw_options={
            "polygon": {"allowIntersection": False, "showArea": False},
            **dict.fromkeys(("polyline", "rectangle", "circle", "marker", "circlemarker"), False),
        },
        edit_options={"edit": False, "remove": False},
    )
    draw.default_js = DRAW_JS
    draw.default_css = DRAW_CSS
    draw.add_to(fmap)
    map_key = _key(rid, "draw_map")
    st_folium(
        fmap,
        returned_objects=["last_active_drawing"],
        height=DRAW_MAP_HEIGHT,
        use_container_width=True,
        key=map_key,
    )
    # st_folium copies the map's value to session_state[key] when it changes (its on_change):
    # read it there, the one place a drawing lands.
    value = st.session_state.get(map_key)
    apply_drawing(rid, value.get("last_active_drawing") if isinstance(value, dict) else None, home)


def geofence_section(user: SessionUser, person: dict, tiles: str | None = None) -> None:
    """The form, for leads who may see this person and a person wearing a detector; before it,
    for anyone who may see the person, a warning when the detector has no zone to be judged by
    (no home, no polygon: the wandering rules stay silent, the 배회 지도 links here)."""
    if not can_see_personal_data(user, person["region_code"]):
        return
    rid = int(person["id"])
    with get_engine().connect() as conn:
        settings = geofence_settings(conn, rid)
        home = home_position(conn, rid)
    if settings is None or not settings["wears_detector"] or settings["ended_on"] is not None:
        return
    if home is None and stored_polygon(settings["pii_zone_polygon"]) is None:
        st.warning(t("geofence.no_zone"), icon=":material/fence:")
    if not may(user, ACTION):
        return
    polygon_key = _key(rid, "polygon")
    if polygon_key not in st.session_state:  # the field's start; a drawing may replace it
        st.session_state[polygon_key] = polygon_text(settings["pii_zone_polygon"])
    with st.expander(t("geofence.title"), icon=":material/fence:"):
        st.caption(t("geofence.help"))
        st.caption(t("geofence.draw_help"))
        _draw_map(rid, settings, home, tiles)
        notice = st.session_state.pop(_FLASH, None)
        if notice:
            kind, message = notice
            (st.success if kind == "success" else st.error)(message)  # escaped when made
        with st.form(_key(rid, "form"), border=False):
            # No min/max on the widget: Streamlit raises on a stored value outside them (a
            # radius from an older roster import), and set_geofence refuses an out-of-range
            # one with the range, translated, like its other refusals.
            st.number_input(
                t("geofence.field.safe_zone_m"),
                step=50,
                value=settings["safe_zone_m"],
                key=_key(rid, "radius"),
                help=t("geofence.radius_help"),
            )
            st.text_area(
                t("geofence.field.polygon"),
                key=polygon_key,
                help=t("geofence.polygon_help"),
                placeholder="37.6480, 126.7860\n37.6495, 126.7860\n37.6495, 126.7880",
                height=120,
            )
            left, right = st.columns(2)
            left.text_input(
                t("geofence.field.quiet_start"),
                value=clock_text(settings["quiet_start_min"]),
                key=_key(rid, "quiet_start"),
                placeholder="22:00",
                max_chars=5,
            )
            right.text_input(
                t("geofence.field.quiet_end"),
                value=clock_text(settings["quiet_end_min"]),
                key=_key(rid, "quiet_end"),
                placeholder="06:00",
                max_chars=5,
                help=t("geofence.quiet_help"),
            )
            st.form_submit_button(
                t("geofence.save"),
                type="primary",
                on_click=_on_save,
                args=(rid,),
                key=_key(rid, "save"),
            )
        st.caption(t("geofence.audited"))


__all__ = ["geofence_section"]
