"""The login gate: login page, idle timeout, the user's sidebar block and page re-checks.

The access decisions are in ``dashboard.auth`` (no streamlit); this module only keeps the
logged-in ``SessionUser`` in the session and shows forms. ``app.py`` calls ``current_user()``
before ``st.navigation`` and gives the navigation only ``allowed_pages(user.role)``.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

import streamlit as st

from dashboard import clock
from dashboard.auth import (
    DEMO_ACCOUNTS,
    DEMO_PASSWORD,
    AuthPolicy,
    SessionUser,
    authenticate,
    can,
    can_open,
    record_logout,
    session_expired,
)
from dashboard.auth.users import account_now, current_account
from dashboard.formatting import format_datetime
from dashboard.settings import get_settings
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

USER_KEY = "anbu_user"
ACTIVITY_KEY = "anbu_last_activity"
STAMP_KEY = "anbu_password_stamp"  # the password the session logged in with (users.password_stamp)
_NOTICE_KEY = "anbu_auth_notice"  # (i18n key, kwargs) shown once on the login page
_USERNAME_KEY = "anbu_login_username"
_PASSWORD_KEY = "anbu_login_password"
# Notices that are not a failed login.
_WARNINGS = ("auth.expired", "first_run.closed", "auth.password_changed")


def _now() -> datetime:
    return clock.now()


def _policy() -> AuthPolicy:
    return AuthPolicy.from_settings()


def session_user() -> SessionUser | None:
    """The logged-in user as the session holds it, for callbacks and page parts (the gate,
    ``current_user``, has already enforced the idle timeout for this run)."""
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, SessionUser) else None


def acting_user() -> SessionUser | None:
    """The account a button's callback acts as. Callbacks run before the page's gate, so the
    session's copy may be stale: ``None`` once the session has idled out or the account was
    disabled or removed, else the account as it is now (a role or district changed since the
    page was drawn already counts). The gate of the run that follows ends the session."""
    user = session_user()
    if user is None or session_expired(st.session_state.get(ACTIVITY_KEY), _now(), _policy()):
        return None
    with get_engine().connect() as conn:
        return current_account(conn, user.username, st.session_state.get(STAMP_KEY))


def current_user() -> SessionUser | None:
    """The logged-in user, after enforcing the idle timeout; each full run counts as activity.

    Call once per run, before ``st.navigation``. Fragment reruns do not pass here, so a screen
    left alone keeps its last activity time and is logged out at its next full run.
    """
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SessionUser):
        return None
    now, policy = _now(), _policy()
    if session_expired(st.session_state.get(ACTIVITY_KEY), now, policy):
        _end_session(user, now, "session_timeout")
        minutes = int(policy.idle_timeout.total_seconds() // 60)
        st.session_state[_NOTICE_KEY] = ("auth.expired", {"minutes": minutes})
        return None
    with get_engine().connect() as conn:
        found = account_now(conn, user.username, st.session_state.get(STAMP_KEY))
    account = found.user
    if account is None:  # disabled, removed or its password reset since login: it ends now
        reason = found.ended or "logout_disabled"
        _end_session(user, now, reason)
        notice = "auth.password_changed" if reason == "logout_password" else "auth.account_ended"
        st.session_state[_NOTICE_KEY] = (notice, {})
        return None
    st.session_state[USER_KEY] = account  # a changed role or district applies at once
    st.session_state[ACTIVITY_KEY] = now
    return account


def check_session() -> None:
    """For live fragments, whose reruns skip the gate: a full rerun once the session idled out
    or its account changed since the page was drawn (disabled, password reset, another role or
    other districts), so the gate ends the session or draws the page in the new scope instead
    of the wall screen streaming the old one until the idle timeout."""
    if session_expired(st.session_state.get(ACTIVITY_KEY), _now(), _policy()):
        st.rerun(scope="app")
    user = session_user()
    if user is None:
        st.rerun(scope="app")
    with get_engine().connect() as conn:  # one row by its key, once per fragment tick
        now = current_account(conn, user.username, st.session_state.get(STAMP_KEY))
    if now != user:
        st.rerun(scope="app")


def _end_session(user: SessionUser, now: datetime, reason: str) -> None:
    with get_engine().begin() as conn:
        record_logout(conn, user.username, now, reason)
    for key in (USER_KEY, ACTIVITY_KEY, STAMP_KEY):
        st.session_state.pop(key, None)


def _on_login() -> None:
    username = st.session_state.get(_USERNAME_KEY, "")
    password = st.session_state.get(_PASSWORD_KEY, "")
    st.session_state[_PASSWORD_KEY] = ""  # never keep a typed password in the session
    now = _now()
    with get_engine().begin() as conn:
        # None on localhost and in AppTest: counted as one "unknown" client.
        client = st.context.ip_address
        result = authenticate(conn, username, password, now, _policy(), client=client)
    if result.ok:
        st.session_state[USER_KEY] = result.user
        st.session_state[ACTIVITY_KEY] = now
        st.session_state[STAMP_KEY] = result.stamp
        st.session_state.pop(_NOTICE_KEY, None)
        return
    until = format_datetime(result.locked_until, current_lang()) if result.locked_until else ""
    wait = _wait_text(result.locked_until - now) if result.locked_until else ""
    st.session_state[_NOTICE_KEY] = (result.message_key, {"until": until, "wait": wait})


def set_login_notice(key: str, **kwargs: str) -> None:
    """A message (an i18n key) the login page shows once, at its top."""
    st.session_state[_NOTICE_KEY] = (key, kwargs)


def _wait_text(delta: timedelta) -> str:
    """A throttled client's wait, rounded up: "45초" / "45 s", "3분" / "3 min"."""
    seconds = max(1, math.ceil(delta.total_seconds()))
    if seconds < 120:
        return t("auth.wait_seconds", n=seconds)
    return t("auth.wait_minutes", n=math.ceil(seconds / 60))


def _on_logout() -> None:
    user = st.session_state.get(USER_KEY)
    if isinstance(user, SessionUser):
        _end_session(user, _now(), "logout")


def login_page() -> None:
    """The only page a session without a user gets: every URL falls back to it."""
    st.title(t("auth.title"))
    if get_settings().demo_on_server:  # loud: a real deployment must not look like this
        st.error(t("auth.demo_server"), icon=":material/warning:")
    st.caption(t("auth.intro"))
    notice = st.session_state.pop(_NOTICE_KEY, None)
    if notice:
        key, kwargs = notice
        (st.warning if key in _WARNINGS else st.error)(t(key, **kwargs))
    with st.form("anbu_login", clear_on_submit=False, enter_to_submit=True):
        st.text_input(t("auth.username"), key=_USERNAME_KEY, autocomplete="username")
        st.text_input(
            t("auth.password"), key=_PASSWORD_KEY, type="password", autocomplete="current-password"
        )
        st.form_submit_button(t("auth.submit"), type="primary", on_click=_on_login)
    if _policy().demo:
        accounts = ", ".join(f"`{name}`" for name in DEMO_ACCOUNTS)
        st.info(t("auth.demo", accounts=accounts, password=DEMO_PASSWORD))


def sidebar_user(user: SessionUser) -> None:
    """Who is logged in, in which role, and the logout button."""
    role = t(f"auth.role.{user.role}")
    st.sidebar.caption(t("auth.signed_in", name=md_escape(user.display_name), role=role))
    st.sidebar.button(t("auth.logout"), key="anbu_logout", on_click=_on_logout)


def require_page(page: str) -> SessionUser:
    """Re-check at the top of a sensitive page; stops the page for anyone not allowed."""
    user = st.session_state.get(USER_KEY)
    if not isinstance(user, SessionUser) or not can_open(user.role, page):
        st.error(t("auth.forbidden"))
        st.stop()
    return user


def user_can(action: str) -> bool:
    """May the logged-in user take ``action``? False without a user."""
    user = st.session_state.get(USER_KEY)
    return isinstance(user, SessionUser) and can(user.role, action)
