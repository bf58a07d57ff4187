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
the same function ingest uses), a plug's learned background and routine, and for a wanderer
``enrich``'s recent position fixes (the geofence's lookback before the newest fix, kept here as
they arrive) and its episode (the open left-zone alert's evidence and opening, or when the last
one closed: reloaded after every write; ``would_change`` sends to the database every moment
that would rewrite the part the geofence reads back). ``tests/unit/test_replay_equivalence.py``
replays the same histories through the real steps at every moment (``exact=True``) and checks
the transitions are identical; a change to what the rules read must keep that test passing
(docs/replay.md).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime, timedelta
from itertools import islice
from operator import attrgetter

from sqlalchemy import Connection, select

from dashboard.db.inlist import bound_values, in_bound
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import Alert, DeviceState
from dashboard.detection import left_on
from dashboard.detection.background import Background
from dashboard.detection.band import band_start
from dashboard.detection.levels import LevelFacts, LevelModel, level_byte, merge_levels
from dashboard.detection.records import load_levels, load_routines
from dashboard.detection.routine import Routine
from dashboard.ingest.events import ValidEvent
from dashboard.ingest.state import Margins, load_backgrounds, merge_state
from dashboard.ingest.state import _State as IngestState  # merge_state's own state type
from dashboard.replay.readings import Reading
from dashboard.rules.config import Thresholds
from dashboard.rules.due import device_due
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.facts import POSITIONS_MAX, enrich, load_facts_by_id, with_history
from dashboard.rules.model import FOLLOWING_RULES, STICKY_RULES, Decision, DeviceFacts, worse
from dashboard.rules.model import Reading as RuleReading
from dashboard.rules.plug import NO_LOAD_H, NO_LOAD_W
from dashboard.rules.prefilter import Touched, needs_rules, quiet_hours, silence_timeouts
from dashboard.settings import LOCAL_TZ

# The merged state as ingestion stores it (device_state's columns of the same names), and the
# part of it the rules' facts carry: derived, so a field added to both is mirrored as well.
INGEST_FIELDS = tuple(f.name for f in fields(IngestState))
STATE_FIELDS = tuple(name for name in INGEST_FIELDS if name in DeviceFacts.__dataclass_fields__)
_state_values = attrgetter(*STATE_FIELDS)
# ``dataclasses.replace`` for the view built at most moments, without its walk over the fields'
# definitions: every field is a positional ``__init__`` argument in this order, so the result
# is the same object.
FACT_FIELDS = tuple(f.name for f in fields(DeviceFacts))
assert all(f.init and not f.kw_only for f in fields(DeviceFacts))
_fact_values = attrgetter(*FACT_FIELDS)
_STATE_AT = tuple(FACT_FIELDS.index(name) for name in STATE_FIELDS)
_ROUTINE_AT, _LEVELS_AT = FACT_FIELDS.index("routine"), FACT_FIELDS.index("levels")


def would_change(
    decisions: Sequence[Decision],
    open_stages: dict[str, str],
    episode: dict | None = None,
    plug_alert: tuple[str | None, datetime | None] | None = None,
) -> bool:
    """Could applying ``decisions`` open, re-stage or close an alert (rule → open stage), or
    change a fact a later moment reads (the open left-zone alert's episode, ``episode``; the
    open plug alert's quiet spell, ``plug_alert``, which the ladder's steps read back)?

    The stage an open alert moves to is the lifecycle's (``lifecycle._repeat``): the decided
    one for a rule that follows its stage both ways (``wander_left_zone`` de-escalates), else
    the graver of the two. A decision carrying notifications counts (conservative: the
    lifecycle dedups them). Evidence-only refreshes are no transitions and are left out
    (docs/replay.md), except the episode's ``outside_since``, which the geofence reads back,
    and the plug alert's ``since``, which the steps read back.
    """
    for d in decisions:
        stage = open_stages.get(d.rule)
        if d.stage is None:
            if stage is not None and d.rule not in STICKY_RULES:
                return True
            continue
        if stage is None or d.outbox:
            return True
        if (d.stage if d.rule in FOLLOWING_RULES else worse(stage, d.stage)) != stage:
            return True
        if (
            d.rule == "wander_left_zone"
            and episode is not None
            and d.evidence.get("outside_since") != episode.get("outside_since")
        ):
            return True
        if (
            d.rule == "plug_no_change"
            and plug_alert is not None
            and d.evidence.get("since") != plug_alert[0]
        ):
            return True  # a sign of life under the open alert: the lifecycle writes its spell
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
    # A wanderer's position fixes as the rules read them (``facts._positions``), oldest first:
    # every fix received within ``lookback`` of the newest. Received means stored by the time a
    # rule runs, so the database would hold the same ones; they survive a reload.
    lookback: timedelta = timedelta(0)
    fixes: deque[RuleReading] = field(default_factory=deque)
    open: dict[str, str] = field(default_factory=dict)  # rule → stage of its non-closed alert
    pending: list[Reading] = field(default_factory=list)
    # What the rules and ingest know of a plug's home, learned at each midnight: the unattended
    # load ingest classifies readings with, and the routine (attached to every view: the rule
    # only scores a quiet spell once it is as long as the engine's condition for loading it).
    background: Background | None = None
    routine: Routine | None = None
    # The level test's model and the recent days' levels as stored (``load_levels``), and the
    # held-back readings' level sums: the view merges them as ingest will when it stores them
    # in one batch (``detection.levels.merge_levels``).
    level_model: LevelModel | None = None
    level_stored: dict[date, bytes] = field(default_factory=dict)
    level_pending: dict[date, dict[int, list]] = field(default_factory=dict)
    _view: DeviceFacts | None = None
    # The view last judged without a change, when, and its due time (``rules.due.device_due``,
    # as the tick stores it; worked out when a later moment has the same view): until then, no
    # decision can change.
    _judged: DeviceFacts | None = None
    _judged_at: datetime | None = None
    _due: datetime | None = None

    def receive(self, readings: Sequence[Reading], margins: Margins) -> None:
        events: list[ValidEvent] = [r.event for r in readings]
        self.pending.extend(readings)
        self.state = merge_state(
            self.state, events, margins, self.background if margins.background else None
        )
        if self.level_model is not None:
            self._add_levels(events)
        positions = [
            RuleReading(e.ts, e.type, None, e.data) for e in events if e.type == "position"
        ]
        if positions:
            self._keep(positions)
        self._view = None

    def _add_levels(self, events: Sequence[ValidEvent]) -> None:
        for e in events:
            if e.type == "power":
                local = e.ts.astimezone(LOCAL_TZ)
                slots = self.level_pending.setdefault(local.date(), {})
                acc = slots.setdefault(local.hour * 2 + local.minute // 30, [0.0, 0])
                acc[0] += level_byte(e.fields["watts"])
                acc[1] += 1

    def _levels(self, loaded: LevelFacts | None) -> None:
        """The level model and stored days just loaded; the held-back readings on top."""
        self.level_model = loaded.model if loaded is not None else None
        self.level_stored = dict(loaded.days) if loaded is not None else {}
        self.level_pending = {}
        if self.level_model is not None:
            self._add_levels([r.event for r in self.pending])

    def _level_facts(self) -> LevelFacts | None:
        if self.level_model is None:
            return None
        days = dict(self.level_stored)
        for day, sums in self.level_pending.items():
            days[day] = merge_levels(days.get(day), sums)
        return LevelFacts(self.level_model, days)

    def _keep(self, positions: list[RuleReading]) -> None:
        fixes = self.fixes
        # Moments arrive in time order, and a moment's readings in file order at one time.
        fixes.extend(sorted(positions, key=lambda r: r.ts))
        oldest = fixes[-1].ts - self.lookback
        while fixes[0].ts < oldest:
            fixes.popleft()

    def readings(self) -> Sequence[RuleReading]:
        """The event rules' readings, as ``enrich`` loads them: the newest ``POSITIONS_MAX``
        fixes of the lookback (a replay's fixes are all at or before ``now``)."""
        if len(self.fixes) <= POSITIONS_MAX:
            return self.fixes
        return list(islice(self.fixes, len(self.fixes) - POSITIONS_MAX, None))

    def reset(
        self,
        base: DeviceFacts | None,
        state: IngestState,
        open_stages: dict[str, str],
        learned: tuple[Background | None, Routine | None] = (None, None),
        levels: LevelFacts | None = None,
    ) -> None:
        """After a write: the database's facts, state and alerts are the truth again."""
        self.base, self.state, self.open = base, state, open_stages
        self._learned(learned)
        self.type_code = base.type_code if base is not None else None
        self.pending, self._view, self.stale = [], None, False
        self._levels(levels)

    def refreshed(
        self,
        base: DeviceFacts | None,
        learned: tuple[Background | None, Routine | None] = (None, None),
        levels: LevelFacts | None = None,
    ) -> None:
        self.base, self._view, self.stale = base, None, False
        self._learned(learned)
        self.type_code = base.type_code if base is not None else None
        self._levels(levels)

    def _learned(self, learned: tuple[Background | None, Routine | None]) -> None:
        # The same routine as before stays the same object: what it computed is kept (its slot
        # probabilities, the last spell scored), instead of recomputed at every reload.
        background, routine = learned
        self.background = background
        if routine is None or routine != self.routine:
            self.routine = routine

    def stored(self) -> None:
        """The held-back readings were stored and no alert changed: the merged state is what
        ingest wrote; the other facts are reloaded when a rule next needs them."""
        self.pending, self.stale = [], True
        self.level_pending = {}  # stored: reloaded with the rest

    def facts(self, th: Thresholds) -> DeviceFacts | None:
        if self.base is None:
            return None
        if self._view is None:
            plug = self.base.type_code == "smart_plug"
            values = list(_fact_values(self.base))
            for at, value in zip(_STATE_AT, _state_values(self.state), strict=True):
                values[at] = value
            values[_ROUTINE_AT] = self.routine if plug else None
            values[_LEVELS_AT] = self._level_facts() if plug else None
            self._view = DeviceFacts(*values)
        return self._view

    def _routine_due(self, th: Thresholds, now: datetime) -> bool:
        """The tick's own extra candidates (``engine._condition``): a quiet plug with a usable
        routine, and a plug at 0 W for ``plug_no_load``'s 12 h, which the ingest pre-filter
        leaves to the tick (so not on arrivals alone)."""
        region = self.base.region_code if self.base is not None else None
        cfg, routine, quiet = (
            th.for_region(region).plug_routine,
            self.routine,
            self.state.last_activity_at,
        )
        if self.type_code != "smart_plug":
            return False
        power = self.state.last_power_w
        if (  # engine._condition: no_load_due
            power is not None
            and power <= NO_LOAD_W
            and quiet is not None
            and (now - quiet).total_seconds() >= NO_LOAD_H * 3600
        ):
            return True
        if not (cfg.enabled and routine is not None):
            return False
        above = self.state.above_since
        if (
            cfg.on_enabled
            and routine.on_h is not None
            and left_on.judges(routine.background, th.plug_no_change.power_margin_w)
            and above is not None
            and (now - above).total_seconds() >= cfg.on_min_h * 3600
        ):
            return True  # the left-on test's candidate (engine._condition: on_due)
        return (
            (
                len(routine.reference_days) >= cfg.min_days
                or (cfg.level_enabled and self.level_model is not None)
                or (cfg.still_enabled and routine.still_h is not None)
            )
            and quiet is not None
            and (now - quiet).total_seconds() >= cfg.min_quiet_h * 3600
        )

    def needs_database(
        self,
        now: datetime,
        limits: Limits,
        event_types: frozenset[str],
        refresh: Callable[[Mirror, datetime], None],
        tick: bool = True,
    ) -> bool:
        """Must the database see this moment (a tick, or only readings arriving): could an
        alert change, or is it the first?"""
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
                s.above_since,
                band_start(s.band_since, s.band_gap_h),
                self.routine.band_h if self.routine is not None else None,
            )
            if not needs_rules(touched, th, now, limits.timeouts, limits.quiet) and not (
                tick and self._routine_due(th, now)
            ):
                return False
        if self.stale:
            refresh(self, now)
        facts = self.facts(th)
        if facts is None:
            return False
        # The same facts (no reading, no reload since) before their due time: the decisions
        # are the ones judged then, which changed nothing (the tick skips it just so).
        readings = self.readings()
        if facts is self._judged:
            if self._due is None:
                self._due = device_due(facts, th, self._judged_at, readings)
            if now < self._due:
                return False
        # With the person's district's thresholds, as the engine judges (``engine._evaluate``).
        decisions = evaluate_device(facts, th.for_region(facts.region_code), now, readings)
        if would_change(decisions, self.open, facts.wander_episode, facts.plug_alert):
            return True
        self._judged, self._judged_at, self._due = facts, now, None
        return False


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
    conn: Connection, ids: list[int], base: Mapping[int, DeviceFacts | None]
) -> dict[int, tuple[Background | None, Routine | None]]:
    """Each device's background and routine as the last daily learning stored them. A routine
    the facts just loaded (``base``: ``enrich`` attaches the stored one to a quiet plug) is
    that same row, read once."""
    known = {i: f.routine for i in ids if (f := base.get(i)) is not None and f.routine is not None}
    rest = [i for i in ids if i not in known]
    routines = known | (load_routines(conn, rest) if rest else {})
    backgrounds = load_backgrounds(conn, ids)
    return {i: (backgrounds.get(i), routines.get(i)) for i in ids}


def load_level_facts(
    conn: Connection,
    ids: list[int],
    th: Thresholds,
    now: datetime,
    base: Mapping[int, DeviceFacts | None],
) -> dict[int, LevelFacts]:
    """Each plug's level model and stored recent levels, for the plugs whose region (``base``:
    their facts) has the level test on."""
    if not th.plug_routine.enabled:
        return {}
    on = [i for i in ids if (f := base.get(i)) is not None and th.level_enabled_in(f.region_code)]
    # ``enrich`` loaded the same (``load_levels`` at the same ``now``) for its quiet plugs.
    known = {i: f.levels for i in on if (f := base[i]) is not None and f.levels is not None}
    rest = [i for i in on if i not in known]
    return known | (load_levels(conn, rest, now.astimezone(LOCAL_TZ).date()) if rest else {})


def refresh(conn: Connection, mirror: Mirror, th: Thresholds, now: datetime) -> None:
    """Reload a stale mirror's facts; its merged state and held-back readings stay."""
    ids = [mirror.device_id]
    base = load_base(conn, ids, th, now)
    mirror.refreshed(
        base.get(mirror.device_id),
        load_learned(conn, ids, base)[ids[0]],
        load_level_facts(conn, ids, th, now, base).get(ids[0]),
    )


def reload(conn: Connection, mirrors: Iterable[Mirror], th: Thresholds, now: datetime) -> None:
    """Reset ``mirrors`` from the database, loading facts exactly as the engine does."""
    by_id = {m.device_id: m for m in mirrors}
    if not by_id:
        return
    ids = sorted(by_id)
    loaded = load_base(conn, ids, th, now)
    a, st = Alert.__table__, DeviceState.__table__
    # Built once (``db.prebuilt``): a replay reloads after every write.
    open_query = prebuilt(
        conn,
        "replay.open_alerts",
        lambda c: select(a.c.device_id, a.c.rule, a.c.stage).where(
            in_bound(c, a.c.device_id, "ids"), a.c.status != "closed"
        ),
    )
    state_query = prebuilt(
        conn,
        "replay.states",
        lambda c: select(st.c.device_id, *(st.c[name] for name in INGEST_FIELDS)).where(
            in_bound(c, st.c.device_id, "ids")
        ),
    )
    open_stages: dict[int, dict[str, str]] = {i: {} for i in ids}
    params = {"ids": bound_values(conn, a.c.device_id, ids)}
    for device_id, rule, stage in conn.execute(open_query, params):
        open_stages[device_id][rule] = stage
    # The state row as ingestion reads it before merging (a device that never reported: none).
    states = {row[0]: IngestState(*row[1:]) for row in conn.execute(state_query, params)}
    learned = load_learned(conn, ids, loaded)
    level_facts = load_level_facts(conn, ids, th, now, loaded)
    for device_id, mirror in by_id.items():
        state = states.get(device_id, IngestState())
        mirror.reset(
            loaded.get(device_id),
            state,
            open_stages[device_id],
            learned[device_id],
            level_facts.get(device_id),
        )
