"""The shortcut: judge every moment in memory, touch the database only when an alert changes.

Between two writes to the alerts, a device's facts change only by its readings, and the rules
are pure functions of (facts, thresholds, now). So each device keeps a *mirror* of the facts the
engine would load at a moment — the facts loaded from the database after the last write, with
the readings received since merged by the ingest's own ``merge_state`` — and the pure rules
(``evaluate_device``) run on it at every moment the product would run them (a reading's arrival
for that device, every tick for all). Only when the decisions could change an alert (open one,
change its stage, close it) or a device reports for the first time (its first batch stamps
``first_received_at``) does the database get the readings held back, as one batch through the
real ingest at that moment, and the real tick — which then make the real decision. Everything
is reloaded from the database after each such write, so the mirror never drifts for long.

What the mirror must reproduce is the engine's fact loading: ``device_state`` (merged here by
the same function ingest uses) and ``enrich``'s last-position time of a wanderer outside its
zone. ``tests/unit/test_replay.py`` replays the same histories through the real steps at every
moment (``--exact``) and checks the transitions are identical; a change to what the rules read
must keep that test passing (docs/replay.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime

from sqlalchemy import Connection, select

from dashboard.db.schema import Alert
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, merge_state
from dashboard.ingest.state import _State as IngestState  # merge_state's own state type
from dashboard.replay.inputs import Reading
from dashboard.rules.config import Thresholds
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.facts import enrich, load_facts_by_id, with_history
from dashboard.rules.model import STICKY_RULES, Decision, DeviceFacts
from dashboard.rules.wandering import distance_from_home, safe_zone_m

# DeviceFacts fields that come from device_state, which ingestion's merge keeps.
STATE_FIELDS = (
    "last_seen_at",
    "last_activity_at",
    "last_power_w",
    "last_lux",
    "battery_pct",
    "last_lat",
    "last_lon",
    "first_seen_at",
    "first_received_at",
)


def would_change(decisions: Sequence[Decision], open_stages: dict[str, str]) -> bool:
    """Could applying ``decisions`` open, re-stage or close an alert (rule → open stage)?

    Conservative where cheap: any stage different from the open one counts (the lifecycle
    decides whether it moves), and so does a decision carrying notifications. Evidence-only
    refreshes of an open alert are not transitions and are left out (docs/replay.md).
    """
    for d in decisions:
        stage = open_stages.get(d.rule)
        if d.stage is None:
            if stage is not None and d.rule not in STICKY_RULES:
                return True
        elif stage != d.stage or d.outbox:
            return True
    return False


@dataclass
class Mirror:
    """One device's facts as the engine would load them now, and its readings not yet stored."""

    device_id: int
    first_at: datetime  # its first reading: that moment always goes to the database
    base: DeviceFacts | None = None  # as loaded after the last write (None: no rule runs)
    state: IngestState = field(default_factory=IngestState)
    last_fix: datetime | None = None  # newest position received
    open: dict[str, str] = field(default_factory=dict)  # rule → stage of its non-closed alert
    pending: list[Reading] = field(default_factory=list)
    _view: DeviceFacts | None = None

    def receive(self, readings: Sequence[Reading], margins: Margins) -> None:
        events: list[ValidEvent] = [r.event for r in readings]
        self.pending.extend(readings)
        self.state = merge_state(self.state, events, margins)
        fixes = [e.ts for e in events if e.type == "position"]
        if fixes:
            self.last_fix = max(fixes) if self.last_fix is None else max(self.last_fix, *fixes)
        self._view = None

    def reset(self, base: DeviceFacts | None, open_stages: dict[str, str]) -> None:
        """After a write: the database's facts and alerts are the truth again."""
        self.base, self.open, self.pending, self._view = base, open_stages, [], None
        if base is not None:
            self.state = IngestState(**{name: getattr(base, name) for name in STATE_FIELDS})

    def facts(self, th: Thresholds) -> DeviceFacts | None:
        if self.base is None:
            return None
        if self._view is None:
            view = replace(
                self.base,
                last_position_at=None,
                **{name: getattr(self.state, name) for name in STATE_FIELDS},
            )
            # enrich: the last fix's time, only for a wanderer whose last fix is outside.
            distance = distance_from_home(view)
            if distance is not None and distance > safe_zone_m(view, th):
                view = replace(view, last_position_at=self.last_fix)
            self._view = view
        return self._view

    def needs_database(self, now: datetime, th: Thresholds) -> bool:
        if now == self.first_at:
            return True
        facts = self.facts(th)
        return facts is not None and would_change(evaluate_device(facts, th, now), self.open)


def reload(conn: Connection, mirrors: Iterable[Mirror], th: Thresholds, now: datetime) -> None:
    """Reset ``mirrors`` from the database, loading facts exactly as the engine does."""
    by_id = {m.device_id: m for m in mirrors}
    if not by_id:
        return
    ids = sorted(by_id)
    facts, _readings = enrich(conn, load_facts_by_id(conn, ids), th, now)
    loaded = {f.device_id: f for f in with_history(conn, facts)}
    a = Alert.__table__
    open_stages: dict[int, dict[str, str]] = {i: {} for i in ids}
    for device_id, rule, stage in conn.execute(
        select(a.c.device_id, a.c.rule, a.c.stage).where(
            a.c.device_id.in_(ids), a.c.status != "closed"
        )
    ):
        open_stages[device_id][rule] = stage
    for device_id, mirror in by_id.items():
        mirror.reset(loaded.get(device_id), open_stages[device_id])
