"""The demo city's present comes from the real rules: the first tick finds nothing to do."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, func, select

from dashboard.db.schema import Alert, Device, DeviceState
from dashboard.demo import build_demo
from dashboard.demo.present import stage_times
from dashboard.rules import current_thresholds, on_events, run_silence_tick
from dashboard.rules.model import RULE_KINDS
from dashboard.rules.state import derive_state

END = datetime(2025, 3, 14, 5, 30, tzinfo=UTC)
# Rules that can start to hold with no new data, only because time passes.
SILENCE_RULES = {
    "plug_no_change",
    "device_silent",
    "call_no_activity",
    "robot_no_interaction",
    "wander_no_position",
    "wander_left_zone",  # escalates with time outside
}


def state_mismatches(conn: Connection) -> list[tuple[int, str, str]]:
    """Active devices whose ``device_state.state`` differs from what their open alerts give
    (device, stored, expected); empty when the present is consistent."""
    a, s, d = Alert.__table__, DeviceState.__table__, Device.__table__
    open_by: dict[int, list[tuple[str, str, str]]] = defaultdict(list)
    for row in conn.execute(
        select(a.c.device_id, a.c.kind, a.c.rule, a.c.stage).where(a.c.status != "closed")
    ):
        open_by[row.device_id].append((row.kind, row.rule, row.stage))
    rows = conn.execute(
        select(d.c.id, s.c.state)
        .outerjoin(s, s.c.device_id == d.c.id)
        .where(d.c.status == "active")
    )
    return [
        (dev, state, derive_state(open_by[dev]))
        for dev, state in rows
        if state != derive_state(open_by[dev])
    ]


def _alerts(conn) -> dict[int, tuple]:
    a = Alert.__table__
    rows = conn.execute(select(a.c.id, a.c.rule, a.c.stage, a.c.status, a.c.version, a.c.evidence))
    return {r.id: r for r in rows}


def test_first_tick_on_a_fresh_demo_changes_nothing(db_engine) -> None:
    build_demo(db_engine, days=3, end=END)
    th = current_thresholds()
    with db_engine.begin() as conn:
        assert state_mismatches(conn) == []
        before = _alerts(conn)
        first = run_silence_tick(conn, END)
        assert not first.skipped
        assert (first.opened, first.escalated, first.updated, first.closed) == (0, 0, 0, 0)
        assert (first.outbox, first.states_changed) == (0, 0)
        # Ingestion's path over every device at the same instant agrees as well.
        ids = conn.execute(select(Device.id).where(Device.status == "active")).scalars().all()
        on_events(conn, ids, END)
        assert _alerts(conn) == before
        assert state_mismatches(conn) == []

    open_now = {i: r for i, r in before.items() if r.status != "closed"}
    with db_engine.connect() as conn:
        oldest = conn.execute(
            select(func.min(Alert.opened_at)).where(Alert.status != "closed")
        ).scalar()
    # Nothing open since before the simulated history began (3 Seoul days, the first partial).
    assert oldest >= END - timedelta(days=4)
    person = [r for r in open_now.values() if RULE_KINDS[r.rule] == "person"]
    assert 3 <= len(person) <= 60  # a handful per program, not a flood
    for r in open_now.values():  # every open alert knows when it fired, at or before END
        times = stage_times(r.rule, r.stage, r.evidence, th)
        assert times is None or times[0][1] <= END, (r.rule, r.evidence)

    # An hour later, with no new data: only what the passing hour explains.
    later = END + timedelta(hours=1)
    with db_engine.begin() as conn:
        tick = run_silence_tick(conn, later)
        after = _alerts(conn)
        assert state_mismatches(conn) == []
    assert tick.closed == 0  # nothing clears without a new reading
    assert tick.opened + tick.escalated <= 0.01 * len(ids) + 5  # no mass change
    for i, r in after.items():
        old = before.get(i)
        if old is not None and old.stage == r.stage:
            continue
        assert r.rule in SILENCE_RULES, r.rule
        times = dict(stage_times(r.rule, r.stage, r.evidence, th) or ())
        assert END < times[r.stage] <= later, (r.rule, r.stage, r.evidence)
    assert tick.opened == sum(1 for i in after if i not in before)
