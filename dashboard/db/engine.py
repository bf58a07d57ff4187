"""Engine creation with the connection settings each backend needs."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

SQLITE_BUSY_TIMEOUT_MS = 10_000
# The -wal file is cut back to this size whenever a checkpoint lets SQLite start it over.
# Without a limit it keeps its largest size forever: after the demo city's build (one long
# write) that is the size of the whole database. 64 MiB holds ingest's own checkpoint
# interval (``dashboard.ingest.core.SQLITE_WAL_AUTOCHECKPOINT``, ~40 MB) with room.
SQLITE_JOURNAL_SIZE_LIMIT = 64 * 1024 * 1024
CHECKPOINT_BUSY_TIMEOUT_MS = 1_000  # how long a WAL checkpoint may hold writers up for readers


def make_engine(url: str) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000, "check_same_thread": False},
        )
        event.listen(engine, "connect", _configure_sqlite)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        # Plain postgresql:// would pick psycopg2; we ship psycopg 3.
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return create_engine(url, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute(f"PRAGMA journal_size_limit={SQLITE_JOURNAL_SIZE_LIMIT}")
    cursor.close()


@dataclass(frozen=True)
class Checkpoint:
    busy: bool  # a reader or writer kept the checkpoint from finishing; the next one will
    wal_bytes_before: int  # size of the -wal file before the checkpoint
    wal_bytes: int  # and afterwards (0 once truncated)

    def __str__(self) -> str:
        state = "busy, WAL kept for the next run" if self.busy else "done"
        return (
            f"WAL checkpoint {state}: {self.wal_bytes_before / 1e6:.1f} MB -> "
            f"{self.wal_bytes / 1e6:.1f} MB"
        )


def checkpoint_wal(engine: Engine) -> Checkpoint | None:
    """Copy the WAL into the database file and truncate the -wal file to zero bytes.

    SQLite only (None elsewhere). ``TRUNCATE`` waits for readers still using the WAL (at most
    ``CHECKPOINT_BUSY_TIMEOUT_MS``) and blocks writers meanwhile and while it copies: a few
    hundred milliseconds for the WAL of an hour of ingest. When readers do not let go in time
    it reports ``busy`` and leaves the WAL as it is, for the next run.
    """
    if engine.dialect.name != "sqlite":
        return None
    path = engine.url.database
    wal = Path(f"{path}-wal") if path and path != ":memory:" else None

    def size() -> int:
        return wal.stat().st_size if wal is not None and wal.exists() else 0

    before = size()
    with engine.connect() as conn:
        # While it waits for readers, writers wait for it: wait 1 s at most, not ingest's 10 s.
        conn.exec_driver_sql(f"PRAGMA busy_timeout={CHECKPOINT_BUSY_TIMEOUT_MS}")
        try:
            busy = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").one()[0]
        finally:
            conn.exec_driver_sql(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    return Checkpoint(bool(busy), before, size())
