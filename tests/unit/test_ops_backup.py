"""``python -m dashboard backup``: an SQLite copy that restores every table, taken while ingest
writes, and the refusals that keep an existing file and the database itself safe."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from dashboard import cli
from dashboard.auth import cli_principal
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata
from dashboard.ingest.apikeys import create_key
from dashboard.ingest.core import ingest_events
from dashboard.settings import get_settings
from tests.ingest_support import VENDOR, seed_catalog
from tests.waiting import wait_until


@pytest.fixture
def city(tmp_path, monkeypatch) -> Path:
    """A configured SQLite database with a catalog, a key (audit) and ingested events."""
    path = tmp_path / "city.sqlite3"
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)  # as deployed: the restored copy must be at the same revision
    with engine.begin() as conn:
        seed_catalog(conn, extra_plugs=20)
        create_key(conn, VENDOR, principal=cli_principal(), now=datetime.now(UTC))
    ingest(engine, "seed", 200)
    engine.dispose()
    yield path
    get_settings.cache_clear()


def ingest(engine, prefix: str, count: int) -> None:
    now = datetime.now(UTC)
    events = [
        {
            "event_id": f"{prefix}-{i}",
            "device_id": f"bulk-{i % 20:05d}",
            "ts": (now - timedelta(minutes=count - i)).isoformat(),
            "type": "power",
            "watts": 40 + i % 7,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        result = ingest_events(conn, VENDOR, events, now=now)
    assert result.accepted == count, result.rejected[:3]


def counts(path: Path) -> dict[str, int]:
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: conn.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names
        }


def test_the_backup_restores_every_table(city, tmp_path, capsys):
    target = tmp_path / "backups" / "anbu-2026-12-02.sqlite3"
    target.parent.mkdir()
    assert cli.main(["backup", str(target)]) == 0
    assert f"backed up {city} to {target}" in capsys.readouterr().out
    source, copy = counts(city), counts(target)
    assert copy == source
    assert set(source) == set(metadata.tables) | {"alembic_version"}
    assert {"device_events", "device_daily", "device_state", "devices", "audit_log"} <= {
        name for name, rows in copy.items() if rows
    }
    with sqlite3.connect(target) as conn:  # one self-contained file, not a WAL database
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no leftovers

    # Restore: the copy, put where the app looks, is a current Anbu database.
    restored = tmp_path / "restored.sqlite3"
    restored.write_bytes(target.read_bytes())
    engine = make_engine(f"sqlite:///{restored}")
    assert migrate.current_revision(engine) == migrate.head_revision()
    assert not migrate.needs_upgrade(engine)
    engine.dispose()
    assert counts(restored) == source


def test_a_backup_taken_while_ingest_writes_is_one_consistent_snapshot(city, tmp_path):
    engine = make_engine(f"sqlite:///{city}")
    stop, batches, failures = threading.Event(), [], []

    def writer() -> None:
        try:
            while not stop.is_set():
                ingest(engine, f"live{len(batches)}", 50)
                batches.append(1)
        except Exception as exc:  # reported by the test below, not lost in the thread
            failures.append(exc)

    before = counts(city)
    thread = threading.Thread(target=writer)
    thread.start()
    try:
        assert wait_until(lambda: len(batches) >= 2 or failures, timeout=60), "writer idle"
        target = tmp_path / "live.sqlite3"
        assert cli.main(["backup", str(target)]) == 0
        written_during = len(batches)
        # The backup did not stop the writer: it goes on committing afterwards.
        assert wait_until(lambda: len(batches) >= written_during + 2 or failures, timeout=60)
    finally:
        stop.set()
        thread.join()
    engine.dispose()
    assert not failures, failures
    after, copy = counts(city), counts(target)
    assert before["device_events"] < copy["device_events"] < after["device_events"]
    for table in ("device_events", "device_daily", "device_state"):
        assert copy[table] >= before[table]
    for table, rows in copy.items():
        if table not in ("device_events", "device_daily", "device_state", "alerts"):
            assert rows == after[table], table  # untouched by the writer: identical
    with sqlite3.connect(target) as conn:
        # Events and rollups are written in one transaction per batch: a snapshot has both.
        rolled = conn.execute("SELECT sum(events) FROM device_daily").fetchone()[0]
        stored = conn.execute("SELECT count(*) FROM device_events").fetchone()[0]
        assert rolled == stored
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_an_existing_file_is_kept_unless_forced(city, tmp_path, capsys):
    target = tmp_path / "exists.sqlite3"
    target.write_bytes(b"yesterday's backup")
    assert cli.main(["backup", str(target)]) == 2
    assert "exists; choose another name or add --force" in capsys.readouterr().err
    assert target.read_bytes() == b"yesterday's backup"
    assert cli.main(["backup", str(target), "--force"]) == 0
    assert counts(target) == counts(city)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("missing-dir/backup.sqlite3", "no directory"),
        (".", "is a directory"),
        ("city.sqlite3", "exists; choose another name"),
    ],
)
def test_bad_targets_are_refused_without_writing(city, tmp_path, capsys, name, message):
    before = sorted(p.name for p in tmp_path.iterdir())
    assert cli.main(["backup", str(tmp_path / name)]) == 2
    assert message in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == before


def test_the_database_itself_is_refused_even_with_force(city, capsys):
    assert cli.main(["backup", str(city), "--force"]) == 2
    assert "is the database itself" in capsys.readouterr().err


def test_a_missing_database_is_not_created(tmp_path, monkeypatch, capsys):
    missing = tmp_path / "nothing-here.sqlite3"
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{missing}")
    get_settings.cache_clear()
    try:
        assert cli.main(["backup", str(tmp_path / "b.sqlite3")]) == 2
    finally:
        get_settings.cache_clear()
    assert f"no database file at {missing}" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_postgresql_gets_the_pg_dump_commands(tmp_path, monkeypatch, capsys):
    url = "postgresql+psycopg://anbu:s3cret@db.example:5432/anbu"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    get_settings.cache_clear()
    try:
        assert cli.main(["backup", str(tmp_path / "anbu.dump")]) == 3
    finally:
        get_settings.cache_clear()
    err = capsys.readouterr().err
    assert "pg_dump --format=custom" in err and "pg_restore" in err
    assert "postgresql://anbu:***@db.example:5432/anbu" in err
    assert "s3cret" not in err and "+psycopg" not in err
    assert list(tmp_path.iterdir()) == []


def rows_of(path: Path) -> dict[str, list]:
    """Every row of every table, in a stable order."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        names = [
            row[0]
            for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            name: sorted(conn.execute(f'SELECT * FROM "{name}"').fetchall(), key=repr)
            for name in names
        }


def test_a_restore_as_documented_brings_back_every_row(city, tmp_path, capsys, monkeypatch):
    """docs/operations.md's restore: the database file (and its -wal/-shm) moved away, the
    backup copied to its path, ``db current`` at head; then every row is there, byte for byte,
    and the restored database takes new events."""
    target = tmp_path / "anbu-backup.sqlite3"
    assert cli.main(["backup", str(target)]) == 0
    capsys.readouterr()
    original = rows_of(city)
    assert len(original["device_events"]) == 200 and original["audit_log"]

    engine = make_engine(f"sqlite:///{city}")  # a change after the backup: not in the restore
    ingest(engine, "later", 10)
    engine.dispose()

    moved = tmp_path / "moved-away"
    moved.mkdir()
    for part in city.parent.glob(city.name + "*"):
        part.rename(moved / part.name)
    city.write_bytes(target.read_bytes())
    assert cli.main(["db", "current"]) == 0
    head = migrate.head_revision()
    assert f"current: {head}; head: {head}" in capsys.readouterr().out
    assert rows_of(city) == original

    engine = make_engine(f"sqlite:///{city}")
    ingest(engine, "after-restore", 5)  # the same ids as before never clash: new ones
    engine.dispose()
    assert len(rows_of(city)["device_events"]) == 205
