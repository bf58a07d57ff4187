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
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

import httpx

from dashboard import clock
from dashboard.bench.cpu import postgres_backends, total_cpu_s
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
    servers: int = 1  # server processes, one client thread each
    # CPU ms per 1,000 events accepted: the servers with their PostgreSQL backends, the client
    server_cpu_ms_per_1000: float | None = None
    client_cpu_ms_per_1000: float | None = None


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
    url: str,
    *,
    max_events: int,
    max_seconds: float,
    naive_events: int = 0,
    servers: int = 1,
) -> IngestFigures:
    """Start ``servers`` server processes on ``url``'s database, post the bodies, stop after
    the limits; then, on the same copy, store ``naive_events`` more of the city's events the
    naive way (``bench.naive.naive_ingest``), from the bodies the server was not sent.

    With several servers (the documented way to scale ingest: one process per core, each its own
    port and metrics), one client thread per server posts every ``servers``-th request to it,
    one at a time, all at once: vendors posting concurrently. The events/s is every accepted
    event over the wall time from the first timed request to the last reply.
    """
    bodies, _ = prepare_bodies(url, max_events + naive_events)
    # Requests held back for the naive baseline, from the end, until they hold naive_events
    # (at most half of them: a tiny city has few events).
    spare = held = 0
    while held < naive_events and spare < len(bodies) // 2:
        spare += 1
        held += len(json.loads(bodies[-spare][1])["events"])
    posted, spared = (bodies[:-spare], bodies[-spare:]) if spare else (bodies, [])
    env = {**os.environ, "ANBU_DATABASE_URL": url}
    processes: list[subprocess.Popen] = []
    try:
        bases = []
        for _ in range(max(1, servers)):
            port = free_port()
            # /usr/bin/time would need a package; the child reports its own peak (RUSAGE).
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dashboard.bench.server", "--port", str(port)],
                    env=env,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for server, base in zip(processes, bases, strict=True):
            _wait_ready(server, base)
        clients = [httpx.Client(base_url=base, timeout=120) for base in bases]
        try:
            warmup = min(WARMUP_REQUESTS * len(clients), len(posted) // 3)
            for i, (key, body) in enumerate(posted[:warmup]):
                _post(clients[i % len(clients)], key, body)
            run = _Run(max_events, max_seconds)
            # Every process the requests keep busy: the servers, PostgreSQL's backends serving
            # them (a local server only) and this client; measured over the timed requests.
            busy = [p.pid for p in processes] + postgres_backends(url)
            cpu_before, client_before = total_cpu_s(busy), time.process_time()
            streams = [
                threading.Thread(
                    target=run.stream, args=(client, posted[warmup + k :: len(clients)])
                )
                for k, client in enumerate(clients)
            ]
            run.started = time.perf_counter()
            for stream in streams:
                stream.start()
            for stream in streams:
                stream.join()
            seconds = time.perf_counter() - run.started
            cpu_after, client_cpu = total_cpu_s(busy), time.process_time() - client_before
        finally:
            for client in clients:
                client.close()
        if run.error is not None:
            raise run.error
    finally:
        outputs = []
        for server in processes:
            server.terminate()
        for server in processes:
            outputs.append(server.communicate(timeout=30)[0])
    peaks = [p for p in map(_peak_from, outputs) if p is not None]
    naive_eps, naive_n = None, 0
    if spared:
        from dashboard.bench.naive import naive_ingest

        naive_eps, naive_n = naive_ingest(url, spared, clock.now())
    return IngestFigures(
        events_per_s=run.accepted / seconds if seconds else 0.0,
        events=run.accepted,
        requests=run.requests,
        seconds=seconds,
        rejected=run.rejected,
        server_peak_mb=max(peaks) if peaks else None,
        naive_events_per_s=naive_eps,
        naive_events=naive_n,
        servers=len(processes),
        server_cpu_ms_per_1000=_per_1000(cpu_before, cpu_after, run.accepted),
        client_cpu_ms_per_1000=_per_1000(0.0, client_cpu, run.accepted),
    )


def _per_1000(before: float | None, after: float | None, events: int) -> float | None:
    if before is None or after is None or not events:
        return None
    return round((after - before) * 1000 / events * 1000, 1)


class _Run:
    """The timed requests of every client thread: shared counts and the shared stop."""

    def __init__(self, max_events: int, max_seconds: float) -> None:
        self.max_events, self.max_seconds = max_events, max_seconds
        self.accepted = self.rejected = self.requests = 0
        self.started = 0.0
        self.error: BaseException | None = None
        self._lock = threading.Lock()

    def stream(self, client: httpx.Client, bodies: list[tuple[str, bytes]]) -> None:
        try:
            for key, body in bodies:
                if self._done():
                    return
                reply = _post(client, key, body)
                with self._lock:
                    self.accepted += reply["accepted"] + reply["duplicates"]
                    self.rejected += len(reply["rejected"])
                    self.requests += 1
        except BaseException as exc:  # reported by the caller, after every thread has stopped
            with self._lock:
                self.error = self.error or exc
                self.max_events = 0  # stops the other threads too

    def _done(self) -> bool:
        with self._lock:
            return (
                self.accepted >= self.max_events
                or time.perf_counter() - self.started > self.max_seconds
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
