"""The shortcut: judge every moment in memory, touch the database only when an alert changes.

Between two writes to the alerts, a device's facts change only by its readings, and the rules
are pure functions of (facts, thresholds, now). So each device keeps a *mirror* of the facts the
engine would load at a moment — the facts loaded from the database after the last write, with
the readings received since merged by the ingest's own ``merge_state`` — and the pure rules
(``evaluate_device``) run on it at every moment the product would run them (a reading's arrival
for that device, every tick for all), after the product's own pre-filter
(``rules.prefilter.needs_rules``) for devices without an open alert. Only when the decisions
could change an alert (open one, change its stage, close it) or a device reports for the first
time (its first batch stamps ``first_received_at``) does the database get the readings held
back, as one batch through the real ingest at that moment, and the real tick — which then make
the real decision. Everything is reloaded from the database after each such write, so the
mirror never drifts for long.

What the mirror must reproduce is the engine's fact loading: ``device_state`` (merged here by
the same function ingest uses) and ``enrich``'s last-position time of a wanderer outside its
zone. ``tests/unit/test_replay_equivalence.py`` replays the same histories through the real
steps at every moment (``exact=True``) and checks the transitions are identical; a change to
what the rules read must keep that test passing (docs/replay.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

from sqlalchemy import Connection, select

from dashboard.db.schema import Alert, DeviceState
from dashboard.detection.background import Background
from dashboard.detection.records import load_routines
from dashboard.detection.routine import Routine
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, load_backgrounds, merge_state
from dashboard.ingest.state import _State as IngestState  # merge_state's own state type
from dashboard.replay.inputs import Reading
from dashboard.rules.config import Thresholds
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.facts import enrich, load_facts_by_id, with_history
from dashboard.rules.model import STICKY_RULES, Decision, DeviceFacts
from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours, silence_timeouts
from dashboard.rules.wandering import distance_from_home, safe_zone_m

# The merged state as ingestion stores it (device_state's columns of the same names), and the
# part of it the rules' facts carry: derived, so a field added to both is mirrored as well.
INGEST_FIELDS = tuple(f.name for f in fields(IngestState))
STATE_FIELDS = tuple(name for name in INGEST_FIELDS if name in DeviceFacts.__dataclass_fields__)


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
    type_code: str | None = None  # None: no rule runs (inactive)
    stale: bool = False  # readings were stored since ``base`` was loaded (no alert changed)
    state: IngestState = field(default_factory=IngestState)
    last_fix: datetime | None = None  # newest position received
    open: dict[str, str] = field(default_factory=dict)  # rule → stage of its non-closed alert
    pending: list[Reading] = field(default_factory=list)
    # What the rules and ingest know of a plug's home, learned at each midnight: the unattended
    # load ingest classifies readings with, and the routine (attached to every view: the rule
    # only scores a quiet spell once it is as long as the engine's condition for loading it).
    background: Background | None = None
    routine: Routine | None = None
    _view: DeviceFacts | None = None

    def receive(self, readings: Sequence[Reading], margins: Margins) -> None:
        events: list[ValidEvent] = [r.event for r in readings]
        self.pending.extend(readings)
        self.state = merge_state(self.state, events, margins, self.background)
        fixes = [e.ts for e in events if e.type == "position"]
        if fixes:
            self.last_fix = max(fixes) if self.last_fix is None else max(self.last_fix, *fixes)
        self._view = None

    def reset(
        self,
        base: DeviceFacts | None,
        state: IngestState,
        open_stages: dict[str, str],
        learned: tuple[Background | None, Routine | None] = (None, None),
    ) -> None:
        """After a write: the database's facts, state and alerts are the truth again."""
        self.base, self.state, self.open = base, state, open_stages
        self.background, self.routine = learned
        self.type_code = base.type_code if base is not None else None
        self.pending, self._view, self.stale = [], None, False

    def refreshed(
        self,
        base: DeviceFacts | None,
        learned: tuple[Background | None, Routine | None] = (None, None),
    ) -> None:
        self.base, self._view, self.stale = base, None, False
        self.background, self.routine = learned
        self.type_code = base.type_code if base is not None else None

    def stored(self) -> None:
        """The held-back readings were stored and no alert changed: the merged state is what
        ingest wrote; the other facts are reloaded when a rule next needs them."""
        self.pending, self.stale = [], True

    def facts(self, th: Thresholds) -> DeviceFacts | None:
        if self.base is None:
            return None
        if self._view is None:
            view = replace(
                self.base,
                last_position_at=None,
                routine=self.routine if self.base.type_code == "smart_plug" else None,
                **{name: getattr(self.state, name) for name in STATE_FIELDS},
            )
            # enrich: the last fix's time, only for a wanderer whose last fix is outside.
            distance = distance_from_home(view)
            if distance is not None and distance > safe_zone_m(view, th):
                view = replace(view, last_position_at=self.last_fix)
            self._view = view
        return self._view

    def _routine_due(self, th: Thresholds, now: datetime) -> bool:
        """The tick's own extra candidates (``engine._candidates``): a quiet plug with a usable
        routine, which the ingest pre-filter leaves to the tick."""
        cfg, routine, quiet = th.plug_routine, self.routine, self.state.last_activity_at
        return (
            cfg.enabled
            and self.type_code == "smart_plug"
            and routine is not None
            and len(routine.reference_days) >= cfg.min_days
            and quiet is not None
            and (now - quiet).total_seconds() >= cfg.min_quiet_h * 3600
        )

    def needs_database(
        self,
        now: datetime,
        limits: Limits,
        event_types: frozenset[str],
        refresh: Callable[[Mirror, datetime], None],
    ) -> bool:
        """Must the database see this moment: could an alert change, or is it the first?"""
        if now == self.first_at:
            return True
        if self.type_code is None:
            return False
        th = limits.th
        # The product's own pre-filter (kept a superset of every rule by its property test):
        # without an open alert, most moments need no rule at all.
        if not self.open:
            s = self.state
            touched = Touched(
                self.type_code,
                event_types,
                s.last_seen_at,
                s.last_activity_at,
                s.battery_pct,
                s.last_lat,
            )
            if not needs_rules(
                touched, th, now, limits.timeouts, limits.quiet
            ) and not self._routine_due(th, now):
                return False
        if self.stale:
            refresh(self, now)
        facts = self.facts(th)
        return facts is not None and would_change(evaluate_device(facts, th, now), self.open)


@dataclass(frozen=True)
class Limits:
    """The thresholds and the pre-filter's limits, read once per replay."""

    th: Thresholds
    timeouts: dict[str, int]
    quiet: dict[str, float]

    @classmethod
    def load(cls, conn: Connection, th: Thresholds) -> Limits:
        return cls(th, silence_timeouts(conn, th), quiet_hours(th))


def load_base(
    conn: Connection, ids: list[int], th: Thresholds, now: datetime
) -> dict[int, DeviceFacts]:
    """Facts of ``ids`` loaded as the engine loads them (device id → facts; inactive: absent)."""
    facts, _readings = enrich(conn, load_facts_by_id(conn, ids), th, now)
    return {f.device_id: f for f in with_history(conn, facts)}


def load_learned(
    conn: Connection, ids: list[int]
) -> dict[int, tuple[Background | None, Routine | None]]:
    """Each device's background and routine as the last daily learning stored them."""
    backgrounds, routines = load_backgrounds(conn, ids), load_routines(conn, ids)
    return {i: (backgrounds.get(i), routines.get(i)) for i in ids}


def refresh(conn: Connection, mirror: Mirror, th: Thresholds, now: datetime) -> None:
    """Reload a stale mirror's facts; its merged state and held-back readings stay."""
    ids = [mirror.device_id]
    mirror.refreshed(
        load_base(conn, ids, th, now).get(mirror.device_id), load_learned(conn, ids)[ids[0]]
    )


def reload(conn: Connection, mirrors: Iterable[Mirror], th: Thresholds, now: datetime) -> None:
    """Reset ``mirrors`` from the database, loading facts exactly as the engine does."""
    by_id = {m.device_id: m for m in mirrors}
    if not by_id:
        return
    ids = sorted(by_id)
    loaded = load_base(conn, ids, th, now)
    a, st = Alert.__table__, DeviceState.__table__
    open_stages: dict[int, dict[str, str]] = {i: {} for i in ids}
    for device_id, rule, stage in conn.execute(
        select(a.c.device_id, a.c.rule, a.c.stage).where(
            a.c.device_id.in_(ids), a.c.status != "closed"
        )
    ):
        open_stages[device_id][rule] = stage
    # The state row as ingestion reads it before merging (a device that never reported: none).
    states = {
        row[0]: IngestState(*row[1:])
        for row in conn.execute(
            select(st.c.device_id, *(st.c[name] for name in INGEST_FIELDS)).where(
                st.c.device_id.in_(ids)
            )
        )
    }
    learned = load_learned(conn, ids)
    for device_id, mirror in by_id.items():
        state = states.get(device_id, IngestState())
        mirror.reset(loaded.get(device_id), state, open_stages[device_id], learned[device_id])
