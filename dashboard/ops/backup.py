"""``python -m dashboard backup FILE``: a consistent copy of the embedded SQLite database.

SQLite's online backup API copies the database as one snapshot while the app, the ingest server
and the worker keep writing: in WAL mode a reader never blocks a writer, and the copy is taken in
one step (``pages=-1``) because a stepwise copy restarts whenever another connection writes, and
under steady ingest might never finish. The copy goes to a temporary file beside FILE, is
checked (``PRAGMA quick_check``), switched to a self-contained rollback journal, synced, and only
then renamed to FILE, so FILE is either absent or a whole, valid database.

PostgreSQL is backed up with its own tools (pg_dump / pg_restore); the command says how.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

from sqlalchemy.engine import make_url

EXIT_OK = 0
EXIT_FAILED = 1  # the copy could not be made or did not check out; FILE is untouched
EXIT_REFUSED = 2  # FILE exists (without --force), its folder is missing, no database to copy
EXIT_USE_PG_DUMP = 3  # a PostgreSQL database: use pg_dump (the message says how)


class BackupRefused(Exception):
    """A problem the operator can fix; nothing was written."""


class BackupFailed(Exception):
    """The copy failed; nothing was left at the target."""


@dataclass(frozen=True)
class BackupResult:
    target: Path
    bytes: int
    tables: int


def sqlite_path(url: str) -> Path | None:
    """The file of an SQLite URL; None for another backend."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return None
    if not parsed.database or parsed.database == ":memory:":
        raise BackupRefused("the configured SQLite database is in memory: nothing to back up")
    return Path(parsed.database)


def postgres_instructions(url: str, target: str) -> str:
    """What to run instead, with the configured URL (password hidden, libpq form)."""
    parsed = make_url(url).set(drivername="postgresql")
    shown = parsed.render_as_string(hide_password=True)
    quoted = shlex.quote(shown)
    lines = [
        "The configured database is PostgreSQL: back it up with PostgreSQL's own tools, which "
        "take a consistent snapshot while Anbu keeps running.",
        f"  backup:  pg_dump --format=custom --file={shlex.quote(target)} {quoted}",
        "  restore: createdb --host=HOST --username=USER NEWDB",
        "           pg_restore --no-owner --exit-on-error "
        f"--dbname=postgresql://USER@HOST:5432/NEWDB {shlex.quote(target)}",
        "           then point ANBU_DATABASE_URL at NEWDB; `python -m dashboard db current` "
        "checks it.",
    ]
    if parsed.password:
        lines.append(
            "(the password is shown as ***: pg_dump reads it from ~/.pgpass or PGPASSWORD)"
        )
    return "\n".join(lines)


def backup_sqlite(source: Path, target: Path, *, force: bool = False) -> BackupResult:
    """Copy the SQLite database at ``source`` to ``target`` as one consistent snapshot."""
    if not source.is_file():
        raise BackupRefused(f"no database file at {source}")
    if target.is_dir():
        raise BackupRefused(f"{target} is a directory; name a file")
    if target.exists() and not force:
        raise BackupRefused(f"{target} exists; choose another name or add --force to replace it")
    if not target.parent.is_dir():
        raise BackupRefused(f"no directory {target.parent} for the backup")
    if target.resolve() == source.resolve():
        raise BackupRefused(f"{target} is the database itself")
    temporary = target.with_name(f".{target.name}.{os.getpid()}.partial")
    try:
        tables = _copy(source, temporary)
        _fsync(temporary)
        _publish(temporary, target, force=force)
        _fsync(target.parent)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return BackupResult(target, target.stat().st_size, tables)


def _copy(source: Path, temporary: Path) -> int:
    temporary.unlink(missing_ok=True)  # a leftover of a killed run with the same pid
    # Read-only: a backup must never create or change the database it copies.
    src = sqlite3.connect(f"file:{quote(str(source))}?mode=ro", uri=True, timeout=10)
    try:
        dst = sqlite3.connect(temporary)
        try:
            src.backup(dst, pages=-1)  # one step: one snapshot (see the module docstring)
            # The copy keeps the source's WAL mode in its header; a backup should be one file.
            dst.execute("PRAGMA journal_mode=DELETE")
            check = dst.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise BackupFailed(f"the copy does not check out: {check[:3]}")
            return dst.execute("SELECT count(*) FROM sqlite_master WHERE type='table'").fetchone()[
                0
            ]
        finally:
            dst.close()
    except sqlite3.Error as exc:
        raise BackupFailed(f"SQLite could not copy {source}: {exc}") from exc
    finally:
        src.close()


def _publish(temporary: Path, target: Path, *, force: bool) -> None:
    if force:
        os.replace(temporary, target)
        return
    try:  # a hard link never replaces: FILE appearing meanwhile is still not overwritten
        os.link(temporary, target)
    except FileExistsError:
        raise BackupRefused(f"{target} appeared while copying; nothing was replaced") from None
    except OSError:  # a file system without hard links
        if target.exists():
            raise BackupRefused(f"{target} appeared while copying; nothing was replaced") from None
        os.replace(temporary, target)
        return
    temporary.unlink()


def _fsync(path: Path) -> None:
    with contextlib.suppress(OSError):  # directories cannot be opened on Windows
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
