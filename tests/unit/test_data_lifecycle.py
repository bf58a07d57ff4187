"""The data lifecycle on both backends: PostgreSQL's day partitions (created ahead, dropped
whole by retention, rollups intact), ingest idempotency with a partitioned key, the worker's
once-a-day retention job and SQLite's WAL checkpoint."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from dashboard.auth import cli_principal
from dashboard.db import partitions
from dashboard.db.engine import SQLITE_JOURNAL_SIZE_LIMIT, checkpoint_wal, make_engine
from dashboard.db.schema import AuditLog, DeviceDaily, DeviceEvent, metadata
from dashboard.ingest.core import ingest_events
from dashboard.ops import daily
from dashboard.ops.retention import expire_events, retention_cutoff
from dashboard.rules.worker import daily_jobs
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime.now(UTC)
DAY = timedelta(days=1)


def _events(prefix: str, start: datetime, count: int, step: timedelta) -> list[dict]:
    return [
        {
            "event_id": f"{prefix}-{i}",
            "device_id": "plug-1" if i % 2 else "plug-2",
            "ts": (start + i * step).isoformat(),
            "type": "power",
            "watts": 30 + i,
        }
        for i in range(count)
    ]


def fill(engine, *, history_days: int = 100) -> int:
    """One event every 6 hours for ``history_days`` days up to now; returns the count."""
    count = history_days * 4
    batch = _events("h", NOW - history_days * DAY, count, timedelta(hours=6))
    with engine.begin() as conn:
        seed_catalog(conn)
        partitions.ensure_partitions(conn, NOW)
        result = ingest_events(conn, VENDOR, batch, now=NOW)
    assert result.accepted == count, result.rejected[:3]
    return count


def make_day_partitions(engine, first: datetime, last: datetime) -> None:
    """PostgreSQL: the day partitions the worker would have created over that span."""
    with engine.begin() as conn:
        day = first.astimezone(LOCAL_TZ).date()
        while day <= last.astimezone(LOCAL_TZ).date():
            partitions.create_day(conn, day)
            day += DAY


def event_count(engine, where=None) -> int:
    query = select(func.count()).select_from(DeviceEvent)
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return conn.scalar(query)


def test_retention_drops_whole_partitions_and_keeps_rollups(db_engine):
    """On PostgreSQL the expired days go as whole partitions (and the stray rows of the
    default partition in batches); on SQLite in batches. Either way the same rows go and
    every rollup stays."""
    pg = db_engine.dialect.name == "postgresql"
    if pg:  # the days a running worker would have partitioned, before the events came
        make_day_partitions(db_engine, NOW - 100 * DAY, NOW)
    total = fill(db_engine)
    cutoff = retention_cutoff(NOW, 90)
    due = event_count(db_engine, DeviceEvent.ts < cutoff)
    assert 35 <= due <= 45
    with db_engine.connect() as conn:
        rollups = conn.execute(select(DeviceDaily).order_by(DeviceDaily.day)).all()
        if pg:
            before = partitions.list_partitions(conn)
            # one stray event in the default partition (a clock far in the past)
            conn.execute(
                text(
                    "INSERT INTO device_events (vendor, event_uid, device_id, ts, received_at,"
                    " type) VALUES ('acme', 'stray', 1, '2003-01-01T00:00:00+00', now(), 'sos')"
                )
            )
            conn.commit()
            due += 1
    dry = expire_events(db_engine, cli_principal(), NOW, 90, dry_run=True)
    assert dry.events == due
    report = expire_events(db_engine, cli_principal(), NOW, 90, batch_rows=3)
    assert report.events == due
    assert event_count(db_engine) == total + pg - due
    assert event_count(db_engine, DeviceEvent.ts < cutoff) == 0
    with db_engine.connect() as conn:
        assert conn.execute(select(DeviceDaily).order_by(DeviceDaily.day)).all() == rollups
        audit = conn.execute(select(AuditLog.detail).where(AuditLog.action == "events_expire"))
        detail = audit.scalar_one()
        if pg:
            after = {p.name for p in partitions.list_partitions(conn)}
            gone = {p.name for p in before} - after
            expected = {p.name for p in before if p.upper is not None and p.upper <= cutoff}
            assert gone == expected and len(gone) >= 9  # every whole expired day, no other
            assert set(dry.partitions) == gone == set(report.partitions)
            assert detail["partitions_dropped"] == len(gone)
            stray = "SELECT count(*) FROM device_events_default"
            assert conn.execute(text(stray)).scalar() == 0
        else:
            assert report.partitions == () and detail["partitions_dropped"] == 0


def test_partitions_are_created_ahead_once_and_take_rows_from_the_default(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn)
    if db_engine.dialect.name != "postgresql":
        assert daily.daily_partitions(db_engine, NOW) == []  # SQLite: nothing to partition
        return
    tomorrow = (NOW + DAY).astimezone(LOCAL_TZ).date()
    with db_engine.begin() as conn:  # an event of tomorrow, before its partition exists
        conn.execute(
            text(
                "INSERT INTO device_events (vendor, event_uid, device_id, ts, received_at, type)"
                " VALUES ('acme', 'early', 1, :ts, now(), 'heartbeat')"
            ),
            {"ts": partitions.seoul_midnight(tomorrow) + timedelta(hours=3)},
        )
    created = daily.daily_partitions(db_engine, NOW)
    today = NOW.astimezone(LOCAL_TZ).date()
    assert created == [partitions.partition_name(today + i * DAY) for i in range(8)]
    assert daily.daily_partitions(db_engine, NOW) == []  # already there
    with db_engine.connect() as conn:
        home = conn.execute(
            text("SELECT tableoid::regclass::text FROM device_events WHERE event_uid = 'early'")
        ).scalar()
        layout = {p.name: p for p in partitions.list_partitions(conn)}
    assert home == partitions.partition_name(tomorrow)  # moved out of the default partition
    p = layout[partitions.partition_name(tomorrow)]
    assert p.lower == partitions.seoul_midnight(tomorrow) and p.upper - p.lower == DAY
    assert layout[partitions.DEFAULT_PARTITION].is_default


@pytest.mark.parametrize("shift", [timedelta(0), timedelta(hours=9), -timedelta(hours=23)])
def test_an_id_resent_with_a_shifted_time_is_still_a_duplicate(db_engine, shift):
    """The partitioned key contains ts; a resend whose time was rounded or read in another
    zone (up to 24 hours off) is a duplicate all the same, on both backends."""
    with db_engine.begin() as conn:
        seed_catalog(conn)
        partitions.ensure_partitions(conn, NOW)
    first = _events("r", NOW - 2 * DAY, 3, timedelta(minutes=1))
    again = [dict(e, ts=(datetime.fromisoformat(e["ts"]) + shift).isoformat()) for e in first]
    with db_engine.begin() as conn:
        assert ingest_events(conn, VENDOR, first, now=NOW).accepted == 3
    with db_engine.begin() as conn:
        result = ingest_events(conn, VENDOR, [*again, *_events("n", NOW, 1, DAY)], now=NOW)
    assert (result.accepted, result.duplicates) == (1, 3)
    assert event_count(db_engine) == 4


def test_an_id_resent_with_a_shifted_time_while_the_first_is_uncommitted_is_stored_once(
    db_engine,
):
    """A vendor's retry (its time re-serialised a second off) that reaches a second ingest
    server while the first request is still in its transaction: one event, one count in the
    rollup. On PostgreSQL the unique key contains ts, so the retry's own insert cannot collide
    and the look-up of the stored id cannot see the uncommitted first; before the fix both
    were stored (6 copies of one id from 6 concurrent senders, on a real server)."""
    with db_engine.begin() as conn:
        seed_catalog(conn)
        partitions.ensure_partitions(conn, NOW)
    with db_engine.begin() as conn:  # the device has reported before: its state row exists
        assert ingest_events(conn, VENDOR, _events("old", NOW - DAY, 1, DAY), now=NOW).accepted
    first = _events("x", NOW - timedelta(minutes=5), 1, DAY)
    again = [dict(first[0], ts=(NOW - timedelta(minutes=5, seconds=-1)).isoformat())]
    results: list = []

    def retry() -> None:
        with db_engine.begin() as conn:
            results.append(ingest_events(conn, VENDOR, again, now=NOW))

    with db_engine.connect() as conn, conn.begin():
        assert ingest_events(conn, VENDOR, first, now=NOW).accepted == 1
        other = threading.Thread(target=retry)
        other.start()
        other.join(1.0)  # the retry must wait for this transaction, not store its own copy
        waited = other.is_alive()
    other.join(60)
    assert waited
    assert [(r.accepted, r.duplicates) for r in results] == [(0, 1)]
    assert event_count(db_engine, DeviceEvent.event_uid == "x-0") == 1
    with db_engine.connect() as conn:
        day = (NOW - timedelta(minutes=5)).astimezone(LOCAL_TZ).date()
        counted = conn.scalar(select(func.sum(DeviceDaily.events)).where(DeviceDaily.day == day))
    assert counted == 1


def test_the_daily_retention_job_runs_once_a_seoul_day_across_workers(db_engine):
    pg = db_engine.dialect.name == "postgresql"
    if pg:
        make_day_partitions(db_engine, NOW - 100 * DAY, NOW)
    fill(db_engine)
    due = event_count(db_engine, DeviceEvent.ts < retention_cutoff(NOW, 90))
    results: list = []
    start = threading.Barrier(3)

    def worker() -> None:
        start.wait()
        results.append(daily.daily_retention(db_engine, NOW, days=90))

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    ran = [r for r in results if r is not None]
    assert len(results) == 3 and len(ran) == 1  # three workers at once: one runs
    assert ran[0].events == due
    # later the same Seoul day (NOW is the real clock: an hour later may be the next day)
    later = NOW + timedelta(hours=1)
    if later.astimezone(LOCAL_TZ).date() != NOW.astimezone(LOCAL_TZ).date():
        later = NOW + timedelta(seconds=1)
    assert daily.daily_retention(db_engine, later, days=90) is None
    with db_engine.connect() as conn:
        actions = conn.execute(select(AuditLog.action, AuditLog.actor)).all()
    assert sorted(a for a, _ in actions if a.startswith("events_expire")) == [
        "events_expire",
        "events_expire_daily",
    ]
    assert {actor for a, actor in actions if a.startswith("events_expire")} == {"system:retention"}
    # The next Seoul day runs again, through the worker's daily jobs (as the demo's loop does).
    tomorrow = NOW + DAY
    daily_jobs(db_engine, tomorrow)
    assert event_count(db_engine, DeviceEvent.ts < retention_cutoff(tomorrow, 90)) == 0
    with db_engine.connect() as conn:
        runs = conn.scalar(select(func.count()).where(AuditLog.action == "events_expire_daily"))
    assert runs == 2


def test_the_daily_retention_job_never_raises(db_engine, caplog):
    """A failing run (here a refused period) is logged and returns None; the worker goes on."""
    with db_engine.begin() as conn:
        seed_catalog(conn)
    assert daily.daily_retention(db_engine, NOW, days=29) is None
    assert "daily retention failed" in caplog.text


def test_the_wal_shrinks_after_the_checkpoint(tmp_path):
    """SQLite: a long write leaves a -wal file as large as the data (here 12 MB); the
    worker's checkpoint truncates it to zero, and the connection's journal_size_limit keeps a
    restarted WAL under 64 MiB."""
    path = tmp_path / "wal.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    metadata.create_all(engine)
    with engine.connect() as conn:
        limit = conn.exec_driver_sql("PRAGMA journal_size_limit").scalar()
        assert limit == SQLITE_JOURNAL_SIZE_LIMIT
    with engine.begin() as conn:  # one long transaction, as the demo city's build
        conn.exec_driver_sql("CREATE TABLE filler (b BLOB)")
        conn.exec_driver_sql(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)"
            " INSERT INTO filler SELECT randomblob(4000) FROM n"
        )
    wal = tmp_path / "wal.sqlite3-wal"
    assert wal.stat().st_size > 12_000_000
    done = daily.wal_checkpoint(engine, NOW)
    assert done is not None and not done.busy and done.wal_bytes_before > 12_000_000
    assert done.wal_bytes == 0 and wal.stat().st_size == 0
    assert daily.wal_checkpoint(engine, NOW + timedelta(minutes=5)) is None  # hourly
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM filler").scalar() == 3000
    engine.dispose()
    pg = make_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    assert checkpoint_wal(pg) is None  # PostgreSQL: nothing to do (no connection made)


def test_the_documented_limits_are_the_codes():
    """docs/operations.md states these; the code decides them."""
    from pathlib import Path

    from dashboard.ingest.core import SAME_ID_WINDOW
    from dashboard.ops.retention import BATCH_ROWS, DETACH_LOCK_TIMEOUT

    doc = (Path(__file__).parents[2] / "docs" / "operations.md").read_text(encoding="utf-8")
    assert SQLITE_JOURNAL_SIZE_LIMIT == 64 * 1024 * 1024 and "64 MiB" in doc
    assert timedelta(hours=1) == daily.WAL_CHECKPOINT_EVERY and "at most once\n  an hour" in doc
    assert timedelta(hours=24) == SAME_ID_WINDOW and "within 24 hours" in doc
    assert partitions.AHEAD_DAYS == 7 and "today and the next 7 days" in doc
    assert DETACH_LOCK_TIMEOUT == "2s" and "within 2 s (`DETACH_LOCK_TIMEOUT`" in doc
    assert BATCH_ROWS == 5_000 and "5,000 rows per transaction" in doc
    assert "| raw `device_events` | `ANBU_EVENT_RETENTION_DAYS` (default 90" in doc


def test_a_reader_holding_the_wal_delays_the_checkpoint_by_a_second_at_most(tmp_path):
    """A long read keeps its snapshot in the WAL: the checkpoint gives up after 1 s (writers
    wait for it only that long), keeps the WAL, and the next one truncates it."""
    import sqlite3
    import time

    path = tmp_path / "busy.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (b BLOB)")
        conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(100000))")
    reader = sqlite3.connect(path)
    reader.execute("BEGIN")
    reader.execute("SELECT count(*) FROM t").fetchone()  # a snapshot that the WAL must keep
    with engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(100000))")
    started = time.monotonic()
    held = checkpoint_wal(engine)
    waited = time.monotonic() - started
    assert held is not None and held.busy and held.wal_bytes > 0
    assert 0.9 <= waited < 5
    reader.rollback()
    reader.close()
    done = checkpoint_wal(engine)
    assert done is not None and not done.busy and done.wal_bytes == 0
    with engine.connect() as conn:  # the connection is back on the normal busy timeout
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 10_000
    engine.dispose()
