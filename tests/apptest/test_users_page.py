"""사용자 관리 page: leads and admins manage accounts (a lead never an admin); admins also create
and revoke vendor API keys, a new key shown once.

These tests write accounts and keys, so they run on a copy of the session database.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard.auth import authenticate
from dashboard.auth.users import get_user
from dashboard.db.schema import AuditLog
from dashboard.i18n import translate
from dashboard.ingest.apikeys import list_keys, vendor_for_key
from dashboard.settings import PROJECT_ROOT
from dashboard.ui import users_admin as ua
from tests.apptest.conftest import TIMEOUT, login_as, open_page, private_copy, texts

PASSWORD = "correct-horse-42"


@pytest.fixture(scope="module")
def users_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    """A copy of the session database, made the app's database for this module only."""
    with private_copy(demo_db, tmp_path_factory.mktemp("users")) as engine:
        yield engine


def _open(role: str = "lead", lang: str = "ko") -> AppTest:
    at = open_page(role=role, **({"lang": "en"} if lang == "en" else {}))
    at.switch_page("../pages/users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _login(engine: Engine, username: str, password: str):
    with engine.begin() as conn:
        return authenticate(conn, username, password, datetime.now(UTC))


def _add(at: AppTest, username: str, role: str, password: str, again: str | None = None, **kw):
    at.text_input(key=ua.ADD_USERNAME).input(username)
    at.text_input(key=ua.ADD_DISPLAY).input(kw.get("display", username.upper()))
    at.selectbox(key=ua.ADD_ROLE).set_value(role)
    if "districts" in kw:
        at.multiselect(key=ua.ADD_DISTRICTS).set_value(kw["districts"])
    at.text_input(key=ua.ADD_PASSWORD).input(password)
    at.text_input(key=ua.ADD_PASSWORD2).input(password if again is None else again)
    at.button(key=ua.ADD_SUBMIT).click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("role", ["lead", "admin"])
def test_lead_and_admin_see_the_page(users_db: Engine, role: str, lang: str) -> None:
    at = _open(role, lang)
    assert [t.value for t in at.title] == [translate("page.users", lang)]
    table = at.dataframe[0].value
    usernames = set(table[translate("users_admin.col_username", lang)])
    assert {"operator", "lead", "council", "admin"} <= usernames
    shown = "\n".join(texts(at))
    assert "argon2" not in shown and "$" not in shown  # never a hash
    tabs = [tab.label for tab in at.tabs]
    if role == "admin":
        assert translate("users_admin.tab_keys", lang) in tabs
    else:
        assert tabs == []
        assert translate("users_admin.key_create", lang) not in shown


@pytest.mark.parametrize("role", ["operator", "council"])
def test_operator_and_council_cannot_reach_it(users_db: Engine, role: str) -> None:
    at = open_page(role=role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/users.py")


@pytest.mark.parametrize("role", ["operator", "council"])
def test_page_rechecks_the_role(users_db: Engine, role: str) -> None:
    """Run directly (as a deep link without the entry script would), it stops the page."""
    at = AppTest.from_file(str(PROJECT_ROOT / "pages" / "users.py"), default_timeout=TIMEOUT)
    login_as(at, role).run()
    assert [e.value for e in at.error] == [translate("auth.forbidden")]
    assert not at.text_input and not at.button and not at.dataframe


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_add_user_is_listed_and_can_log_in(users_db: Engine, lang: str) -> None:
    name = f"kim-{lang}"
    at = _add(_open("lead", lang), name, "operator", PASSWORD, districts=["4128000000"])
    assert [s.value for s in at.success] == [translate("users_admin.added", lang, username=name)]
    assert not at.error
    table = at.dataframe[0].value
    assert name in set(table[translate("users_admin.col_username", lang)])
    assert at.text_input(key=ua.ADD_PASSWORD).value == ""  # never kept in the session
    result = _login(users_db, name, PASSWORD)
    assert result.ok and result.user.role == "operator"
    assert result.user.district_codes == ("4128000000",)
    with users_db.connect() as conn:
        actors = conn.scalars(
            select(AuditLog.actor).where(
                AuditLog.action == "user_create", AuditLog.entity_id == name
            )
        ).all()
    assert actors == ["lead"]


def test_lead_cannot_create_an_admin(users_db: Engine) -> None:
    admin = translate("auth.role.admin")
    at = _open("lead")
    assert admin not in at.selectbox(key=ua.ADD_ROLE).options
    assert admin in _open("admin").selectbox(key=ua.ADD_ROLE).options
    # Nor manage one: admin accounts are not offered for disabling or a password reset.
    assert not any(admin in o for o in at.selectbox(key=ua.TARGET).options)
    assert any(o.startswith("lead · ") for o in at.selectbox(key=ua.TARGET).options)
    # The add callback checks can_grant again; the list offered is the same rule.
    assert ua.grantable_roles("lead") == ["operator", "lead", "council"]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_mismatched_passwords_store_nothing(users_db: Engine, lang: str) -> None:
    name = f"typo-{lang}"
    at = _add(_open("admin", lang), name, "council", PASSWORD, again=PASSWORD + "x")
    assert [e.value for e in at.error] == [translate("users_admin.err_password_mismatch", lang)]
    assert not at.success
    with users_db.connect() as conn:
        assert get_user(conn, name) is None


def test_short_password_and_bad_username_are_named(users_db: Engine) -> None:
    at = _add(_open("lead"), "Bad Name!", "council", "short")
    errors = [e.value for e in at.error]
    assert translate("users_admin.err_username") in errors
    assert translate("users_admin.err_password_rule", min=10, max=256) in errors


def test_disabled_account_cannot_log_in(users_db: Engine) -> None:
    name = "park"
    at = _add(_open("lead"), name, "council", PASSWORD)
    assert _login(users_db, name, PASSWORD).ok
    at.selectbox(key=ua.TARGET).set_value(name).run()
    at.button(key=ua.TOGGLE).click().run()
    assert not at.exception
    assert [s.value for s in at.success] == [translate("users_admin.disabled", username=name)]
    result = _login(users_db, name, PASSWORD)
    assert not result.ok and result.message_key == "auth.disabled"
    at.button(key=ua.TOGGLE).click().run()  # enable again
    assert _login(users_db, name, PASSWORD).ok


def test_reset_password(users_db: Engine) -> None:
    name = "lee"
    at = _add(_open("admin"), name, "lead", PASSWORD)
    at.selectbox(key=ua.TARGET).set_value(name).run()
    at.text_input(key=ua.RESET_PASSWORD).input("another-secret-1")
    at.text_input(key=ua.RESET_PASSWORD2).input("another-secret-1")
    at.button(key=ua.RESET_SUBMIT).click().run()
    assert not at.exception
    assert not _login(users_db, name, PASSWORD).ok
    assert _login(users_db, name, "another-secret-1").ok


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_admin_creates_a_key_shown_once(users_db: Engine, lang: str) -> None:
    vendor = f"newvendor-{lang}"
    at = _open("admin", lang)
    at.text_input(key=ua.KEY_VENDOR).input(vendor)
    at.button(key=ua.KEY_CREATE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    codes = [c.value for c in at.code]
    assert len(codes) == 1 and codes[0].startswith("anbu_")
    key = codes[0]
    with users_db.connect() as conn:
        assert vendor_for_key(conn, key) == vendor
        (info,) = [k for k in list_keys(conn) if k.vendor == vendor]
    assert info.prefix in set(at.dataframe[-1].value[translate("users_admin.col_prefix", lang)])
    at.run()  # any later run: the key is gone from the page
    assert key not in "\n".join(texts(at))
    assert not at.code

    # Revoke with confirmation: the button stays disabled until confirmed.
    at.selectbox(key=ua.KEY_REVOKE_TARGET).set_value(info.prefix).run()
    assert at.button(key=ua.KEY_REVOKE).disabled
    at.checkbox(key=ua.KEY_REVOKE_CONFIRM).check().run()
    at.button(key=ua.KEY_REVOKE).click().run()
    assert not at.exception
    with users_db.connect() as conn:
        assert vendor_for_key(conn, key) is None
        actions = conn.scalars(
            select(AuditLog.action).where(AuditLog.entity_id == info.prefix)
        ).all()
    assert sorted(actions) == ["api_key_create", "api_key_revoke"]
