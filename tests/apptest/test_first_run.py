"""A city starting without the demo: the first-run page on an empty database (ANBU_DEMO=false).

AppTest has no browser connection, so ``st.context`` gives no address and no headers there;
tests that play a browser on the server (or elsewhere) replace ``client_request`` with what
Streamlit reports for one. ``tests/unit/test_first_run.py`` holds the address rules and the race.
The last test takes the whole way a new city takes, in the app only: first administrator,
vendor key, both roster imports, a team lead, and the lead's live page.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard import cli, clock
from dashboard.auth.principal import cli_principal
from dashboard.auth.users import create_user
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, User
from dashboard.i18n import translate
from dashboard.ingest import ingest_events
from dashboard.registry import DEVICES, PEOPLE
from dashboard.settings import get_settings
from dashboard.ui import first_run as fr
from dashboard.ui import users_admin as ua
from dashboard.ui.auth import USER_KEY
from tests.apptest.conftest import APP, TIMEOUT, _copy_sqlite, texts
from tests.registry_support import device, person, roster_csv

PASSWORD = "a long passphrase"
BROWSER = [("host", "localhost:8501"), ("origin", "http://localhost:8501")]
ON_THE_SERVER = ("127.0.0.1", BROWSER)
ELSEWHERE = (
    "192.0.2.7",
    [("host", "192.0.2.2:8501"), ("origin", "http://192.0.2.2:8501")],
)
LOGIN_FIELD = "anbu_login_username"


@pytest.fixture(scope="module")
def empty_city(tmp_path_factory) -> Path:
    """A database after `db upgrade` and `init`: reference data, no account, nobody."""
    path = tmp_path_factory.mktemp("first-run") / "empty.sqlite3"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ANBU_DATABASE_URL", f"sqlite:///{path}")
        mp.setenv("ANBU_DEMO", "false")
        get_settings.cache_clear()
        try:
            for argv in (["db", "upgrade"], ["init"]):
                assert cli.main(argv) == 0, argv
        finally:
            get_settings.cache_clear()
    return path


@pytest.fixture
def city(empty_city: Path, tmp_path, monkeypatch) -> Iterator[Engine]:
    """A private copy of the empty city, made the app's database (demo off) for one test."""
    path = tmp_path / "city.sqlite3"
    _copy_sqlite(empty_city, path)
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def _browser(monkeypatch, client: tuple[str, list[tuple[str, str]]]) -> None:
    monkeypatch.setattr(fr, "client_request", lambda: client)


def _open(lang: str = "ko") -> AppTest:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT)
    if lang == "en":
        at.query_params["lang"] = "en"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _keys(at: AppTest) -> set[str]:
    return {w.key for w in at.text_input}


def _submit(at: AppTest, username: str, password: str, again: str | None = None) -> AppTest:
    at.text_input(key=fr.FIRST_USERNAME).input(username)
    at.text_input(key=fr.FIRST_PASSWORD).input(password)
    at.text_input(key=fr.FIRST_PASSWORD2).input(password if again is None else again)
    at.button(key=fr.FIRST_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _accounts(engine: Engine) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(select(User.username, User.role)).all()]


def _audit(engine: Engine) -> list[tuple[str, str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.entity_id).order_by(AuditLog.id)
        )
        return [tuple(r) for r in rows.all()]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_form_offered_on_an_empty_database_from_the_server(city, monkeypatch, lang) -> None:
    _browser(monkeypatch, ON_THE_SERVER)
    at = _open(lang)
    assert at.title[0].value == translate("first_run.title", lang)
    assert {fr.FIRST_USERNAME, fr.FIRST_PASSWORD, fr.FIRST_PASSWORD2} <= _keys(at)
    assert LOGIN_FIELD not in _keys(at)  # nobody could log in anyway
    assert fr.CLI_COMMAND in [c.value for c in at.code]  # the other way, on the same page


@pytest.mark.parametrize("client", [ELSEWHERE, None], ids=["remote", "no-browser-session"])
def test_not_offered_to_any_other_address(city, monkeypatch, client) -> None:
    if client is not None:
        _browser(monkeypatch, client)
    # None: AppTest's own st.context, which has no address and no headers, as a script would.
    at = _open()
    assert not _keys(at), "no form, no login"
    assert translate("first_run.remote") in [w.value for w in at.warning]
    assert [c.value for c in at.code] == [fr.CLI_COMMAND]


def test_login_page_once_an_account_exists(city, monkeypatch) -> None:
    _browser(monkeypatch, ON_THE_SERVER)
    with city.begin() as conn:
        create_user(conn, "park", "lead", PASSWORD, clock.now(), cli_principal())
    at = _open()
    assert at.title[0].value == translate("auth.title")
    assert LOGIN_FIELD in _keys(at)
    assert fr.FIRST_USERNAME not in _keys(at)


@pytest.mark.parametrize(
    ("username", "password", "again", "message"),
    [
        ("admin", "short", "short", "users_admin.err_password_rule"),
        ("admin", PASSWORD, PASSWORD + "!", "users_admin.err_password_mismatch"),
        ("-admin", PASSWORD, PASSWORD, "users_admin.err_username"),
    ],
)
def test_a_bad_name_or_password_writes_nothing(
    city, monkeypatch, username, password, again, message
) -> None:
    _browser(monkeypatch, ON_THE_SERVER)
    at = _submit(_open(), username, password, again)
    shown = [e.value for e in at.error]
    assert translate(message, min=10, max=256) in shown
    assert at.text_input(key=fr.FIRST_PASSWORD).value == ""  # typed passwords are not kept
    assert _accounts(city) == [] and _audit(city) == []
    assert USER_KEY not in at.session_state


def test_creating_logs_in_and_points_to_the_roster_import(city, monkeypatch) -> None:
    _browser(monkeypatch, ON_THE_SERVER)
    at = _submit(_open(), "Admin", PASSWORD)
    assert _accounts(city) == [("admin", "admin")]
    assert _audit(city) == [
        ("system:first-run", "user_create", "admin"),
        ("admin", "login_success", "admin"),
    ]
    assert at.session_state[USER_KEY].role == "admin"
    shown = "\n".join(texts(at))
    assert translate("first_run.created", username="admin") in shown
    links = [link.proto.label for link in at.get("page_link")]
    assert translate("first_run.step_people") in links
    assert translate("first_run.step_devices") in links
    at.button(key="first_run_dismiss").click().run()
    assert not at.get("page_link")
    # Gone for good: a new browser on the server itself now gets the login page.
    again = _open()
    assert LOGIN_FIELD in _keys(again) and fr.FIRST_USERNAME not in _keys(again)


def test_a_submit_after_someone_else_was_quicker_creates_nothing(city, monkeypatch) -> None:
    _browser(monkeypatch, ON_THE_SERVER)
    at = _open()  # the form is on screen...
    with city.begin() as conn:  # ...when the command line creates the first account
        create_user(conn, "park", "admin", PASSWORD, clock.now(), cli_principal())
    at = _submit(at, "admin", PASSWORD)
    assert _accounts(city) == [("park", "admin")]
    assert [a for _, a, _ in _audit(city)] == ["user_create"]
    assert USER_KEY not in at.session_state
    assert translate("first_run.closed") in [w.value for w in at.warning]
    assert LOGIN_FIELD in _keys(at)


def test_a_new_city_only_through_the_app_reaches_the_live_page(city, monkeypatch) -> None:
    """Empty database → first administrator → vendor key → people and devices imported on
    their pages → a team lead → the lead's live page lists the city's own devices."""
    _browser(monkeypatch, ON_THE_SERVER)
    admin = _submit(_open(), "admin", PASSWORD)

    admin.switch_page("../pages/users.py").run()
    admin.text_input(key=ua.KEY_VENDOR).input("acme")
    admin.button(key=ua.KEY_CREATE).click().run()
    key = admin.code[0].value
    assert key.startswith("anbu_")

    for page, kind, rows in (
        ("people", PEOPLE, [person(n) for n in (1, 2)]),
        ("devices", DEVICES, [device(n) for n in (1, 2)]),
    ):
        admin.switch_page(f"../pages/{page}.py").run()
        admin.file_uploader[0].set_value((f"{page}.csv", roster_csv(kind, rows), "text/csv"))
        admin.run()
        admin.button(key=f"roster_{page}_confirm").click().run()
        assert not admin.exception, [e.value for e in admin.exception]
        assert admin.success, f"{page}: {[e.value for e in admin.error]}"

    admin.switch_page("../pages/users.py").run()
    admin.text_input(key=ua.ADD_USERNAME).input("kim")
    admin.selectbox(key=ua.ADD_ROLE).set_value("lead")
    admin.text_input(key=ua.ADD_PASSWORD).input(PASSWORD)
    admin.text_input(key=ua.ADD_PASSWORD2).input(PASSWORD)
    admin.button(key=ua.ADD_SUBMIT).click().run()
    assert sorted(_accounts(city)) == [("admin", "admin"), ("kim", "lead")]

    now = clock.now()
    with city.begin() as conn:  # the vendor's first event, with the key the admin made
        event = {"event_id": "e-1", "device_id": "PLUG-0001", "type": "power", "watts": 40}
        event["ts"] = (now - timedelta(minutes=2)).isoformat()
        assert ingest_events(conn, "acme", [event], now=now).accepted == 1

    lead = _open()
    lead.text_input(key=LOGIN_FIELD).input("kim")
    lead.text_input(key="anbu_login_password").input(PASSWORD)
    lead.button[0].click().run()
    lead.switch_page("../pages/live.py").run()
    assert not lead.exception, [e.value for e in lead.exception]
    shown = "\n".join(texts(lead))
    assert "스마트안부확인서비스" in shown  # the program of the imported devices
    assert "사직동" in shown  # their dong
    assert "PLUG-0002" in shown  # never reported: on the silent list
    assert "시험2" not in shown  # names stay masked on the wall screen
