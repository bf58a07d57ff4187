"""``device_counts``: the wall screen's device count per program × dong × state, kept by triggers.

Every statement that inserts, deletes or changes a device (status, program, region) or its
``device_state`` (state, whether it ever reported) fires a trigger that writes the change as
signed delta rows (−1 for the group the device leaves, +1 for the one it joins), in the same
transaction. Deltas are only ever inserted, so concurrent ingest batches never wait on one
another's count rows (an UPDATE of a shared total would serialise them and could deadlock).
The rule tick folds each group's deltas into one row (:func:`fold`); the wall screen sums
whatever is there (``queries.live.device_counts``).

A trigger sees every writer (ingest, the rules, the registry, the demo and bench builders,
hand-written SQL), so the counts cannot drift while the triggers exist. :func:`recount` rebuilds
them from a GROUP BY and says how many groups differed: ``python -m dashboard db recount``,
and once a day by the worker as a safety net (``daily_recount``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, func, insert, select, text, tuple_

from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema.devices import Device, DeviceCount, DeviceState

log = logging.getLogger(__name__)
_COLS = "program_id, region_id, state, never_seen, devices"

# PostgreSQL: one function per table; NEW/OLD of a device and of its state row.
_PG_DEVICES = f"""
CREATE FUNCTION device_counts_devices() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.status = 'active' THEN
    INSERT INTO device_counts ({_COLS})
    SELECT OLD.program_id, OLD.region_id, COALESCE(s.state, 'offline'), s.last_seen_at IS NULL, -1
    FROM (SELECT OLD.id AS id) AS d LEFT JOIN device_state AS s ON s.device_id = d.id;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.status = 'active' THEN
    INSERT INTO device_counts ({_COLS})
    SELECT NEW.program_id, NEW.region_id, COALESCE(s.state, 'offline'), s.last_seen_at IS NULL, 1
    FROM (SELECT NEW.id AS id) AS d LEFT JOIN device_state AS s ON s.device_id = d.id;
  END IF;
  RETURN NULL;
END $$
"""
_PG_STATE = f"""
CREATE FUNCTION device_counts_state() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- the device leaves its group: its old state row, or "offline, never reported" without one
  IF TG_OP <> 'INSERT' THEN
    INSERT INTO device_counts ({_COLS})
    SELECT d.program_id, d.region_id, COALESCE(OLD.state, 'offline'), OLD.last_seen_at IS NULL, -1
    FROM devices AS d WHERE d.id = OLD.device_id AND d.status = 'active';
  END IF;
  IF TG_OP = 'INSERT' OR (TG_OP = 'UPDATE' AND OLD.device_id <> NEW.device_id) THEN
    INSERT INTO device_counts ({_COLS})
    SELECT d.program_id, d.region_id, 'offline', TRUE, -1
    FROM devices AS d WHERE d.id = NEW.device_id AND d.status = 'active';
  END IF;
  IF TG_OP = 'DELETE' OR (TG_OP = 'UPDATE' AND OLD.device_id <> NEW.device_id) THEN
    INSERT INTO device_counts ({_COLS})
    SELECT d.program_id, d.region_id, 'offline', TRUE, 1
    FROM devices AS d WHERE d.id = OLD.device_id AND d.status = 'active';
  END IF;
  IF TG_OP <> 'DELETE' THEN
    INSERT INTO device_counts ({_COLS})
    SELECT d.program_id, d.region_id, COALESCE(NEW.state, 'offline'), NEW.last_seen_at IS NULL, 1
    FROM devices AS d WHERE d.id = NEW.device_id AND d.status = 'active';
  END IF;
  RETURN NULL;
END $$
"""
_DEVICE_CHANGED = (
    "OLD.status IS DISTINCT FROM NEW.status OR OLD.program_id IS DISTINCT FROM NEW.program_id"
    " OR OLD.region_id IS DISTINCT FROM NEW.region_id OR OLD.id IS DISTINCT FROM NEW.id"
)
_STATE_CHANGED = (
    "OLD.state IS DISTINCT FROM NEW.state OR OLD.device_id IS DISTINCT FROM NEW.device_id"
    " OR (OLD.last_seen_at IS NULL) <> (NEW.last_seen_at IS NULL)"
)
POSTGRES_CREATE = (
    _PG_DEVICES,
    _PG_STATE,
    "CREATE TRIGGER device_counts_devices_ins AFTER INSERT ON devices"
    " FOR EACH ROW EXECUTE FUNCTION device_counts_devices()",
    "CREATE TRIGGER device_counts_devices_del AFTER DELETE ON devices"
    " FOR EACH ROW EXECUTE FUNCTION device_counts_devices()",
    "CREATE TRIGGER device_counts_devices_upd AFTER UPDATE OF status, program_id, region_id, id"
    f" ON devices FOR EACH ROW WHEN ({_DEVICE_CHANGED})"
    " EXECUTE FUNCTION device_counts_devices()",
    "CREATE TRIGGER device_counts_state_ins AFTER INSERT ON device_state"
    " FOR EACH ROW EXECUTE FUNCTION device_counts_state()",
    "CREATE TRIGGER device_counts_state_del AFTER DELETE ON device_state"
    " FOR EACH ROW EXECUTE FUNCTION device_counts_state()",
    "CREATE TRIGGER device_counts_state_upd AFTER UPDATE OF state, last_seen_at, device_id"
    f" ON device_state FOR EACH ROW WHEN ({_STATE_CHANGED})"
    " EXECUTE FUNCTION device_counts_state()",
)
POSTGRES_DROP = (
    "DROP TRIGGER IF EXISTS device_counts_devices_ins ON devices",
    "DROP TRIGGER IF EXISTS device_counts_devices_del ON devices",
    "DROP TRIGGER IF EXISTS device_counts_devices_upd ON devices",
    "DROP TRIGGER IF EXISTS device_counts_state_ins ON device_state",
    "DROP TRIGGER IF EXISTS device_counts_state_del ON device_state",
    "DROP TRIGGER IF EXISTS device_counts_state_upd ON device_state",
    "DROP FUNCTION IF EXISTS device_counts_devices()",
    "DROP FUNCTION IF EXISTS device_counts_state()",
)


def _sqlite_device(row: str, sign: int) -> str:
    return (
        f"INSERT INTO device_counts ({_COLS})"
        f" SELECT {row}.program_id, {row}.region_id, COALESCE(s.state, 'offline'),"
        f" s.last_seen_at IS NULL, {sign}"
        f" FROM (SELECT {row}.id AS id) AS d LEFT JOIN device_state AS s ON s.device_id = d.id"
        f" WHERE {row}.status = 'active';"
    )


def _sqlite_state(device: str, state: str, never_seen: str, sign: int, extra: str = "") -> str:
    return (
        f"INSERT INTO device_counts ({_COLS})"
        f" SELECT d.program_id, d.region_id, {state}, {never_seen}, {sign}"
        f" FROM devices AS d WHERE d.id = {device} AND d.status = 'active'{extra};"
    )


_MOVED = " AND OLD.device_id IS NOT NEW.device_id"
_OLD = ("COALESCE(OLD.state, 'offline')", "OLD.last_seen_at IS NULL")
_NEW = ("COALESCE(NEW.state, 'offline')", "NEW.last_seen_at IS NULL")
SQLITE_CREATE = (
    "CREATE TRIGGER device_counts_devices_ins AFTER INSERT ON devices BEGIN "
    + _sqlite_device("NEW", 1)
    + " END",
    "CREATE TRIGGER device_counts_devices_del AFTER DELETE ON devices BEGIN "
    + _sqlite_device("OLD", -1)
    + " END",
    "CREATE TRIGGER device_counts_devices_upd AFTER UPDATE OF status, program_id, region_id, id"
    f" ON devices WHEN {_DEVICE_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
    + _sqlite_device("OLD", -1)
    + _sqlite_device("NEW", 1)
    + " END",
    "CREATE TRIGGER device_counts_state_ins AFTER INSERT ON device_state BEGIN "
    + _sqlite_state("NEW.device_id", "'offline'", "1", -1)
    + _sqlite_state("NEW.device_id", *_NEW, 1)
    + " END",
    "CREATE TRIGGER device_counts_state_del AFTER DELETE ON device_state BEGIN "
    + _sqlite_state("OLD.device_id", *_OLD, -1)
    + _sqlite_state("OLD.device_id", "'offline'", "1", 1)
    + " END",
    "CREATE TRIGGER device_counts_state_upd AFTER UPDATE OF state, last_seen_at, device_id"
    f" ON device_state WHEN {_STATE_CHANGED.replace('IS DISTINCT FROM', 'IS NOT')} BEGIN "
    + _sqlite_state("OLD.device_id", *_OLD, -1)
    + _sqlite_state("OLD.device_id", "'offline'", "1", 1, _MOVED)
    + _sqlite_state("NEW.device_id", "'offline'", "1", -1, _MOVED)
    + _sqlite_state("NEW.device_id", *_NEW, 1)
    + " END",
)
SQLITE_DROP = tuple(
    f"DROP TRIGGER IF EXISTS {name}"
    for name in (
        "device_counts_devices_ins",
        "device_counts_devices_del",
        "device_counts_devices_upd",
        "device_counts_state_ins",
        "device_counts_state_del",
        "device_counts_state_upd",
    )
)


def create_triggers(conn: Connection) -> None:
    """Create the triggers (the table must exist; no rows are counted here)."""
    for statement in POSTGRES_CREATE if conn.dialect.name == "postgresql" else SQLITE_CREATE:
        conn.exec_driver_sql(statement)


def drop_triggers(conn: Connection) -> None:
    for statement in POSTGRES_DROP if conn.dialect.name == "postgresql" else SQLITE_DROP:
        conn.exec_driver_sql(statement)


def create_all_hook(target, connection, **_kw) -> None:
    """``metadata.create_all`` (tests, a fresh schema) builds what migration 0013 builds."""
    if "device_counts" in target.tables:
        create_triggers(connection)


def fresh_counts():
    """The GROUP BY the table stands for: active devices per (program, dong, state, never
    reported), a device without a state row counted as offline and never reported."""
    d, s = Device.__table__, DeviceState.__table__
    state = func.coalesce(s.c.state, "offline")
    never_seen = s.c.last_seen_at.is_(None)
    return (
        select(
            d.c.program_id,
            d.c.region_id,
            state.label("state"),
            never_seen.label("never_seen"),
            func.count().label("devices"),
        )
        .select_from(d)
        .outerjoin(s, s.c.device_id == d.c.id)
        .where(d.c.status == "active")
        # The expressions, not their labels: SQLite would group by device_state.state.
        .group_by(d.c.program_id, d.c.region_id, state, never_seen)
    )


def maintained_counts():
    """The table's deltas summed per group (groups of 0 left out)."""
    t = DeviceCount.__table__
    total = func.sum(t.c.devices)
    return (
        select(t.c.program_id, t.c.region_id, t.c.state, t.c.never_seen, total.label("devices"))
        .group_by(t.c.program_id, t.c.region_id, t.c.state, t.c.never_seen)
        .having(total != 0)
    )


def _as_dict(rows) -> dict[tuple, int]:
    return {(p, r, s, bool(n)): int(c) for p, r, s, n, c in rows}


def fold(conn: Connection) -> int:
    """Fold the deltas of every group with more than one row into one row; returns the rows
    removed. Exact under concurrent writers: the DELETE returns the very rows it removed, and a
    delta committed meanwhile stays as it was."""
    t = DeviceCount.__table__
    key = (t.c.program_id, t.c.region_id, t.c.state, t.c.never_seen)
    # Built once, as the statements below: the worker runs this at every tick.
    folded = prebuilt(
        conn,
        "device_counts.fold",
        lambda _: (
            delete(t)
            .where(tuple_(*key).in_(select(*key).group_by(*key).having(func.count() > 1)))
            .returning(*key, t.c.devices)
        ),
    )
    gone = conn.execute(folded).all()
    if not gone:
        return 0
    sums: dict[tuple, int] = defaultdict(int)
    for p, r, s, n, c in gone:
        sums[(p, r, s, bool(n))] += c
    rows = [
        {"program_id": p, "region_id": r, "state": s, "never_seen": n, "devices": c}
        for (p, r, s, n), c in sums.items()
        if c != 0
    ]
    if rows:
        conn.execute(_insert(conn), rows)
    return len(gone) - len(rows)


def _insert(conn: Connection):
    t = DeviceCount.__table__
    return prebuilt(conn, "device_counts.insert", lambda _: insert(t))


@dataclass(frozen=True)
class Recount:
    groups: int  # groups counted afresh
    differed: int  # groups whose maintained count was not the fresh one (0 unless drifted)

    def __str__(self) -> str:
        return f"device counts: {self.groups} groups, {self.differed} differed (repaired)"


def recount(conn: Connection) -> Recount:
    """Replace the counts by a fresh GROUP BY, in the caller's transaction; says how many
    groups differed. On PostgreSQL the table is locked first (writers of devices wait for the
    commit), so no delta committed between the comparison and the rebuild is lost or counted
    twice; on SQLite the DELETE takes the one write lock before the GROUP BY reads."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE device_counts IN EXCLUSIVE MODE"))
    t = DeviceCount.__table__
    cleared = prebuilt(  # built once, as the GROUP BY: the worker's daily pass runs them
        conn,
        "device_counts.clear",
        lambda _: delete(t).returning(
            t.c.program_id, t.c.region_id, t.c.state, t.c.never_seen, t.c.devices
        ),
    )
    gone = conn.execute(cleared).all()
    kept: dict[tuple, int] = defaultdict(int)
    for p, r, s, n, c in gone:
        kept[(p, r, s, bool(n))] += c
    fresh = _as_dict(conn.execute(prebuilt(conn, "device_counts.fresh", lambda _: fresh_counts())))
    differed = sum(kept.get(k, 0) != fresh.get(k, 0) for k in kept.keys() | fresh.keys())
    rows = [
        {"program_id": p, "region_id": r, "state": s, "never_seen": n, "devices": c}
        for (p, r, s, n), c in fresh.items()
    ]
    if rows:
        conn.execute(_insert(conn), rows)
    return Recount(groups=len(rows), differed=differed)


def drift(conn: Connection) -> dict[tuple, tuple[int, int]]:
    """Groups where the maintained count differs from a fresh GROUP BY: key → (kept, fresh)."""
    kept = _as_dict(conn.execute(maintained_counts()))
    fresh = _as_dict(conn.execute(fresh_counts()))
    return {
        k: (kept.get(k, 0), fresh.get(k, 0))
        for k in kept.keys() | fresh.keys()
        if kept.get(k, 0) != fresh.get(k, 0)
    }


RECOUNT_ACTION = "device_recount"
RECOUNT_LOCK_CLASS = 0x616E_6263  # "anbc": not the tick's key


def daily_recount(engine: Engine, now: datetime) -> Recount | None:
    """The worker's daily safety net: :func:`recount` at most once per Asia/Seoul day (the
    ``device_recount`` audit row is the guard); a group that differed is logged as a warning."""
    from dashboard.audit import write_audit
    from dashboard.once_a_day import run_once_a_day

    def job(conn: Connection) -> Recount:
        result = recount(conn)
        if result.differed:
            log.warning("device counts had drifted in %d groups; recounted", result.differed)
        write_audit(
            conn,
            at=now,
            actor="system",
            action=RECOUNT_ACTION,
            entity_type="device_counts",
            entity_id=None,
            detail={"groups": result.groups, "differed": result.differed},
        )
        return result

    return run_once_a_day(engine, now, RECOUNT_ACTION, RECOUNT_LOCK_CLASS, job)
