"""Two operators at once, and double clicks, on SQLite and PostgreSQL (threads, own connections)."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, select
from test_actions_support import T0, add_alert, seed, who

from dashboard.actions import ActionResult, ConflictError, perform
from dashboard.db.schema import Alert, AuditLog, Dispatch, NotificationOutbox

KIM = who("kim")
LEE = who("lee")

ROUNDS = 6


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    return db_engine


def race(db: Engine, alert_id: int, calls: list[tuple[str, str, dict]]) -> list:
    """Start every call at the same instant on its own thread (and so its own connection)."""
    barrier = threading.Barrier(len(calls))
    results: list = [None] * len(calls)

    def run(i: int, actor: str, action: str, extra: dict) -> None:
        barrier.wait()
        try:
            results[i] = perform(db, action, alert_id, principal=who(actor), seen_version=1,
                                 now=T0 + timedelta(seconds=i), **extra)  # fmt: skip
        except Exception as exc:  # collected and asserted on below
            results[i] = exc

    threads = [
        threading.Thread(target=run, args=(i, actor, action, extra))
        for i, (actor, action, extra) in enumerate(calls)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def rows(db: Engine, alert_id: int) -> tuple[int, int, int, int]:
    with db.connect() as conn:
        version = conn.execute(select(Alert.version).where(Alert.id == alert_id)).scalar_one()
        n = [
            conn.execute(select(func.count()).where(t.alert_id == alert_id)).scalar_one()
            for t in (Dispatch, NotificationOutbox)
        ]
        audit = conn.execute(
            select(func.count()).where(AuditLog.entity_id == str(alert_id))
        ).scalar_one()
    return version, n[0], n[1], audit


@pytest.mark.parametrize(
    ("first", "second"),
    [
        (("kim", "field_visit", {}), ("lee", "field_visit", {})),
        (("kim", "acknowledge", {}), ("lee", "dong_center", {})),
        (("kim", "emergency_119", {"confirmed": True}),
         ("lee", "close", {"confirmed": True, "outcome": "false_alarm"})),
    ],
)  # fmt: skip
def test_two_operators_exactly_one_wins_and_the_other_is_told_who(db, first, second):
    for _ in range(ROUNDS):
        alert_id = add_alert(db)
        results = race(db, alert_id, [first, second])
        winners = [r for r in results if isinstance(r, ActionResult)]
        losers = [r for r in results if isinstance(r, ConflictError)]
        assert len(winners) == 1 and len(losers) == 1, results
        won, lost = winners[0], losers[0]
        assert not won.replayed and won.version == 2
        assert (lost.last.by, lost.last.action, lost.last.at) == (won.actor, won.action, won.at)
        assert lost.current_version == 2 and lost.current_status == won.status
        assert won.actor in str(lost) and won.action in str(lost)
        version, dispatches, outbox, audit = rows(db, alert_id)
        assert (version, audit) == (2, 1)
        assert dispatches == (0 if won.action in ("acknowledge", "close") else 1)
        assert outbox == len(won.notifications)


@pytest.mark.parametrize("action", ["dong_center", "field_visit", "emergency_119"])
def test_a_concurrent_double_click_dispatches_once(db, action):
    extra = {"confirmed": True} if action == "emergency_119" else {}
    for _ in range(ROUNDS):
        alert_id = add_alert(db)
        results = race(db, alert_id, [("kim", action, extra), ("kim", action, extra)])
        assert all(isinstance(r, ActionResult) for r in results), results
        assert sorted(r.replayed for r in results) == [False, True]
        first, again = sorted(results, key=lambda r: r.replayed)
        assert (again.dispatch_id, again.notifications, again.at) == (
            first.dispatch_id, first.notifications, first.at
        )  # fmt: skip
        version, dispatches, outbox, audit = rows(db, alert_id)
        assert (version, dispatches, audit) == (2, 1, 1)
        assert outbox == len(first.notifications) >= 1


def test_a_repeated_click_seconds_later_is_the_same_request(db):
    alert_id = add_alert(db)
    first = perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
    again = perform(db, "field_visit", alert_id, principal=KIM, seen_version=1,
                    now=T0 + timedelta(seconds=3))  # fmt: skip
    assert again.replayed and again.dispatch_id == first.dispatch_id and again.at == T0
    assert rows(db, alert_id) == (2, 1, 1, 1)
    # A new decision on the version the operator now sees is a new request.
    nxt = perform(db, "field_visit", alert_id, principal=KIM, seen_version=2, now=T0)
    assert not nxt.replayed and rows(db, alert_id) == (3, 2, 2, 2)


def test_the_same_click_by_another_operator_is_a_conflict_not_a_replay(db):
    alert_id = add_alert(db)
    perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
    with pytest.raises(ConflictError) as info:
        perform(db, "field_visit", alert_id, principal=LEE, seen_version=1, now=T0)
    assert (info.value.last.by, info.value.last.action) == ("kim", "field_visit")
    assert rows(db, alert_id) == (2, 1, 1, 1)
