"""Where the wall time of a PostgreSQL ingest run goes: samples of the backends' waits and of the
processes' scheduler states, taken every ~20 ms while another command posts the requests.

``scripts/ingest_cpu_ab.py`` (or ``python -m dashboard bench``) says how much CPU a 1,000-event
batch costs; when the events/s stays below what that CPU would allow, something waits. Run this
beside it, on the database the run ingests into (the A/B script's copy is
``anbu_bench_seoul_7d_ab``, the bench's ``anbu_bench_seoul_7d_run``):

    PYTHONPATH=$PWD python scripts/ingest_waits.py anbu_bench_seoul_7d_ab --seconds 60 &
    PYTHONPATH=$PWD python scripts/ingest_cpu_ab.py run postgres var/ab/pg.pkl --servers 2

It waits for a session on that database to be busy, samples until the database is dropped
(or ``--seconds``), then prints, over the samples where at least one session was busy:

- per session (each server's pool connection): the share of samples ``active`` on the CPU,
  ``active`` waiting (by ``wait_event_type:wait_event``: ``Lock:transactionid`` is a row lock
  held by another batch, ``LWLock:WALWrite`` / ``IO:WALSync`` the commit's WAL flush,
  ``Client:ClientRead`` a COPY waiting for the server's rows, …), ``idle in transaction`` (the
  server's Python works between statements, or waits for a CPU) and ``idle`` (no batch open on
  that connection: the server reads, parses and answers requests, or waits for the next);
- the cores each kind of process used over the window (CPU seconds per second: the ingest
  servers, the run's PostgreSQL backends, PostgreSQL's other processes, the client, and the
  rest of the machine by command name), the machine's busy and idle cores (``/proc/stat``) and
  the mean number of runnable threads of each kind (``R``: running or waiting for a core);
- how many threads were runnable on the machine at once: with 2 cores, more than 2 queue;
- the checkpoints, WAL, full-page images and buffer writes meanwhile (``pg_stat_bgwriter``,
  ``pg_stat_wal``).

The sampler itself costs ≈ 0.1 core at 20 ms (not counted above), so runs sampled are a little
slower than runs not sampled. Read-only: it opens one connection of its own and reads ``/proc``.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

ACTIVITY = """
SELECT pid, state, coalesce(wait_event_type || ':' || wait_event, '') AS wait,
       backend_type
FROM pg_stat_activity
WHERE datname = %s AND pid <> pg_backend_pid()
"""
COUNTERS = """
SELECT (SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter),
       (SELECT buffers_checkpoint FROM pg_stat_bgwriter),
       (SELECT buffers_backend FROM pg_stat_bgwriter),
       (SELECT wal_bytes FROM pg_stat_wal),
       (SELECT wal_fpi FROM pg_stat_wal),
       (SELECT wal_sync FROM pg_stat_wal),
       (SELECT wal_buffers_full FROM pg_stat_wal)
"""
COUNTER_NAMES = (
    "checkpoints",
    "buffers_checkpoint",
    "buffers_backend",
    "wal_bytes",
    "wal_fpi",
    "wal_sync",
    "wal_buffers_full",
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("database", help="the database the run ingests into")
    parser.add_argument("--seconds", type=float, default=120.0, help="stop after this long")
    parser.add_argument("--interval", type=float, default=0.02, help="seconds between samples")
    parser.add_argument("--dsn", default="host=127.0.0.1 port=5432 user=postgres dbname=postgres")
    args = parser.parse_args()
    with psycopg.connect(args.dsn, autocommit=True) as conn:
        print(summarise(sample(conn, args.database, args.seconds, args.interval)))


@dataclass
class Samples:
    n: int = 0  # samples with at least one busy session
    seconds: float = 0.0
    sessions: dict[int, Counter] = field(default_factory=lambda: defaultdict(Counter))
    runnable: Counter = field(default_factory=Counter)  # kind -> runnable threads, summed
    at_once: Counter = field(default_factory=Counter)  # runnable threads on the machine
    counters: dict[str, int] = field(default_factory=dict)  # PostgreSQL's, over the window
    cpu: dict[str, float] = field(default_factory=dict)  # kind -> CPU seconds in the window
    machine: dict[str, float] = field(default_factory=dict)  # /proc/stat: busy, idle, iowait
    rest: dict[str, float] = field(default_factory=dict)  # the other processes' cores, by name


def sample(conn: psycopg.Connection, database: str, seconds: float, interval: float) -> Samples:
    out = Samples()
    deadline = time.monotonic() + seconds
    before = None
    first: dict[int, tuple[str, float]] = {}  # pid -> (kind, CPU s when first seen busy)
    last: dict[int, float] = {}  # and at the latest busy sample
    rest_first: dict[int, tuple[str, float]] = {}  # the same for the rest of the machine
    rest_last: dict[int, float] = {}
    rest_at: list[float] = []  # when those scans ran
    while time.monotonic() < deadline:
        rows = conn.execute(ACTIVITY, (database,)).fetchall()
        sessions = [r for r in rows if r[3] == "client backend"]
        busy = [r for r in sessions if r[1] in ("active", "idle in transaction")]
        if busy and before is None:
            started = time.monotonic()
            before = (conn.execute(COUNTERS).fetchone(), _machine())
        if before is not None and not sessions and not _exists(conn, database):
            break  # the run dropped its database
        if busy:
            out.n += 1
            for pid, state, wait, _type in sessions:
                label = state if state != "active" else f"active {wait or 'CPU'}"
                out.sessions[pid][label] += 1
            for kind, pids in _pids(database).items():
                out.runnable[kind] += sum(_runnable_threads(pid) for pid in pids)
                for pid in pids:
                    cpu = _process_cpu(pid)
                    if cpu is not None:
                        first.setdefault(pid, (kind, cpu))
                        last[pid] = cpu
            out.at_once[_procs_running() - 1] += 1  # not this sampler
            if out.n % 10 == 1:  # every process, now and then (a scan costs ≈ 2 ms)
                rest_at.append(time.monotonic())
                for pid, (name, cpu) in _other_processes(database).items():
                    rest_first.setdefault(pid, (name, cpu))
                    rest_last[pid] = cpu
            # Read while the run's processes live: they are gone when it drops its database.
            after = (conn.execute(COUNTERS).fetchone(), _machine(), time.monotonic())
        time.sleep(interval)
    if before is not None:
        out.seconds = after[2] - started
        out.counters = {
            n: int(a - b) for n, a, b in zip(COUNTER_NAMES, after[0], before[0], strict=True)
        }
        out.machine = {k: (after[1][k] - before[1][k]) / out.seconds for k in after[1]}
        for pid, (kind, cpu) in first.items():
            out.cpu[kind] = out.cpu.get(kind, 0.0) + (last[pid] - cpu) / out.seconds
        span = rest_at[-1] - rest_at[0] if len(rest_at) > 1 else 0.0
        for pid, (name, cpu) in rest_first.items() if span else ():
            out.rest[name] = out.rest.get(name, 0.0) + (rest_last[pid] - cpu) / span
    return out


def _exists(conn: psycopg.Connection, database: str) -> bool:
    return bool(
        conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (database,)).fetchall()
    )


_KINDS: dict[int, str] = {}  # pid -> kind: a process's command line does not change
_TICK = os.sysconf("SC_CLK_TCK")


def _pids(database: str) -> dict[str, list[int]]:
    """The processes of the run by kind: its ingest servers, its PostgreSQL sessions' backends,
    PostgreSQL's other processes (WAL writer, checkpointer, other databases), the client."""
    found: dict[str, list[int]] = defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        kind = _KINDS.get(pid)
        if kind is None:
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            kind = _KINDS[pid] = _kind(cmdline, database)
        if kind:
            found[kind].append(pid)
    return found


def _kind(cmdline: bytes, database: str) -> str:
    if b"dashboard.bench.server" in cmdline:
        return "ingest servers"
    if b"ingest_cpu_ab" in cmdline or b"dashboard\x00bench" in cmdline:
        return "bench client"
    if cmdline.startswith(b"postgres: ") and f" {database} ".encode() in cmdline:
        return "postgres backends of the run"
    if cmdline.startswith(b"postgres") or cmdline.startswith(b"/usr/lib/postgresql"):
        return "postgres, other processes"
    return ""  # the rest: machine total minus these


def _runnable_threads(pid: int) -> int:
    """Threads of ``pid`` running or waiting for a CPU (uvicorn's pool, the client's streams)."""
    count = 0
    try:
        tasks = list(Path(f"/proc/{pid}/task").iterdir())
    except OSError:
        return 0
    for task in tasks:
        try:
            count += (task / "stat").read_text().rsplit(")", 1)[1].split()[0] == "R"
        except OSError:
            continue
    return count


def _procs_running() -> int:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("procs_running"):
            return int(line.split()[1])
    return 0


def _machine() -> dict[str, float]:
    """CPU seconds of the whole machine so far: busy (user, nice, system, irq, softirq,
    steal), idle and iowait."""
    fields = [int(v) / _TICK for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields[:8]
    return {
        "busy": user + nice + system + irq + softirq + steal,
        "user": user + nice,
        "system": system,
        "irq+softirq": irq + softirq,
        "idle": idle,
        "iowait": iowait,
        "steal": steal,
    }


def _other_processes(database: str) -> dict[int, tuple[str, float]]:
    """pid -> (command name, CPU s) of the processes ``_pids`` does not count (kernel
    threads such as ``kworker`` under their name without the CPU number)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        pid = int(entry.name)
        if _KINDS.get(pid, "") != "":
            continue
        try:
            head, tail = (entry / "stat").read_text().rsplit(")", 1)
        except OSError:
            continue
        name = head.split("(", 1)[1].split("/")[0]
        fields = tail.split()
        found[pid] = (name, (int(fields[11]) + int(fields[12])) / _TICK)
    return found


def _process_cpu(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK


def summarise(s: Samples) -> str:
    if not s.n:
        return "no busy sample (did the run use this database?)"
    lines = [f"{s.n} samples with a busy session over {s.seconds:.1f} s"]
    lines.append("per session, share of samples:")
    overall: Counter = Counter()
    for pid, counts in sorted(s.sessions.items()):
        total = sum(counts.values())
        parts = ", ".join(f"{k} {v / total:.0%}" for k, v in counts.most_common())
        lines.append(f"  {pid}: {parts}")
        overall.update(counts)
    total = sum(overall.values())
    lines.append(
        "all sessions: " + ", ".join(f"{k} {v / total:.1%}" for k, v in overall.most_common())
    )
    lines.append("cores used (CPU s per s) | threads runnable, mean per sample:")
    for kind in sorted(set(s.cpu) | set(s.runnable)):
        lines.append(f"  {kind}: {s.cpu.get(kind, 0.0):.2f} | {s.runnable[kind] / s.n:.2f}")
    if s.machine:
        m = s.machine
        lines.append(
            f"  the rest of the machine: {m['busy'] - sum(s.cpu.values()):.2f}; machine busy "
            f"{m['busy']:.2f}, idle {m['idle']:.2f}, iowait {m['iowait']:.2f}, "
            f"steal {m['steal']:.2f} cores (busy: user {m['user']:.2f}, system "
            f"{m['system']:.2f}, irq+softirq {m['irq+softirq']:.2f})"
        )
        top = sorted(s.rest.items(), key=lambda kv: -kv[1])[:6]
        lines.append(
            "  of the rest, by command: "
            + ", ".join(f"{name} {cores:.2f}" for name, cores in top if cores >= 0.005)
        )
    at_once = ", ".join(f"{k}: {v / s.n:.0%}" for k, v in sorted(s.at_once.items()))
    lines.append(f"threads runnable on the machine at once, share of samples: {at_once}")
    if s.counters:
        c = s.counters
        lines.append(
            f"meanwhile: {c['checkpoints']} checkpoint(s), {c['wal_bytes'] / 1e6:.0f} MB of WAL "
            f"({c['wal_fpi']} full-page images), {c['wal_sync']} WAL syncs, "
            f"{c['wal_buffers_full']} times the WAL buffers were full, "
            f"{c['buffers_checkpoint']} buffers written by checkpoints, "
            f"{c['buffers_backend']} by backends"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
