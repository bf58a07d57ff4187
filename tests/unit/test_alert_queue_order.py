"""The alert queue's order: the gravest stage first and, within a stage, the alerts nobody has
taken (still open) before those being handled, then the longest waiting."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine
from test_actions_support import T0, add_alert, seed

from queries import alerts


def test_within_a_stage_the_alert_nobody_has_taken_comes_first(db_engine: Engine):
    """03:00, three 심각 alerts: two dispatched hours ago and waiting for the field team, one
    raised a minute ago that nobody has seen. It was listed last of the three ("the longest
    waiting first"), below the fold of a busy queue; nobody owns it, so it comes first."""
    seed(db_engine)
    old = [
        add_alert(db_engine, status="dispatched", stage="severe", opened_at=T0 - timedelta(hours=h))
        for h in (30, 5)
    ]
    acked = add_alert(db_engine, status="acknowledged", stage="severe", opened_at=T0)
    new = add_alert(db_engine, status="open", stage="severe", opened_at=T0 + timedelta(minutes=1))
    risk = add_alert(db_engine, status="open", stage="risk", opened_at=T0 - timedelta(hours=50))
    with db_engine.connect() as conn:
        queue = alerts.open_alerts(conn, T0 + timedelta(minutes=2))
    assert queue["id"].tolist() == [new, *old, acked, risk]
    assert "handled" not in queue.columns
