"""The person panel's geofence form (leads): radius, a polygon zone pasted as GeoJSON or as
``lat, lon`` lines, and quiet hours. The domain (``dashboard.enrollment.geofence``) validates,
writes and audits; this only collects the values and shows what it said."""

from __future__ import annotations

import streamlit as st

from dashboard import clock
from dashboard.auth import SessionUser, can_see_personal_data
from dashboard.auth.permissions import NotPermitted, may
from dashboard.enrollment.errors import EnrollmentError, NotFound
from dashboard.enrollment.geofence import parse_polygon, set_geofence
from dashboard.ui.auth import USER_KEY
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape
from queries.geofence import geofence_settings

ACTION = "manage_roster"
_FLASH = "geofence_flash"
FIELDS = ("safe_zone_m", "polygon", "quiet_start", "quiet_end", "quiet_hours")


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
    user = state.get(USER_KEY)
    if not isinstance(user, SessionUser) or not may(user, ACTION):
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
        message = str(err).removeprefix(f"{err.field}: ")
        state[_FLASH] = (
            "error",
            t("geofence.refused", field=field_label(err.field), message=message),
        )
        return
    except (NotPermitted, NotFound) as err:
        state[_FLASH] = ("error", t("geofence.not_allowed", message=md_escape(err)))
        return
    state[_FLASH] = ("success", t("geofence.saved"))


def geofence_section(user: SessionUser, person: dict) -> None:
    """The form, for leads who may see this person and a person wearing a detector."""
    if not may(user, ACTION) or not can_see_personal_data(user, person["region_code"]):
        return
    rid = int(person["id"])
    with get_engine().connect() as conn:
        settings = geofence_settings(conn, rid)
    if settings is None or not settings["wears_detector"] or settings["ended_on"] is not None:
        return
    with st.expander(t("geofence.title"), icon=":material/fence:"):
        notice = st.session_state.pop(_FLASH, None)
        if notice:
            kind, message = notice
            (st.success if kind == "success" else st.error)(message)  # escaped when made
        st.caption(t("geofence.help"))
        with st.form(_key(rid, "form"), border=False):
            st.number_input(
                t("geofence.field.safe_zone_m"),
                min_value=50,
                max_value=5_000,
                step=50,
                value=settings["safe_zone_m"],
                key=_key(rid, "radius"),
                help=t("geofence.radius_help"),
            )
            st.text_area(
                t("geofence.field.polygon"),
                value=polygon_text(settings["pii_zone_polygon"]),
                key=_key(rid, "polygon"),
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
