"""``python -m dashboard users …``: add, list, disable, enable, unlock, passwd."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher

from dashboard import cli
from dashboard.auth import AuthPolicy, AuthStatus, authenticate
from dashboard.auth import passwords as passwords_module
from dashboard.catalog import load_catalog
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.settings import get_settings

POLICY = AuthPolicy()


@pytest.fixture
def engine(tmp_path, monkeypatch):
    monkeypatch.setattr(
        passwords_module, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    )
    url = f"sqlite:///{tmp_path / 'users.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    migrate.upgrade(engine)
    with engine.begin() as conn:
        load_catalog(conn)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def _stdin(monkeypatch, text: str) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(text))


def _login(engine, name: str, password: str, client: str = "198.51.100.20") -> AuthStatus:
    # Real time: `users list` shows a lock against the clock.
    with engine.begin() as conn:
        return authenticate(conn, name, password, datetime.now(UTC), POLICY, client).status


def test_add_with_password_stdin_then_login(engine, monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "correct horse battery\n")
    argv = ["users", "add", "Kim", "--role", "operator", "--district", "4128000000"]
    assert cli.main([*argv, "--display-name", "김관제", "--password-stdin"]) == 0
    assert "created operator kim" in capsys.readouterr().out
    assert _login(engine, "kim", "correct horse battery") is AuthStatus.OK
    assert cli.main(["users", "list"]) == 0
    out = capsys.readouterr().out
    assert "kim" in out and "4128000000" in out and "김관제" in out and "active" in out


def test_add_prompts_twice_and_refuses_a_mismatch(engine, monkeypatch, capsys) -> None:
    answers = iter(["correct horse battery", "correct horse batterY"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    assert cli.main(["users", "add", "lee", "--role", "lead"]) == 2
    assert "differ" in capsys.readouterr().err
    answers = iter(["correct horse battery"] * 2)
    assert cli.main(["users", "add", "lee", "--role", "lead"]) == 0
    assert _login(engine, "lee", "correct horse battery") is AuthStatus.OK


@pytest.mark.parametrize(
    ("argv", "password", "message"),
    [
        (["--role", "operator", "--district", "1"], "correct horse battery", "unknown region"),
        (["--role", "lead"], "short", "at least 10"),
    ],
)
def test_add_errors_are_one_line(engine, monkeypatch, capsys, argv, password, message) -> None:
    _stdin(monkeypatch, password + "\n")
    assert cli.main(["users", "add", "kim", *argv, "--password-stdin"]) == 2
    assert message in capsys.readouterr().err


def test_disable_enable_unlock_passwd(engine, monkeypatch, capsys) -> None:
    _stdin(monkeypatch, "correct horse battery\n")
    assert cli.main(["users", "add", "kim", "--role", "council", "--password-stdin"]) == 0
    assert cli.main(["users", "disable", "kim"]) == 0
    assert _login(engine, "kim", "correct horse battery") is AuthStatus.DISABLED
    assert cli.main(["users", "enable", "kim"]) == 0
    for i in range(5):  # from five addresses: one address alone is only throttled
        _login(engine, "kim", "wrong", client=f"203.0.113.{i}")
    assert _login(engine, "kim", "correct horse battery") is AuthStatus.LOCKED
    cli.main(["users", "list"])
    assert "locked" in capsys.readouterr().out
    assert cli.main(["users", "unlock", "kim"]) == 0
    assert _login(engine, "kim", "correct horse battery") is AuthStatus.OK
    _stdin(monkeypatch, "another long passphrase\n")
    assert cli.main(["users", "passwd", "kim", "--password-stdin"]) == 0
    assert _login(engine, "kim", "another long passphrase") is AuthStatus.OK
    assert cli.main(["users", "disable", "nobody"]) == 2
    assert "no user 'nobody'" in capsys.readouterr().err


def test_add_without_a_terminal_or_stdin_says_how(engine, monkeypatch, capsys) -> None:
    """Run from a script with nothing to read (no terminal, no --password-stdin), getpass hit
    end of input and the command died with an EOFError traceback."""

    def no_input(prompt=""):
        raise EOFError

    monkeypatch.setattr("getpass.getpass", no_input)
    assert cli.main(["users", "add", "lee", "--role", "lead"]) == 2
    assert "--password-stdin" in capsys.readouterr().err


def test_users_on_a_database_without_tables_names_db_upgrade(tmp_path, monkeypatch, capsys):
    """It said `init`, which a server database refuses (only `db upgrade` migrates one)."""
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    try:
        _stdin(monkeypatch, "correct horse battery\n")
        assert cli.main(["users", "add", "kim", "--role", "admin", "--password-stdin"]) == 2
        assert "python -m dashboard db upgrade" in capsys.readouterr().err
    finally:
        get_settings.cache_clear()
