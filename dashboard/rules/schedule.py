"""Storing and clearing ``device_state.rules_due_at``, the silence tick's schedule.

The tick writes each judged device's due time (``dashboard.rules.due``); anything that changes
what the rules know about a device without an event clears it, so the next tick judges the
device again: an operator's action on its alert, a person's settings or away period, another
device of the same person changing their shared alert, new thresholds (:func:`check_basis`).
Ingest clears it with every event in its own ``device_state`` write.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import Connection, and_, bindparam, insert, or_, select, update

from dashboard.clock import as_utc
from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AppMeta, Device, DeviceRoutine, DeviceState

BASIS_KEY = "rules_due_basis"
CHUNK = 5_000


def judge_again(
    conn: Connection, device_ids: Iterable[int] = (), recipient_ids: Iterable[int] = ()
) -> None:
    """Clear the due time of these devices and of every device of these people."""
    s, d = DeviceState.__table__, Device.__table__
    devices = sorted({i for i in device_ids if i is not None})
    people = sorted({i for i in recipient_ids if i is not None})
    # Built once (``db.prebuilt``): every alert write and every night's learning clear them.
    if devices:
        by_device = prebuilt(
            conn,
            "schedule.judge_again.devices",
            lambda c: (
                update(s)
                .where(in_bound(c, s.c.device_id, "ids"), s.c.rules_due_at.is_not(None))
                .values(rules_due_at=None)
            ),
        )
        for start in range(0, len(devices), CHUNK):
            part = devices[start : start + CHUNK]
            conn.execute(by_device, {"ids": bound_values(conn, s.c.device_id, part)})
    if people:
        by_person = prebuilt(
            conn,
            "schedule.judge_again.people",
            lambda c: (
                update(s)
                .where(
                    s.c.device_id.in_(select(d.c.id).where(in_bound(c, d.c.recipient_id, "ids"))),
                    s.c.rules_due_at.is_not(None),
                )
                .values(rules_due_at=None)
            ),
        )
        for start in range(0, len(people), CHUNK):
            part = people[start : start + CHUNK]
            conn.execute(by_person, {"ids": bound_values(conn, d.c.recipient_id, part)})


def store_due(conn: Connection, due: Sequence[tuple[int, datetime | None, datetime]]) -> None:
    """Write (device id, last_seen_at the decision was made on, due time) rows. A device that
    reported since its facts were read (ingest committed during the tick and cleared its due
    time) keeps the cleared value: the row is written only where ``last_seen_at`` still
    matches."""
    if not due:
        return
    s = DeviceState.__table__
    seen, unseen = [], []
    for device_id, last_seen, at in due:
        row = {"b_id": device_id, "b_due": at}
        if last_seen is None:
            unseen.append(row)
        else:
            seen.append(row | {"b_seen": as_utc(last_seen)})
    # Built once (``db.prebuilt``): the worker's tick runs them every minute.
    if seen:
        seen_update = prebuilt(
            conn,
            "schedule.store_due_seen",
            lambda _: (
                update(s)
                .where(
                    and_(
                        s.c.device_id == bindparam("b_id"), s.c.last_seen_at == bindparam("b_seen")
                    )
                )
                .values(rules_due_at=bindparam("b_due"))
            ),
        )
        conn.execute(seen_update, seen)
    if unseen:
        unseen_update = prebuilt(
            conn,
            "schedule.store_due_unseen",
            lambda _: (
                update(s)
                .where(and_(s.c.device_id == bindparam("b_id"), s.c.last_seen_at.is_(None)))
                .values(rules_due_at=bindparam("b_due"))
            ),
        )
        conn.execute(unseen_update, unseen)


def check_basis(conn: Connection, basis: str, now: datetime) -> bool:
    """Clear every due time (the devices' and the routines') when ``basis`` (``due.basis``: the
    thresholds and timeouts) is not the one they were computed with; True when cleared."""
    m = AppMeta.__table__
    stored_basis = prebuilt(  # built once: every tick reads it
        conn, "schedule.basis", lambda _: select(m.c.value).where(m.c.key == BASIS_KEY)
    )
    stored = conn.execute(stored_basis).scalar_one_or_none()
    if stored == basis:
        return False
    s, rt = DeviceState.__table__, DeviceRoutine.__table__
    conn.execute(update(s).where(s.c.rules_due_at.is_not(None)).values(rules_due_at=None))
    # and when a quiet home's routine could first alert (a lower threshold, the level or the
    # stillness test switched on: sooner)
    conn.execute(
        update(rt)
        .where(or_(rt.c.score_due_at.is_not(None), rt.c.level_due_at.is_not(None)))
        .values(score_due_at=None, level_due_at=None)
    )
    if stored is None:
        conn.execute(insert(m).values(key=BASIS_KEY, value=basis, updated_at=now))
    else:
        conn.execute(update(m).where(m.c.key == BASIS_KEY).values(value=basis, updated_at=now))
    return True
