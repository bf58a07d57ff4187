"""The one ingest function behind every door (HTTP, MQTT, file import).

``ingest_events`` validates a batch, stores the new events, advances ``device_state``, adds to
``device_daily`` and runs the event-driven rules, all on the caller's connection, so one batch is
one transaction: the caller commits (``with engine.begin() as conn``) or rolls everything back.
Valid events are kept even when others in the batch are rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, or_, select
from sqlalchemy import event as sa_event

from dashboard import clock
from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Device, DeviceEvent, DeviceState
from dashboard.detection.band import band_start
from dashboard.ingest.bulk import bulk_write
from dashboard.ingest.events import Rejection, ValidEvent, validate_events
from dashboard.ingest.state import Margins, update_device_daily, update_device_state
from dashboard.ingest.vendors import zone_for
from dashboard.rules.model import HELP_EVENTS
from dashboard.rules.prefilter import Touched

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]

# Device clocks drift; anything further ahead than this is a wrong clock, not a reading.
FUTURE_TOLERANCE = timedelta(minutes=5)
# Devices with a dead clock report 1970; such events would corrupt daily rollups.
EARLIEST_TS = datetime(2000, 1, 1, tzinfo=UTC)
# PostgreSQL: an id stored with a ts this close is the same event (see ``_stored_near``).
SAME_ID_WINDOW = timedelta(days=1)
# WAL pages (4 KiB) between automatic checkpoints on an ingesting SQLite connection; see below.
SQLITE_WAL_AUTOCHECKPOINT = 10_000


def tune_engine_for_ingest(engine: Engine) -> Engine:
    """Connection settings for an engine whose main job is ingesting (HTTP server, MQTT bridge).

    SQLite: a batch of 1,000 events dirties ~1,600 pages (new events land all over both indexes
    of ``device_events``; ``device_state`` and ``device_daily`` rows of ~500 devices). With the
    default ``wal_autocheckpoint`` of 1,000 pages every commit also ran a checkpoint: copy those
    pages into the database file and fsync it, a third of the batch's time. Checkpointing every
    ~10,000 pages (≈ 40 MB of WAL, every ~6 batches) writes the pages that every batch touches
    once instead of each time. Durability is unchanged (WAL, ``synchronous=NORMAL`` as
    configured by ``make_engine``). Only connections opened afterwards are affected; PostgreSQL
    engines are returned as they are.
    """
    if engine.dialect.name == "sqlite" and not sa_event.contains(
        engine, "connect", _sqlite_ingest_pragmas
    ):
        sa_event.listen(engine, "connect", _sqlite_ingest_pragmas)
    return engine


def _sqlite_ingest_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA wal_autocheckpoint={SQLITE_WAL_AUTOCHECKPOINT}")
    cursor.close()


@dataclass(frozen=True)
class IngestResult:
    accepted: int = 0
    duplicates: int = 0
    rejected: list[tuple[int, str]] = field(default_factory=list)  # (index in batch, reason)
    device_ids: frozenset[int] = frozenset()  # devices with newly stored events
    timezone: str | None = None  # the vendor's zone, in which naive timestamps were read
    naive_ts: int = 0  # valid events whose ts had no zone
    # (index in batch, note): calls for help stored at the receive time, their clock being wrong
    clock_corrected: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class CheckedBatch:
    """A batch after validation: what could be stored, what was rejected, and why."""

    valid: list[ValidEvent]
    rejections: list[Rejection]
    device_of: dict[str, int]  # device_uid -> devices.id for the valid events
    type_of: dict[int, str] = field(default_factory=dict)  # devices.id -> type_code
    timezone: str | None = None  # the vendor's zone for naive timestamps (None: refused)
    # (index, note): valid calls for help stamped at receipt, their device clock being wrong
    corrected: list[tuple[int, str]] = field(default_factory=list)


def check_events(
    conn: Connection,
    vendor: str,
    events: Sequence[Any],
    *,
    now: datetime,
    correct_clock: bool = True,
) -> CheckedBatch:
    """Validate a batch against the contract, the catalog and the clock, without writing.

    A ``ts`` without a zone is read in the vendor's declared zone (looked up once per batch).
    A ``ts`` the device's clock cannot have right (more than ``FUTURE_TOLERANCE`` ahead, before
    2000) rejects the event, except a call for help (``HELP_EVENTS``) with ``correct_clock``:
    it is stamped with ``now``, the server's receive time, and keeps the device's own time
    as ``device_ts`` (:func:`at_receipt`). The file import passes ``correct_clock=False``: a
    file's rows are not received when they happened.
    """
    _require_aware(now)
    zone = zone_for(conn, vendor)
    valid: list[ValidEvent] = []
    rejections: list[Rejection] = []
    corrected: dict[int, str] = {}
    for checked in validate_events(events, zone):
        index = checked.index
        if isinstance(checked, Rejection):
            rejections.append(checked)
            continue
        wrong = _wrong_clock(checked, now)
        if wrong is None:
            valid.append(checked)
        elif correct_clock and checked.type in HELP_EVENTS:
            valid.append(at_receipt(checked, now))
            corrected[index] = (
                f"ts: {wrong.message}; an {checked.type} is never refused for it: stored at "
                f"the server's receive time {now.isoformat()}, the device's ts kept as device_ts"
            )
        else:
            rejections.append(wrong)

    devices = _lookup_devices(conn, {e.device_uid for e in valid})
    device_of: dict[str, int] = {}
    type_of: dict[int, str] = {}
    known: list[ValidEvent] = []
    for event in valid:
        found = devices.get(event.device_uid)
        if found is None:
            rejections.append(
                Rejection(
                    event.index,
                    "device_id",
                    f"unknown device {event.device_uid!r}",
                    "unknown_device",
                    {"device": event.device_uid},
                )
            )
        elif found[1] != vendor:
            # Do not say whose device it is: a vendor must not learn about another's fleet.
            rejections.append(
                Rejection(
                    event.index,
                    "device_id",
                    f"device {event.device_uid!r} is not registered to vendor {vendor!r}",
                    "device_other_vendor",
                    {"device": event.device_uid, "vendor": vendor},
                )
            )
        else:
            device_of[event.device_uid] = found[0]
            type_of[found[0]] = found[2]
            known.append(event)
    rejections.sort(key=lambda r: r.index)
    notes = [(e.index, corrected[e.index]) for e in known if e.index in corrected]
    return CheckedBatch(known, rejections, device_of, type_of, zone.key if zone else None, notes)


def _wrong_clock(event: ValidEvent, now: datetime) -> Rejection | None:
    """The rejection of an event whose ``ts`` a right device clock cannot give, or None."""
    if event.ts > now + FUTURE_TOLERANCE:
        ahead = int((event.ts - now).total_seconds())
        allowed = int(FUTURE_TOLERANCE.total_seconds())
        return Rejection(
            event.index,
            "ts",
            f"{ahead} s ahead of the server clock (at most {allowed} s allowed); "
            "check the device clock",
            "ts_ahead",
            {"ahead": ahead, "max": allowed},
        )
    if event.ts < EARLIEST_TS:
        return Rejection(
            event.index,
            "ts",
            "before 2000-01-01; the device clock is probably not set",
            "ts_before_2000",
        )
    return None


def at_receipt(event: ValidEvent, now: datetime) -> ValidEvent:
    """A call for help with a wrong clock, stamped when the server received it (``now``):
    the person pressed the button about then, and a refusal would lose the press. The
    device's time stays in the data (``device_ts``), flagged ``clock_corrected``."""
    data = (event.data or {}) | {"device_ts": event.ts.isoformat(), "clock_corrected": True}
    return replace(event, ts=now, data=data, clock_corrected=True)


def ingest_events(
    conn: Connection,
    vendor: str,
    events: Sequence[Any],
    *,
    now: datetime,
    correct_clock: bool = True,
) -> IngestResult:
    """Validate and store one batch of a vendor's events; see the module docstring.

    Duplicates (the same ``event_id`` for this vendor, earlier in the batch or already stored)
    are counted, not stored again and not errors: vendors retry, and retrying must be safe. An
    id whose first use names another device or type is no resend: it is rejected
    (``reused_ids``), so a vendor numbering events per device learns it at once. A call for
    help with a wrong clock is stored at ``now`` (``check_events``; ``correct_clock``), and a
    resend of it, stamped at its own receipt, is a duplicate too.
    """
    checked = check_events(conn, vendor, events, now=now, correct_clock=correct_clock)
    unique: dict[str, ValidEvent] = {}
    for event in checked.valid:
        unique.setdefault(event.event_uid, event)  # the first valid occurrence wins
    # Insert in event_uid order: concurrent batches sharing events then take their unique-index
    # locks in the same order and cannot deadlock each other on PostgreSQL.
    ordered = sorted(unique.values(), key=lambda e: e.event_uid)
    stored = _insert_new(conn, vendor, ordered, checked.device_of, now)
    earlier: dict[str, tuple[str, str]] = {}
    if len(stored) < len(ordered):  # some ids were stored before: resends, or reused ids
        inserted = {e.event_uid for e in stored}
        earlier = _stored_uses(conn, vendor, [e for e in ordered if e.event_uid not in inserted])
    reused = _reused(checked.valid, unique, earlier)
    refused = {r.index for r in reused}
    touched: dict[int, Touched] = {}
    if stored:
        signals: dict = {}
        band_records: dict[int, float] = {}
        states = update_device_state(
            conn, stored, checked.device_of, now, Margins.from_rules(), signals, band_records
        )
        update_device_daily(conn, stored, checked.device_of, signals)
        touched = _touched(stored, checked, states, band_records)
    device_ids = frozenset(touched)
    if device_ids:
        evaluate_event_rules(conn, touched, now)
    if checked.corrected:  # a device whose clock is wrong: its vendor should hear of it
        log.warning(
            "vendor %s: %d call(s) for help with a wrong device clock stored at receipt "
            "(first: event %d: %s)",
            vendor,
            len(checked.corrected),
            *checked.corrected[0],
        )
    return IngestResult(
        accepted=len(stored),
        duplicates=len(checked.valid) - len(stored) - len(refused),
        rejected=[(r.index, r.reason) for r in sorted([*checked.rejections, *reused], key=_index)],
        device_ids=device_ids,
        timezone=checked.timezone,
        naive_ts=sum(e.naive_ts for e in checked.valid if e.index not in refused),
        clock_corrected=[(i, note) for i, note in checked.corrected if i not in refused],
    )


def reused_ids(conn: Connection, vendor: str, events: Sequence[ValidEvent]) -> list[Rejection]:
    """The events (checked, of known devices) whose ``event_id`` this vendor already used for
    another device or another type of event, stored or earlier in the batch: no resend changes
    those, so the id was reused (numbered per device, or restarted after a reset). A resend
    with another value or ``ts`` (re-serialised, rounded) stays a duplicate. The file import
    checks this before storing; ``ingest_events`` finds the same itself."""
    unique: dict[str, ValidEvent] = {}
    for event in events:
        unique.setdefault(event.event_uid, event)
    return _reused(events, unique, _stored_uses(conn, vendor, list(unique.values())))


UNIQUE_PER_VENDOR = "an event_id must be unique per vendor, not per device"


def _index(rejection: Rejection) -> int:
    return rejection.index


def _reused(
    events: Sequence[ValidEvent],
    first: dict[str, ValidEvent],
    stored: dict[str, tuple[str, str]],
) -> list[Rejection]:
    """Each event whose id's first use (``stored``: id → (device, type), else the batch's
    first occurrence) names another device or type."""
    reused = []
    for e in events:
        if e.event_uid in stored:
            device, kind = stored[e.event_uid]
            if (device, kind) != (e.device_uid, e.type):
                reused.append(
                    Rejection(
                        e.index,
                        "event_id",
                        f"{e.event_uid!r} is already stored (device {device!r}, {kind}); "
                        + UNIQUE_PER_VENDOR,
                        "event_id_reused",
                        {"id": e.event_uid, "device": device, "kind": kind},
                    )
                )
            continue
        seen = first[e.event_uid]
        if (seen.device_uid, seen.type) != (e.device_uid, e.type):
            reused.append(
                Rejection(
                    e.index,
                    "event_id",
                    f"{e.event_uid!r} is already used by event {seen.index} of this batch "
                    f"(device {seen.device_uid!r}, {seen.type}); {UNIQUE_PER_VENDOR}",
                    "event_id_reused_in_batch",
                    {
                        "id": e.event_uid,
                        "index": seen.index,
                        "device": seen.device_uid,
                        "kind": seen.type,
                    },
                )
            )
    return reused


def _stored_uses(
    conn: Connection, vendor: str, events: list[ValidEvent]
) -> dict[str, tuple[str, str]]:
    """The device and type each of these events' ids is stored with (ids not stored: absent).

    Run only for ids ``_insert_new`` did not store (or for a file, before storing it); on
    PostgreSQL it reads the partitions a duplicate can be in, as ``_stored_near`` does.
    """
    if not events:
        return {}
    table, devices = DeviceEvent.__table__, Device.__table__
    query = (
        select(table.c.event_uid, devices.c.device_uid, table.c.type)
        .join(devices, devices.c.id == table.c.device_id)
        .where(
            table.c.vendor == vendor,
            table.c.event_uid.in_(sorted({e.event_uid for e in events})),
        )
    )
    if conn.dialect.name == "postgresql":
        near = and_(
            table.c.ts >= min(e.ts for e in events) - SAME_ID_WINDOW,
            table.c.ts <= max(e.ts for e in events) + SAME_ID_WINDOW,
        )
        anywhen = sorted({e.event_uid for e in events if e.clock_corrected})
        query = query.where(or_(near, table.c.event_uid.in_(anywhen)) if anywhen else near)
    return {uid: (device, kind) for uid, device, kind in conn.execute(query)}


def evaluate_event_rules(conn: Connection, touched: dict[int, Touched], now: datetime) -> None:
    """The single call site of the event-driven wellbeing rules, inside the batch's transaction.

    ``touched`` maps each device with new events to what the batch did to it, so the rules can
    skip the devices where no rule could change an alert (``dashboard.rules.prefilter``).
    """
    from dashboard import rules  # owned by the rules module; imported late to avoid a cycle

    rules.on_events(conn, touched, now)


def _touched(
    stored: list[ValidEvent],
    checked: CheckedBatch,
    states: dict[int, Any],
    band_records: dict[int, float],
) -> dict[int, Touched]:
    """Per device with new events: its type, the batch's event types and the merged state.

    The merged state is what the upsert wrote: existing rows are locked (PostgreSQL ``FOR
    UPDATE``; SQLite holds the write lock since ``_insert_new``). Only two batches creating the
    same device's first row at once can merge more in SQL, and the other batch then evaluates
    the rules for its own events.
    """
    kinds: dict[int, set[str]] = {}
    for event in stored:
        kinds.setdefault(checked.device_of[event.device_uid], set()).add(event.type)
    return {
        device_id: Touched(
            type_code=checked.type_of[device_id],
            event_types=frozenset(types),
            last_seen_at=(state := states[device_id]).last_seen_at,
            last_activity_at=state.last_activity_at,
            battery_pct=state.battery_pct,
            last_lat=state.last_lat,
            above_since=state.above_since,
            band_since=band_start(state.band_since, state.band_gap_h),
            band_h=band_records.get(device_id),
        )
        for device_id, types in kinds.items()
    }


def _insert_new(
    conn: Connection,
    vendor: str,
    events: list[ValidEvent],
    device_of: dict[str, int],
    now: datetime,
) -> list[ValidEvent]:
    """Insert events that are not stored yet; returns the ones this call actually stored.

    ON CONFLICT DO NOTHING ... RETURNING makes a concurrent duplicate (another process storing
    the same event at the same moment) a duplicate here too, instead of a failed batch.
    """
    if events and conn.dialect.name == "postgresql":
        _lock_states(conn, sorted({device_of[e.device_uid] for e in events}))
        known = _stored_near(conn, vendor, events)
        events = [e for e in events if e.event_uid not in known]
    if not events:
        return []
    rows = [
        {
            "vendor": vendor,
            "event_uid": e.event_uid,
            "device_id": device_of[e.device_uid],
            "ts": e.ts,
            "received_at": now,
            "type": e.type,
            "value": e.value,
            "data": e.data,
        }
        for e in events
    ]
    table = DeviceEvent.__table__
    inserted = {
        row.event_uid
        for row in bulk_write(
            conn,
            table,
            rows,
            lambda stmt: stmt.on_conflict_do_nothing(
                index_elements=idempotency_key(conn)
            ).returning(table.c.event_uid),
            key="ingest_events",
        )
    }
    return [e for e in events if e.event_uid in inserted]


def idempotency_key(conn: Connection) -> list[str]:
    """The columns of the unique index that makes ingest idempotent on this backend."""
    # PostgreSQL's partitioned device_events can only be unique with its partition key, ts.
    if conn.dialect.name == "postgresql":
        return ["vendor", "event_uid", "ts"]
    return ["vendor", "event_uid"]


def _lock_states(conn: Connection, device_ids: list[int]) -> None:
    """PostgreSQL: lock the batch's devices' state rows before looking for their stored ids.

    ``_stored_near`` cannot see a concurrent batch's uncommitted events, and a resend with
    another ``ts`` does not collide with them on the unique key: both batches stored the event.
    An id belongs to one device, and every batch locks that device's state row (here, in
    device_id order, as ``update_device_state`` does later anyway), so the second batch now
    waits for the first to commit and then finds its event. Only a device's very first events
    (no state row yet to lock) are left to the unique key alone.
    """
    table = DeviceState.__table__
    query = prebuilt(
        conn,
        "ingest.lock_states",
        lambda c: (
            select(table.c.device_id)
            .where(in_bound(c, table.c.device_id, "ids"))
            .order_by(table.c.device_id)
            .with_for_update()
        ),
    )
    conn.execute(query, {"ids": bound_values(conn, table.c.device_id, device_ids)}).all()


def _stored_near(conn: Connection, vendor: str, events: list[ValidEvent]) -> set[str]:
    """PostgreSQL: the ids of ``events`` already stored with another ``ts`` up to
    ``SAME_ID_WINDOW`` away (a resend with its time rounded or read in another zone).

    The unique key (vendor, event_uid, ts) catches a resend with the same ts; this lookup keeps
    an id that comes back with a changed ts a duplicate too. It reads only the partitions of
    the batch's time span plus the window, so its cost does not grow with the retention period.
    """
    table = DeviceEvent.__table__
    lo = min(e.ts for e in events) - SAME_ID_WINDOW
    hi = max(e.ts for e in events) + SAME_ID_WINDOW
    uids = sorted({e.event_uid for e in events})
    # One array parameter, not an IN list of hundreds: PostgreSQL plans it in microseconds.
    query = prebuilt(
        conn,
        "ingest.stored_near",
        lambda c: select(table.c.event_uid).where(
            table.c.vendor == bindparam("vendor"),
            in_bound(c, table.c.event_uid, "uids"),
            table.c.ts >= bindparam("lo"),
            table.c.ts <= bindparam("hi"),
        ),
    )
    params = {"vendor": vendor, "uids": bound_values(conn, table.c.event_uid, uids)}
    found = set(conn.execute(query, params | {"lo": lo, "hi": hi}).scalars())
    # A call for help stamped at its receipt (a wrong device clock) is stamped anew at each
    # resend: its first copy can lie any time before, so those few ids are looked up in every
    # partition (its retry hours later must not alert a second time).
    anywhen = sorted({e.event_uid for e in events if e.clock_corrected} - found)
    if anywhen:
        stmt = select(table.c.event_uid).where(
            table.c.vendor == vendor, table.c.event_uid.in_(anywhen)
        )
        found |= set(conn.execute(stmt).scalars())
    return found


def _lookup_devices(conn: Connection, uids: set[str]) -> dict[str, tuple[int, str, str]]:
    """device_uid -> (devices.id, vendor, type_code)."""
    found: dict[str, tuple[int, str, str]] = {}
    if not uids:
        return found
    query = prebuilt(
        conn,
        "ingest.devices",
        lambda c: select(Device.id, Device.device_uid, Device.vendor, Device.type_code).where(
            in_bound(c, Device.device_uid, "uids")
        ),
    )
    params = {"uids": bound_values(conn, Device.device_uid, sorted(uids))}
    for device_id, uid, owner, type_code in conn.execute(query, params).all():
        found[uid] = (device_id, owner, type_code)
    return found


def _require_aware(now: datetime) -> None:
    clock.require_aware(now)
