"""CPU per 1,000 events of the ingest server, old code against new, on a noisy shared machine.

Wall-clock events/s swings ±50 % with whatever else runs on the two cores; the CPU the ingest
server processes (and, on a local PostgreSQL, their backends) spend per accepted event hardly
does. This posts the same prepared requests to ``python -m dashboard.bench.server`` (the app
``serve-ingest`` runs) on a fresh copy of a cached bench city per run, and reads the CPU from
``/proc`` over the timed requests. The code under test is the one on ``PYTHONPATH`` (the
servers are started from that directory too: ``python -m`` puts the working directory first).

    # once: the requests, from the cached Seoul city (``python -m dashboard bench`` builds it)
    PYTHONPATH=$PWD python scripts/ingest_cpu_ab.py prepare sqlite var/ab/sqlite.pkl
    # then alternately, old and new code (a checkout of each, e.g. ``git archive REV | tar -x``)
    PYTHONPATH=/tmp/old python scripts/ingest_cpu_ab.py run sqlite var/ab/sqlite.pkl --label old
    PYTHONPATH=$PWD python scripts/ingest_cpu_ab.py run sqlite var/ab/sqlite.pkl --label new

``postgres`` instead of ``sqlite`` uses the database ``anbu_bench_seoul_7d`` on
``--postgres-url``. Each run prints one JSON line (and appends it to ``--results``).
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx

from dashboard.bench.cpu import postgres_backends, process_cpu_s
from dashboard.bench.ingest import WARMUP_REQUESTS, free_port, prepare_bodies
from dashboard.settings import VAR_DIR

SQLITE_CITY = VAR_DIR / "bench" / "seoul-7d.sqlite3"
POSTGRES_CITY = "anbu_bench_seoul_7d"
POSTGRES_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=["prepare", "run"])
    parser.add_argument("backend", choices=["sqlite", "postgres"])
    parser.add_argument("bodies", type=Path, help="the prepared requests (pickle)")
    parser.add_argument("--events", type=int, default=40_000, help="prepare: timed events")
    parser.add_argument("--servers", type=int, default=1)
    parser.add_argument("--label", default="")
    parser.add_argument("--results", type=Path, default=None, help="append each run's line")
    parser.add_argument("--sqlite-city", type=Path, default=SQLITE_CITY)
    parser.add_argument("--postgres-city", default=POSTGRES_CITY)
    parser.add_argument("--postgres-url", default=POSTGRES_SERVER, help="any database there")
    args = parser.parse_args()
    if args.step == "prepare":
        bodies, events = prepare_bodies(_city_url(args), args.events)
        if args.backend == "sqlite":  # the demo keys went into the WAL: fold it for copies
            with sqlite3.connect(args.sqlite_city) as db:
                db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        args.bodies.parent.mkdir(parents=True, exist_ok=True)
        args.bodies.write_bytes(pickle.dumps(bodies))
        print(f"{len(bodies)} requests, {events} events")
        return
    line = json.dumps(run(args))
    print(line, flush=True)
    if args.results:
        with args.results.open("a") as out:
            out.write(line + "\n")


def _city_url(args: argparse.Namespace) -> str:
    if args.backend == "sqlite":
        return f"sqlite:///{args.sqlite_city}"
    return _database(args.postgres_url, args.postgres_city)


def _database(server_url: str, name: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


def _admin(server_url: str, *statements: str) -> None:
    from sqlalchemy import create_engine, text

    engine = create_engine(server_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


def run(args: argparse.Namespace) -> dict:
    """One measurement on a fresh copy of the city: warm-up requests, then the timed ones."""
    bodies = pickle.loads(args.bodies.read_bytes())
    if args.backend == "sqlite":
        copy = args.sqlite_city.with_suffix(".ab.sqlite3")
        for stale in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(args.sqlite_city, copy)
        url = f"sqlite:///{copy}"
    else:
        copy_name = f"{args.postgres_city}_ab"
        _admin(
            args.postgres_url,
            f'DROP DATABASE IF EXISTS "{copy_name}"',
            f'CREATE DATABASE "{copy_name}" TEMPLATE "{args.postgres_city}"',
        )
        url = _database(args.postgres_url, copy_name)
    code = os.environ.get("PYTHONPATH", ".").split(os.pathsep)[0] or "."
    env = {**os.environ, "ANBU_DATABASE_URL": url}
    servers: list[subprocess.Popen] = []
    try:
        ports = [free_port() for _ in range(args.servers)]
        for port in ports:
            servers.append(
                subprocess.Popen(
                    [sys.executable, "-m", "dashboard.bench.server", "--port", str(port)],
                    env=env,
                    cwd=code,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        clients = [httpx.Client(base_url=f"http://127.0.0.1:{p}", timeout=120) for p in ports]
        for client in clients:
            _wait_ready(client)
        warmup = WARMUP_REQUESTS * len(clients)
        for i, (key, body) in enumerate(bodies[:warmup]):
            _post(clients[i % len(clients)], key, body)
        pids = [s.pid for s in servers]
        backends = postgres_backends(url)
        counts = {"accepted": 0, "duplicates": 0, "rejected": 0}
        lock = threading.Lock()

        def stream(client: httpx.Client, part: list) -> None:
            for key, body in part:
                reply = _post(client, key, body)
                with lock:
                    counts["accepted"] += reply["accepted"]
                    counts["duplicates"] += reply["duplicates"]
                    counts["rejected"] += len(reply["rejected"])

        timed = bodies[warmup:]
        threads = [
            threading.Thread(target=stream, args=(client, timed[k :: len(clients)]))
            for k, client in enumerate(clients)
        ]
        load = os.getloadavg()[0]
        server_before = [process_cpu_s(p) or 0.0 for p in pids]
        backend_before = [process_cpu_s(p) or 0.0 for p in backends]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        seconds = time.perf_counter() - started
        server_s = sum(process_cpu_s(p) or 0.0 for p in pids) - sum(server_before)
        backend_s = sum(process_cpu_s(p) or 0.0 for p in backends) - sum(backend_before)
        for client in clients:
            client.close()
    finally:
        for server in servers:
            server.terminate()
        for server in servers:
            server.wait(timeout=30)
        if args.backend == "postgres":
            _admin(args.postgres_url, f'DROP DATABASE IF EXISTS "{copy_name}" WITH (FORCE)')
        else:
            for path in (copy, Path(f"{copy}-wal"), Path(f"{copy}-shm")):
                path.unlink(missing_ok=True)
    events = counts["accepted"] + counts["duplicates"]
    return {
        "label": args.label,
        "backend": args.backend,
        "servers": args.servers,
        "events": events,
        "rejected": counts["rejected"],
        "events_per_s": round(events / seconds),
        "cpu_ms_per_1000": round((server_s + backend_s) * 1e6 / events, 1),
        "server_ms_per_1000": round(server_s * 1e6 / events, 1),
        "backend_ms_per_1000": round(backend_s * 1e6 / events, 1),
        "load_1min": round(load, 2),
        "at": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime()),
    }


def _post(client: httpx.Client, key: str, body: bytes) -> dict:
    reply = client.post(
        "/v1/events", content=body, headers={"X-API-Key": key, "Content-Type": "application/json"}
    )
    reply.raise_for_status()
    return reply.json()


def _wait_ready(client: httpx.Client, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if client.get("/v1/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ingest server did not become ready")


if __name__ == "__main__":
    main()
