"""The permission matrix, session timeout and password rule: pure functions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dashboard.auth import (
    ACTIONS,
    PAGES,
    ROLES,
    AuthPolicy,
    SessionUser,
    allowed_pages,
    can,
    can_open,
    can_see_personal_data,
    default_page,
    personal_data_scope,
    session_expired,
)
from dashboard.auth.passwords import WeakPasswordError, check_password_rule

NOW = datetime(2024, 11, 29, 9, 0, tzinfo=UTC)
PERSONAL_PAGES = {"live", "alerts", "wandering"}


def test_operator_pages_and_actions() -> None:
    assert allowed_pages("operator") == [
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
        "people",
        "devices",
    ]
    for action in ("acknowledge", "ai_recall", "emergency_119", "close", "reveal_personal_data"):
        assert can("operator", action)
    for action in ("export", "edit_thresholds", "manage_users", "manage_api_keys"):
        assert not can("operator", action)


def test_lead_can_everything_an_operator_can_and_more() -> None:
    assert set(allowed_pages("operator")) < set(allowed_pages("lead"))
    for action in ACTIONS:
        if can("operator", action):
            assert can("lead", action), action
    for action in ("export", "edit_thresholds", "manage_users"):
        assert can("lead", action)
    assert not can("lead", "manage_api_keys")


def test_council_sees_aggregates_only_and_never_acts() -> None:
    assert default_page("council") == "briefing"
    assert not PERSONAL_PAGES & set(allowed_pages("council"))
    assert not any(can("council", a) for a in ACTIONS)
    assert not can_open("council", "alerts")
    # The roster pages list people (masked for operators, without names for admins): never.
    assert not {"people", "devices"} & set(allowed_pages("council"))


def test_admin_runs_the_system_without_personal_data() -> None:
    assert {"users", "settings", "import"} <= set(allowed_pages("admin"))
    assert not PERSONAL_PAGES & set(allowed_pages("admin"))
    assert can("admin", "manage_api_keys") and can("admin", "manage_users")
    assert not can("admin", "reveal_personal_data") and not can("admin", "acknowledge")


def test_only_operators_and_leads_may_reveal_personal_data() -> None:
    assert {r for r in ROLES if can(r, "reveal_personal_data")} == {"operator", "lead"}


def test_unknown_role_gets_nothing_and_unknown_action_is_an_error() -> None:
    assert allowed_pages("root") == [] and default_page("root") is None
    assert not can("root", "acknowledge")
    with pytest.raises(ValueError, match="unknown action"):
        can("lead", "acknowlege")


def test_every_role_has_a_default_page_in_its_list() -> None:
    for role in ROLES:
        assert default_page(role) in allowed_pages(role)
        assert set(allowed_pages(role)) <= set(PAGES)


def _user(role: str, *districts: str) -> SessionUser:
    return SessionUser(role, role, role, tuple(districts))


def test_personal_data_by_role_and_district() -> None:
    goyang_dong = "4128554000"  # a dong of 일산동구, 고양시
    seoul_dong = "1111051500"
    operator = _user("operator", "4128000000")
    assert can_see_personal_data(operator, goyang_dong)
    assert not can_see_personal_data(operator, seoul_dong)
    assert not can_see_personal_data(operator, None)
    assert not can_see_personal_data(_user("operator"), goyang_dong)
    assert can_see_personal_data(_user("lead"), seoul_dong)
    assert not can_see_personal_data(_user("council"), goyang_dong)
    assert not can_see_personal_data(_user("admin"), goyang_dong)
    assert personal_data_scope(_user("lead")) is None
    assert personal_data_scope(_user("council")) == ()
    assert personal_data_scope(operator) == ("4128000000",)


def test_session_expires_after_idle_timeout() -> None:
    policy = AuthPolicy(idle_timeout=timedelta(minutes=30))
    assert not session_expired(NOW, NOW, policy)
    assert not session_expired(NOW - timedelta(minutes=29, seconds=59), NOW, policy)
    assert session_expired(NOW - timedelta(minutes=30), NOW, policy)
    assert session_expired(None, NOW, policy)
    assert not session_expired(NOW + timedelta(minutes=5), NOW, policy)  # clock went back


def test_policy_from_settings(monkeypatch) -> None:
    from dashboard.settings import Settings

    monkeypatch.setenv("ANBU_AUTH_MAX_FAILURES", "3")
    monkeypatch.setenv("ANBU_AUTH_LOCKOUT_MINUTES", "60")
    monkeypatch.setenv("ANBU_SESSION_IDLE_MINUTES", "10")
    monkeypatch.setenv("ANBU_DEMO", "false")
    policy = AuthPolicy.from_settings(Settings())
    assert policy == AuthPolicy(3, timedelta(minutes=60), timedelta(minutes=10), demo=False)


@pytest.mark.parametrize(
    ("password", "message"),
    [("short", "at least 10"), (" padded-password", "space"), ("x" * 300, "at most")],
)
def test_password_rule(password: str, message: str) -> None:
    with pytest.raises(WeakPasswordError, match=message):
        check_password_rule(password)
    check_password_rule("correct horse battery")


def test_only_admins_create_admins() -> None:
    from dashboard.auth import can_grant

    assert can_grant("admin", "admin") and can_grant("admin", "operator")
    assert can_grant("lead", "operator") and not can_grant("lead", "admin")
    assert not can_grant("operator", "operator") and not can_grant("council", "council")
