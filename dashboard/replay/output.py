"""What a replay reports: every alert transition, read back from the real ``alerts`` table.

After each step that may write alerts (an ingested batch, a tick, the daily jobs) the alerts
written at that simulated moment (``updated_at`` = now, as the lifecycle stamps every write)
are compared with what was known before: a new alert is an open, a changed stage a stage change,
a closed status a close (``stage`` null). An evidence-only refresh is no transition.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, bindparam, select

from dashboard.clock import as_utc
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Alert
from dashboard.replay.explain import explain

# The record's keys, in this order: the contract of issue 9 (docs/replay.md).
KEYS = ("device_id", "rule", "kind", "stage", "at", "explanation")


@dataclass(frozen=True, slots=True)
class Transition:
    device_id: str
    rule: str
    kind: str
    stage: str | None  # None: the alert closed
    at: datetime  # aware UTC
    explanation: str

    def as_record(self, zone: tzinfo) -> dict[str, Any]:
        return {
            "device_id": self.device_id,
            "rule": self.rule,
            "kind": self.kind,
            "stage": self.stage,
            "at": self.at.astimezone(zone).isoformat(),
            "explanation": self.explanation,
        }


class Recorder:
    """Collects transitions by comparing alert rows with the last known (stage, status)."""

    def __init__(self, uids: dict[int, str], zone: tzinfo) -> None:
        self.uids, self.zone = uids, zone
        self.known: dict[int, tuple[str, str]] = {}  # alert id → (stage, status)
        self.transitions: list[Transition] = []

    def capture(self, conn: Connection, now: datetime) -> int:
        """Record the transitions written at ``now``; returns how many alert rows were written."""
        a = Alert.__table__
        query = prebuilt(  # built once: it runs after every step
            conn,
            "replay.capture",
            lambda _: (
                select(
                    a.c.id, a.c.device_id, a.c.rule, a.c.kind, a.c.stage, a.c.status, a.c.evidence
                )
                .where(a.c.updated_at >= bindparam("now", type_=a.c.updated_at.type))
                .order_by(a.c.id)
            ),
        )
        rows = conn.execute(query, {"now": now}).all()
        for row in rows:
            before = self.known.get(row.id)
            self.known[row.id] = (row.stage, row.status)
            closed = row.status == "closed"
            if before is not None and before[1] == "closed":
                continue
            if closed:
                stage = None
            elif before is None or before[0] != row.stage:
                stage = row.stage
            else:
                continue  # the same stage: an evidence refresh or an operator's action
            self.transitions.append(
                Transition(
                    device_id=self.uids[row.device_id],
                    rule=row.rule,
                    kind=row.kind,
                    stage=stage,
                    at=as_utc(now),
                    explanation=explain(row.rule, stage, row.evidence, self.zone),
                )
            )
        return len(rows)

    def ordered(self) -> list[Transition]:
        """In time order; one moment's transitions by device id, then rule."""
        return sorted(self.transitions, key=lambda t: (t.at, t.device_id, t.rule))


def write_json(path: str | Path, transitions: list[Transition], zone: tzinfo) -> None:
    """Write ``{"transitions": [...]}`` to ``path`` whole or not at all (temp file + rename)."""
    path = Path(path)
    body = json.dumps(
        {"transitions": [t.as_record(zone) for t in transitions]}, ensure_ascii=False, indent=1
    )
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent or ".")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(body + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
