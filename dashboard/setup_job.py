"""The first start's preparation (schema, catalog, demo city) as one background job per process.

It used to run inside the first visitor's Streamlit session: three to four minutes tied to one
browser tab, with every other visitor waiting on a lock without a word. Now the first visit
starts ``SetupJob`` in a daemon thread of the server process and every session only reads its
``SetupStatus`` (what step, how far, or the error) and shows it on a page that refreshes itself.

Phases: ``idle`` → ``running`` → ``ready`` or ``failed``; ``waiting`` while another process
holds the guard (``retry`` turns ``failed`` back into ``running``). The guard keeps two
processes on one database from building twice: for an SQLite file an exclusive ``flock`` on
``<file>.setup.lock`` (the OS releases it when the holder dies) and the holder's status in
``<file>.setup.json`` for the other processes to show; on PostgreSQL a session advisory lock.
A process that gets the guard after waiting first asks the database whether setup is still
needed, so a city another process finished is never built again.

All or nothing: the migrations run in one transaction (``dashboard.db.migrate``), the catalog
and reference figures in one, and the demo city in one (``build_demo``). A failure or a killed
process leaves the database at the last finished step, never a half-built city; the next
attempt (``retry``, or the next start) goes on from there.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool

from dashboard import clock
from dashboard.settings import Settings

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

log = logging.getLogger(__name__)

Progress = Callable[[float, str], None]
POLL_S = 1.0  # how often a waiting process looks at the guard again
PUBLISH_EVERY_S = 0.5  # progress written for other processes at most this often
# "Anbu" + 1: the worker's leader lock is 0x416E6275 (dashboard/ops/leader.py).
SETUP_LOCK_KEY = 1097753206


class Phase(StrEnum):
    IDLE = "idle"
    WAITING = "waiting"  # another process holds the guard
    RUNNING = "running"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class SetupStatus:
    phase: Phase
    fraction: float = 0.0
    step: str = ""  # the setup code's own step name ("writing raw events"); pages translate it
    error: str = ""
    started_at: datetime | None = None
    updated_at: datetime | None = None
    pid: int | None = None  # the process doing the work

    def to_json(self) -> str:
        found = asdict(self)
        for key in ("started_at", "updated_at"):
            found[key] = found[key].isoformat() if found[key] else None
        return json.dumps(found)

    @classmethod
    def from_json(cls, raw: str) -> SetupStatus:
        found = json.loads(raw)
        for key in ("started_at", "updated_at"):
            found[key] = datetime.fromisoformat(found[key]) if found[key] else None
        return cls(**{**found, "phase": Phase(found["phase"])})


class SetupGuard(Protocol):
    def acquire(self) -> bool:
        """Take the guard without waiting; False when another process holds it."""

    def release(self) -> None: ...

    def publish(self, status: SetupStatus) -> None:
        """Show ``status`` to other processes (where they can read it)."""

    def read(self) -> SetupStatus | None:
        """The status the holder published last, if any."""


class FileGuard:
    """An SQLite file's guard: ``flock`` on ``<file>.setup.lock``, status in ``.setup.json``."""

    def __init__(self, database: Path) -> None:
        self.lock_path = Path(f"{database}.setup.lock")
        self.status_path = Path(f"{database}.setup.json")
        self._handle = None
        self._local = threading.Lock()  # flock is per open file: keep this process's jobs apart

    def acquire(self) -> bool:
        if not self._local.acquire(blocking=False):
            return False
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        handle = self.lock_path.open("a")
        if fcntl is not None:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                self._local.release()
                return False
        self._handle = handle
        return True

    def release(self) -> None:
        if self._handle is not None:
            self._handle.close()  # closing the file drops the flock
            self._handle = None
            self._local.release()

    def publish(self, status: SetupStatus) -> None:
        partial = self.status_path.with_suffix(f".{os.getpid()}.partial")
        partial.write_text(status.to_json(), encoding="utf-8")
        partial.replace(self.status_path)  # readers never see half a file

    def read(self) -> SetupStatus | None:
        try:
            return SetupStatus.from_json(self.status_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, TypeError, KeyError):
            return None


class AdvisoryGuard:
    """A PostgreSQL database's guard: a session advisory lock per schema on its own connection
    (released by the server when the holding process dies). Progress stays in the process."""

    def __init__(self, url: str) -> None:
        self._engine = create_engine(url, poolclass=NullPool)
        self._conn = None

    def acquire(self) -> bool:
        conn = self._engine.connect()
        held = conn.execute(
            text("SELECT pg_try_advisory_lock(:k, hashtext(current_schema()))"),
            {"k": SETUP_LOCK_KEY},
        ).scalar()
        conn.commit()
        if not held:
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):  # closing the session frees the lock anyway
                # Unlocked here, not by the close alone: the server frees a closed session's
                # locks when its backend exits, a moment later, and a waiting process that
                # tried in that moment was refused (a flaky test under load).
                self._conn.execute(
                    text("SELECT pg_advisory_unlock(:k, hashtext(current_schema()))"),
                    {"k": SETUP_LOCK_KEY},
                )
                self._conn.commit()
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None

    def publish(self, status: SetupStatus) -> None:
        return None

    def read(self) -> SetupStatus | None:
        return None


class ProcessGuard:
    """In-memory databases: nothing outside this process can share them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        if self._lock.locked():
            self._lock.release()

    def publish(self, status: SetupStatus) -> None:
        return None

    def read(self) -> SetupStatus | None:
        return None


def guard_for(engine: Engine) -> SetupGuard:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            return FileGuard(Path(url.database).resolve())
        return ProcessGuard()
    return AdvisoryGuard(url.render_as_string(hide_password=False))


class SetupJob:
    """The preparation of one database, run at most once at a time across processes."""

    def __init__(
        self,
        run: Callable[[Progress], None],
        is_ready: Callable[[], bool],
        guard: SetupGuard,
        *,
        poll_s: float = POLL_S,
    ) -> None:
        self._run, self._is_ready, self._guard, self._poll_s = run, is_ready, guard, poll_s
        self._lock = threading.Lock()
        self._status = SetupStatus(Phase.IDLE)
        self._thread: threading.Thread | None = None
        self._published = 0.0

    def status(self) -> SetupStatus:
        with self._lock:
            status = self._status
        if status.phase is Phase.WAITING:  # show the other process's progress where it is known
            other = self._guard.read()
            if other is not None and other.phase is Phase.RUNNING:
                return replace(other, phase=Phase.WAITING)
        return status

    def start(self) -> SetupStatus:
        """Start the job unless it runs, waits, finished or failed (failed needs ``retry``)."""
        with self._lock:
            if self._status.phase is Phase.IDLE:
                self._launch()
        return self.status()

    def retry(self) -> SetupStatus:
        """Start again after a failure (the database is at its last finished step)."""
        with self._lock:
            if self._status.phase is Phase.FAILED:
                self._launch(retrying=True)
        return self.status()

    def join(self, timeout_s: float | None = None) -> SetupStatus:
        thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return self.status()

    def _launch(self, retrying: bool = False) -> None:
        self._status = SetupStatus(Phase.RUNNING, started_at=clock.now(), pid=os.getpid())
        self._thread = threading.Thread(
            target=self._work, args=(retrying,), name="anbu-setup", daemon=True
        )
        self._thread.start()

    def _set(self, status: SetupStatus, *, publish: bool = True) -> None:
        with self._lock:
            self._status = status
        if publish:
            with contextlib.suppress(OSError):  # a read-only directory: only this process sees it
                self._guard.publish(status)
            self._published = time.monotonic()

    def _progress(self, fraction: float, step: str) -> None:
        with self._lock:
            previous = self._status
        status = replace(
            previous, fraction=min(max(fraction, 0.0), 1.0), step=step, updated_at=clock.now()
        )
        due = time.monotonic() - self._published >= PUBLISH_EVERY_S
        self._set(status, publish=due or step != previous.step)

    def _work(self, retrying: bool) -> None:
        started = self._status.started_at
        waited = False
        try:
            while not self._guard.acquire():
                waited = True
                self._set(SetupStatus(Phase.WAITING, started_at=started), publish=False)
                time.sleep(self._poll_s)
        except Exception as exc:  # a lock file we may not create, a database that is down
            log.exception("first-start setup could not take its guard")
            self._set(self._failed(exc, started), publish=False)
            return
        try:
            other = self._guard.read()
            if waited and not retrying and other is not None and other.phase is Phase.FAILED:
                # The process we waited for failed: show its error rather than fail again.
                self._set(other, publish=False)
                return
            if waited and self._is_ready():
                self._set(SetupStatus(Phase.READY, 1.0, "ready", started_at=started))
                return
            self._set(SetupStatus(Phase.RUNNING, started_at=started, pid=os.getpid()))
            self._run(self._progress)
            self._set(
                SetupStatus(
                    Phase.READY,
                    1.0,
                    "ready",
                    started_at=started,
                    updated_at=clock.now(),
                    pid=os.getpid(),
                )
            )
            log.info("first-start setup finished")
        except Exception as exc:
            log.exception("first-start setup failed")
            self._set(self._failed(exc, started))
        finally:
            self._guard.release()

    def _failed(self, exc: Exception, started: datetime | None) -> SetupStatus:
        with self._lock:
            last = self._status
        return SetupStatus(
            Phase.FAILED,
            last.fraction,
            last.step,
            error=f"{type(exc).__name__}: {exc}",
            started_at=started,
            updated_at=clock.now(),
            pid=os.getpid(),
        )


_JOBS: dict[str, SetupJob] = {}
_JOBS_LOCK = threading.Lock()


def setup_job(engine: Engine, settings: Settings) -> SetupJob:
    """This process's job for ``engine``'s database (made on first use, then the same one)."""
    key = engine.url.render_as_string(hide_password=False)
    with _JOBS_LOCK:
        job = _JOBS.get(key)
        if job is None:
            from dashboard.bootstrap import ensure_database, needs_setup

            job = SetupJob(
                run=lambda progress: ensure_database(engine, settings, progress),
                is_ready=lambda: not needs_setup(engine, settings),
                guard=guard_for(engine),
            )
            _JOBS[key] = job
        return job


def register_job(engine: Engine, job: SetupJob) -> None:
    """Make ``job`` the process's job for ``engine``'s database (tests drive the page with it)."""
    with _JOBS_LOCK:
        _JOBS[engine.url.render_as_string(hide_password=False)] = job


def forget_job(engine: Engine) -> None:
    with _JOBS_LOCK:
        _JOBS.pop(engine.url.render_as_string(hide_password=False), None)
