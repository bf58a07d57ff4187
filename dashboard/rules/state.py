"""``device_state.state`` follows the device's open alerts.

The worst open person alert wins (심각 > 위험 > 관심); without one, an open ``device_silent``
ticket makes the device ``offline``; otherwise it is ``normal``. A low-battery ticket does not
change the state: the device still reports, and hiding a person behind "offline" would be worse.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Alert, DeviceState
from dashboard.rules.facts import chunks
from dashboard.rules.lifecycle import dialect_insert
from dashboard.rules.model import worse


def derive_state(open_alerts: Iterable[tuple[str, str, str]]) -> str:
    """State from the device's open alerts given as (kind, rule, stage)."""
    person: str | None = None
    offline = False
    for kind, rule, stage in open_alerts:
        if kind == "person":
            person = worse(person, stage)
        elif rule == "device_silent":
            offline = True
    return person or ("offline" if offline else "normal")


def sync_device_states(conn: Connection, device_ids: Iterable[int], now: datetime) -> int:
    """Recompute the state of ``device_ids`` from their open alerts; returns rows changed."""
    ids = sorted(set(device_ids))
    if not ids:
        return 0
    a, s = Alert.__table__, DeviceState.__table__
    alerts: dict[int, list[tuple[str, str, str]]] = {i: [] for i in ids}
    current: dict[int, str] = {}
    # Built once (``db.prebuilt``): every evaluation runs them.
    open_query = prebuilt(
        conn,
        "rules.state.open_alerts",
        lambda c: select(a.c.device_id, a.c.kind, a.c.rule, a.c.stage).where(
            in_bound(c, a.c.device_id, "ids"), a.c.status != "closed"
        ),
    )
    state_query = prebuilt(
        conn,
        "rules.state.states",
        lambda c: select(s.c.device_id, s.c.state).where(in_bound(c, s.c.device_id, "ids")),
    )
    for part in chunks(ids):
        params = {"ids": bound_values(conn, a.c.device_id, part)}
        for row in conn.execute(open_query, params):
            alerts[row.device_id].append((row.kind, row.rule, row.stage))
        for row in conn.execute(state_query, params):
            current[row.device_id] = row.state
    changed: list[dict] = []
    missing = []
    for device_id in ids:
        state = derive_state(alerts[device_id])
        if device_id not in current:
            missing.append(
                {"device_id": device_id, "state": state, "state_since": now, "updated_at": now}
            )
        elif current[device_id] != state:
            changed.append({"d": device_id, "state": state, "since": now})
    if changed:  # one executemany, not a round trip per device
        moved = prebuilt(
            conn,
            "rules.state.update",
            lambda _: (
                update(s)
                .where(s.c.device_id == bindparam("d"))
                .values(
                    state=bindparam("state"),
                    state_since=bindparam("since"),
                    updated_at=bindparam("at", type_=s.c.updated_at.type),
                )
            ),
        )
        conn.execute(moved, [row | {"at": now} for row in changed])
    if missing:  # a device that never reported still needs its row to show as offline
        stmt = dialect_insert(conn, s).on_conflict_do_nothing(index_elements=["device_id"])
        for row in missing:
            conn.execute(stmt, row)
    return len(changed) + len(missing)
