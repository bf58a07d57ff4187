"""The login gate in AppTest: login, bad password, throttling, pages per role, logout, timeout.

AppTest refuses to switch to a page the session's ``st.navigation`` did not register, which is
exactly what "not reachable by URL" means; the browser test checks the real URL fallback too.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import delete, select
from streamlit.testing.v1 import AppTest

from dashboard.auth import DEMO_PASSWORD, allowed_pages, cli_principal
from dashboard.auth.users import create_user
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog
from dashboard.i18n import translate
from dashboard.settings import PROJECT_ROOT, get_settings
from tests.apptest.conftest import APP, TIMEOUT, login_as, open_page, private_copy, texts

APP_PAGES = [
    "live",
    "alerts",
    "wandering",
    "week",
    "response",
    "vendors",
    "complaints",
    "participation",
    "budget",
    "briefing",
]
DEFAULT_TITLE = {"operator": "실시간 현황", "lead": "실시간 현황", "council": "브리핑"}
DEFAULT_TITLE["admin"] = translate(f"page.{allowed_pages('admin')[0]}")  # first page it has


def _fresh() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _submit(at: AppTest, username: str, password: str) -> AppTest:
    at.text_input(key="anbu_login_username").input(username)
    at.text_input(key="anbu_login_password").input(password)
    next(b for b in at.button if b.label == translate("auth.submit")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _titles(at: AppTest) -> list[str]:
    return [t.value for t in at.title]


def _assert_unreachable(at: AppTest, page: str) -> None:
    """The page is not registered with this session's navigation (so its URL falls back)."""
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(f"../pages/{page}.py")


def _audit(engine, action: str, username: str) -> int:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.id).where(AuditLog.action == action, AuditLog.entity_id == username)
        ).all()
    return len(rows)


def test_without_login_every_address_shows_the_login_page(demo_db) -> None:
    at = _fresh()
    assert _titles(at) == ["로그인"]
    assert any(DEMO_PASSWORD in s for s in texts(at))  # demo mode names the accounts
    assert not at.dataframe and not at.metric
    _assert_unreachable(at, "alerts")


@pytest.mark.parametrize("role", ["operator", "lead", "council", "admin"])
def test_login_with_each_demo_account(demo_db, role: str) -> None:
    at = _submit(_fresh(), role, DEMO_PASSWORD)
    assert _titles(at) == [DEFAULT_TITLE[role]]
    signed_in = [c.value for c in at.sidebar.caption]
    assert any(translate(f"auth.role.{role}") in c for c in signed_in), signed_in
    assert at.session_state["anbu_login_password"] == ""  # the typed password is not kept


def test_wrong_password_is_refused_without_saying_which_part(demo_db) -> None:
    at = _submit(_fresh(), "lead", "not-the-password")
    assert _titles(at) == ["로그인"]
    assert [e.value for e in at.error] == [translate("auth.bad_credentials")]
    unknown = _submit(_fresh(), "no-such-user", "not-the-password")
    assert [e.value for e in unknown.error] == [e.value for e in at.error]


def test_repeated_failures_make_this_client_wait(demo_db, tmp_path) -> None:
    """AppTest has no client address, so its attempts are the one "unknown" client: five
    failures make it wait (the account itself is not locked by one client)."""
    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:
            # Other tests' failures (also "unknown") in the copied audit log: start afresh.
            conn.execute(delete(AuditLog).where(AuditLog.action == "login_failure"))
            create_user(
                conn, "locktest", "council", "a long passphrase", datetime.now(UTC), cli_principal()
            )
        at = _fresh()
        for _ in range(4):
            _submit(at, "locktest", "wrong password")
            assert [e.value for e in at.error] == [translate("auth.bad_credentials")]
        _submit(at, "locktest", "wrong password")
        wait = translate("auth.wait_seconds", n=30)
        assert [e.value for e in at.error] == [translate("auth.throttled", wait=wait)]
        _submit(at, "locktest", "a long passphrase")  # the right password, while waiting
        assert _titles(at) == ["로그인"] and "다시 시도하세요" in at.error[0].value
        assert _audit(engine, "login_throttled", "locktest") == 1
        assert _audit(engine, "lockout", "locktest") == 0


@pytest.mark.parametrize("role", ["operator", "lead", "council", "admin"])
def test_each_role_reaches_exactly_its_pages(demo_db, role: str) -> None:
    allowed = set(allowed_pages(role))
    at = open_page(role=role)
    assert _titles(at) == [DEFAULT_TITLE[role]]
    for page in APP_PAGES:
        if page in allowed:
            at.switch_page(f"../pages/{page}.py").run()
            assert _titles(at) == [translate(f"page.{page}")], (role, page)
            assert not at.exception, [e.value for e in at.exception]
        else:
            _assert_unreachable(at, page)


def test_council_cannot_reach_alerts_by_url(demo_db) -> None:
    at = open_page(role="council")
    assert _titles(at) == ["브리핑"]
    _assert_unreachable(at, "alerts")
    assert translate("page.alerts") not in texts(at)


def test_sensitive_page_rechecks_the_role(demo_db) -> None:
    """Even if a page script ran for a council session, it stops before reading data."""
    for page in ("live", "alerts", "wandering"):
        at = AppTest.from_file(str(PROJECT_ROOT / "pages" / f"{page}.py"), default_timeout=TIMEOUT)
        login_as(at, "council").run()
        assert [e.value for e in at.error] == [translate("auth.forbidden")], page
        assert not at.dataframe and not at.metric and not at.title


def test_logout(demo_db) -> None:
    at = _submit(_fresh(), "operator", DEMO_PASSWORD)
    before = _audit(demo_db, "logout", "operator")
    at.sidebar.button(key="anbu_logout").click().run()
    assert _titles(at) == ["로그인"]
    assert "anbu_user" not in at.session_state
    assert _audit(demo_db, "logout", "operator") == before + 1


def test_idle_session_times_out(demo_db) -> None:
    at = open_page("live", role="operator")
    idle = timedelta(minutes=get_settings().session_idle_minutes, seconds=1)
    at.session_state["anbu_last_activity"] = datetime.now(UTC) - idle
    at.run()
    assert _titles(at) == ["로그인"]
    assert "로그아웃되었습니다" in at.warning[0].value


def test_outside_demo_mode_no_demo_hint_and_no_demo_login(demo_db, monkeypatch) -> None:
    open_page()  # the database is prepared in demo mode first (accounts exist)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    try:
        at = _fresh()
        assert not any(DEMO_PASSWORD in s for s in texts(at))
        _submit(at, "lead", DEMO_PASSWORD)
        assert _titles(at) == ["로그인"]
        assert [e.value for e in at.error] == [translate("auth.bad_credentials")]
    finally:
        monkeypatch.delenv("ANBU_DEMO")
        get_settings.cache_clear()


@pytest.fixture
def server_database(postgres_schema_url, monkeypatch):
    """The app pointed at an empty PostgreSQL schema (ANBU_DEMO left unset)."""
    monkeypatch.setenv("ANBU_DATABASE_URL", postgres_schema_url)
    monkeypatch.delenv("ANBU_DEMO", raising=False)
    get_settings.cache_clear()
    yield postgres_schema_url
    get_settings.cache_clear()


def test_server_database_without_schema_says_what_to_run(server_database) -> None:
    from sqlalchemy import inspect

    at = _fresh()
    assert _titles(at) == [translate("setup.schema_title")]
    assert [e.value for e in at.error] == [translate("setup.schema_empty")]
    assert "python -m dashboard db upgrade" in at.code[0].value
    assert "python -m dashboard users add" in at.code[0].value
    assert not at.text_input  # no login form: the page stops here
    engine = make_engine(server_database)
    assert inspect(engine).get_table_names() == []  # the app did not migrate it
    engine.dispose()


def test_demo_on_a_server_database_is_announced_on_the_login_page(
    server_database, monkeypatch
) -> None:
    from dashboard.catalog import load_catalog
    from dashboard.db import migrate
    from dashboard.reference.load import load_reference

    engine = make_engine(server_database)
    migrate.upgrade(engine)  # what `python -m dashboard db upgrade` does
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
    engine.dispose()
    at = _fresh()  # ANBU_DEMO unset: a real deployment, no banner, no demo accounts
    assert _titles(at) == [translate("first_run.title")]  # no account yet: the first-run page
    assert not at.error and not any(DEMO_PASSWORD in s for s in texts(at))

    # Same URL, so this process does not prepare the database again (no 30 s demo city build):
    # the page reads the mode from the settings at every run.
    monkeypatch.setenv("ANBU_DEMO", "true")
    get_settings.cache_clear()
    at = _fresh()
    assert [e.value for e in at.error] == [translate("auth.demo_server")]
    assert any(DEMO_PASSWORD in s for s in texts(at))


def test_disabling_an_account_ends_its_open_session(demo_db, tmp_path) -> None:
    """The session does not live on until its idle timeout: its next run logs it out."""
    from dashboard.auth.users import set_active

    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:
            create_user(
                conn, "shift2", "operator", "a long passphrase", datetime.now(UTC), cli_principal()
            )
        at = _submit(_fresh(), "shift2", "a long passphrase")
        assert _titles(at) != ["로그인"]
        with engine.begin() as conn:
            set_active(conn, "shift2", False, datetime.now(UTC), cli_principal())
        at.run()
        assert _titles(at) == ["로그인"]
        shown = [e.value for e in (*at.info, *at.error, *at.warning)]
        assert translate("auth.account_ended") in shown, shown
        assert _audit(engine, "logout_disabled", "shift2") == 1


def test_a_password_reset_ends_the_accounts_open_sessions(demo_db, tmp_path) -> None:
    """Resetting a password is how a stolen password is taken back: the thief's open session
    went on (every run re-read only whether the account was active) for as long as it kept
    clicking. Now its next run logs it out; a new login with the new password works."""
    from dashboard.auth.users import set_password

    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:
            create_user(
                conn, "shift3", "operator", "a long passphrase", datetime.now(UTC), cli_principal()
            )
        thief = _submit(_fresh(), "shift3", "a long passphrase")
        assert _titles(thief) != ["로그인"]
        with engine.begin() as conn:
            set_password(conn, "shift3", "a new passphrase", datetime.now(UTC), cli_principal())
        thief.run()
        assert _titles(thief) == ["로그인"]
        shown = [e.value for e in (*thief.info, *thief.error, *thief.warning)]
        assert translate("auth.password_changed") in shown, shown
        assert _audit(engine, "logout_password", "shift3") == 1
        owner = _submit(_fresh(), "shift3", "a new passphrase")
        assert _titles(owner) != ["로그인"]
        owner.run()  # a session that logged in with the current password goes on
        assert _titles(owner) != ["로그인"]


def test_resetting_ones_own_password_keeps_this_session(demo_db, tmp_path) -> None:
    from dashboard.ui import users_admin as ua

    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:
            create_user(
                conn, "lead2", "lead", "a long passphrase", datetime.now(UTC), cli_principal()
            )
        at = _submit(_fresh(), "lead2", "a long passphrase")
        at.switch_page("../pages/users.py").run()
        at.selectbox(key=ua.TARGET).set_value("lead2").run()
        at.text_input(key=ua.RESET_PASSWORD).input("my new passphrase")
        at.text_input(key=ua.RESET_PASSWORD2).input("my new passphrase")
        at.button(key=ua.RESET_SUBMIT).click().run()
        assert not at.exception, [e.value for e in at.exception]
        at.run()
        assert _titles(at) == [translate("page.users")]
        assert _audit(engine, "logout_password", "lead2") == 0
