"""``python -m dashboard privacy purge [--dry-run]`` on a configured SQLite database."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import select, update

from dashboard import cli
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, CareRecipient
from dashboard.settings import get_settings
from tests.unit.test_actions_support import add_person, seed


@pytest.fixture
def engine(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    monkeypatch.setenv("ANBU_PRIVACY_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    engine = make_engine(url)
    migrate.upgrade(engine)
    seed(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_dry_run_lists_then_the_run_pseudonymises(engine, capsys):
    with engine.begin() as conn:
        ended, _ = add_person(conn)
        active, _ = add_person(conn)
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == ended)
            .values(ended_on=date(2024, 1, 10), end_reason="moved")
        )
    assert cli.main(["privacy", "purge", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "would pseudonymise 1 ended enrollments" in out and "retention 30 days" in out
    with engine.connect() as conn:
        names = dict(conn.execute(select(CareRecipient.id, CareRecipient.pii_name)).all())
        assert conn.execute(select(AuditLog)).first() is None
    assert names == {ended: "김복순", active: "김복순"}

    assert cli.main(["privacy", "purge"]) == 0
    assert "pseudonymised 1 ended enrollments" in capsys.readouterr().out
    with engine.connect() as conn:
        names = dict(conn.execute(select(CareRecipient.id, CareRecipient.pii_name)).all())
        [entry] = conn.execute(select(AuditLog)).all()
    assert names == {ended: f"가명-{ended}", active: "김복순"}
    assert entry.action == "privacy_purge" and entry.actor.startswith("cli")
    assert cli.main(["privacy", "purge"]) == 0
    assert "pseudonymised 0 ended enrollments" in capsys.readouterr().out
