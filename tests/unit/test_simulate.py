"""The live simulator: valid, deterministic events that continue each device's state, sent
through a real ingest server process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select, update

from dashboard.bench.ingest import free_port
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.db.schema import ApiKey, Device, DeviceState
from dashboard.demo import build_demo
from dashboard.ingest.core import check_events
from dashboard.simulate.city import STILL, CitySimulator, by_vendor
from dashboard.simulate.feed import LiveFeed
from dashboard.simulate.keys import create_demo_keys
from dashboard.simulate.roster import load_roster
from dashboard.simulate.sinks import HttpSink

END = datetime(2024, 12, 2, 3, 0, tzinfo=UTC)  # a Monday, noon in Seoul
SEED = 7


@pytest.fixture(scope="module")
def city_file(tmp_path_factory) -> Path:
    """A small demo city with one day of history, built once for the module."""
    path = tmp_path_factory.mktemp("sim") / "city.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    build_demo(engine, scale="small", seed=20241129, days=1, end=END)
    engine.dispose()
    return path


@pytest.fixture
def city(city_file, tmp_path):
    """A private copy of the city (tests that send events change it)."""
    path = tmp_path / "city.sqlite3"
    shutil.copyfile(city_file, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="module")
def roster(city_file):
    engine = make_engine(f"sqlite:///{city_file}")
    with engine.connect() as conn:
        yield load_roster(conn)
    engine.dispose()


def test_events_pass_the_ingest_contract(city, roster):
    events = CitySimulator(roster, seed=SEED, start=END).play(END + timedelta(minutes=30))
    kinds = Counter(e["type"] for e in events)
    assert {"power", "lux", "position", "call", "heartbeat"} <= set(kinds)
    assert kinds["power"] == kinds["lux"]
    batches = by_vendor(events, 1000)
    assert all(len(batch) <= 1000 for _, batch in batches)
    with city.connect() as conn:
        for vendor, batch in batches:
            checked = check_events(conn, vendor, batch, now=END + timedelta(minutes=30))
            assert checked.rejections == [], (vendor, checked.rejections[:3])
    assert len({e["event_id"] for e in events}) == len(events)
    assert all(END <= datetime.fromisoformat(e["ts"]) < END + timedelta(minutes=30) for e in events)


def test_same_seed_and_clock_give_the_same_events_however_played(roster):
    whole = CitySimulator(roster, seed=SEED, start=END).play(END + timedelta(minutes=20))
    stepwise = CitySimulator(roster, seed=SEED, start=END)
    pieces: list[dict] = []
    for seconds in range(7, 20 * 60 + 1, 7):  # uneven steps, as a loop on a real clock takes
        pieces.extend(stepwise.play(END + timedelta(seconds=seconds)))
    pieces.extend(stepwise.play(END + timedelta(minutes=20)))
    assert pieces == whole
    other = CitySimulator(roster, seed=SEED + 1, start=END).play(END + timedelta(minutes=20))
    assert other != whole


def test_devices_continue_from_their_state(roster):
    sim = CitySimulator(roster, seed=SEED, start=END)
    silent = {
        roster.uids[i]
        for i in range(len(roster))
        if sim.mode[i] == 2 and sim.mode_until[i] > END.timestamp() + 3600
    }
    still = [i for i in roster.of_type("smart_plug") if sim.mode[i] == STILL]
    events = sim.play(END + timedelta(minutes=30))
    assert silent, "the demo city has silent devices"
    assert not silent & {e["device_id"] for e in events}
    for i in still:
        watts = [
            e["watts"] for e in events if e["device_id"] == roster.uids[i] and e["type"] == "power"
        ]
        assert all(abs(w - roster.power[i]) < 5 for w in watts)


def test_incidents_happen_over_a_day_at_the_historys_rates(roster):
    """Households going still and devices dropping off start during a day, as often as the
    demo's history has them (an SOS is rarer: two per 90 days across the fleet)."""
    sim = CitySimulator(roster, seed=SEED, start=END)
    events, started = [], 0
    for hour in range(1, 25):  # each lasts 3 h or more: a new one is still on at the hour
        before = sim.mode.copy()
        events += sim.play(END + timedelta(hours=hour))
        started += int(((before == 0) & (sim.mode != 0)).sum())
    expected = (sim.per_hour["go_still"] + sim.per_hour["go_silent"]) * 24
    assert 1 <= started <= 3 * expected + 3, (started, expected)
    assert sim.per_hour["sos"] * 24 < 0.1
    assert any(e["type"] == "ai_call_result" for e in events)


def _serve(url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "ANBU_DATABASE_URL": url}
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard",
            "serve-ingest",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"ingest server exited: {server.stdout.read()}")
        try:
            if httpx.get(f"{base}/v1/health", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            time.sleep(0.2)
    server.kill()
    pytest.fail("ingest server did not start")


def test_feed_through_a_real_server_advances_device_state(city):
    url = city.url.render_as_string(hide_password=False)
    server, base = _serve(url)
    try:
        with city.connect() as conn:
            roster = load_roster(conn)
        keys = create_demo_keys(city, set(roster.vendors), now=END)
        sink = HttpSink(base, keys)
        clock = lambda: END + timedelta(minutes=12)  # noqa: E731
        feed = LiveFeed(roster, sink, seed=SEED, clock=clock)
        stats = feed.feed()
        sink.close()
    finally:
        server.terminate()
        server.wait(10)
    assert stats.rejected == 0 and stats.accepted > 5000
    assert stats.batches >= 7  # at least one request per vendor
    with city.connect() as conn:
        seen = (
            conn.execute(
                select(DeviceState.last_seen_at)
                .join(Device, Device.id == DeviceState.device_id)
                .where(Device.type_code == "smart_plug")
            )
            .scalars()
            .all()
        )
    fresh = [s for s in seen if s is not None and s.replace(tzinfo=UTC) > END]
    assert len(fresh) > 0.9 * len(seen)


def test_simulate_command_once(city):
    """The CLI end to end: demo keys created hashed, nothing secret printed, keys revoked."""
    with city.begin() as conn:  # a few hundred devices keep the catch-up short
        conn.execute(update(Device).where(Device.id > 300).values(status="retired"))
    url = city.url.render_as_string(hide_password=False)
    server, base = _serve(url)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "dashboard", "simulate", "--url", base, "--once"],
            env={**os.environ, "ANBU_DATABASE_URL": url, "ANBU_DEMO": "true"},
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        server.terminate()
        server.wait(10)
    assert done.returncode == 0, done.stderr
    assert "accepted" in done.stdout and " 0 rejected" in done.stdout
    assert "anbu_" not in done.stdout + done.stderr
    with city.connect() as conn:
        keys = conn.execute(select(ApiKey.key_hash, ApiKey.revoked_at)).all()
    assert keys and all(h.startswith("sha256$") and revoked for h, revoked in keys)
