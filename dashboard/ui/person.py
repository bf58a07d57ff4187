"""One person on the 대상자 관리 page: facts (personal ones masked until an audited reveal), the
home on a small map (the dong's centre, flagged "approximate", when no home is on file) and a
timeline of devices, alerts and dispatches, newest first."""

from __future__ import annotations

from functools import partial

import folium
import pandas as pd
import streamlit as st
from streamlit_folium import st_folium

from dashboard import clock
from dashboard.auth import SessionUser, can_see_personal_data
from dashboard.auth.permissions import NotPermitted
from dashboard.auth.reveal import (
    REVEAL_PURPOSES,
    RecipientNotFound,
    RevealPurposeMissing,
    check_reveal,
    reveal_personal_data,
)
from dashboard.formatting import format_date, format_datetime, format_number
from dashboard.i18n import localized, state_label, translate_or
from dashboard.ui.alert_detail import fresh, refusal_text
from dashboard.ui.alerts import rule_label
from dashboard.ui.auth import acting_user
from dashboard.ui.away import away_badge, away_section
from dashboard.ui.components import table
from dashboard.ui.data import get_engine, load
from dashboard.ui.duplicates import duplicate_section
from dashboard.ui.geofence_form import geofence_section
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.maps import LEAFLET_CSS, LEAFLET_JS
from dashboard.ui.person_actions import (
    end_section,
    home_editor,
    may_edit_personal,
    may_manage,
    on_map_click,
    pending_point,
    pick_layer,
    settings_form,
    show_flash,
)
from dashboard.ui.reach_panel import person_reach_table
from dashboard.ui.safe_text import md_escape
from dashboard.ui.slow_risk import slow_risk_badge
from queries.recipients import personal_data, recipient_card, staff_notes
from queries.roster import device_types, home_position, person_timeline, risk_groups

REVEAL_KEY = "people_revealed"  # {"recipient_id", "at"}: one person per session
_ERROR_KEY = "people_reveal_error"
PURPOSE_KEY = "reveal_purpose"  # why, asked before each reveal (widget key prefix)


def purpose_key(recipient_id: int) -> str:
    """The purpose picker's widget key: one per person, so a choice made for one person is
    never carried to the next."""
    return f"{PURPOSE_KEY}_{recipient_id}"


MAP_HEIGHT = 260
HOUSEHOLDS = ("alone", "couple_75plus", "with_family")


def risk_label(code: object) -> str:
    """A risk group's label; a city's own code without a translation shows as written."""
    if not isinstance(code, str) or not code:
        return "–"
    return translate_or(f"risk.{code}", code, current_lang())


def _on_reveal(recipient_id: int) -> None:
    user = acting_user()  # the account as it is now: a district taken away already counts
    if user is None:
        return
    now = clock.now()
    purpose = st.session_state.get(purpose_key(recipient_id))
    try:
        with get_engine().begin() as conn:  # the audit row and the disclosure, together
            reveal_personal_data(conn, user, recipient_id, now, purpose=purpose, with_notes=True)
    except (NotPermitted, RecipientNotFound, RevealPurposeMissing) as err:
        st.session_state.pop(REVEAL_KEY, None)
        reason = "purpose" if isinstance(err, RevealPurposeMissing) else None
        st.session_state[_ERROR_KEY] = reason or getattr(err, "reason", str(err))
        return
    st.session_state[REVEAL_KEY] = {"recipient_id": recipient_id, "at": now}
    st.session_state[purpose_key(recipient_id)] = None  # the next reveal asks again


def _on_hide() -> None:
    st.session_state.pop(REVEAL_KEY, None)


def revealed_for(recipient_id: int) -> bool:
    """Is this person revealed in this session? A reveal ends when another person is opened."""
    state = st.session_state.get(REVEAL_KEY)
    if state and state["recipient_id"] != recipient_id:
        st.session_state.pop(REVEAL_KEY, None)
        return False
    return bool(state)


def _dash(value: object, unit: str = "") -> str:
    if value is None or value != value:
        return "–"
    return f"{format_number(value)}{unit}"


def _facts(user: SessionUser, person: dict) -> bool:
    """The facts table and the reveal; True when this person is revealed in this session."""
    lang = current_lang()
    card = fresh(recipient_card, int(person["id"]))
    refused = check_reveal(user, person["region_code"], ended=card.ended)
    revealed = refused is None and revealed_for(card.id)
    # Roles without personal-data access (admins) see no masked names either: only the facts.
    shown = fresh(personal_data, card.id) if revealed else card.masked
    rows: dict[str, str] = {}
    if refused != "role":
        rows |= {
            "card.name": shown["name"],
            "card.phone": shown["phone"],
            "card.address": shown["address"],
            "card.guardian_name": shown["guardian_name"],
            "card.guardian_phone": shown["guardian_phone"],
        }
    household = person["household"]
    rows |= {
        "card.ref": person["external_ref"],
        "person.birth_year": str(person["birth_year"]),
        "person.sex": t(f"card.sex.{person['sex']}"),
        "card.household": t(f"card.household_kind.{household}")
        if household in HOUSEHOLDS
        else household,
        "card.dong": localized(person, "region", lang),
        "col.program": localized(person, "program", lang),
        "person.risk_group": risk_label(person["risk_group"]),
        "person.enrolled": format_date(person["enrolled_on"], lang),
        "col.status": t(f"person.status.{person['status']}"),
        "person.no_change_hours": _dash(person["no_change_hours"], " h"),
        "col.safe_zone": _dash(person["safe_zone_m"], " m"),
    }
    if person["ended_on"] is not None:
        rows["person.ended_on"] = format_date(person["ended_on"], lang)
        reason = person["end_reason"]
        rows["person.end_reason"] = translate_or(f"enrollment.reason.{reason}", str(reason), lang)
    notes = fresh(staff_notes, card.id) if revealed else None
    if refused != "role":  # notes are personal data: admins learn not even that they exist
        if revealed:
            rows["person.notes"] = "↓" if notes else "–"
        else:
            rows["person.notes"] = t("person.notes_hidden") if person["has_notes"] else "–"
    table(
        pd.DataFrame({"field": [t(k) for k in rows], "value": list(rows.values())}),
        {"field": "col.field", "value": "col.value"},
        height=38 + 35 * len(rows),  # every field at once, no inner scrolling
    )
    reason = st.session_state.pop(_ERROR_KEY, None)
    if reason:
        st.error(refusal_text(reason))
    if revealed and notes:
        with st.container(border=True):
            st.markdown(f"**{t('person.notes_title')}**")
            # Free text as text: no markdown or HTML parsing at all (md_escape would still let
            # a bare URL become a link), line breaks kept.
            st.text(notes, width="stretch")
    if revealed:
        at = st.session_state[REVEAL_KEY]["at"]
        st.caption(t("person.revealed", at=format_datetime(at, lang)))
        st.button(
            t("card.hide"), key="people_hide", icon=":material/visibility_off:", on_click=_on_hide
        )
    elif refused:
        st.caption(t(f"card.refused.{refused}"))
    else:
        # Outside an alert a reveal says why (the access log's 수행업무), chosen each time.
        purposes = {p: t(f"reveal_purpose.{p}") for p in REVEAL_PURPOSES}
        st.selectbox(
            t("person.reveal_purpose"),
            options=list(purposes),
            format_func=purposes.__getitem__,
            index=None,
            placeholder=t("person.reveal_purpose_placeholder"),
            help=t("person.reveal_purpose_help"),
            key=purpose_key(card.id),
        )
        st.button(
            t("card.reveal"),
            key="people_reveal",
            icon=":material/visibility:",
            help=t("person.reveal_help"),
            on_click=_on_reveal,
            args=(card.id,),
            disabled=st.session_state.get(purpose_key(card.id)) is None,
        )
    return revealed


def _home(user: SessionUser, person: dict, tiles: str | None) -> None:
    st.markdown(f"**{t('person.home')}**")
    # The home position is personal data: only for roles that may see this person.
    allowed = can_see_personal_data(user, person["region_code"])
    home = fresh(home_position, int(person["id"])) if allowed else None
    editing = person["status"] == "active" and may_edit_personal(user, person["region_code"])
    if home is None:
        if person["region_lat"] is None or person["region_lon"] is None:
            st.caption(t("person.no_position"))
            return
        point = (float(person["region_lat"]), float(person["region_lon"]))
        st.badge(t("person.approximate"), icon=":material/my_location:", color="orange")
        note = "person.approximate_help" if allowed else "person.home_hidden"
        st.caption(t(note, on_file=t(f"person.home_on_file.{person['has_home']}")))
    else:
        point = home
        st.badge(t("person.home_on_record"), icon=":material/home:", color="green")
    fmap = folium.Map(location=point, zoom_start=15, tiles=tiles, control_scale=True)
    fmap.default_js = LEAFLET_JS
    fmap.default_css = LEAFLET_CSS
    if home is None:
        folium.Circle(point, radius=300, color="#e67700", fill=True, fill_opacity=0.15).add_to(fmap)
    else:
        # A vector marker: Leaflet's default pin is an image from a CDN, absent on a closed network.
        folium.CircleMarker(
            point, radius=8, color="#1c7ed6", weight=3, fill=True, fill_opacity=0.9
        ).add_to(fmap)
        if person["safe_zone_m"]:
            folium.Circle(point, radius=float(person["safe_zone_m"]), fill=False).add_to(fmap)
    map_key = f"people_map_{person['id']}"
    pick = pending_point(int(person["id"]), home) if editing else None
    st_folium(
        fmap,
        # A click matters only to someone who may set the home: otherwise no rerun on clicks.
        returned_objects=["last_clicked"] if editing else [],
        feature_group_to_add=pick_layer(pick) if pick else None,
        height=MAP_HEIGHT,
        use_container_width=True,
        key=map_key,
        on_change=partial(on_map_click, int(person["id"]), map_key) if editing else None,
    )
    if editing:
        home_editor(person, home)
    elif may_manage(user) and person["status"] == "active":
        st.caption(t("person_home.not_for_role"))


def _label(entry: str, value: object, lang: str, types: dict[str, str]) -> str:
    if entry == "alert":
        return rule_label(str(value), lang)
    if entry == "dispatch":
        return t(f"act.{value}")
    return types.get(str(value), str(value))


def timeline_frame(df: pd.DataFrame, lang: str, types: dict[str, str]) -> pd.DataFrame:
    """Display texts for :func:`queries.roster.person_timeline` rows (``types``: device type
    code → its name in ``lang``)."""

    def text(value: object, fn) -> str:
        return "–" if value is None or value != value else fn(value)

    return pd.DataFrame(
        {
            "at": [
                format_date(x, lang) if e == "device" else format_datetime(x, lang)
                for x, e in zip(df["at"], df["entry"], strict=True)
            ],
            "entry": [t(f"person.entry.{e}") for e in df["entry"]],
            "ref": df["ref"].astype(str),
            "what": [
                _label(e, w, lang, types) for e, w in zip(df["entry"], df["what"], strict=True)
            ],
            "stage": [text(s, lambda v: state_label(v, lang)) for s in df["stage"]],
            "status": [
                text(s, lambda v, e=e: t(f"device_status.{v}" if e == "device" else f"status.{v}"))
                for s, e in zip(df["status"], df["entry"], strict=True)
            ],
            "outcome": [
                text(o, lambda v, e=e: v if e == "dispatch" else t(f"outcome.{v}"))
                for o, e in zip(df["outcome"], df["entry"], strict=True)
            ],
            "target": [text(x, str) for x in df["target"]],
        }
    )


def _timeline(person: dict) -> None:
    lang = current_lang()
    st.markdown(f"**{t('person.timeline')}**")
    df = fresh(person_timeline, int(person["id"]))
    if df.empty:
        st.caption(t("history.none"))
        return
    types = load(device_types)
    names = {r["code"]: localized(r, "name", lang) for r in types.to_dict("records")}
    table(
        timeline_frame(df, lang, names),
        {
            "at": "person.at",
            "entry": "person.entry_col",
            "ref": "person.ref",
            "what": "person.what",
            "stage": "col.stage",
            "status": "col.status",
            "outcome": "history.outcome",
            "target": "history.target",
        },
    )


def render_person(user: SessionUser, person: dict, tiles: str | None) -> None:
    """The person panel (``person``: :func:`queries.roster.person_by_ref` plus ``status``)."""
    st.subheader(t("person.title", ref=md_escape(person["external_ref"])))
    show_flash()
    if person["status"] == "active":
        away_badge(int(person["id"]))
        slow_risk_badge(user, int(person["id"]), person["region_code"])
    duplicate_section(user, person)  # 동일인 의심: the roster's managers
    left, right = st.columns([3, 2], gap="large")
    with left:
        revealed = _facts(user, person)
        person_reach_table(int(person["id"]))
    with right:
        _home(user, person, tiles)
        geofence_section(user, person, tiles)
    if person["status"] == "active":
        away_section(user, int(person["id"]), person["region_code"], "people", revealed=revealed)
    if may_manage(user):
        if person["status"] == "active":
            notes = fresh(staff_notes, int(person["id"])) if revealed else None
            edit, end = st.columns(2, gap="large")
            with edit:
                settings_form(user, person, load(risk_groups), notes, revealed, risk_label)
            with end:
                end_section(user, person)
        else:
            st.caption(t("person_edit.ended"))
    _timeline(person)
