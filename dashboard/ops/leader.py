"""Leader election for the rule worker: one PostgreSQL session-level advisory lock.

Any number of ``python -m dashboard worker`` processes may run against one PostgreSQL database;
the one holding the lock acts (silence tick, escalation, outbox delivery, daily jobs), the others
try again every interval. The lock lives on a dedicated connection, outside the engine's pool:
when the leader dies (killed, host gone, connection dropped) PostgreSQL ends that session and
releases the lock, and the next follower to try takes over. A leader checks, before each pass,
that its session still holds the lock, so a leader that lost its connection stops acting before
its next tick.

The lock's key is the pair (``WORKER_LOCK_KEY``, ``hashtext(current_schema())``): one leader per
schema, so deployments (and tests) in different schemas of one database never compete. In
``pg_locks`` it is the row with ``locktype = 'advisory'``, ``classid = WORKER_LOCK_KEY`` and
``objsubid = 2`` (the two-key form); ``leader_backend`` finds it for the 시스템 상태 page.

On SQLite (one machine) there is no election: every worker acts, as before, and the guards that
already make concurrent passes safe (one writer at a time, the once-a-day audit rows, the outbox's
conditional claims) keep it correct. Leadership is an efficiency guarantee on PostgreSQL too: the
transaction-level guards stay, so even the instant between a leader's check and its connection
dying cannot double an escalation or a notification.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.pool import NullPool

log = logging.getLogger(__name__)

# "Anbu" in ASCII (0x416E6275). One constant: the 시스템 상태 page looks for it in pg_locks.
WORKER_LOCK_KEY = 1097753205
# Detect a dead network path within about 25 s (idle 10 s + 3 probes × 5 s) on both ends: the
# server (SET below) ends a vanished leader's session and frees the lock for a follower, and the
# leader (libpq's keepalives) notices it is cut off instead of waiting for the OS's two hours.
SERVER_KEEPALIVES = text(
    "SET tcp_keepalives_idle = 10; SET tcp_keepalives_interval = 5; SET tcp_keepalives_count = 3"
)
KEEPALIVES = {
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
}

_TRY_LOCK = text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))")
_UNLOCK = text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))")
# The lock as pg_locks shows it: objid is an oid (unsigned), hashtext a signed int4.
_LOCK_ROW = """
    l.locktype = 'advisory' AND l.classid = :k AND l.objsubid = 2 AND l.granted
    AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
    AND l.objid::bigint = (hashtext(current_schema())::bigint & 4294967295)
"""
_HOLDING = text(f"SELECT count(*) FROM pg_locks l WHERE {_LOCK_ROW} AND l.pid = pg_backend_pid()")
_HOLDER = text(
    "SELECT a.pid, a.application_name, a.client_addr::text, a.backend_start "
    f"FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid WHERE {_LOCK_ROW}"
)


def worker_identity() -> str:
    """``anbu-worker host:pid``: the lock connection's application_name in pg_stat_activity."""
    # PostgreSQL keeps 63 bytes of it: shorten the host name, never the pid.
    return f"anbu-worker {socket.gethostname()[:40]}:{os.getpid()}"


@dataclass(frozen=True)
class LeaderBackend:
    """The PostgreSQL session holding the worker lock (for the 시스템 상태 page)."""

    pid: int
    application_name: str
    client_addr: str | None
    backend_start: object


def leader_backend(conn: Connection) -> LeaderBackend | None:
    """The session holding the worker lock of this connection's schema; None when no worker
    leads (or on SQLite, which has no election)."""
    if conn.dialect.name != "postgresql":
        return None
    row = conn.execute(_HOLDER, {"k": WORKER_LOCK_KEY}).first()
    return LeaderBackend(*row) if row else None


class LeaderLock:
    """Try to become, and check whether still, the worker that acts.

    ``check()`` is called before each pass: a follower tries the lock, a leader verifies that its
    session still holds it. Never raises: a database error means "not leader now".
    """

    def __init__(self, engine: Engine) -> None:
        self.elected = engine.dialect.name == "postgresql"
        self._engine = engine
        self._lock_engine: Engine | None = None
        self._conn: Connection | None = None

    def check(self) -> bool:
        if not self.elected:
            return True  # SQLite: one machine, no election (see the module docstring)
        try:
            if self._conn is not None:
                if self._conn.execute(_HOLDING, {"k": WORKER_LOCK_KEY}).scalar():
                    return True
                log.error("the worker lock is no longer held by this session")
                self._drop()
                return False
            return self._try()
        except Exception as exc:  # a dropped connection, a database outage: not leader now
            what = "lost" if self._conn is not None else "cannot be opened"
            log.warning("worker lock connection %s: %s", what, getattr(exc, "orig", None) or exc)
            self._drop()
            return False

    def _try(self) -> bool:
        if self._lock_engine is None:
            # Its own connection, never returned to a pool: the lock lives as long as it does.
            self._lock_engine = create_engine(
                self._engine.url,
                poolclass=NullPool,
                connect_args={**KEEPALIVES, "application_name": worker_identity()},
            )
        conn = self._lock_engine.connect()
        try:
            # Autocommit: the lock is session-level, and no transaction stays open for hours.
            conn = conn.execution_options(isolation_level="AUTOCOMMIT")
            conn.execute(SERVER_KEEPALIVES)
            if conn.execute(_TRY_LOCK, {"k": WORKER_LOCK_KEY}).scalar():
                self._conn = conn
                return True
        except Exception:
            conn.close()
            raise
        conn.close()
        return False

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.invalidate()  # never reuse a connection in an unknown state
                conn.close()

    def release(self) -> None:
        """Give the lock up (a clean stop): a follower takes over at its next try."""
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing the session releases it anyway
                self._conn.execute(_UNLOCK, {"k": WORKER_LOCK_KEY})
            self._drop()
        if self._lock_engine is not None:
            self._lock_engine.dispose()
            self._lock_engine = None
