"""The benchmark city: the demo generator at Seoul scale with 7 days of history, cached.

``national`` (``bench --scale national``): the Seoul generator with 2 days of history, its
active devices then copied in SQL (``INSERT … SELECT``, new ids and vendor ids, their people,
state, routines and open alerts with them) until 250,000 devices are active; see ``clone_to``.

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
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    String,
    Table,
    and_,
    case,
    cast,
    func,
    insert,
    null,
    select,
    text,
    update,
)
from sqlalchemy.engine import make_url

from dashboard import clock
from dashboard.db.engine import make_engine
from dashboard.db.schema import AppMeta, Device
from dashboard.settings import LOCAL_TZ, VAR_DIR

BENCH_DIR = VAR_DIR / "bench"
DAYS = 7
SEED = 20241129
READY = "bench_ready"
SETTLE_MAX_DAYS = 62  # history days ``settle`` gives a partition (a test city reaches a month)
SETTLED = "bench_settled"  # ``settle`` ran on a city cached before it was part of the build
SCALES = ("seoul", "national")
NATIONAL_DEVICES = 250_000  # about the national emergency-safety service (240,000 homes)
NATIONAL_DAYS = 2  # history of the Seoul part; the copies carry state, not raw history
# Copy k of a row gets id + k * ID_STRIDE: above every id of the Seoul build (≈ 36,000).
ID_STRIDE = 100_000


def city_name(devices: int | None, scale: str = "seoul") -> str:
    if devices is not None:
        return f"tiny-{devices}" if scale == "seoul" else f"tiny-{scale}-{devices}"
    return "seoul-7d" if scale == "seoul" else f"national-{NATIONAL_DAYS}d"


def build(url: str, devices: int | None, scale: str = "seoul") -> None:
    """Build the city into the empty database at ``url`` (``scale``, or ``devices`` active:
    a tiny Seoul city, or for ``national`` a tiny city copied to ``4 × devices``)."""
    from dashboard.db import migrate
    from dashboard.demo import build_demo

    engine = make_engine(url)
    migrate.upgrade(engine)
    end = clock.now().replace(second=0, microsecond=0)
    if devices is None and scale == "national":
        build_demo(engine, scale="seoul", seed=SEED, days=NATIONAL_DAYS, end=end)
        clone_to(engine, NATIONAL_DEVICES)
    elif devices is None:
        build_demo(engine, scale="seoul", seed=SEED, days=DAYS, end=end)
    else:  # a quick city for tests: the small demo with all but ``devices`` retired
        build_demo(engine, scale="small", seed=SEED, days=1, end=end)
        with engine.begin() as conn:
            cutoff = conn.execute(
                select(Device.id).order_by(Device.id).offset(devices - 1).limit(1)
            ).scalar()
            conn.execute(update(Device).where(Device.id > cutoff).values(status="retired"))
        if scale == "national":
            clone_to(engine, 4 * devices)
    settle(engine, end)
    with engine.begin() as conn:
        conn.execute(insert(AppMeta).values(key=SETTLED, value="1", updated_at=end))
        conn.execute(insert(AppMeta).values(key=READY, value=end.isoformat(), updated_at=end))
    engine.dispose()


def settle(engine: Engine, end: datetime) -> None:
    """PostgreSQL: bring a built city to the state a running deployment keeps, so ingest runs
    on its copies measure the schema and not the build's leftovers. SQLite: nothing to do.

    - Every day of the history in its own partition, as the worker's daily
      ``ensure_partitions`` would have made them: the builder leaves the days before the
      migration's first one in ``device_events_default``, and a bench run whose events fall
      on such a day (it posts the 3 hours before now: any run until 3 hours after the Seoul
      midnight that began the build's day) inserted them into a partition of 3 M rows:
      ≈ 3 ms more backend CPU per 1,000 events than into a day's partition (2026-12-04,
      docs/benchmarks.md). The emptied default partition is truncated: its indexes still
      held the moved rows' pages (400 MB copied with every run).
    - ``VACUUM (ANALYZE)``: the build updates each ``device_daily`` row ≈ 30 times; without
      autovacuum (off on some servers, and too slow to come before the first copy) every
      copy carried 7 M dead rows through the daily upsert and the level read: ≈ 5 ms more
      backend CPU per 1,000 events.

    Idempotent and quick once done: the days are created only where missing, and VACUUM skips
    the pages it marked all-visible.
    """
    from dashboard.db import partitions

    if engine.dialect.name != "postgresql":
        return
    last = end.astimezone(LOCAL_TZ).date()
    with engine.begin() as conn:
        if partitions.is_partitioned(conn):
            first = conn.execute(text("SELECT min(ts) FROM device_events")).scalar()
            day = (first or end).astimezone(LOCAL_TZ).date()
            for offset in range(max(0, min((last - day).days, SETTLE_MAX_DAYS)) + 1):
                partitions.create_day(conn, last - timedelta(days=offset))
            default = f'"{partitions.DEFAULT_PARTITION}"'
            if conn.execute(text(f"SELECT NOT EXISTS (SELECT FROM {default})")).scalar():
                # emptied: its indexes still hold the moved rows' pages, copied with every run
                conn.execute(text(f"TRUNCATE {default}"))
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE)"))


def clone_to(engine: Engine, total: int) -> int:
    """Copy the active devices until ``total`` are active; returns how many are active.

    Each copy is one ``INSERT … SELECT`` per table, so the rows never pass through Python:
    the people of the copied devices (new ``external_ref``), the devices (vendor id suffixed
    ``-n<k>``: the ingest bench's simulator then sends events for them too), their
    ``device_state`` and ``device_routines`` rows and their open alerts (dedup keys on the new
    ids, so the rules find them). Copies are of the same homes, at the same moments: the rule
    tick's candidates and the live page's groups grow with the device count.
    """
    from dashboard.db.device_counts import recount
    from dashboard.db.schema import Alert, CareRecipient, DeviceRoutine, DeviceState
    from dashboard.demo.writer import sync_sequence

    d, r = Device.__table__, CareRecipient.__table__
    with engine.begin() as conn:
        originals = conn.execute(
            select(func.count(), func.max(d.c.id)).where(d.c.status == "active")
        ).one()
        base, top = int(originals[0]), int(originals[1] or 0)
        if top >= ID_STRIDE:
            raise ValueError(f"ids up to {top}: copies would collide (ID_STRIDE {ID_STRIDE})")
        active, k = base, 0
        while active < total:
            k += 1
            take = min(base, total - active)
            off = k * ID_STRIDE
            last = conn.execute(
                select(d.c.id)
                .where(d.c.status == "active")
                .order_by(d.c.id)
                .offset(take - 1)
                .limit(1)
            ).scalar_one()
            chosen = and_(d.c.status == "active", d.c.id <= last)
            people = select(d.c.recipient_id).where(chosen, d.c.recipient_id.is_not(None))
            _copy(conn, r, r.c.id.in_(people), off, {"external_ref": f"-n{k}"})
            _copy(conn, d, chosen, off, {"device_uid": f"-n{k}"}, {"recipient_id": off})
            ids = select(d.c.id).where(chosen)
            for table in (DeviceState.__table__, DeviceRoutine.__table__):
                _copy(conn, table, table.c.device_id.in_(ids), 0, {}, {"device_id": off})
            a = Alert.__table__
            person = and_(a.c.kind == "person", a.c.recipient_id.is_not(None))
            key = case(
                (person, a.c.rule + ":" + cast(a.c.recipient_id + off, String)),
                else_=a.c.rule + ":d" + cast(a.c.device_id + off, String),
            )
            _copy(
                conn,
                a,
                and_(a.c.status != "closed", a.c.device_id.in_(ids)),
                None,
                {},
                {"device_id": off, "recipient_id": off},
                {"dedup_key": key},
            )
            active += take
        for table in (r, d, Alert.__table__):
            sync_sequence(conn, table)
        # The triggers counted every copy as a delta; one row per group instead.
        recount(conn)
    return active


def _copy(
    conn: Connection,
    table: Table,
    where: Any,
    id_offset: int | None,
    suffix: dict[str, str],
    shift: dict[str, int] | None = None,
    replace: dict[str, Any] | None = None,
) -> None:
    """``INSERT INTO table SELECT … FROM table WHERE where`` with the id moved by
    ``id_offset`` (None: a new id from the table's sequence), text columns suffixed, id
    columns shifted (NULL stays NULL) and some columns computed."""
    shift, replace = shift or {}, replace or {}
    names, exprs = [], []
    for col in table.columns:
        if col.name == "id" and id_offset is None:
            continue
        if col.name == "id":
            expr = col + id_offset
        elif col.name in suffix:
            expr = col + suffix[col.name]
        elif col.name in shift:
            expr = col + shift[col.name]
        elif col.name in replace:
            expr = replace[col.name]
        elif col.name == "replaced_by_id":
            expr = null()
        else:
            expr = col
        names.append(col.name)
        exprs.append(expr)
    conn.execute(insert(table).from_select(names, select(*exprs).where(where)))


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


def _build_in_child(url: str, name: str, devices: int | None, scale: str = "seoul") -> None:
    args = [sys.executable, "-m", "dashboard.bench.city", url, name, scale]
    subprocess.run(args + ([str(devices)] if devices is not None else []), check=True)


# -- SQLite -----------------------------------------------------------------------------------
def sqlite_city(devices: int | None, *, rebuild: bool = False, scale: str = "seoul") -> Path:
    """The cached SQLite file, built first if needed."""
    BENCH_DIR.mkdir(parents=True, exist_ok=True)
    path = BENCH_DIR / f"{city_name(devices, scale)}.sqlite3"
    if rebuild or not path.exists():
        building = path.with_suffix(".building.sqlite3")
        for stale in (building, *_sidecars(building)):
            stale.unlink(missing_ok=True)
        _build_in_child(f"sqlite:///{building}", city_name(devices, scale), devices, scale)
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
def postgres_city(
    server_url: str, devices: int | None, *, rebuild: bool = False, scale: str = "seoul"
) -> str:
    """URL of the cached database on the server of ``server_url``, built first if needed."""
    name = "anbu_bench_" + city_name(devices, scale).replace("-", "_")
    url = _with_database(server_url, name)
    engine = make_engine(url)
    ready = not rebuild and _exists(server_url, name) and city_end(engine) is not None
    engine.dispose()
    if not ready:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"')
        _build_in_child(url, name, devices, scale)
    else:
        _upgrade(url)
        _settle_once(url)
    return url


def _settle_once(url: str) -> None:
    """A city cached before ``settle`` existed gets it once (marked in ``app_meta``)."""
    engine = make_engine(url)
    try:
        with engine.connect() as conn:
            done = conn.execute(select(AppMeta.value).where(AppMeta.key == SETTLED)).scalar()
        end = city_end(engine)
        if done is None and end is not None:
            settle(engine, end)
            with engine.begin() as conn:
                now = clock.now()
                conn.execute(insert(AppMeta).values(key=SETTLED, value="1", updated_at=now))
    finally:
        engine.dispose()


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
    # URL NAME [SCALE [DEVICES]]; NAME is for the process list only
    scale_arg = sys.argv[3] if len(sys.argv) > 3 else "seoul"
    build(sys.argv[1], int(sys.argv[4]) if len(sys.argv) > 4 else None, scale_arg)
