"""The embedded live loop: starts once per process, feeds and ticks, stops cleanly."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from dashboard import background
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import DeviceEvent
from dashboard.demo import build_demo
from dashboard.settings import Settings

END = datetime(2024, 12, 2, 3, 0, tzinfo=UTC)


@pytest.fixture
def city(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.sqlite3'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    build_demo(engine, scale="small", seed=20241129, days=1, end=END)
    yield engine, Settings(database_url=url, demo=True)
    engine.dispose()


@pytest.fixture(autouse=True)
def no_leftover_loop():
    yield
    if background._CURRENT is not None:
        background._CURRENT.stop()


def _wait(condition, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _events(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(DeviceEvent)).scalar_one()


def test_only_the_embedded_demo_runs_the_loop(tmp_path):
    production = Settings(database_url="postgresql+psycopg://x@127.0.0.1/anbu")
    production_demo = Settings(database_url="postgresql+psycopg://x@127.0.0.1/anbu", demo=True)
    no_demo = Settings(database_url=f"sqlite:///{tmp_path / 'a.sqlite3'}", demo=False)
    # Another test in this worker process may have left the demo's loop running: what matters
    # is that these settings start none, so the process's loop is the one it was before.
    before = background._CURRENT
    for settings in (production, production_demo, no_demo):
        services = background.start_live_services(make_engine("sqlite://"), settings)
        assert not services.running and services.reason
    assert background._CURRENT is before


def test_starts_once_feeds_ticks_and_stops(city):
    engine, settings = city
    before = _events(engine)
    clock = lambda: END + timedelta(minutes=3)  # noqa: E731
    started: list[background.LiveServices] = []
    threads = [
        threading.Thread(
            target=lambda: started.append(
                background.start_live_services(engine, settings, clock, feed_every_s=0.05)
            )
        )
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    services = started[0]
    assert all(s is services for s in started)
    assert [t.name for t in threading.enumerate()].count("anbu-live") == 1
    _wait(lambda: services.ticks >= 1 and services.feeds >= 2)
    assert services.errors == 0
    assert _events(engine) > before  # the simulator's events went through ingest_events
    services.stop()
    assert not services.running
    assert "anbu-live" not in [t.name for t in threading.enumerate()]
    services.stop()  # a second stop is harmless
    again = background.start_live_services(engine, settings, clock, feed_every_s=0.05)
    assert again is not services and again.running
    again.stop()


def test_an_old_snapshot_is_shown_as_is(city):
    """A city built with a fixed past end (tests, screenshots) is not jumped to today."""
    engine, settings = city
    later = lambda: END + timedelta(days=30)  # noqa: E731
    services = background.start_live_services(engine, settings, later)
    assert not services.running and "shown as is" in services.reason
