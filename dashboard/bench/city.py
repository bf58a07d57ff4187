"""The benchmark city: the demo generator at Seoul scale with 7 days of history, cached.

SQLite lives in ``var/bench/<name>.sqlite3``; PostgreSQL in a database ``anbu_bench_<name>`` on
the given server. A cache counts only once its build finished (``bench_ready`` in ``app_meta``;
SQLite files are built under a temporary name and renamed). Measurements that write (ingest)
run on a copy, so the cache stays as built and runs stay comparable.

``python -m dashboard.bench.city URL NAME [DEVICES]`` builds one; the bench runs it in a child
process so the build's memory does not count as the measurements' peak.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine, func, insert, select, text, update
from sqlalchemy.engine import make_url

from dashboard import clock
from dashboard.db.engine import make_engine
from dashboard.db.schema import AppMeta, Device
from dashboard.settings import VAR_DIR

BENCH_DIR = VAR_DIR / "bench"
DAYS = 7
SEED = 20241129
READY = "bench_ready"


def city_name(devices: int | None) -> str:
    return "seoul-7d" if devices is None else f"tiny-{devices}"


def build(url: str, devices: int | None) -> None:
    """Build the city into the empty database at ``url`` (Seoul scale, or ``devices`` active)."""
    from dashboard.db import migrate
    from dashboard.demo import build_demo

    engine = make_engine(url)
    migrate.upgrade(engine)
    end = clock.now().replace(second=0, microsecond=0)
    if devices is None:
        build_demo(engine, scale="seoul", seed=SEED, days=DAYS, end=end)
    else:  # a quick city for tests: the small demo with all but ``devices`` retired
        build_demo(engine, scale="small", seed=SEED, days=1, end=end)
        with engine.begin() as conn:
            cutoff = conn.execute(
                select(Device.id).order_by(Device.id).offset(devices - 1).limit(1)
            ).scalar()
            conn.execute(update(Device).where(Device.id > cutoff).values(status="retired"))
    with engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(text("ANALYZE"))
        conn.execute(insert(AppMeta).values(key=READY, value=end.isoformat(), updated_at=end))
    engine.dispose()


def city_end(engine: Engine) -> datetime | None:
    """When the cached city ends (its ``now``), or None when it is missing or half-built."""
    try:
        with engine.connect() as conn:
            value = conn.execute(select(AppMeta.value).where(AppMeta.key == READY)).scalar()
    except Exception:  # no such database or table yet
        return None
    return datetime.fromisoformat(value) if value else None


def device_count(engine: Engine) -> int:
    with engine.connect() as conn:
        return conn.execute(
            select(func.count()).select_from(Device).where(Device.status == "active")
        ).scalar_one()


def _build_in_child(url: str, name: str, devices: int | None) -> None:
    args = [sys.executable, "-m", "dashboard.bench.city", url, name]
    subprocess.run(args + ([str(devices)] if devices is not None else []), check=True)


# -- SQLite -----------------------------------------------------------------------------------
def sqlite_city(devices: int | None, *, rebuild: bool = False) -> Path:
    """The cached SQLite file, built first if needed."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{city_name(devices)}.sqlite3"
    if rebuild or not path.exists():
        building = path.with_suffix(".building.sqlite3")
        for stale in (building, *_sidecars(building)):
            stale.unlink(missing_ok=True)
        _build_in_child(f"sqlite:///{building}", city_name(devices), devices)
        _checkpoint(building)
        building.replace(path)
        for sidecar in _sidecars(building):
            sidecar.unlink(missing_ok=True)
    else:
        _upgrade(f"sqlite:///{path}")
    return path


def sqlite_copy(path: Path) -> Path:
    """A throw-away copy for measurements that write."""
    copy = path.with_suffix(".run.sqlite3")
    for stale in (copy, *_sidecars(copy)):
        stale.unlink(missing_ok=True)
    _checkpoint(path)
    shutil.copyfile(path, copy)
    return copy


def _checkpoint(path: Path) -> None:
    # Folds the WAL into the main file so a plain file copy is complete.
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def _sidecars(path: Path) -> list[Path]:
    return [path.with_name(path.name + s) for s in ("-wal", "-shm")]


# -- PostgreSQL -------------------------------------------------------------------------------
def postgres_city(server_url: str, devices: int | None, *, rebuild: bool = False) -> str:
    """URL of the cached database on the server of ``server_url``, built first if needed."""
    name = "anbu_bench_" + city_name(devices).replace("-", "_")
    url = _with_database(server_url, name)
    engine = make_engine(url)
    ready = not rebuild and _exists(server_url, name) and city_end(engine) is not None
    engine.dispose()
    if not ready:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        _build_in_child(url, name, devices)
    else:
        _upgrade(url)
    return url


def _upgrade(url: str) -> None:
    """A city cached by an older version gets this version's migrations (data kept)."""
    from dashboard.db import migrate

    engine = make_engine(url)
    try:
        if migrate.needs_upgrade(engine):
            migrate.upgrade(engine)
    finally:
        engine.dispose()


def postgres_copy(server_url: str, city_url: str) -> str:
    """A throw-away copy (``CREATE DATABASE ... TEMPLATE``) for measurements that write."""
    source = make_url(city_url).database
    copy = f"{source}_run"
    _admin(
        server_url,
        f'DROP DATABASE IF EXISTS "{copy}"',
        f'CREATE DATABASE "{copy}" TEMPLATE "{source}"',
    )
    return _with_database(server_url, copy)


def postgres_drop(server_url: str, url: str) -> None:
    _admin(server_url, f'DROP DATABASE IF EXISTS "{make_url(url).database}"')


def _with_database(url: str, database: str) -> str:
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    # A search_path option (test URLs) would point the copy at a schema it does not have.
    query = {k: v for k, v in parsed.query.items() if k != "options"}
    return parsed.set(database=database, query=query).render_as_string(hide_password=False)


def _exists(server_url: str, name: str) -> bool:
    engine = make_engine(_with_database(server_url, "postgres"))
    with engine.connect() as conn:
        found = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}
        ).scalar()
    engine.dispose()
    return bool(found)


def _admin(server_url: str, *statements: str) -> None:
    engine = make_engine(_with_database(server_url, "postgres"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()


if __name__ == "__main__":
    build(sys.argv[1], int(sys.argv[3]) if len(sys.argv) > 3 else None)
