"""The command line audits exactly like the pages: the same domain functions, the same audit
action names and entities, only the actor differs (``cli:<os user>`` against the page's user).
"""

from __future__ import annotations

import io

from sqlalchemy import Engine, func, select

from dashboard import cli
from dashboard.auth import cli_principal
from dashboard.db.schema import AuditLog
from dashboard.ingest.apikeys import list_keys
from dashboard.ui import users_admin as ua
from tests.apptest.conftest import private_copy
from tests.apptest.test_import import VENDOR, _csv, _import, _rows
from tests.apptest.test_import import _open as open_import
from tests.apptest.test_users_page import _add
from tests.apptest.test_users_page import _open as open_users

PASSWORD = "correct-horse-42"
# What both sides must write, in order: add and disable an account, create and revoke a key,
# import a file.
EXPECTED = [
    ("user_create", "user"),
    ("user_disable", "user"),
    ("api_key_create", "api_key"),
    ("api_key_revoke", "api_key"),
    ("import_events", "event_import"),
]


def _audit(engine: Engine, actor: str, after: int) -> list[tuple[str, str]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.action, AuditLog.entity_type)
            .where(AuditLog.actor == actor, AuditLog.id > after)
            .order_by(AuditLog.id)
        )
        return [tuple(r) for r in rows]


def _page(engine: Engine) -> None:
    at = _add(open_users("admin"), "pageuser", "council", PASSWORD)
    at.selectbox(key=ua.TARGET).set_value("pageuser").run()
    at.button(key=ua.TOGGLE).click().run()
    at.text_input(key=ua.KEY_VENDOR).input("pagevendor")
    at.button(key=ua.KEY_CREATE).click().run()
    with engine.connect() as conn:
        (prefix,) = [k.prefix for k in list_keys(conn) if k.vendor == "pagevendor"]
    at.selectbox(key=ua.KEY_REVOKE_TARGET).set_value(prefix).run()
    at.checkbox(key=ua.KEY_REVOKE_CONFIRM).check().run()
    at.button(key=ua.KEY_REVOKE).click().run()
    assert not at.exception, [e.value for e in at.exception]
    _import(open_import(role="admin"), "page.csv", _csv(_rows(engine, "audit-page")))


def _cli(monkeypatch, capsys) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{PASSWORD}\n"))
    assert cli.main(["users", "add", "cliuser", "--role", "council", "--password-stdin"]) == 0
    assert cli.main(["users", "disable", "cliuser"]) == 0
    capsys.readouterr()
    assert cli.main(["apikey", "add", "clivendor"]) == 0
    prefix = capsys.readouterr().out.split("prefix:")[1].split()[0]
    assert cli.main(["apikey", "revoke", prefix]) == 0


def test_cli_writes_the_same_audit_as_the_pages(demo_db, tmp_path, monkeypatch, capsys) -> None:
    with private_copy(demo_db, tmp_path) as engine:
        with engine.connect() as conn:
            start = conn.scalar(select(func.max(AuditLog.id))) or 0
        _page(engine)
        _cli(monkeypatch, capsys)
        path = tmp_path / "cli.csv"
        path.write_bytes(_csv(_rows(engine, "audit-cli")))
        assert cli.main(["import-events", str(path), "--vendor", VENDOR]) == 0
        page = _audit(engine, "admin", start)
        command_line = _audit(engine, cli_principal().username, start)
    assert page == EXPECTED
    assert command_line == EXPECTED
