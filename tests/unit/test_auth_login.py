"""Accounts, login, lockout, demo accounts and the audit trail, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from argon2 import PasswordHasher
from sqlalchemy import select

from dashboard.auth import AuthPolicy, AuthStatus, authenticate, cli_principal, sync_demo_accounts
from dashboard.auth import passwords as passwords_module
from dashboard.auth.users import (
    UserError,
    create_user,
    get_user,
    list_users,
    set_active,
    set_password,
    unlock_user,
)
from dashboard.catalog import load_catalog
from dashboard.db.schema import AuditLog

NOW = datetime(2024, 11, 29, 9, 0, tzinfo=UTC)
CLI = cli_principal()
POLICY = AuthPolicy(max_failures=5, lockout=timedelta(minutes=15), demo=False)
DEMO = AuthPolicy(demo=True)
PASSWORD = "correct horse battery"
REAL = "198.51.100.20"  # the real user's desk


def _ip(i: int) -> str:
    """The i-th of many addresses (an attacker's botnet, or colleagues' desks)."""
    return f"203.0.113.{i}" if i < 256 else f"10.{i // 65536}.{i // 256 % 256}.{i % 256}"


@pytest.fixture(autouse=True)
def fast_hashing(monkeypatch):
    """Cheap Argon2 parameters: the tests check behaviour, not cost."""
    monkeypatch.setattr(
        passwords_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )


@pytest.fixture
def conn(db_engine):
    with db_engine.begin() as conn:
        load_catalog(conn)
        yield conn


def _audit(conn, action: str | None = None) -> list:
    stmt = select(AuditLog).order_by(AuditLog.id)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    return conn.execute(stmt).all()


def _add(conn, name="kim", role="operator", districts=("4128000000",)):
    return create_user(
        conn, name, role, PASSWORD, NOW, CLI, display_name="김관제", district_codes=districts
    )


def test_login_success_returns_a_session_user_without_the_hash(conn) -> None:
    _add(conn)
    result = authenticate(conn, " KIM ", PASSWORD, NOW, POLICY)
    assert result.ok and result.status is AuthStatus.OK
    assert result.user.username == "kim" and result.user.role == "operator"
    assert result.user.district_codes == ("4128000000",)
    assert not hasattr(result.user, "password_hash")
    assert [r.action for r in _audit(conn)] == ["user_create", "login_success"]
    stored = get_user(conn, "kim").password_hash
    assert stored.startswith("$argon2id$") and PASSWORD not in stored


def test_unknown_name_and_wrong_password_look_the_same(conn) -> None:
    _add(conn)
    wrong = authenticate(conn, "kim", "not the password", NOW, POLICY)
    unknown = authenticate(conn, "nobody", PASSWORD, NOW, POLICY)
    assert wrong == unknown
    assert (
        wrong.status is AuthStatus.BAD_CREDENTIALS and wrong.message_key == "auth.bad_credentials"
    )
    failures = _audit(conn, "login_failure")
    assert [r.entity_id for r in failures] == ["kim", "nobody"]
    assert all(PASSWORD not in str(r.detail) for r in _audit(conn))


def test_lockout_after_repeated_failures_then_expiry(conn) -> None:
    _add(conn)
    # Failures from five different addresses: the account lock (one address is throttled).
    results = [
        authenticate(conn, "kim", f"guess {i}", NOW + timedelta(seconds=i), POLICY, _ip(i))
        for i in range(5)
    ]
    assert [r.status for r in results[:4]] == [AuthStatus.BAD_CREDENTIALS] * 4
    until = NOW + timedelta(seconds=4) + POLICY.lockout
    assert results[4].status is AuthStatus.LOCKED and results[4].locked_until == until
    # While locked even the right password is refused, so guessing learns nothing.
    during = authenticate(conn, "kim", PASSWORD, until - timedelta(seconds=1), POLICY, REAL)
    assert during.status is AuthStatus.LOCKED and during.locked_until == until
    assert authenticate(conn, "kim", PASSWORD, until, POLICY, REAL).ok
    assert get_user(conn, "kim").failed_logins == 0
    assert [r.action for r in _audit(conn)][-3:] == ["lockout", "login_locked", "login_success"]


def test_success_resets_the_failure_count(conn) -> None:
    _add(conn)
    for i in range(4):
        authenticate(conn, "kim", "wrong password", NOW, POLICY, _ip(i))
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY, REAL).ok
    for i in range(4, 8):  # four more addresses: without the reset this would be eight
        assert authenticate(conn, "kim", "wrong password", NOW, POLICY, _ip(i)).status is (
            AuthStatus.BAD_CREDENTIALS
        )


def test_unknown_names_lock_out_like_real_ones(conn) -> None:
    _add(conn)
    real = [authenticate(conn, "kim", "x-guess", NOW, POLICY, _ip(i)).status for i in range(6)]
    fake = [
        authenticate(conn, "ghost", "x-guess", NOW, POLICY, _ip(10 + i)).status for i in range(6)
    ]
    assert real == fake == [AuthStatus.BAD_CREDENTIALS] * 4 + [AuthStatus.LOCKED] * 2
    later = NOW + POLICY.lockout
    assert authenticate(conn, "ghost", "x", later, POLICY, REAL).status is (
        AuthStatus.BAD_CREDENTIALS
    )
    # One address alone never locks a name, known or not: it is throttled the same way.
    one = [authenticate(conn, n, "x", later, POLICY, _ip(99)).status for n in ("kim", "ghost")]
    assert one == [AuthStatus.BAD_CREDENTIALS] * 2


def test_disabled_account_is_told_only_with_the_right_password(conn) -> None:
    _add(conn)
    set_active(conn, "kim", False, NOW, CLI)
    assert authenticate(conn, "kim", "wrong", NOW, POLICY).status is AuthStatus.BAD_CREDENTIALS
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY).status is AuthStatus.DISABLED
    set_active(conn, "kim", True, NOW, CLI)
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY).ok
    actions = [r.action for r in _audit(conn)]
    assert {"user_disable", "login_disabled", "user_enable"} <= set(actions)


def test_unlock_and_password_change(conn) -> None:
    _add(conn)
    for i in range(5):
        authenticate(conn, "kim", "wrong", NOW, POLICY, _ip(i))
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY, REAL).status is AuthStatus.LOCKED
    unlock_user(conn, "kim", NOW, CLI)
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY).ok
    set_password(conn, "kim", "a new long passphrase", NOW, CLI)
    assert not authenticate(conn, "kim", PASSWORD, NOW, POLICY).ok
    assert authenticate(conn, "kim", "a new long passphrase", NOW, POLICY).ok
    assert {"user_unlock", "user_password"} <= {r.action for r in _audit(conn)}


def test_old_hash_parameters_are_upgraded_at_login(conn, monkeypatch) -> None:
    _add(conn)
    old = get_user(conn, "kim").password_hash
    monkeypatch.setattr(
        passwords_module, "_hasher", PasswordHasher(time_cost=2, memory_cost=128, parallelism=1)
    )
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY).ok
    new = get_user(conn, "kim").password_hash
    assert new != old and "m=128,t=2" in new


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"name": "Bad Name!"}, "a username is"),
        ({"role": "root"}, "role must be one of"),
        ({"districts": ("9999000000",)}, "unknown region"),
        ({"districts": ("4128554000",)}, "not a 시·군·구"),
        ({"role": "council", "districts": ("4128000000",)}, "operators only"),
    ],
)
def test_create_user_refuses_bad_input(conn, kwargs, message) -> None:
    with pytest.raises(UserError, match=message):
        _add(conn, **kwargs)


def test_create_user_refuses_a_duplicate_and_a_weak_password(conn) -> None:
    _add(conn)
    with pytest.raises(UserError, match="exists"):
        _add(conn, name="KIM")
    with pytest.raises(ValueError, match="at least 10"):
        create_user(conn, "lee", "lead", "short", NOW, CLI)


def test_list_users(conn) -> None:
    _add(conn)
    create_user(conn, "park", "lead", PASSWORD, NOW, CLI)
    users = {u.username: u for u in list_users(conn)}
    assert users["park"].role == "lead" and users["park"].display_name == "park"
    assert users["kim"].district_codes == ("4128000000",) and users["kim"].active


def test_demo_accounts_exist_only_in_demo_mode(conn) -> None:
    created = sync_demo_accounts(conn, True, NOW)
    assert sorted(created.created) == ["admin", "council", "lead", "operator"]
    assert sync_demo_accounts(conn, True, NOW).created == []  # idempotent
    for role in ("operator", "lead", "council", "admin"):
        result = authenticate(conn, role, "anbu-demo", NOW, DEMO)
        assert result.ok and result.user.role == role
    # Demo mode switched off, accounts still in the database: they cannot log in.
    for role in ("operator", "lead"):
        result = authenticate(conn, role, "anbu-demo", NOW, POLICY)
        assert result.status is AuthStatus.BAD_CREDENTIALS
    removed = sync_demo_accounts(conn, False, NOW)
    assert removed.removed == ["admin", "council", "lead", "operator"]
    assert list_users(conn) == []
    assert authenticate(conn, "admin", "anbu-demo", NOW, POLICY).status is (
        AuthStatus.BAD_CREDENTIALS
    )
    assert len(_audit(conn, "user_delete")) == 4


def test_demo_sync_never_touches_a_real_account_with_a_demo_name(conn) -> None:
    create_user(conn, "lead", "lead", PASSWORD, NOW, CLI)
    assert "lead" not in sync_demo_accounts(conn, True, NOW).created
    sync_demo_accounts(conn, False, NOW)
    assert authenticate(conn, "lead", PASSWORD, NOW, POLICY).ok
    assert not authenticate(conn, "lead", "anbu-demo", NOW, DEMO).ok


def test_demo_operator_sees_goyang_only(conn) -> None:
    from dashboard.auth import can_see_personal_data

    sync_demo_accounts(conn, True, NOW)
    user = authenticate(conn, "operator", "anbu-demo", NOW, DEMO).user
    assert can_see_personal_data(user, "4128554000")  # 일산동구
    assert not can_see_personal_data(user, "3023051000")  # 대덕구 오정동


def test_start_up_outside_demo_mode_removes_demo_accounts(sqlite_url) -> None:
    """``ensure_database`` (every app start) syncs the demo accounts with the mode."""
    from dashboard.bootstrap import ensure_database
    from dashboard.db import migrate
    from dashboard.db.engine import make_engine
    from dashboard.settings import Settings

    engine = make_engine(sqlite_url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        load_catalog(conn)
        sync_demo_accounts(conn, True, NOW)
        create_user(conn, "kim", "lead", PASSWORD, NOW, CLI)
    ensure_database(engine, Settings(database_url=sqlite_url, demo=False))
    with engine.begin() as conn:
        assert [u.username for u in list_users(conn)] == ["kim"]
        assert authenticate(conn, "operator", "anbu-demo", NOW, DEMO).status is (
            AuthStatus.BAD_CREDENTIALS
        )
    engine.dispose()


# --- per-client throttling (an injected clock: ``now`` is passed to every call) ---------------

STRANGER = "203.0.113.66"


def _throttle_audit(conn, action: str) -> list:
    return [r for r in _audit(conn, action) if (r.detail or {}).get("client") == STRANGER]


def test_a_strangers_failures_do_not_stop_the_real_user(conn) -> None:
    _add(conn)
    at = NOW
    statuses = []
    for i in range(50):  # one guess every 20 s for almost 17 minutes, from one address
        at = NOW + timedelta(seconds=20 * i)
        statuses.append(authenticate(conn, "kim", f"guess {i}", at, POLICY, STRANGER).status)
    assert set(statuses) == {AuthStatus.BAD_CREDENTIALS, AuthStatus.THROTTLED}
    assert statuses[:4] == [AuthStatus.BAD_CREDENTIALS] * 4
    assert statuses[4] is AuthStatus.THROTTLED  # the fifth failure starts the wait
    # Refused attempts are neither counted nor checked: far fewer than 50 real guesses.
    assert len(_throttle_audit(conn, "login_failure")) < 12
    assert len(_throttle_audit(conn, "login_throttled")) > 35
    assert _audit(conn, "lockout") == []
    result = authenticate(conn, "kim", PASSWORD, at + timedelta(seconds=1), POLICY, REAL)
    assert result.ok and result.user.username == "kim"
    assert get_user(conn, "kim").locked_until is None


def test_throttled_address_waits_longer_each_time_then_not_at_all(conn) -> None:
    _add(conn)
    for _ in range(4):
        assert authenticate(conn, "kim", "wrong", NOW, POLICY, STRANGER).status is (
            AuthStatus.BAD_CREDENTIALS
        )
    waits = []
    at = NOW
    for _ in range(8):
        result = authenticate(conn, "kim", "wrong", at, POLICY, STRANGER)
        assert result.status is AuthStatus.THROTTLED
        waits.append(int((result.locked_until - at).total_seconds()))
        # Just before the end even the right password is refused, unchecked and not counted.
        early = authenticate(conn, "kim", PASSWORD, result.locked_until - timedelta(seconds=1),
                             POLICY, STRANGER)  # fmt: skip
        assert early.status is AuthStatus.THROTTLED and early.locked_until == result.locked_until
        at = result.locked_until
    assert waits == [30, 60, 120, 240, 480, 900, 900, 900]  # doubling, capped at 15 min
    # Once the wait is over the address may try again: the right password works.
    assert authenticate(conn, "kim", PASSWORD, at, POLICY, STRANGER).ok
    # After an hour without failures the address starts afresh.
    later = at + timedelta(hours=1, seconds=1)
    assert authenticate(conn, "kim", "wrong", later, POLICY, STRANGER).status is (
        AuthStatus.BAD_CREDENTIALS
    )
    assert _audit(conn, "lockout") == []


def test_throttling_counts_every_name_tried_from_an_address(conn) -> None:
    _add(conn)
    names = ["kim", "lee", "park", "choi", "jung"]  # password spraying over names
    statuses = [authenticate(conn, n, "Winter2024!", NOW, POLICY, STRANGER).status for n in names]
    assert statuses == [AuthStatus.BAD_CREDENTIALS] * 4 + [AuthStatus.THROTTLED]
    refused = authenticate(conn, "kim", PASSWORD, NOW, POLICY, STRANGER)
    assert refused.status is AuthStatus.THROTTLED
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY, REAL).ok


def test_attacker_spread_over_addresses_still_meets_the_account_lock(conn) -> None:
    """The trade-off: enough different addresses can lock an account (the real user waits for
    the lockout or an unlock), but never one address alone."""
    _add(conn)
    statuses = [
        authenticate(conn, "kim", "guess", NOW + timedelta(seconds=i), POLICY, _ip(300 + i)).status
        for i in range(5)
    ]
    assert statuses == [AuthStatus.BAD_CREDENTIALS] * 4 + [AuthStatus.LOCKED]
    assert authenticate(conn, "kim", PASSWORD, NOW + timedelta(minutes=1), POLICY, REAL).status is (
        AuthStatus.LOCKED
    )
    assert authenticate(conn, "kim", PASSWORD, NOW + timedelta(minutes=16), POLICY, REAL).ok


def test_attempts_without_an_address_are_one_client(conn) -> None:
    _add(conn)
    for _ in range(4):
        authenticate(conn, "kim", "wrong", NOW, POLICY)
    assert authenticate(conn, "kim", "wrong", NOW, POLICY, "").status is AuthStatus.THROTTLED
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY, None).status is AuthStatus.THROTTLED
    assert {r.detail["client"] for r in _audit(conn, "login_failure")} == {"unknown"}
    assert authenticate(conn, "kim", PASSWORD, NOW, POLICY, REAL).ok


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("198.51.100.20", "198.51.100.20"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),  # one subscriber's block is one client
        ("2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.20", "198.51.100.20"),
        (None, "unknown"),
        ("", "unknown"),
        ("not an address", "unknown"),
    ],
)
def test_client_key(address, key) -> None:
    from dashboard.auth.throttle import client_key

    assert client_key(address) == key


def test_client_delay_is_capped_without_overflow() -> None:
    from dashboard.auth.throttle import client_delay

    assert client_delay(4, POLICY) is None
    assert client_delay(5, POLICY) == timedelta(seconds=30)
    assert client_delay(10_000, POLICY) == POLICY.client_max_delay


@pytest.mark.parametrize("typed", ["kim\x00", "\x00", "k\x1bim", "kim\ud800"])
def test_a_name_with_control_codes_is_a_failed_login_not_an_error(conn, typed) -> None:
    """Anyone can type into the login form: a NUL made PostgreSQL fail the lookup (an internal
    error before login). It is an unknown name like any other, audited under a storable name."""
    _add(conn)
    result = authenticate(conn, typed, PASSWORD, NOW, POLICY, client=_ip(1))
    assert result.status is AuthStatus.BAD_CREDENTIALS
    failure = _audit(conn, "login_failure")[-1]
    assert failure.entity_id == failure.actor and "\x00" not in failure.entity_id
    assert failure.detail["known"] is False
    again = authenticate(conn, typed, PASSWORD, NOW, POLICY, client=_ip(2))
    assert again.status is AuthStatus.BAD_CREDENTIALS
    assert _audit(conn, "login_failure")[-1].detail["failures"] == 2  # counted as one name


def test_a_display_name_with_control_codes_is_refused_not_stored(conn) -> None:
    with pytest.raises(UserError, match="control codes"):
        create_user(conn, "lee", "operator", PASSWORD, NOW, CLI, display_name="이\x00관제")
    assert get_user(conn, "lee") is None


def test_an_unknown_user_is_checked_against_a_hash_of_the_hasher_in_use(monkeypatch) -> None:
    """The dummy hash an unknown username is verified against is made lazily (not at import)
    and by the hasher in use: a hash of other parameters would cost a miss another time."""
    for params in ((1, 64), (2, 128)):
        cheap = PasswordHasher(time_cost=params[0], memory_cost=params[1], parallelism=1)
        monkeypatch.setattr(passwords_module, "_hasher", cheap)
        dummy = passwords_module._dummy_hash()
        assert f"m={params[1]},t={params[0]}" in dummy
        assert not passwords_module.verify_password(None, "any password at all")


@pytest.mark.parametrize("name", ["kim", "ghost"])
def test_parallel_guesses_from_one_address_still_meet_the_throttle(
    db_engine, monkeypatch, name
) -> None:
    """Twenty browser tabs submitting at once: each attempt read the address's failures before
    any other had written its own, so all twenty got a password check (18 of 20 on the demo
    city) where the throttle allows five. Attempts from one address now take turns."""
    import threading
    import time

    from dashboard.auth import login as login_module

    with db_engine.begin() as conn:
        load_catalog(conn)
        _add(conn)
    checks = []
    real_verify = login_module.verify_password

    def slow_verify(password_hash, password):  # Argon2's real cost: the race's window
        checks.append(password)
        time.sleep(0.05)
        return real_verify(password_hash, password)

    monkeypatch.setattr(login_module, "verify_password", slow_verify)
    attempts = 20
    start = threading.Barrier(attempts)
    statuses, errors = [], []

    def guess(i: int) -> None:
        start.wait()
        try:
            with db_engine.begin() as conn:
                statuses.append(authenticate(conn, name, f"guess {i}", NOW, POLICY, REAL).status)
        except Exception as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(statuses) == attempts
    assert len(checks) == POLICY.client_max_failures, len(checks)
    with db_engine.connect() as conn:
        assert len(_audit(conn, "login_failure")) == POLICY.client_max_failures
        assert len(_audit(conn, "login_throttled")) == attempts - POLICY.client_max_failures


def test_failures_written_after_an_attempts_clock_reading_still_count(conn) -> None:
    """A browser's attempt reads the clock when its form is sent and then waits its turn
    (``_take_turns``); attempts sent a moment later may be judged first and write failures
    stamped after its ``now``. The throttle read only failures up to ``now``, so in a burst
    of ten tabs nine got a password check: the waiting ones saw none of the others'."""
    _add(conn)
    statuses = [
        authenticate(
            conn, "kim", f"guess {i}", NOW - timedelta(milliseconds=i), POLICY, REAL
        ).status
        for i in range(10)
    ]
    assert len(_audit(conn, "login_failure")) == POLICY.client_max_failures
    assert statuses[POLICY.client_max_failures :] == [AuthStatus.THROTTLED] * 5
