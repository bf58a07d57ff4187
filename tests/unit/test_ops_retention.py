"""Retention of raw events on both backends: old events go in small batches, recent ones and
everything learned from them (rollups, state, alerts, audit) stay; a dry run deletes nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from dashboard import cli
from dashboard.auth import NotPermitted, SessionUser, cli_principal
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, DeviceDaily, DeviceEvent, metadata
from dashboard.ingest.apikeys import create_key
from dashboard.ingest.core import ingest_events
from dashboard.ops.retention import expire_events, retention_cutoff
from dashboard.settings import LOCAL_TZ, get_settings
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime.now(UTC)


def _events(prefix: str, age: timedelta, count: int, device: str = "plug-1") -> list[dict]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "device_id": device if i % 2 else "plug-2",
            "ts": (NOW - age + timedelta(seconds=i)).isoformat(),
            "type": "power",
            "watts": 30 + i,
        }
        for i in range(count)
    ]


def fill(engine) -> dict[str, set[str]]:
    """23 events 100 days old, 5 just inside the period, 6 from yesterday, and an SOS alert."""
    cutoff = retention_cutoff(NOW, 90)
    groups = {
        "old": _events("old", NOW - cutoff + timedelta(days=10), 23),
        "edge": _events("edge", NOW - cutoff - timedelta(minutes=1), 5),
        "recent": _events("recent", timedelta(days=1), 6),
    }
    sos = {"event_id": "sos-1", "device_id": "robot-1", "ts": NOW.isoformat(), "type": "sos"}
    with engine.begin() as conn:
        seed_catalog(conn)
        create_key(conn, VENDOR, principal=cli_principal(), now=NOW)
        for batch in [*groups.values(), [sos]]:
            result = ingest_events(conn, VENDOR, batch, now=NOW)
            assert result.accepted == len(batch), result.rejected
    return {name: {e["event_id"] for e in batch} for name, batch in groups.items()}


def snapshot(engine) -> dict[str, list]:
    """Every table's rows, except the raw events and the audit log."""
    out = {}
    with engine.connect() as conn:
        for name, table in metadata.tables.items():
            if name not in ("device_events", "audit_log"):
                out[name] = sorted(map(tuple, conn.execute(select(table))), key=repr)
    return out


def stored_uids(engine) -> set[str]:
    with engine.connect() as conn:
        return set(conn.execute(select(DeviceEvent.event_uid)).scalars())


def test_old_events_go_in_batches_and_nothing_else_changes(db_engine):
    uids = fill(db_engine)
    before = snapshot(db_engine)
    assert before["device_daily"] and before["alerts"]  # something for retention to spare
    totals: list[int] = []
    report = expire_events(
        db_engine, cli_principal(), NOW, 90, batch_rows=5, progress=totals.append
    )
    assert report.events == 23 and not report.dry_run
    assert totals == [5, 10, 15, 20, 23]  # five transactions of at most 5 rows
    assert stored_uids(db_engine) == uids["edge"] | uids["recent"] | {"sos-1"}
    assert snapshot(db_engine) == before  # rollups, state, alerts, … untouched
    with db_engine.connect() as conn:
        rolled = conn.scalar(select(func.sum(DeviceDaily.events)))
        audit = conn.execute(select(AuditLog.action, AuditLog.actor, AuditLog.detail)).all()
    assert rolled == 23 + 5 + 6 + 1  # the rollups still count the expired events
    expired = [row for row in audit if row.action == "events_expire"]
    assert len(expired) == 1 and expired[0].detail["deleted"] == 23
    assert expired[0].actor == cli_principal().username

    again = expire_events(db_engine, cli_principal(), NOW, 90)
    assert again.events == 0  # idempotent


def test_a_dry_run_counts_and_deletes_nothing(db_engine):
    uids = fill(db_engine)
    with db_engine.connect() as conn:
        audits = conn.scalar(select(func.count()).select_from(AuditLog))
    report = expire_events(db_engine, cli_principal(), NOW, 90, dry_run=True)
    assert report.dry_run and report.events == 23
    oldest = NOW - (NOW - retention_cutoff(NOW, 90) + timedelta(days=10))
    assert abs(report.oldest - oldest) < timedelta(seconds=1)
    assert "would delete 23 raw device events before" in str(report)
    assert stored_uids(db_engine) == set().union(*uids.values(), {"sos-1"})
    with db_engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(AuditLog)) == audits


def test_a_shorter_period_takes_more_and_a_role_without_import_rights_none(db_engine):
    uids = fill(db_engine)
    council = SessionUser(username="c", display_name="c", role="council")
    with pytest.raises(NotPermitted):
        expire_events(db_engine, council, NOW, 30)
    assert len(stored_uids(db_engine)) == 23 + 5 + 6 + 1
    with pytest.raises(ValueError, match="at least 30 days"):
        expire_events(db_engine, cli_principal(), NOW, 29)
    report = expire_events(db_engine, cli_principal(), NOW, 30)
    assert report.events == 23 + 5
    assert stored_uids(db_engine) == uids["recent"] | {"sos-1"}


def test_the_cutoff_is_a_seoul_midnight():
    now = datetime(2026, 12, 2, 16, 30, tzinfo=UTC)  # 01:30 on 3 December in Seoul
    cutoff = retention_cutoff(now, 90)
    assert cutoff.astimezone(LOCAL_TZ) == datetime(2026, 9, 4, tzinfo=LOCAL_TZ)
    assert cutoff.tzinfo is not None


@pytest.fixture
def configured(tmp_path, monkeypatch):
    path = tmp_path / "retention.sqlite3"
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{path}")
    monkeypatch.setenv("ANBU_EVENT_RETENTION_DAYS", "120")
    get_settings.cache_clear()
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_the_command(configured, capsys, monkeypatch):
    # The command reads the clock; pin it to the moment the events were placed around, so a
    # run across Seoul midnight does not move the cutoff by a day.
    monkeypatch.setattr("dashboard.clock.now", lambda: NOW)
    fill(configured)
    assert cli.main(["retention", "--dry-run"]) == 0  # the setting: 120 days, nothing that old
    assert "would delete 0 raw device events" in capsys.readouterr().out
    assert cli.main(["retention", "--days", "90", "--dry-run"]) == 0
    assert "would delete 23 raw device events" in capsys.readouterr().out
    assert len(stored_uids(configured)) == 35
    assert cli.main(["retention", "--days", "90"]) == 0
    out = capsys.readouterr().out
    assert "23 deleted so far" in out and "deleted 23 raw device events" in out
    assert len(stored_uids(configured)) == 12
    assert cli.main(["retention", "--days", "7"]) == 2
    assert "at least 30 days" in capsys.readouterr().err
    with configured.connect() as conn:  # the database is still whole
        assert conn.execute(text("PRAGMA integrity_check")).scalar() == "ok"
