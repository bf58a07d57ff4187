"""The one-time first administrator: who counts as the server's own machine, the once-only rule
under racing submits, and that a refusal writes nothing (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from dashboard.audit import USER_ENTITY
from dashboard.auth import users
from dashboard.auth.first_run import (
    FIRST_RUN_PRINCIPAL,
    FORWARDING_HEADERS,
    FirstRunClosed,
    create_first_admin,
    first_run_open,
    has_accounts,
    is_local_client,
)
from dashboard.auth.passwords import WeakPasswordError, verify_password
from dashboard.auth.principal import cli_principal
from dashboard.db.schema import AuditLog, User

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
PASSWORD = "a long passphrase"
# What Chromium sends on the app's WebSocket when opened as http://localhost:8501.
BROWSER = [
    ("host", "localhost:8501"),
    ("origin", "http://localhost:8501"),
    ("user-agent", "Mozilla/5.0"),
    ("upgrade", "websocket"),
]
LOCAL = {"peer": "127.0.0.1", "headers": BROWSER}


def _with(headers: list[tuple[str, str]], **replace: str) -> list[tuple[str, str]]:
    out = [(k, replace.pop(k, v)) for k, v in headers]
    return out + list(replace.items())


@pytest.mark.parametrize(
    ("peer", "headers"),
    [
        ("127.0.0.1", BROWSER),
        ("::1", _with(BROWSER, host="[::1]:8501", origin="http://[::1]:8501")),
        ("127.0.0.1", _with(BROWSER, host="127.0.0.1:8501", origin="http://127.0.0.1:8501")),
        ("127.0.0.5", _with(BROWSER, host="127.0.0.5", origin="https://localhost")),
        ("::ffff:127.0.0.1", BROWSER),  # a dual-stack socket's IPv4 peer
    ],
)
def test_a_browser_on_the_server_is_local(peer, headers) -> None:
    assert is_local_client(peer, headers)


@pytest.mark.parametrize(
    ("peer", "headers", "why"),
    [
        ("192.0.2.7", BROWSER, "a peer elsewhere"),
        ("10.0.0.2", BROWSER, "a private address is still another machine"),
        ("172.17.0.1", BROWSER, "the Docker bridge: the browser is outside the container"),
        (None, BROWSER, "no peer"),
        ("127.0.0.1", [], "no handshake headers: no browser session (AppTest, scripts)"),
        ("127.0.0.1", _with(BROWSER, **{"x-forwarded-for": "127.0.0.1"}), "a proxy, even local"),
        ("127.0.0.1", _with(BROWSER, **{"X-Real-IP": "198.51.100.4"}), "nginx's X-Real-IP"),
        ("127.0.0.1", _with(BROWSER, forwarded="for=198.51.100.4"), "RFC 7239"),
        ("127.0.0.1", _with(BROWSER, via="1.1 proxy"), "Via"),
        ("127.0.0.1", _with(BROWSER, host="anbu.city.go.kr"), "a proxy passing the public Host"),
        ("127.0.0.1", _with(BROWSER, origin="https://anbu.city.go.kr"), "a remote page's origin"),
        ("127.0.0.1", _with(BROWSER, origin="null"), "an opaque origin"),
        ("127.0.0.1", [h for h in BROWSER if h[0] != "origin"], "no Origin: not a browser"),
        ("127.0.0.1", [h for h in BROWSER if h[0] != "host"], "no Host"),
        ("127.0.0.1", _with(BROWSER, host="localhost.evil.example"), "a look-alike name"),
        ("127.0.0.1", _with(BROWSER, origin="http://127.0.0.1.nip.io"), "a look-alike origin"),
        ("127.0.0.1", _with(BROWSER, origin="file://localhost"), "not a web origin"),
        ("127.0.0.1", [*BROWSER, ("host", "anbu.city.go.kr")], "a second Host header"),
        ("127.0.0.1", _with(BROWSER, host="localhost:99999999"), "a malformed port"),
        ("localhost", BROWSER, "a peer must be an address"),
    ],
)
def test_anything_else_is_not_local(peer, headers, why) -> None:
    assert not is_local_client(peer, headers), why


def _counts(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        return (
            conn.scalar(select(func.count()).select_from(User)),
            conn.scalar(select(func.count()).select_from(AuditLog)),
        )


def test_open_only_without_accounts_and_without_demo(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        assert first_run_open(conn, demo_enabled=False)
        assert not first_run_open(conn, demo_enabled=True)
        users.create_user(conn, "kim", "operator", PASSWORD, NOW, cli_principal())
        users.set_active(conn, "kim", False, NOW, cli_principal())
        # A disabled account still counts: the form is for a database that never had one.
        assert has_accounts(conn)
        assert not first_run_open(conn, demo_enabled=False)


def test_creates_an_audited_admin_once(db_engine: Engine) -> None:
    info = create_first_admin(db_engine, " Admin ", PASSWORD, NOW, **LOCAL)
    assert (info.username, info.role, info.is_demo) == ("admin", "admin", False)
    with db_engine.connect() as conn:
        row = users.get_user(conn, "admin")
        audit = conn.execute(select(AuditLog)).one()
    assert verify_password(row.password_hash, PASSWORD)
    assert (audit.actor, audit.action, audit.entity_type, audit.entity_id) == (
        FIRST_RUN_PRINCIPAL.username,
        "user_create",
        USER_ENTITY,
        "admin",
    )
    assert audit.actor == "system:first-run"
    assert audit.detail == {"role": "admin", "district_codes": [], "is_demo": False}

    with pytest.raises(FirstRunClosed) as refused:
        create_first_admin(db_engine, "other", PASSWORD, NOW, **LOCAL)
    assert refused.value.reason == "accounts_exist"
    assert _counts(db_engine) == (1, 1)


def test_closed_once_the_cli_made_an_account(db_engine: Engine) -> None:
    with db_engine.begin() as conn:
        users.create_user(conn, "park", "lead", PASSWORD, NOW, cli_principal())
    with pytest.raises(FirstRunClosed):
        create_first_admin(db_engine, "admin", PASSWORD, NOW, **LOCAL)
    assert _counts(db_engine) == (1, 1)


@pytest.mark.parametrize(
    ("username", "password", "error"),
    [
        ("admin", "short", WeakPasswordError),
        ("admin", " leading space!", WeakPasswordError),
        ("admin", "x" * 257, WeakPasswordError),
        ("-bad name", PASSWORD, users.UserError),
    ],
)
def test_a_bad_name_or_password_writes_nothing(db_engine, username, password, error) -> None:
    with pytest.raises(error):
        create_first_admin(db_engine, username, password, NOW, **LOCAL)
    assert _counts(db_engine) == (0, 0)
    with db_engine.connect() as conn:
        assert first_run_open(conn, demo_enabled=False)


def test_a_remote_client_is_refused_before_anything(db_engine: Engine) -> None:
    with pytest.raises(FirstRunClosed) as refused:
        create_first_admin(db_engine, "admin", PASSWORD, NOW, peer="192.0.2.7", headers=BROWSER)
    assert refused.value.reason == "not_local"
    assert _counts(db_engine) == (0, 0)


def test_two_racing_submits_create_one_admin(db_engine: Engine, monkeypatch) -> None:
    """Both submits pass every check before either writes, unless the table lock makes the
    second wait for the first: hashing is slowed so that without the lock both would insert."""
    real_hash = users.hash_password

    def slow_hash(password: str) -> str:
        time.sleep(0.4)
        return real_hash(password)

    monkeypatch.setattr(users, "hash_password", slow_hash)
    barrier = threading.Barrier(2)
    results: dict[str, object] = {}

    def submit(name: str) -> None:
        barrier.wait()
        try:
            results[name] = create_first_admin(db_engine, name, PASSWORD, NOW, **LOCAL)
        except Exception as exc:  # collected and asserted on below
            results[name] = exc

    threads = [threading.Thread(target=submit, args=(n,)) for n in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    refused = [r for r in results.values() if isinstance(r, FirstRunClosed)]
    created = [r for r in results.values() if isinstance(r, users.UserInfo)]
    assert len(created) == 1 and len(refused) == 1, results
    assert refused[0].reason == "accounts_exist"
    with db_engine.connect() as conn:
        names = conn.execute(select(User.username)).scalars().all()
        audited = conn.execute(select(AuditLog.entity_id)).scalars().all()
    assert names == audited == [created[0].username]


def test_the_rules_are_documented_as_the_code_has_them() -> None:
    from dashboard.settings import PROJECT_ROOT
    from dashboard.ui.first_run import CLI_COMMAND

    doc = (PROJECT_ROOT / "docs" / "access-control.md").read_text(encoding="utf-8")
    section = doc[doc.index("### The first account") : doc.index("### Demo accounts")]
    bullet = section[section.index("**no forwarding header at all**") :]
    bullet = bullet[: bullet.index("\n- ")]
    assert {h.lower() for h in re.findall(r"`([A-Za-z-]+)`", bullet)} == FORWARDING_HEADERS
    assert f"`{FIRST_RUN_PRINCIPAL.username}`" in section
    assert "BEGIN IMMEDIATE" in section and "SHARE ROW EXCLUSIVE" in section
    assert CLI_COMMAND in section
    assert CLI_COMMAND in (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
