"""The worker's heartbeat: the last rule tick it ran, kept in ``app_meta`` for the 시스템 상태
page (staff without Prometheus see whether the rules still run). One small row, rewritten in
the tick's own transaction, so no migration and no growth."""

from __future__ import annotations

import json
import os
import socket
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, insert, update

from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import AppMeta

if TYPE_CHECKING:  # the engine's import costs the 시스템 상태 page's reads their start
    from dashboard.rules.engine import TickSummary

# Defined here, not in queries.system that reads it: the worker has no use for its pandas.
LAST_TICK_KEY = "worker.last_tick"


def record_tick(conn: Connection, summary: TickSummary) -> None:
    """Remember ``summary`` as the last tick (a skipped tick is not recorded: another worker
    ran that one and records it itself). On PostgreSQL the tick's advisory lock serialises
    the writers; on SQLite writers are serialised anyway, so update-then-insert is safe."""
    if summary.skipped:
        return
    value = json.dumps(
        {
            "at": summary.now.isoformat(),
            "seconds": round(summary.seconds, 4),
            "candidates": summary.candidates,
            "host": socket.gethostname(),
            "pid": os.getpid(),
        }
    )
    row = {"value": value, "updated_at": summary.now}
    m = AppMeta.__table__
    recorded = prebuilt(  # built once: every tick runs it
        conn,
        "heartbeat.last_tick",
        lambda _: (
            update(m)
            .where(m.c.key == LAST_TICK_KEY)
            .values(
                value=bindparam("b_value", type_=m.c.value.type),
                updated_at=bindparam("b_at", type_=m.c.updated_at.type),
            )
        ),
    )
    done = conn.execute(recorded, {"b_value": value, "b_at": summary.now})
    if done.rowcount == 0:
        conn.execute(insert(AppMeta).values(key=LAST_TICK_KEY, **row))
