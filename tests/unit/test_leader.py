"""Leader election of the rule worker: one PostgreSQL advisory lock, fail-over when it is lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text

from dashboard.db.engine import make_engine
from dashboard.db.schema import metadata
from dashboard.ops.leader import WORKER_LOCK_KEY, LeaderLock, leader_backend
from dashboard.rules.worker import run_worker
from tests.waiting import wait_until


@pytest.fixture
def pg_engine(postgres_schema_url):
    engine = make_engine(postgres_schema_url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


def kill_leader_session(engine) -> int:
    """Terminate the backend holding the worker lock, as a dropped connection would."""
    with engine.connect() as conn:
        holder = leader_backend(conn)
        assert holder is not None, "no worker holds the lock"
        assert conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": holder.pid}).scalar()
    return holder.pid


def test_the_key_is_anbu_in_ascii():
    assert WORKER_LOCK_KEY.to_bytes(4, "big") == b"Anbu"


def test_one_lock_holder_and_fail_over_when_its_connection_dies(pg_engine):
    first, second = LeaderLock(pg_engine), LeaderLock(pg_engine)
    try:
        assert first.check() is True
        assert second.check() is False
        assert first.check() is True  # still held, verified in pg_locks
        with pg_engine.connect() as conn:
            holder = leader_backend(conn)
            row = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' "
                    "AND classid = :k AND objsubid = 2 AND pid = :p"
                ),
                {"k": WORKER_LOCK_KEY, "p": holder.pid},
            ).scalar()
        assert row == 1 and holder.application_name.startswith("anbu-worker ")
        # The server ends a vanished leader's session after ~25 s (docs/deployment.md).
        keepalives = [
            first._conn.execute(text(f"SHOW tcp_keepalives_{k}")).scalar()
            for k in ("idle", "interval", "count")
        ]
        assert keepalives == ["10", "5", "3"]
        kill_leader_session(pg_engine)
        assert first.check() is False  # the lost leader notices before acting
        assert second.check() is True
        assert first.check() is False
    finally:
        first.release()
        second.release()


def test_a_clean_release_hands_over_at_once(pg_engine):
    first, second = LeaderLock(pg_engine), LeaderLock(pg_engine)
    try:
        assert first.check() and not second.check()
        first.release()
        assert second.check()
    finally:
        second.release()


def test_schemas_elect_separately(pg_engine):
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with pg_engine.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    url = pg_engine.url.set(query={"options": f"-csearch_path={schema}"})
    other = create_engine(url)
    here, there = LeaderLock(pg_engine), LeaderLock(other)
    try:
        assert here.check() and there.check()
    finally:
        here.release()
        there.release()
        other.dispose()
        with pg_engine.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))


def test_two_workers_only_the_leader_acts_and_the_other_takes_over(pg_engine):
    """Two run_worker loops on one schema: ticks come from one; kill its lock connection and
    the other takes over within an interval while the first stops acting."""
    interval = 0.2
    acted: Counter = Counter()
    changes: dict[str, list[bool]] = {"a": [], "b": []}
    stops = {"a": threading.Event(), "b": threading.Event()}
    now = datetime(2024, 12, 1, tzinfo=UTC)

    def worker(name: str) -> None:
        run_worker(
            pg_engine,
            interval_s=interval,
            clock=lambda: now,
            stop=stops[name],
            report=lambda _s: acted.update([name]),
            on_leadership=changes[name].append,
        )

    threads = {n: threading.Thread(target=worker, args=(n,), daemon=True) for n in "ab"}
    threads["a"].start()
    assert wait_until(lambda: acted["a"] >= 2, 20)
    threads["b"].start()
    assert wait_until(lambda: changes["b"] == [False], 20)
    before = acted["a"]
    assert wait_until(lambda: acted["a"] >= before + 3, 20)
    assert acted["b"] == 0

    killed = time.monotonic()
    kill_leader_session(pg_engine)
    assert wait_until(lambda: changes["b"] == [False, True], 20, interval=0.01)
    took = time.monotonic() - killed
    # Within one interval of the follower's last try, plus a pass's time on a busy machine.
    assert took <= interval + 2.0, f"take-over took {took:.2f} s"
    assert wait_until(lambda: changes["a"] == [True, False], 20)
    frozen = acted["a"]
    assert wait_until(lambda: acted["b"] >= 3, 20)
    # "a" follows now: the old leader acted at most once more, in its tick already under way.
    assert acted["a"] <= frozen + 1
    for n in "ab":
        stops[n].set()
        threads[n].join(10)
    assert changes["b"] == [False, True, False]  # released on stop
    with pg_engine.connect() as conn:
        assert leader_backend(conn) is None


def test_on_sqlite_every_worker_acts_and_is_told_once(sqlite_url):
    engine = make_engine(sqlite_url)
    metadata.create_all(engine)
    told: list[bool] = []
    now = datetime(2024, 12, 1, tzinfo=UTC)
    assert run_worker(engine, once=True, clock=lambda: now, on_leadership=told.append) == 1
    assert told == [True]
    with engine.connect() as conn:
        assert leader_backend(conn) is None
    engine.dispose()
