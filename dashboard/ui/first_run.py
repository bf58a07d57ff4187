"""The first-run page: while no account exists (and demo mode is off), the login page's place.

From a browser on the server's own machine it offers a form for the first administrator; from
anywhere else it says which command to run on the server. The decision, and the one-time
creation under a lock, are in ``dashboard.auth.first_run``; the callback passes it the
connection's address and headers so it decides again at submit time. After the account is
created the browser is logged in through the ordinary login path (audited as ``login_success``)
and its pages show the next steps, starting with the roster import, until dismissed.
"""

from __future__ import annotations

import streamlit as st

from dashboard import clock
from dashboard.auth import authenticate
from dashboard.auth.first_run import (
    FirstRunClosed,
    create_first_admin,
    first_run_open,
    is_local_client,
)
from dashboard.auth.passwords import WeakPasswordError
from dashboard.auth.users import USERNAME, UserError, normalize_username
from dashboard.settings import get_settings
from dashboard.ui.auth import ACTIVITY_KEY, STAMP_KEY, USER_KEY, set_login_notice
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape
from dashboard.ui.users_admin import field_error, new_password_fields, password_errors

# Widget keys (tests use them).
FIRST_USERNAME = "first_run_username"
FIRST_PASSWORD = "first_run_password"
FIRST_PASSWORD2 = "first_run_password2"
FIRST_SUBMIT = "first_run_submit"
WELCOME_KEY = "anbu_first_run_welcome"  # the new admin's name while the next steps are shown
_ERRORS = "first_run_errors"
CLI_COMMAND = "python -m dashboard users add NAME --role admin"


def client_request() -> tuple[str | None, list[tuple[str, str]]]:
    """The browser's peer address and WebSocket handshake headers, as Streamlit has them.

    ``st.context.ip_address`` reports a loopback peer (127.0.0.1, ::1) as None, and also gives
    None when there is no browser session; the headers tell the two apart (none without one).
    """
    headers = st.context.headers
    pairs = [(name, value) for name in headers for value in headers.get_all(name)]
    peer = st.context.ip_address
    if peer is None and pairs:
        peer = "127.0.0.1"
    return peer, pairs


def first_run_pending() -> bool:
    """No account yet and demo mode off: the first-run page replaces the login page."""
    with get_engine().connect() as conn:
        return first_run_open(conn, get_settings().demo_enabled)


def _on_create() -> None:
    state = st.session_state
    username = normalize_username(state.get(FIRST_USERNAME) or "")
    password, again = state.get(FIRST_PASSWORD) or "", state.get(FIRST_PASSWORD2) or ""
    state[FIRST_PASSWORD] = state[FIRST_PASSWORD2] = ""  # never keep typed passwords
    errors: dict[str, str] = {}
    if not USERNAME.match(username):
        errors["username"] = t("users_admin.err_username")
    errors |= password_errors(password, again)
    state[_ERRORS] = errors
    if errors:
        return
    peer, headers = client_request()
    now = clock.now()
    try:
        create_first_admin(get_engine(), username, password, now, peer=peer, headers=headers)
    except FirstRunClosed as exc:
        if exc.reason == "accounts_exist":  # someone was quicker: the login page takes over
            state.pop(_ERRORS, None)
            set_login_notice("first_run.closed")
            return
        errors["form"] = t("first_run.not_local")
    except (UserError, WeakPasswordError) as exc:
        errors["form"] = md_escape(t(f"user_error.{exc.key}", **exc.params))
    state[_ERRORS] = errors
    if errors:
        return
    # Logged in through the ordinary path: the same checks and the same audit as the form.
    with get_engine().begin() as conn:
        result = authenticate(conn, username, password, now, client=peer)
    state.pop(_ERRORS, None)
    if result.ok:
        state[USER_KEY] = result.user
        state[ACTIVITY_KEY] = now
        state[STAMP_KEY] = result.stamp
        state[WELCOME_KEY] = username
    else:  # not expected right after creation; the login page says what happened
        set_login_notice(result.message_key)


def _remote() -> None:
    st.warning(t("first_run.remote"), icon=":material/lock:")
    st.code(CLI_COMMAND, language="bash")
    st.caption(t("first_run.remote_why"))


def first_run_page() -> None:
    """The page every address shows while the database has no account."""
    st.title(t("first_run.title"))
    st.caption(t("first_run.intro"))
    peer, headers = client_request()
    if not is_local_client(peer, headers):
        _remote()
        return
    errors = st.session_state.get(_ERRORS, {})
    with st.form("first_run", clear_on_submit=False, enter_to_submit=False):
        st.subheader(t("first_run.form_title"))
        st.text_input(
            t("users_admin.username"),
            key=FIRST_USERNAME,
            help=t("users_admin.username_help"),
            autocomplete="username",
        )
        field_error(errors, "username")
        new_password_fields(errors, FIRST_PASSWORD, FIRST_PASSWORD2)
        field_error(errors, "form")
        st.form_submit_button(
            t("first_run.submit"), type="primary", on_click=_on_create, key=FIRST_SUBMIT
        )
    st.caption(t("first_run.once"))
    st.caption(t("first_run.cli"))
    st.code(CLI_COMMAND, language="bash")


def _dismiss() -> None:
    st.session_state.pop(WELCOME_KEY, None)


def first_run_welcome() -> None:
    """The next steps for the new administrator, on every page until dismissed."""
    username = st.session_state.get(WELCOME_KEY)
    if not username:
        return
    with st.container(border=True):
        st.success(t("first_run.created", username=md_escape(username)), icon=":material/check:")
        st.markdown(t("first_run.next_steps"))
        st.page_link("../pages/users.py", label=t("first_run.step_keys"), icon=":material/key:")
        st.page_link(
            "../pages/people.py", label=t("first_run.step_people"), icon=":material/elderly:"
        )
        st.page_link(
            "../pages/devices.py",
            label=t("first_run.step_devices"),
            icon=":material/devices_other:",
        )
        st.page_link(
            "../pages/users.py",
            label=t("first_run.step_accounts"),
            icon=":material/manage_accounts:",
        )
        st.button(t("first_run.dismiss"), key="first_run_dismiss", on_click=_dismiss)
