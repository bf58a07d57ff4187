"""The live fragment's data function, called directly: AppTest never fires run_every."""

from __future__ import annotations

from datetime import timedelta

from queries.live import LiveFilters, live_snapshot
from tests.apptest.conftest import DEMO_END


def test_live_snapshot_on_demo_city(demo_db) -> None:
    with demo_db.connect() as conn:
        snap = live_snapshot(conn, DEMO_END)
        wandering = live_snapshot(conn, DEMO_END, LiveFilters(programs=("goyang_wandering",)))
    assert snap.by_program["devices"].sum() > 0
    assert snap.newest_signal is not None
    assert DEMO_END - snap.newest_signal < timedelta(hours=1)  # the demo's feed was live
    assert snap.alerts["opened_at"].is_monotonic_decreasing
    assert set(wandering.by_program["program_code"]) == {"goyang_wandering"}
    assert not any(c.startswith("pii_") for c in snap.silent.columns)


def test_fetch_live_uses_the_app_database(demo_db) -> None:
    """The fragment's cached wrapper reads the database named by ANBU_DATABASE_URL."""
    from dashboard.ui.live import fetch_live

    snap = fetch_live(LiveFilters())
    with demo_db.connect() as conn:
        direct = live_snapshot(conn, DEMO_END)
    assert snap.by_program["devices"].sum() == direct.by_program["devices"].sum()
