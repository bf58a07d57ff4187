"""사용자 관리 page parts: account table, add-user form, account actions, vendor API keys.

Every write happens in an ``on_click`` callback that re-checks the role and calls the domain
functions (``dashboard.auth.users``, ``dashboard.ingest.apikeys``) with the session user inside
one transaction; they check the permission again and write the audit themselves. Passwords typed
into the page are cleared from the session in the callback; a new API key is shown on the next
run only.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st
from sqlalchemy import Connection, select

from dashboard import clock
from dashboard.auth import SessionUser, can, can_grant, can_open
from dashboard.auth.passwords import MAX_LENGTH, MIN_LENGTH, WeakPasswordError, check_password_rule
from dashboard.auth.permissions import NotPermitted
from dashboard.auth.users import (
    DISTRICT_LEVELS,
    USERNAME,
    UserError,
    create_user,
    get_user,
    list_users,
    normalize_username,
    password_stamp,
    set_active,
    set_password,
    unlock_user,
)
from dashboard.db.schema import Region
from dashboard.db.schema.people import ROLES
from dashboard.formatting import format_datetime
from dashboard.ingest.apikeys import check_vendor, create_key, list_keys, revoke_key
from dashboard.plain_text import has_control_codes
from dashboard.ui.auth import STAMP_KEY, acting_user
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

PAGE = "users"
# Widget keys (tests use them).
ADD_USERNAME = "users_add_username"
ADD_DISPLAY = "users_add_display"
ADD_ROLE = "users_add_role"
ADD_DISTRICTS = "users_add_districts"
ADD_PASSWORD = "users_add_password"
ADD_PASSWORD2 = "users_add_password2"
ADD_SUBMIT = "users_add_submit"
TARGET = "users_target"
TOGGLE = "users_toggle_active"
UNLOCK = "users_unlock"
RESET_PASSWORD = "users_reset_password"
RESET_PASSWORD2 = "users_reset_password2"
RESET_SUBMIT = "users_reset_submit"
KEY_VENDOR = "apikeys_vendor"
KEY_CREATE = "apikeys_create"
KEY_REVOKE_TARGET = "apikeys_revoke_target"
KEY_REVOKE_CONFIRM = "apikeys_revoke_confirm"
KEY_REVOKE = "apikeys_revoke"

_ADD_ERRORS = "users_add_errors"  # {field: message} from the last add attempt
_RESET_ERRORS = "users_reset_errors"
_FLASH = "users_flash"  # (kind, message) shown once after a write
_KEY_FLASH = "apikeys_flash"
_NEW_KEY = "apikeys_new_key"  # (vendor, prefix, key): popped when shown, so shown once


def _now() -> datetime:
    return clock.now()


def _actor(page: str = PAGE, action: str = "manage_users") -> SessionUser | None:
    """The account as it is now if still allowed: a callback is a second door, and it runs
    before the page's gate re-reads the account, so a session whose account was disabled since
    the page was drawn must not add one more account on its way out."""
    user = acting_user()
    if user is None or not can_open(user.role, page):
        return None
    return user if can(user.role, action) else None


def grantable_roles(role: str) -> list[str]:
    return [r for r in ROLES if can_grant(role, r)]


def districts(conn: Connection) -> dict[str, str]:
    """Assignable areas (시·군·구, or a 시 with 구) as code → name in the session's language."""
    name = Region.name_ko if current_lang() == "ko" else Region.name_en
    rows = conn.execute(
        select(Region.code, name).where(Region.level.in_(DISTRICT_LEVELS)).order_by(Region.code)
    )
    return dict(rows.all())


# --- users -----------------------------------------------------------------------------------


def user_frame(conn: Connection) -> pd.DataFrame:
    """The accounts as shown: never a hash (``UserInfo`` carries none)."""
    names = districts(conn)
    lang = current_lang()
    rows = [
        {
            t("users_admin.col_username"): u.username,
            t("users_admin.col_display"): u.display_name,
            t("users_admin.col_role"): t(f"auth.role.{u.role}"),
            t("users_admin.col_districts"): ", ".join(names.get(c, c) for c in u.district_codes)
            or "–",
            t("users_admin.col_active"): u.active,
            t("users_admin.col_locked"): format_datetime(u.locked_until, lang)
            if u.locked_until
            else "–",
            t("users_admin.col_demo"): u.is_demo,
        }
        for u in list_users(conn)
    ]
    return pd.DataFrame(rows)


def _flash(kind: str, message: str, key: str = _FLASH) -> None:
    st.session_state[key] = (kind, message)


def show_flash(key: str = _FLASH) -> None:
    notice = st.session_state.pop(key, None)
    if notice:
        kind, message = notice
        (st.success if kind == "success" else st.error)(message)


def password_errors(password: str, again: str) -> dict[str, str]:
    try:
        check_password_rule(password)
    except WeakPasswordError:
        return {"password": t("users_admin.err_password_rule", min=MIN_LENGTH, max=MAX_LENGTH)}
    if password != again:
        return {"password2": t("users_admin.err_password_mismatch")}
    return {}


def _on_add() -> None:
    state = st.session_state
    actor = _actor()
    if actor is None:
        return
    username = normalize_username(state.get(ADD_USERNAME) or "")
    display = (state.get(ADD_DISPLAY) or "").strip()
    role = state.get(ADD_ROLE)
    codes = list(state.get(ADD_DISTRICTS) or [])
    password, again = state.get(ADD_PASSWORD) or "", state.get(ADD_PASSWORD2) or ""
    # Never keep typed passwords in the session, whatever the outcome.
    state[ADD_PASSWORD] = state[ADD_PASSWORD2] = ""

    errors: dict[str, str] = {}
    if not USERNAME.match(username):
        errors["username"] = t("users_admin.err_username")
    if has_control_codes(display):
        errors["display"] = t("users_admin.err_display")
    if role is None or not can_grant(actor.role, role):
        errors["role"] = t("users_admin.err_role")
    elif codes and role != "operator":
        errors["districts"] = t("users_admin.err_districts")
    errors |= password_errors(password, again)
    if not errors:
        engine = get_engine()
        try:
            with engine.begin() as conn:
                if get_user(conn, username) is not None:
                    errors["username"] = t("users_admin.err_exists", username=username)
                else:
                    create_user(
                        conn,
                        username,
                        role,
                        password,
                        _now(),
                        actor,
                        display_name=display or None,
                        district_codes=codes,
                    )
        except (UserError, WeakPasswordError) as exc:
            errors["form"] = md_escape(t(f"user_error.{exc.key}", **exc.params))
        except NotPermitted:
            errors["form"] = t("users_admin.not_permitted")
    state[_ADD_ERRORS] = errors
    if errors:
        return
    for key, value in ((ADD_USERNAME, ""), (ADD_DISPLAY, ""), (ADD_DISTRICTS, [])):
        state[key] = value
    _flash("success", t("users_admin.added", username=username))


def field_error(errors: dict[str, str], field: str) -> None:
    """The form's message for ``field``, if any, right under it."""
    if field in errors:
        st.error(errors[field], icon=":material/error:")


def new_password_fields(errors: dict[str, str], key: str, repeat_key: str) -> None:
    """A new password and its repetition, with their messages (add user, first run)."""
    st.text_input(
        t("users_admin.password"),
        type="password",
        key=key,
        help=t("users_admin.password_help", min=MIN_LENGTH),
        autocomplete="new-password",
    )
    field_error(errors, "password")
    st.text_input(
        t("users_admin.password2"),
        type="password",
        key=repeat_key,
        autocomplete="new-password",
    )
    field_error(errors, "password2")


def add_user_form(actor: SessionUser, names: dict[str, str]) -> None:
    errors = st.session_state.get(_ADD_ERRORS, {})
    roles = grantable_roles(actor.role)
    # Labels fixed at render time: a format_func must not depend on the session's language later.
    role_labels = {r: t(f"auth.role.{r}") for r in roles}
    with st.form("users_add", clear_on_submit=False, enter_to_submit=False):
        st.subheader(t("users_admin.add_title"))
        st.text_input(
            t("users_admin.username"),
            key=ADD_USERNAME,
            help=t("users_admin.username_help"),
            autocomplete="off",
        )
        field_error(errors, "username")
        st.text_input(t("users_admin.display_name"), key=ADD_DISPLAY, max_chars=80)
        field_error(errors, "display")
        st.selectbox(
            t("users_admin.role"),
            options=roles,
            format_func=role_labels.__getitem__,
            key=ADD_ROLE,
            help=t("users_admin.role_help"),
        )
        field_error(errors, "role")
        st.multiselect(
            t("users_admin.districts"),
            options=list(names),
            format_func=lambda c: names.get(c, c),
            key=ADD_DISTRICTS,
            help=t("users_admin.districts_help"),
            placeholder=t("users_admin.districts_placeholder"),
        )
        field_error(errors, "districts")
        new_password_fields(errors, ADD_PASSWORD, ADD_PASSWORD2)
        field_error(errors, "form")
        st.form_submit_button(
            t("users_admin.add_button"), type="primary", on_click=_on_add, key=ADD_SUBMIT
        )


def _target(actor: SessionUser):
    """The selected account row, if the actor may manage its role (a lead never an admin)."""
    name = st.session_state.get(TARGET)
    if not name:
        return None
    with get_engine().connect() as conn:
        row = get_user(conn, name)
    if row is None or not can_grant(actor.role, row.role):
        return None
    return row


def _on_toggle() -> None:
    actor = _actor()
    row = _target(actor) if actor else None
    if row is None or row.username == actor.username:
        return
    with get_engine().begin() as conn:
        set_active(conn, row.username, not row.active, _now(), actor)
    key = "users_admin.enabled" if not row.active else "users_admin.disabled"
    _flash("success", t(key, username=row.username))


def _on_unlock() -> None:
    actor = _actor()
    row = _target(actor) if actor else None
    if row is None:
        return
    with get_engine().begin() as conn:
        unlock_user(conn, row.username, _now(), actor)
    _flash("success", t("users_admin.unlocked", username=row.username))


def _on_reset() -> None:
    state = st.session_state
    password, again = state.get(RESET_PASSWORD) or "", state.get(RESET_PASSWORD2) or ""
    state[RESET_PASSWORD] = state[RESET_PASSWORD2] = ""
    actor = _actor()
    row = _target(actor) if actor else None
    if row is None:
        return
    errors = password_errors(password, again)
    state[_RESET_ERRORS] = errors
    if errors:
        return
    with get_engine().begin() as conn:
        set_password(conn, row.username, password, _now(), actor)
        if row.username == actor.username:  # the account's other sessions end, this one not
            state[STAMP_KEY] = password_stamp(get_user(conn, row.username).password_hash)
    _flash("success", t("users_admin.password_set", username=row.username))


def account_actions(actor: SessionUser, users: list) -> None:
    """Disable/enable, unlock and reset the password of one account the actor may manage."""
    st.subheader(t("users_admin.manage_title"))
    manageable = [u for u in users if can_grant(actor.role, u.role)]
    if not manageable:
        st.caption(t("users_admin.none_manageable"))
        return
    by_name = {u.username: u for u in manageable}
    labels = {
        u.username: f"{u.username} · {u.display_name} · {t(f'auth.role.{u.role}')}"
        for u in manageable
    }
    st.selectbox(
        t("users_admin.target"),
        options=list(by_name),
        format_func=labels.__getitem__,
        index=None,
        placeholder=t("users_admin.target_placeholder"),
        key=TARGET,
    )
    chosen = by_name.get(st.session_state.get(TARGET) or "")
    if chosen is None:
        return
    own = chosen.username == actor.username
    left, right = st.columns(2)
    with left:
        st.button(
            t("users_admin.enable" if not chosen.active else "users_admin.disable"),
            key=TOGGLE,
            icon=":material/toggle_on:" if not chosen.active else ":material/block:",
            on_click=_on_toggle,
            disabled=own,
            help=t("users_admin.own_account") if own else None,
        )
    with right:
        st.button(
            t("users_admin.unlock"),
            key=UNLOCK,
            icon=":material/lock_open:",
            on_click=_on_unlock,
            disabled=chosen.locked_until is None and chosen.failed_logins == 0,
        )
    errors = st.session_state.get(_RESET_ERRORS, {})
    with st.form("users_reset", enter_to_submit=False):
        st.markdown(t("users_admin.reset_title", username=md_escape(chosen.username)))
        st.text_input(
            t("users_admin.password"),
            type="password",
            key=RESET_PASSWORD,
            help=t("users_admin.password_help", min=MIN_LENGTH),
            autocomplete="new-password",
        )
        field_error(errors, "password")
        st.text_input(
            t("users_admin.password2"), type="password", key=RESET_PASSWORD2,
            autocomplete="new-password",
        )  # fmt: skip
        field_error(errors, "password2")
        st.form_submit_button(t("users_admin.reset_button"), on_click=_on_reset, key=RESET_SUBMIT)


def users_tab(actor: SessionUser) -> None:
    show_flash()
    with get_engine().connect() as conn:
        names = districts(conn)
        frame = user_frame(conn)
        users = list_users(conn)
    st.dataframe(frame, hide_index=True, width="stretch")
    left, right = st.columns(2, gap="large")
    with left:
        add_user_form(actor, names)
    with right:
        account_actions(actor, users)


# --- API keys --------------------------------------------------------------------------------


def _on_create_key() -> None:
    actor = _actor(action="manage_api_keys")
    if actor is None:
        return
    vendor = (st.session_state.get(KEY_VENDOR) or "").strip()
    try:
        check_vendor(vendor)
    except ValueError:
        _flash("error", t("users_admin.key_vendor_invalid", vendor=md_escape(vendor)), _KEY_FLASH)
        return
    with get_engine().begin() as conn:
        key, prefix = create_key(conn, vendor, principal=actor, now=_now())
    st.session_state[_NEW_KEY] = (vendor, prefix, key)
    st.session_state[KEY_VENDOR] = ""


def _on_revoke_key() -> None:
    actor = _actor(action="manage_api_keys")
    prefix = st.session_state.get(KEY_REVOKE_TARGET)
    confirmed = st.session_state.get(KEY_REVOKE_CONFIRM)
    if actor is None or not prefix or not confirmed:
        return
    with get_engine().begin() as conn:
        if revoke_key(conn, prefix, principal=actor, now=_now()):
            _flash("success", t("users_admin.key_revoked", prefix=prefix), _KEY_FLASH)
    st.session_state[KEY_REVOKE_TARGET] = None
    st.session_state[KEY_REVOKE_CONFIRM] = False


def key_frame(keys: list) -> pd.DataFrame:
    lang = current_lang()
    return pd.DataFrame(
        [
            {
                t("users_admin.col_prefix"): k.prefix,
                t("users_admin.col_vendor"): k.vendor,
                t("users_admin.col_created"): format_datetime(k.created_at, lang),
                t("users_admin.col_revoked"): format_datetime(k.revoked_at, lang)
                if k.revoked_at
                else "–",
            }
            for k in keys
        ],
        columns=[
            t("users_admin.col_prefix"),
            t("users_admin.col_vendor"),
            t("users_admin.col_created"),
            t("users_admin.col_revoked"),
        ],
    )


def api_keys_tab() -> None:
    show_flash(_KEY_FLASH)
    new = st.session_state.pop(_NEW_KEY, None)  # shown on this run only, never again
    if new:
        vendor, prefix, key = new
        st.success(t("users_admin.key_created", vendor=vendor, prefix=prefix))
        st.code(key, language=None)
        st.warning(t("users_admin.key_once"), icon=":material/content_copy:")
    with get_engine().connect() as conn:
        keys = list_keys(conn)
    st.dataframe(key_frame(keys), hide_index=True, width="stretch")
    left, right = st.columns(2, gap="large")
    with left, st.form("apikeys_create_form", enter_to_submit=False):
        st.subheader(t("users_admin.key_create_title"))
        st.text_input(
            t("users_admin.key_vendor"), key=KEY_VENDOR, help=t("users_admin.key_vendor_help")
        )
        st.form_submit_button(
            t("users_admin.key_create"), type="primary", on_click=_on_create_key, key=KEY_CREATE
        )
    with right:
        st.subheader(t("users_admin.key_revoke_title"))
        active = {k.prefix: k.vendor for k in keys if k.revoked_at is None}
        st.selectbox(
            t("users_admin.key_revoke_target"),
            options=list(active),
            format_func=lambda p: f"{p} · {active.get(p, '')}",
            index=None,
            placeholder=t("users_admin.key_revoke_placeholder"),
            key=KEY_REVOKE_TARGET,
        )
        target = st.session_state.get(KEY_REVOKE_TARGET)
        st.checkbox(
            t("users_admin.key_revoke_confirm", prefix=target or "…"),
            key=KEY_REVOKE_CONFIRM,
            disabled=not target,
        )
        st.button(
            t("users_admin.key_revoke"),
            key=KEY_REVOKE,
            icon=":material/key_off:",
            on_click=_on_revoke_key,
            disabled=not (target and st.session_state.get(KEY_REVOKE_CONFIRM)),
        )
