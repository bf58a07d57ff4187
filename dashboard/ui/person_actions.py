"""What a lead or an admin can do on one person (``manage_roster``): change the settings, set
the home position (typed, or picked with a click on the panel's map) and end the enrollment.

Every write happens in a callback that re-checks the role and calls the enrollment domain with
the session user (which checks ``manage_roster`` again and writes the audit row in the same
transaction). A refusal (:class:`EnrollmentError`: field and message) is shown translated next
to its form and nothing is written; after a write the cached loads are cleared, so the list and
the panel show the change at once. Notes and the home are personal data: offered only to roles
that see this person's personal data, notes only after the audited reveal.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import folium
import streamlit as st

from dashboard import clock
from dashboard.auth import SessionUser, can, can_see_personal_data
from dashboard.auth.permissions import NotPermitted
from dashboard.db.schema.people import END_REASONS
from dashboard.enrollment import (
    EnrollmentError,
    NotFound,
    end_enrollment,
    end_impact,
    set_home_position,
    update_person_settings,
)
from dashboard.enrollment.people import (
    KOREA_LAT,
    KOREA_LON,
    NO_CHANGE_HOURS,
    NOTES_MAX,
    RISK_GROUP_MAX,
    SAFE_ZONE_M,
)
from dashboard.formatting import format_date, format_number
from dashboard.rules.geo import haversine_m
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import acting_user
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.enrollment_errors import error_text as keyed_error_text
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

ACTION = "manage_roster"
FLASH_KEY = "people_flash"  # (kind, text): the outcome of the last action, shown once
FAR_KM = 5.0  # a home this far from its dong's centre is probably a typo: say so (not refused)
PICK_COLOR = "#e8590c"
_SETTINGS = ("no_change_hours", "safe_zone_m", "risk_group", "notes")
_LABELS = {
    "no_change_hours": "person.no_change_hours",
    "safe_zone_m": "col.safe_zone",
    "risk_group": "person.risk_group",
    "notes": "person.notes",
    "lat": "person_home.lat",
    "lon": "person_home.lon",
    "lat/lon": "person.home",
    "ended_on": "person_end.date",
    "reason": "person_end.reason",
    "note": "person_end.note",
    "recipient_id": "card.ref",
}


def key(part: str, recipient_id: int) -> str:
    """Session key of a widget or state of this person's actions (tests use it)."""
    return f"people_{part}_{recipient_id}"


def _actor() -> SessionUser | None:
    """The account as it is now, if still allowed to manage the roster: a callback is a second
    door, and runs before the page's gate re-reads the account (``acting_user``)."""
    user = acting_user()
    return user if user is not None and can(user.role, ACTION) else None


def may_manage(user: SessionUser) -> bool:
    return can(user.role, ACTION)


def may_edit_personal(user: SessionUser, region_code: str | None) -> bool:
    """Notes and the home: managing roles that also see this person's personal data (leads;
    admins manage without seeing any)."""
    return may_manage(user) and can_see_personal_data(user, region_code)


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    flash = st.session_state.pop(FLASH_KEY, None)
    if flash:
        kind, text = flash
        {"success": st.success, "info": st.info}.get(kind, st.error)(text)


# --- refusals -----------------------------------------------------------------------------------


def _length(value: object) -> str:
    return format_number(len(value.strip())) if isinstance(value, str) else "–"


def _number(value: object) -> str:
    return md_escape(value) if value is not None else "–"


def error_text(err: EnrollmentError, entered: dict[str, Any], enrolled_on: date) -> str:
    """The domain's refusal in the session's language; ``entered`` maps fields to the values
    sent (for "entered: …"). Messages the page does not know are shown as text, escaped."""
    field, message = err.field, str(err).partition(": ")[2]
    value = entered.get(field)
    bounds = {"no_change_hours": NO_CHANGE_HOURS, "safe_zone_m": SAFE_ZONE_M}
    if field in bounds:
        low, high = bounds[field]
        kind = "range" if message.startswith("must be between") else "whole"
        text = t(f"person_edit.err.{kind}", low=low, high=high, value=_number(value))
    elif field in ("risk_group", "notes"):
        limit = RISK_GROUP_MAX if field == "risk_group" else NOTES_MAX
        text = t("person_edit.err.too_long", n=format_number(limit), length=_length(value))
    elif field == "note":
        text = t("person_edit.err.note", n=format_number(NOTES_MAX), length=_length(value))
    elif field in ("lat", "lon") and "outside Korea" in message:
        low, high = KOREA_LAT if field == "lat" else KOREA_LON
        text = t(f"person_edit.err.{field}", value=_number(value), low=low, high=high)
    elif field == "lat/lon":
        text = t("person_edit.err.both")
    elif field == "ended_on" and "future" in message:
        text = t("person_edit.err.future")
    elif field == "ended_on" and message.startswith("before the enrollment"):
        text = t("person_edit.err.before_enrollment", date=format_date(enrolled_on, current_lang()))
    elif field == "recipient_id" and "ended" in message:
        text = t("person_edit.err.already_ended")
    else:  # the domain's keyed refusal in the session's language (English only without a key)
        text = keyed_error_text(err)
    label = t(_LABELS[field]) if field in _LABELS else md_escape(field)
    return t("person_edit.refused", field=label, message=text)


def _refusal(err: Exception, entered: dict[str, Any], enrolled_on: date) -> str:
    if isinstance(err, EnrollmentError):
        return error_text(err, entered, enrolled_on)
    if isinstance(err, NotFound):
        return t("person_edit.refused", field=t("card.ref"), message=t("person_edit.err.not_found"))
    return t("person_edit.not_permitted")


# --- settings -----------------------------------------------------------------------------------


def _blank_to_none(value: object) -> object:
    if isinstance(value, str):
        value = value.strip()
        return value or None
    return value


def _on_save_settings(person: dict, current: dict[str, Any], with_notes: bool) -> None:
    rid = int(person["id"])
    st.session_state.pop(key("settings_error", rid), None)
    actor = _actor()
    if actor is None:
        _flash("error", t("person_edit.not_permitted"))
        return
    fields = _SETTINGS if with_notes else _SETTINGS[:3]
    entered = {f: _blank_to_none(st.session_state.get(key(f, rid))) for f in fields}
    # Only what the user changed: the audit names the fields that really changed.
    changed = {f: v for f, v in entered.items() if v != current.get(f)}
    if not changed:
        _flash("info", t("person_edit.no_change"))
        return
    try:
        with get_engine().begin() as conn:
            update_person_settings(conn, actor, clock.now(), rid, **changed)
    except (EnrollmentError, NotFound, NotPermitted) as err:
        st.session_state[key("settings_error", rid)] = _refusal(err, entered, person["enrolled_on"])
        return
    clear_loads()
    names = ", ".join(t(_LABELS[f]) for f in changed)
    _flash("success", t("person_edit.saved", fields=names))


def _risk_options(groups: list[str], current: str | None) -> list[str]:
    options = ["", *groups]
    if current and current not in options:
        options.append(current)
    return options


def settings_form(
    user: SessionUser,
    person: dict,
    groups: list[str],
    notes: str | None,
    revealed: bool,
    risk_label,
) -> None:
    """The settings form, prefilled; notes only for a revealed person (never for admins)."""
    rid = int(person["id"])
    with_notes = revealed and may_edit_personal(user, person["region_code"])
    current = {
        "no_change_hours": _int_or_none(person["no_change_hours"]),
        "safe_zone_m": _int_or_none(person["safe_zone_m"]),
        "risk_group": person["risk_group"] or None,
        "notes": notes or None,
    }
    error = st.session_state.get(key("settings_error", rid))
    with st.expander(t("person_edit.title"), icon=":material/tune:", expanded=bool(error)):
        st.caption(t("person_edit.help"))
        with st.form(key("settings_form", rid), enter_to_submit=False, border=False):
            left, right = st.columns(2)
            left.number_input(
                t("person.no_change_hours"),
                value=current["no_change_hours"],
                step=1,
                placeholder=t("person_edit.default"),
                help=t("person_edit.hours_help", low=NO_CHANGE_HOURS[0], high=NO_CHANGE_HOURS[1]),
                key=key("no_change_hours", rid),
            )
            right.number_input(
                t("col.safe_zone"),
                value=current["safe_zone_m"],
                step=10,
                placeholder=t("person_edit.default"),
                help=t("person_edit.zone_help", low=SAFE_ZONE_M[0], high=SAFE_ZONE_M[1]),
                key=key("safe_zone_m", rid),
            )
            options = _risk_options(groups, current["risk_group"])
            # Labels computed now: AppTest calls format_func outside the session.
            labels = {g: risk_label(g) if g else t("person_edit.risk_none") for g in options}
            st.selectbox(
                t("person.risk_group"),
                options,
                index=options.index(current["risk_group"] or ""),
                format_func=lambda g: labels.get(g, g),
                accept_new_options=True,
                help=t("person_edit.risk_help", n=RISK_GROUP_MAX),
                key=key("risk_group", rid),
            )
            if with_notes:
                st.text_area(
                    t("person.notes"),
                    value=current["notes"] or "",
                    help=t("person_edit.notes_help", n=format_number(NOTES_MAX)),
                    key=key("notes", rid),
                )
            elif may_edit_personal(user, person["region_code"]):
                st.caption(t("person_edit.notes_locked"))
            st.form_submit_button(
                t("person_edit.save"),
                type="primary",
                icon=":material/save:",
                on_click=_on_save_settings,
                args=(person, current, with_notes),
                key=key("settings_save", rid),
            )
        if error:
            st.error(error, icon=":material/block:")


def _int_or_none(value: object) -> int | None:
    return None if value is None or value != value else int(value)


# --- home position ------------------------------------------------------------------------------


def on_map_click(rid: int, map_key: str) -> None:
    """streamlit-folium's change callback: the clicked point fills the position inputs."""
    clicked = (st.session_state.get(map_key) or {}).get("last_clicked")
    if not clicked or _actor() is None:
        return
    st.session_state[key("home_lat", rid)] = round(float(clicked["lat"]), 6)
    st.session_state[key("home_lon", rid)] = round(float(clicked["lng"]), 6)
    st.session_state[key("home_picked", rid)] = (
        st.session_state[key("home_lat", rid)],
        st.session_state[key("home_lon", rid)],
    )
    st.session_state.pop(key("home_error", rid), None)


def pending_point(rid: int, home: tuple[float, float] | None) -> tuple[float, float] | None:
    """The position in the inputs when it differs from the home on file (to draw and confirm)."""
    lat, lon = (
        st.session_state.get(key("home_lat", rid)),
        st.session_state.get(key("home_lon", rid)),
    )
    if lat is None or lon is None:
        return None
    point = (float(lat), float(lon))
    return None if home is not None and point == home else point


def pick_layer(point: tuple[float, float]) -> folium.FeatureGroup:
    """The picked point, swapped into the running map (its script, and so its state, stay)."""
    layer = folium.FeatureGroup(name="pick")
    folium.CircleMarker(
        point, radius=9, color="#ffffff", weight=3, fill=True, fill_color=PICK_COLOR, fill_opacity=1
    ).add_to(layer)
    return layer


def _reset_home_inputs(rid: int) -> None:
    for part in ("home_lat", "home_lon", "home_picked", "home_error"):
        st.session_state.pop(key(part, rid), None)


def _on_save_home(person: dict) -> None:
    rid = int(person["id"])
    actor = _actor()
    if actor is None or not can_see_personal_data(actor, person["region_code"]):
        _flash("error", t("person_edit.not_permitted"))
        return
    lat, lon = (
        st.session_state.get(key("home_lat", rid)),
        st.session_state.get(key("home_lon", rid)),
    )
    entered = {"lat": lat, "lon": lon}
    if lat is None or lon is None:  # both empty would clear the home: never by accident
        st.session_state[key("home_error", rid)] = t(
            "person_edit.refused", field=t("person.home"), message=t("person_edit.err.both")
        )
        return
    picked = st.session_state.get(key("home_picked", rid))
    source = "map" if picked == (lat, lon) else "entered"
    try:
        with get_engine().begin() as conn:
            set_home_position(conn, actor, clock.now(), rid, lat, lon, source=source)
    except (EnrollmentError, NotFound, NotPermitted) as err:
        st.session_state[key("home_error", rid)] = _refusal(err, entered, person["enrolled_on"])
        return
    _reset_home_inputs(rid)
    clear_loads()
    _flash("success", t("person_home.saved"))


def home_editor(person: dict, home: tuple[float, float] | None) -> None:
    """Latitude and longitude (prefilled with the home on file, or the clicked point), the
    distance to the dong's centre, and the save button."""
    rid = int(person["id"])
    st.markdown(f"**{t('person_home.title')}**")
    st.caption(t("person_home.help"))
    for part, value in (
        ("home_lat", home[0] if home else None),
        ("home_lon", home[1] if home else None),
    ):
        st.session_state.setdefault(key(part, rid), value)
    left, right = st.columns(2)
    left.number_input(t("person_home.lat"), step=0.0001, format="%.6f", key=key("home_lat", rid))
    right.number_input(t("person_home.lon"), step=0.0001, format="%.6f", key=key("home_lon", rid))
    point = pending_point(rid, home)
    if point is not None and person["region_lat"] is not None and person["region_lon"] is not None:
        km = haversine_m(*point, float(person["region_lat"]), float(person["region_lon"])) / 1000
        st.caption(
            t(
                "person_home.picked",
                lat=f"{point[0]:.6f}",
                lon=f"{point[1]:.6f}",
                km=format_number(km, 1),
            )
        )
        if km > FAR_KM:
            st.warning(t("person_home.far", km=format_number(km, 1)), icon=":material/warning:")
    buttons = st.columns(2)
    buttons[0].button(
        t("person_home.save"),
        type="primary",
        icon=":material/home_pin:",
        disabled=point is None,
        on_click=_on_save_home,
        args=(person,),
        key=key("home_save", rid),
    )
    buttons[1].button(
        t("person_home.cancel"),
        disabled=point is None,
        on_click=_reset_home_inputs,
        args=(rid,),
        key=key("home_cancel", rid),
    )
    error = st.session_state.get(key("home_error", rid))
    if error:
        st.error(error, icon=":material/block:")


# --- end of enrollment --------------------------------------------------------------------------


def _on_review_end(rid: int) -> None:
    st.session_state.pop(key("end_error", rid), None)
    st.session_state[key("end_pending", rid)] = {
        "reason": st.session_state.get(key("end_reason", rid)),
        "ended_on": st.session_state.get(key("end_date", rid)),
        "note": _blank_to_none(st.session_state.get(key("end_note", rid))),
    }


def _on_cancel_end(rid: int) -> None:
    st.session_state.pop(key("end_pending", rid), None)


def _on_confirm_end(person: dict) -> None:
    rid = int(person["id"])
    pending = st.session_state.pop(key("end_pending", rid), None)
    actor = _actor()
    if actor is None or pending is None:
        _flash("error", t("person_edit.not_permitted"))
        return
    note = pending["note"] if can_see_personal_data(actor, person["region_code"]) else None
    try:
        with get_engine().begin() as conn:
            result = end_enrollment(
                conn, actor, clock.now(), rid, pending["reason"], pending["ended_on"], note=note
            )
    except (EnrollmentError, NotFound, NotPermitted) as err:
        entered = {"note": note, "ended_on": pending["ended_on"], "reason": pending["reason"]}
        st.session_state[key("end_error", rid)] = _refusal(err, entered, person["enrolled_on"])
        return
    clear_loads()
    _flash(
        "success",
        t(
            "person_end.done",
            ref=md_escape(person["external_ref"]),
            alerts=format_number(len(result.closed_alerts)),
            devices=format_number(len(result.released_devices)),
        ),
    )


def end_section(user: SessionUser, person: dict) -> None:
    """Reason, date and (for roles that see personal data) a note; then a confirmation that
    says how many open alerts will close and how many devices will be released."""
    rid = int(person["id"])
    lang = current_lang()
    pending = st.session_state.get(key("end_pending", rid))
    error = st.session_state.get(key("end_error", rid))
    reasons = {r: t(f"enrollment.reason.{r}") for r in END_REASONS}
    with st.expander(
        t("person_end.title"), icon=":material/person_off:", expanded=bool(pending or error)
    ):
        st.caption(t("person_end.help"))
        with st.form(key("end_form", rid), enter_to_submit=False, border=False):
            left, right = st.columns(2)
            left.selectbox(
                t("person_end.reason"),
                END_REASONS,
                format_func=reasons.get,
                key=key("end_reason", rid),
            )
            right.date_input(
                t("person_end.date"),
                value=clock.now().astimezone(LOCAL_TZ).date(),
                min_value=date(2000, 1, 1),
                format="YYYY-MM-DD",
                key=key("end_date", rid),
            )
            if can_see_personal_data(user, person["region_code"]):
                st.text_area(
                    t("person_end.note"), help=t("person_end.note_help"), key=key("end_note", rid)
                )
            st.form_submit_button(
                t("person_end.review"),
                icon=":material/fact_check:",
                on_click=_on_review_end,
                args=(rid,),
                key=key("end_review", rid),
            )
        if pending:
            with get_engine().connect() as conn:  # fresh: what the end would act on now
                impact = end_impact(conn, rid)
            st.warning(
                t(
                    "person_end.confirm_text",
                    ref=md_escape(person["external_ref"]),
                    reason=t(f"enrollment.reason.{pending['reason']}"),
                    date=format_date(pending["ended_on"], lang),
                    alerts=format_number(len(impact.open_alerts)),
                    devices=format_number(len(impact.devices)),
                ),
                icon=":material/warning:",
            )
            confirm, cancel = st.columns(2)
            confirm.button(
                t("person_end.confirm"),
                type="primary",
                icon=":material/person_off:",
                on_click=_on_confirm_end,
                args=(person,),
                key=key("end_confirm", rid),
            )
            cancel.button(
                t("person_end.cancel"),
                on_click=_on_cancel_end,
                args=(rid,),
                key=key("end_cancel", rid),
            )
        if error:
            st.error(error, icon=":material/block:")
