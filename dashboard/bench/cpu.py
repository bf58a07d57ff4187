"""CPU time of the processes an ingest measurement keeps busy, read from /proc (Linux).

On a machine shared with other work the wall-clock events/s swings with the load; the CPU that
the ingest itself spends per 1,000 events hardly does, and says what an idle machine would do.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from sqlalchemy import text
from sqlalchemy.engine import make_url


def process_cpu_s(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far; None where /proc cannot tell."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def total_cpu_s(pids: Iterable[int]) -> float | None:
    """The sum over ``pids``; None when any of them cannot be read."""
    values = [process_cpu_s(pid) for pid in pids]
    return None if any(v is None for v in values) else sum(values)  # type: ignore[misc]


def postgres_backends(url: str) -> list[int]:
    """The server processes of the other sessions on ``url``'s database, when the server runs
    on this machine (a TCP loopback or socket address); else none."""
    from dashboard.db.engine import make_engine

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql" or parsed.host not in (
        None,
        "",
        "127.0.0.1",
        "localhost",
        "::1",
    ):
        return []
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            pids = conn.execute(
                text(
                    "SELECT pid FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()"
                )
            ).scalars()
            return [pid for pid in pids if process_cpu_s(pid) is not None]
    finally:
        engine.dispose()
