"""A callback runs before the page's gate re-reads the account: a session whose account was
disabled (or whose role changed) while its page was open must not act as its old self."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select, update
from streamlit.testing.v1 import AppTest

from dashboard.auth.users import get_user
from dashboard.db.schema import AuditLog, CareRecipient, User
from dashboard.ui import users_admin as ua
from dashboard.ui.person import purpose_key
from tests.apptest.conftest import APP, TIMEOUT, login_as, open_page, private_copy

PASSWORD = "correct-horse-42"


@pytest.fixture()
def db(demo_db: Engine, tmp_path) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path) as engine:
        yield engine


def _set(engine: Engine, username: str, **values) -> None:
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == username).values(**values))


def _open_users(role: str):
    at = open_page(role=role)
    at.switch_page("../pages/users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _fill_add(at, username: str, role: str) -> None:
    at.text_input(key=ua.ADD_USERNAME).input(username)
    at.selectbox(key=ua.ADD_ROLE).set_value(role)
    at.text_input(key=ua.ADD_PASSWORD).input(PASSWORD)
    at.text_input(key=ua.ADD_PASSWORD2).input(PASSWORD)


def test_disabled_lead_cannot_add_an_account_from_an_open_page(db: Engine) -> None:
    at = _open_users("lead")
    _fill_add(at, "backdoor", "lead")
    _set(db, "lead", active=False)  # an admin disables the lead while the page is open
    at.button(key=ua.ADD_SUBMIT).click().run()
    with db.connect() as conn:
        assert get_user(conn, "backdoor") is None


def test_disabled_lead_cannot_reset_a_password_from_an_open_page(db: Engine) -> None:
    at = _open_users("lead")
    at.selectbox(key=ua.TARGET).set_value("operator").run()
    at.text_input(key=ua.RESET_PASSWORD).input("taken-over-42")
    at.text_input(key=ua.RESET_PASSWORD2).input("taken-over-42")
    _set(db, "lead", active=False)
    at.button(key=ua.RESET_SUBMIT).click().run()
    with db.connect() as conn:
        changed = conn.scalar(
            select(func.count()).where(AuditLog.action == "user_password", AuditLog.actor == "lead")
        )
    assert changed == 0


def test_disabled_account_cannot_reveal_from_an_open_person_page(db: Engine) -> None:
    """The reveal writes its audit row in the callback: a disabled account reveals nothing."""
    with db.connect() as conn:
        ref = conn.scalar(
            select(CareRecipient.external_ref)
            .where(CareRecipient.ended_on.is_(None))
            .order_by(CareRecipient.external_ref)
            .limit(1)
        )
    at = login_as(AppTest.from_file(APP, default_timeout=TIMEOUT), "lead")
    at.query_params["person"] = ref
    at.run()
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    with db.connect() as conn:
        rid = conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))
    at.selectbox(key=purpose_key(rid)).set_value("care_check").run()
    _set(db, "lead", active=False)
    at.button(key="people_reveal").click().run()
    with db.connect() as conn:
        reveals = conn.scalar(
            select(func.count()).where(
                AuditLog.action == "reveal_personal_data",
                AuditLog.actor == "lead",
            )
        )
    assert reveals == 0


def _fragment_probe() -> None:
    """What a live fragment's timer run does first; the count shows whether it asked for a
    full run (which the gate then ends or redraws)."""
    import streamlit as st

    from dashboard.ui.auth import check_session

    st.session_state["runs"] = st.session_state.get("runs", 0) + 1
    if st.session_state["runs"] == 1:
        check_session()
    st.text(f"runs={st.session_state['runs']}")


def _tick(at: AppTest) -> int:
    at.session_state["runs"] = 0
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return int(at.text[0].value.split("=")[1])


@pytest.mark.parametrize(
    "change",
    [
        {"active": False},  # disabled: the wall screen went on showing alerts and positions
        {"district_codes": ["1100000000"]},  # moved to Seoul: still streaming 고양시
        {"password_hash": "reset"},  # its password reset
    ],
    ids=["disabled", "districts", "password"],
)
def test_a_live_fragment_notices_a_changed_account(db: Engine, change: dict) -> None:
    """Timer reruns skip the gate: an operator's wall screen kept streaming its old districts'
    alerts and positions after the account was disabled or moved, until the idle timeout."""
    from dashboard.auth import sync_demo_accounts
    from dashboard.auth.users import password_stamp
    from dashboard.ui.auth import STAMP_KEY

    at = login_as(AppTest.from_function(_fragment_probe, default_timeout=TIMEOUT), "operator")
    with db.begin() as conn:
        sync_demo_accounts(conn, True, datetime.now(UTC))  # the app makes them at its start
        at.session_state[STAMP_KEY] = password_stamp(get_user(conn, "operator").password_hash)
    assert _tick(at) == 1  # nothing changed: the fragment goes on
    _set(db, "operator", **change)
    assert _tick(at) == 2  # a full run: the gate ends the session or draws the new scope
