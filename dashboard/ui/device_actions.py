"""기기 관리 actions for leads and admins: register a device, and on the selected device assign or
reassign it, replace it, take it out of service or return it to service.

Every write happens in a button's ``on_click`` callback that re-checks ``manage_roster`` and calls
the domain (``dashboard.enrollment``) with the session user in one transaction; the domain checks
the permission again and writes the audit. A refusal (``EnrollmentError``: field and message) is
shown translated next to the form and nothing is written. Each write that changes what is
watched needs its confirmation box ticked. After a write the cached loads are cleared and the
page opens the device concerned (``?device=``), so the list and the panel show the change.

A person is chosen by 대상자번호 (external_ref), never by name: admins see no personal data.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import SessionUser, can
from dashboard.auth.permissions import NotPermitted
from dashboard.catalog import program_device_types
from dashboard.enrollment import (
    EnrollmentError,
    NotFound,
    assign_device,
    register_device,
    replace_device,
    set_device_status,
)
from dashboard.i18n import localized
from dashboard.ingest.vendors import known_vendors
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import acting_user
from dashboard.ui.components import program_labels
from dashboard.ui.data import clear_loads, get_engine, load
from dashboard.ui.enrollment_errors import error_text
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from queries.filters import programs
from queries.roster import catalog_device_types, program_dongs, program_sites, recipient_id_by_ref

ACTION = "manage_roster"
TABLE_KEY = "devices_table"  # the page's pick-a-row list: its selection yields to ?device=
TARGETS = ("person", "site")
DEVICE_FORMS = ("assign", "replace", "out_of_service", "return")
# Register form widget keys (tests use them).
REG_PROGRAM = "devreg_program"
REG_TARGET = "devreg_target"
REG_UID = "devreg_uid"
REG_VENDOR = "devreg_vendor"
REG_TYPE = "devreg_type"
REG_REF = "devreg_ref"
REG_SITE = "devreg_site"
REG_DONG = "devreg_dong"
REG_INSTALLED = "devreg_installed"
REG_CONFIRM = "devreg_confirm"
REG_SUBMIT = "devreg_submit"
_ERRORS = "devact_errors"  # {"form": name, "errors": [(field, text)]} of the last refusal
_FLASH = "devact_flash"  # {"form": name, "text": ...}: the last success, shown once

# Domain field → the label users know it by.
FIELD_LABELS = {
    "device_uid": "devices.device_id",
    "vendor": "devices.vendor",
    "type_code": "col.device_type",
    "program_code": "col.program",
    "recipient_id": "device_actions.ref",
    "external_ref": "device_actions.ref",
    "site_id": "col.site",
    "recipient_id/site_id": "device_actions.target",
    "region_code": "col.dong",
    "installed_on": "devices.installed",
    "status": "col.status",
    "old_status": "device_actions.old_goes",
    "device_id": "device_actions.this_device",
    "old_device_id": "device_actions.this_device",
    "confirm": "device_actions.confirmation",
}


def action_key(part: str, device_id: int) -> str:
    """A widget key of one device's forms: a ticked box never carries over to another device."""
    return f"devact_{device_id}_{part}"


def _actor() -> SessionUser | None:
    """The account as it is now, if still allowed: a callback is a second door, and runs before
    the page's gate re-reads the account (``acting_user``)."""
    user = acting_user()
    return user if user is not None and can(user.role, ACTION) else None


def _present(value: Any) -> bool:
    return value is not None and value == value  # None or NaN (pandas) mean "none"


def _today() -> date:
    return clock.now().astimezone(LOCAL_TZ).date()


# --- writing ----------------------------------------------------------------------------------


def _person_id(conn, ref: str | None) -> int:
    ref = (ref or "").strip()
    if not ref:
        raise EnrollmentError("external_ref", "give the person's external_ref", key="ref_required")
    found = recipient_id_by_ref(conn, ref)
    if found is None:
        raise EnrollmentError(
            "external_ref", f"no person with external_ref {ref!r}", key="unknown_ref", ref=ref
        )
    return found


def _subject(conn, target: str | None, ref: str | None, site: Any) -> dict[str, int | None]:
    if target == "site":
        if not _present(site):
            raise EnrollmentError("site_id", "choose a site", key="site_required")
        return {"recipient_id": None, "site_id": int(site)}
    return {"recipient_id": _person_id(conn, ref), "site_id": None}


def _write(form: str, confirmed: bool, work) -> Any:
    """Run ``work(conn, user, now)`` in one transaction; record a refusal for ``form``.

    Returns what ``work`` returned, or None when refused (nothing was written).
    """
    st.session_state.pop(_ERRORS, None)
    user = _actor()
    if user is None:
        return None
    if not confirmed:
        refusal = [("confirm", t("device_actions.confirm_first"))]
        st.session_state[_ERRORS] = {"form": form, "errors": refusal}
        return None
    try:
        with get_engine().begin() as conn:
            return work(conn, user, clock.now()) or True
    except (EnrollmentError, NotFound, NotPermitted) as err:
        field = getattr(err, "field", "form")
        st.session_state[_ERRORS] = {"form": form, "errors": [(field, error_text(err))]}
        return None


def _done(form: str, text: str, uid: str) -> None:
    """After a write: say so once, drop every cached read, open the device concerned."""
    st.session_state[_FLASH] = {"form": form, "text": text}
    clear_loads()
    st.session_state.pop(TABLE_KEY, None)  # a picked row would point at another device now
    st.query_params["device"] = uid


def _on_register() -> None:
    s = st.session_state
    program, target = s.get(REG_PROGRAM), s.get(REG_TARGET) or "person"
    uid = (s.get(REG_UID) or "").strip()

    def work(conn, user, now):
        subject = _subject(conn, target, s.get(REG_REF), s.get(REG_SITE))
        return register_device(
            conn,
            user,
            now,
            device_uid=uid,
            vendor=s.get(REG_VENDOR) or "",
            type_code=s.get(REG_TYPE) or "",
            program_code=program or "",
            installed_on=s.get(REG_INSTALLED),
            region_code=s.get(REG_DONG) or None,
            **subject,
        )

    if _write("register", bool(s.get(REG_CONFIRM)), work) is None:
        return
    for key in (REG_UID, REG_REF):
        s[key] = ""
    s[REG_CONFIRM] = False
    _done("register", t("device_actions.registered", uid=md_escape(uid)), uid)


def _on_assign(device_id: int, uid: str, assigned: bool) -> None:
    s = st.session_state
    target = s.get(action_key("target", device_id)) or "person"

    def work(conn, user, now):
        subject = _subject(
            conn, target, s.get(action_key("ref", device_id)), s.get(action_key("site", device_id))
        )
        if assigned:  # a reassignment: the current period ends first (both audited)
            set_device_status(conn, user, now, device_id, "retired")
        assign_device(conn, user, now, device_id, **subject)

    if _write("assign", bool(s.get(action_key("assign_confirm", device_id))), work) is None:
        return
    _done("assign", t("device_actions.assigned", uid=md_escape(uid)), uid)


def _on_replace(device_id: int, uid: str) -> None:
    s = st.session_state
    new_uid = (s.get(action_key("new_uid", device_id)) or "").strip()
    old_status = s.get(action_key("old_status", device_id)) or "retired"

    def work(conn, user, now):
        return replace_device(
            conn,
            user,
            now,
            device_id,
            device_uid=new_uid,
            vendor=s.get(action_key("vendor", device_id)) or None,
            installed_on=s.get(action_key("installed", device_id)),
            old_status=old_status,
        )

    if _write("replace", bool(s.get(action_key("replace_confirm", device_id))), work) is None:
        return
    text = t(
        "device_actions.replaced",
        old=md_escape(uid),
        new=md_escape(new_uid),
        status=t(f"device_status.{old_status}"),
    )
    _done("replace", text, new_uid)


def _on_status(device_id: int, uid: str, form: str) -> None:
    s = st.session_state
    chosen = "active" if form == "return" else s.get(action_key("to", device_id))

    def work(conn, user, now):
        set_device_status(conn, user, now, device_id, chosen or "")

    if _write(form, bool(s.get(action_key(f"{form}_confirm", device_id))), work) is None:
        return
    text = t("device_actions.status_set", uid=md_escape(uid), status=t(f"device_status.{chosen}"))
    _done(form, text, uid)


# --- showing ----------------------------------------------------------------------------------


def _refusal(form: str) -> None:
    """The last refusal of ``form``: which field, and why (translated)."""
    refusal = st.session_state.get(_ERRORS)
    if refusal and refusal["form"] == form:
        for field, text in refusal["errors"]:
            label = FIELD_LABELS.get(field)
            prefix = f"**{t(label)}**: " if label else ""
            st.error(prefix + text, icon=":material/error:")


def _success(forms: tuple[str, ...]) -> None:
    """The last success of one of ``forms``, once."""
    flash = st.session_state.get(_FLASH)
    if flash and flash["form"] in forms:
        st.session_state.pop(_FLASH)
        st.success(flash["text"], icon=":material/check_circle:")


def _type_names() -> dict[str, str]:
    lang = current_lang()
    types = load(catalog_device_types)
    return {r["code"]: localized(r, "name", lang) for r in types.to_dict("records")}


def _site_labels(sites: pd.DataFrame) -> dict[int, str]:
    lang = current_lang()
    return {
        int(r["id"]): f"{localized(r, 'name', lang)} ({r['code']})"
        for r in sites.to_dict("records")
    }


def _target_choice(key_target: str, program_code: str) -> tuple[str, dict[int, str]]:
    """대상: a person, or one of the program's sites when it has any (outside the form, so the
    form shows the matching field). Returns the choice and the sites' labels."""
    labels = _site_labels(load(program_sites, program_code))
    if not labels:
        return "person", labels
    st.radio(
        t("device_actions.target"),
        TARGETS,
        format_func=lambda o: t(f"device_actions.target_{o}"),
        horizontal=True,
        key=key_target,
    )
    return st.session_state.get(key_target) or "person", labels


def _target_input(target: str, labels: dict[int, str], key_ref: str, key_site: str) -> None:
    """Inside the form: the person's 대상자번호 (never a name), or the site."""
    if target == "site":
        st.selectbox(
            t("col.site"),
            list(labels),
            format_func=labels.__getitem__,
            index=None,
            placeholder=t("device_actions.site_placeholder"),
            key=key_site,
        )
    else:
        st.text_input(
            t("device_actions.ref"),
            key=key_ref,
            max_chars=40,
            placeholder=t("device_actions.ref_placeholder"),
            help=t("device_actions.ref_help"),
        )


def _reset_register_choices() -> None:
    # Another program: its types, dongs and sites differ, so earlier choices are void.
    for key in (REG_TYPE, REG_DONG, REG_SITE, REG_TARGET):
        st.session_state.pop(key, None)


def register_section() -> None:
    """기기 등록 (expander): only for ``manage_roster``."""
    user = _actor()
    if user is None:
        return
    with st.expander(t("device_actions.register_title"), icon=":material/add_circle:"):
        st.caption(t("device_actions.register_help"))
        device_programs = load(programs, kind="device")
        labels = program_labels(device_programs)
        program = st.selectbox(
            t("col.program"),
            list(labels),
            format_func=labels.__getitem__,
            index=None,
            placeholder=t("device_actions.program_placeholder"),
            key=REG_PROGRAM,
            on_change=_reset_register_choices,
        )
        if program is None:
            _refusal("register")
            _success(("register",))
            return
        names = _type_names()
        paired = program_device_types(program)
        types = [c for c in (paired if paired is not None else names) if c in names]
        vendors = load(known_vendors, live=True)
        if not types or not vendors:
            st.warning(t("device_actions.no_types" if not types else "device_actions.no_vendors"))
            return
        target, sites = _target_choice(REG_TARGET, program)
        dongs = load(program_dongs, program)
        lang = current_lang()
        dong_names = {r["code"]: localized(r, "name", lang) for r in dongs.to_dict("records")}
        with st.form("devreg_form", enter_to_submit=False):
            _target_input(target, sites, REG_REF, REG_SITE)
            left, right = st.columns(2)
            left.text_input(
                t("devices.device_id"),
                key=REG_UID,
                max_chars=60,
                placeholder=t("devices.search_hint"),
                help=t("device_actions.uid_help"),
            )
            right.selectbox(
                t("devices.vendor"),
                vendors,
                index=None,
                placeholder=t("device_actions.vendor_placeholder"),
                key=REG_VENDOR,
                help=t("device_actions.vendors_help"),
            )
            left.selectbox(
                t("col.device_type"),
                types,
                format_func=lambda c: names.get(c, c),
                key=REG_TYPE,
                help=t("device_actions.type_help"),
            )
            right.selectbox(
                t("col.dong"),
                list(dong_names),
                format_func=dong_names.__getitem__,
                index=None,
                placeholder=t("device_actions.dong_placeholder"),
                key=REG_DONG,
            )
            today = _today()
            left.date_input(t("devices.installed"), value=today, max_value=today, key=REG_INSTALLED)
            st.checkbox(t("device_actions.register_confirm"), key=REG_CONFIRM)
            st.form_submit_button(
                t("device_actions.register_button"),
                type="primary",
                icon=":material/add:",
                on_click=_on_register,
                key=REG_SUBMIT,
            )
        _refusal("register")
        _success(("register",))


def available_actions(device: dict) -> list[str]:
    """What can be done to the device as it is now (the domain re-checks each)."""
    status = device["status"]
    assigned = _present(device.get("recipient_id")) or _present(device.get("site_id"))
    if status == "active":
        return ["replace", "assign", "out_of_service"] if assigned else ["assign", "out_of_service"]
    if status == "in_repair":
        return ["return", "out_of_service"] if assigned else ["out_of_service"]
    return ["assign"]  # retired: on the shelf, ready to be given out again


def _holder(device: dict) -> str:
    if _present(device.get("external_ref")):
        return t("device_actions.holder_person", ref=md_escape(device["external_ref"]))
    if _present(device.get("site_id")):
        return t("device_actions.holder_site")
    return t("device_actions.holder_none")


def _assign_form(device: dict, did: int, uid: str) -> None:
    assigned = _present(device.get("recipient_id")) or _present(device.get("site_id"))
    target, sites = _target_choice(action_key("target", did), device["program_code"])
    with st.form(action_key("assign_form", did), enter_to_submit=False):
        _target_input(target, sites, action_key("ref", did), action_key("site", did))
        confirm = "device_actions.reassign_confirm" if assigned else "device_actions.assign_confirm"
        st.checkbox(t(confirm, uid=md_escape(uid)), key=action_key("assign_confirm", did))
        st.form_submit_button(
            t("device_actions.reassign_button" if assigned else "device_actions.assign_button"),
            type="primary",
            on_click=_on_assign,
            args=(did, uid, assigned),
            key=action_key("assign_submit", did),
        )


def _replace_form(device: dict, did: int, uid: str) -> None:
    vendors = load(known_vendors, live=True)
    with st.form(action_key("replace_form", did), enter_to_submit=False):
        left, right = st.columns(2)
        left.text_input(
            t("device_actions.new_uid"),
            key=action_key("new_uid", did),
            max_chars=60,
            help=t("device_actions.new_uid_help"),
        )
        right.selectbox(
            t("devices.vendor"),
            vendors,
            index=vendors.index(device["vendor"]) if device["vendor"] in vendors else None,
            key=action_key("vendor", did),
            help=t("device_actions.vendor_help"),
        )
        today = _today()
        left.date_input(
            t("devices.installed"), value=today, max_value=today, key=action_key("installed", did)
        )
        right.radio(
            t("device_actions.old_goes"),
            ("retired", "in_repair"),
            format_func=lambda s: t(f"device_status.{s}"),
            horizontal=True,
            key=action_key("old_status", did),
        )
        st.checkbox(
            t("device_actions.replace_confirm", uid=md_escape(uid)),
            key=action_key("replace_confirm", did),
        )
        st.form_submit_button(
            t("device_actions.replace_button"),
            type="primary",
            on_click=_on_replace,
            args=(did, uid),
            key=action_key("replace_submit", did),
        )


def _out_of_service_form(device: dict, did: int, uid: str) -> None:
    targets = ("in_repair", "retired") if device["status"] == "active" else ("retired",)
    with st.form(action_key("out_form", did), enter_to_submit=False):
        st.radio(
            t("device_actions.out_to"),
            targets,
            format_func=lambda s: t(f"device_actions.out_to_{s}"),
            key=action_key("to", did),
        )
        st.checkbox(
            t("device_actions.out_confirm", uid=md_escape(uid)),
            key=action_key("out_of_service_confirm", did),
        )
        st.form_submit_button(
            t("device_actions.out_button"),
            on_click=_on_status,
            args=(did, uid, "out_of_service"),
            key=action_key("out_submit", did),
        )


def _return_form(did: int, uid: str) -> None:
    with st.form(action_key("return_form", did), enter_to_submit=False):
        st.checkbox(
            t("device_actions.return_confirm", uid=md_escape(uid)),
            key=action_key("return_confirm", did),
        )
        st.form_submit_button(
            t("device_actions.return_button"),
            type="primary",
            on_click=_on_status,
            args=(did, uid, "return"),
            key=action_key("return_submit", did),
        )


def device_actions(device: dict) -> None:
    """The actions on one device (``device``: :func:`queries.roster.device_by_uid`)."""
    if _actor() is None:
        return  # operators read only
    did, uid = int(device["id"]), str(device["device_uid"])
    st.markdown(f"**{t('device_actions.title')}**")
    st.caption(
        t(
            "device_actions.now",
            status=t(f"device_status.{device['status']}"),
            holder=_holder(device),
        )
    )
    # The write's success, above the device it opened (a registration's too: the panel it adds
    # above the register section re-creates that expander, closed).
    _success((*DEVICE_FORMS, "register"))
    actions = available_actions(device)
    assigned = _present(device.get("recipient_id")) or _present(device.get("site_id"))
    labels = {
        "assign": t("device_actions.reassign" if assigned else "device_actions.assign"),
        "replace": t("device_actions.replace"),
        "out_of_service": t("device_actions.out_of_service"),
        "return": t("device_actions.return"),
    }
    choice = st.radio(
        t("device_actions.choose"),
        actions,
        format_func=labels.__getitem__,
        horizontal=True,
        index=None,
        key=action_key("choice", did),
    )
    if choice == "assign":
        _assign_form(device, did, uid)
    elif choice == "replace":
        _replace_form(device, did, uid)
    elif choice == "out_of_service":
        _out_of_service_form(device, did, uid)
    elif choice == "return":
        _return_form(did, uid)
    if choice:
        _refusal(choice)
