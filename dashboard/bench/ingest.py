"""Ingest throughput through the real HTTP path: a uvicorn server process and an httpx client.

The events are the live simulator's (plugs, calls, positions, …, as the city would send them),
encoded before the clock starts, posted 1,000 per request. The server runs the full path:
key check, validation, storing, device state, daily rollups and the event rules.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from dashboard import clock
from dashboard.db.engine import make_engine
from dashboard.simulate.city import CitySimulator, by_vendor
from dashboard.simulate.keys import create_demo_keys
from dashboard.simulate.roster import load_roster

WARMUP_REQUESTS = 3  # not timed: first requests pay for imports, caches and query plans


@dataclass(frozen=True)
class IngestFigures:
    events_per_s: float
    events: int
    requests: int
    seconds: float
    rejected: int
    server_peak_mb: float | None
    naive_events_per_s: float | None = None  # one ORM insert per event (bench/naive.py)
    naive_events: int = 0


def prepare_bodies(url: str, max_events: int, seed: int = 1) -> tuple[list[tuple[str, bytes]], int]:
    """(X-API-Key, body) per request, from the simulated city over the last minutes."""
    engine = make_engine(url)
    with engine.connect() as conn:
        roster = load_roster(conn)
    now = clock.now()
    start = now - timedelta(hours=3)
    sim = CitySimulator(roster, seed=seed, start=start)
    wanted = max_events + WARMUP_REQUESTS * 1000
    events: list[dict] = []
    at = start
    while len(events) < wanted and at < now:
        at = min(now, at + timedelta(minutes=1))
        events.extend(sim.play(at))
    keys = create_demo_keys(engine, set(roster.vendors), now=now)
    engine.dispose()
    # One minute at a time, vendor by vendor: the interleaving a busy ingest endpoint sees.
    bodies = [
        (keys[vendor], json.dumps({"events": batch}).encode())
        for vendor, batch in by_vendor(events[:wanted], 1000)
    ]
    return bodies, len(events[:wanted])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure_ingest(
    url: str, *, max_events: int, max_seconds: float, naive_events: int = 0
) -> IngestFigures:
    """Start a server on ``url``'s database, post the bodies, stop after the limits; then, on
    the same copy, store ``naive_events`` more of the city's events the naive way
    (``bench.naive.naive_ingest``), from the bodies the server was not sent."""
    bodies, _ = prepare_bodies(url, max_events + naive_events)
    # Requests held back for the naive baseline, from the end, until they hold naive_events
    # (at most half of them: a tiny city has few events).
    spare = held = 0
    while held < naive_events and spare < len(bodies) // 2:
        spare += 1
        held += len(json.loads(bodies[-spare][1])["events"])
    posted, spared = (bodies[:-spare], bodies[-spare:]) if spare else (bodies, [])
    port = free_port()
    env = {**os.environ, "ANBU_DATABASE_URL": url}
    # /usr/bin/time would need a package; the child reports its own peak through RUSAGE.
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.bench.server",
            "--port",
            str(port),
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        _wait_ready(server, base)
        with httpx.Client(base_url=base, timeout=120) as client:
            warmup = min(WARMUP_REQUESTS, len(posted) // 3)
            for key, body in posted[:warmup]:
                _post(client, key, body)
            accepted = rejected = requests = 0
            started = time.perf_counter()
            for key, body in posted[warmup:]:
                reply = _post(client, key, body)
                accepted += reply["accepted"] + reply["duplicates"]
                rejected += len(reply["rejected"])
                requests += 1
                if accepted >= max_events or time.perf_counter() - started > max_seconds:
                    break
            seconds = time.perf_counter() - started
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=30)
    peak = _peak_from(output)
    naive_eps, naive_n = None, 0
    if spared:
        from dashboard.bench.naive import naive_ingest

        naive_eps, naive_n = naive_ingest(url, spared, clock.now())
    return IngestFigures(
        events_per_s=accepted / seconds if seconds else 0.0,
        events=accepted,
        requests=requests,
        seconds=seconds,
        rejected=rejected,
        server_peak_mb=peak,
        naive_events_per_s=naive_eps,
        naive_events=naive_n,
    )


def _post(client: httpx.Client, key: str, body: bytes) -> dict:
    reply = client.post(
        "/v1/events",
        content=body,
        headers={"X-API-Key": key, "Content-Type": "application/json"},
    )
    reply.raise_for_status()
    return reply.json()


def _wait_ready(server: subprocess.Popen, base: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:  # fail fast with the server's own words
            raise RuntimeError(
                f"ingest server exited: {server.stdout.read() if server.stdout else ''}"
            )
        try:
            if httpx.get(f"{base}/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ingest server did not become ready")


def _peak_from(output: str) -> float | None:
    for line in output.splitlines():
        if line.startswith("peak_memory_mb="):
            return float(line.split("=", 1)[1])
    return None
