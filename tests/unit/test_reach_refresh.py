"""The worker's refresh of the stored reaches (``detection.reach_refresh``), on both backends:
it stores what the device page computes, picks the missing and out-of-date plugs only, goes
on where a pass stopped, and a plug that cannot be judged does not hold the queue."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

import queries.reach
from dashboard.db.schema import CareRecipient, Device, PlugReachRecord
from dashboard.detection import reach_refresh
from dashboard.detection.learning import learn_routines
from dashboard.detection.reach_refresh import (
    REFRESH_DAYS,
    refresh_batch,
    refresh_reaches,
    stale_plugs,
)
from dashboard.rules import config
from dashboard.rules.config import current_thresholds
from dashboard.rules.worker import daily_jobs
from dashboard.settings import LOCAL_TZ
from queries.reach import plug_reaches
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_reach import DAYS, watts
from tests.unit.test_rules_new_devices import T0, H, add_device, power, send

db = lifecycle.db
LEARNED_AT = T0 - 11 * H  # 01:00 on the Monday


def plug_with_history(db, hours_on: bool = True) -> int:
    did, uid = add_device(db, registered_at=T0 - (DAYS * 24 + 1) * H)
    for day in range(DAYS, 0, -1):
        hours = range(-day * 24, -(day - 1) * 24)
        readings = [power(T0 + h * H, watts(h) if hours_on else 50.0) for h in hours]
        send(db, uid, readings, T0 + hours[-1] * H)
    return did


def stored(db) -> dict[int, PlugReachRecord]:
    with db.connect() as conn:
        rows = conn.execute(select(PlugReachRecord.__table__)).all()
    return {row.device_id: row for row in rows}


def test_stores_what_the_device_page_computes_and_only_once(db):
    a, b = plug_with_history(db), plug_with_history(db)
    new, _uid = add_device(db, registered_at=T0)  # no routine yet: nothing to judge
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    with db.connect() as conn:
        assert stale_plugs(conn, LEARNED_AT.date(), 10) == [a, b]
        live = {row.device_id: row.reach for row in plug_reaches(conn, device_ids=[a, b])}
    summary = refresh_reaches(db, LEARNED_AT)
    assert summary is not None and summary.refreshed == 2
    rows = stored(db)
    assert set(rows) == {a, b} and new not in rows
    for did, row in rows.items():
        reach = live[did]
        assert (row.verdict, row.median_h, row.worst_h) == (
            reach.verdict,
            reach.median_h,
            reach.worst_h,
        )
        assert row.learned_on == reach.learned_on and row.verdict in ("fast", "fair", "slow")
    # nothing stale now: the next pass does nothing, and the records stay
    assert refresh_reaches(db, LEARNED_AT + H) is None
    assert stored(db)[a].computed_at == rows[a].computed_at


def test_a_week_newer_routine_makes_a_reach_stale_and_none_daily(db):
    a, b = plug_with_history(db), plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    refresh_reaches(db, LEARNED_AT)
    today = LEARNED_AT.astimezone(LOCAL_TZ).date()
    with db.begin() as conn:  # b's reach said "none" (a plug without a usable routine then)
        conn.execute(
            update(PlugReachRecord).where(PlugReachRecord.device_id == b).values(verdict="none")
        )
    # the routine learned again the next day: only the "none" one is stale
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT + timedelta(days=1))
    with db.connect() as conn:
        assert stale_plugs(conn, today + timedelta(days=1), 10) == [b]
    # a week after the stored routine: both, the oldest first
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT + timedelta(days=REFRESH_DAYS))
    with db.connect() as conn:
        assert stale_plugs(conn, today + timedelta(days=REFRESH_DAYS), 10) == [a, b]
    # a plug no longer active is not judged
    with db.begin() as conn:
        conn.execute(update(Device).where(Device.id == a).values(status="retired"))
    with db.connect() as conn:
        assert stale_plugs(conn, today + timedelta(days=REFRESH_DAYS), 10) == [b]


def test_a_pass_stops_at_its_budget_and_the_next_goes_on(db, monkeypatch):
    plugs = [plug_with_history(db) for _ in range(3)]
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    monkeypatch.setattr(reach_refresh, "BATCH", 1)
    assert refresh_reaches(db, LEARNED_AT, budget_s=0.0) is None  # no time: no batch started
    assert refresh_batch(db, LEARNED_AT) == 1
    assert set(stored(db)) == {plugs[0]}
    summary = refresh_reaches(db, LEARNED_AT, budget_s=60.0)
    assert summary is not None and summary.refreshed == 2
    assert set(stored(db)) == set(plugs)


def test_a_plug_that_cannot_be_judged_is_stored_as_none_and_does_not_block(db, monkeypatch):
    a, b = plug_with_history(db), plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    real = reach_refresh.plug_reaches

    def broken_for_a(conn, *, device_ids, **kwargs):
        if a in device_ids:
            raise ValueError("a damaged routine")
        return real(conn, device_ids=device_ids, **kwargs)

    monkeypatch.setattr(reach_refresh, "plug_reaches", broken_for_a)
    later = LEARNED_AT + timedelta(days=3)  # the routine not learned again since
    summary = refresh_reaches(db, later)
    assert summary is not None and summary.refreshed == 2
    rows = stored(db)
    assert rows[a].verdict == "none" and rows[a].median_h is None
    assert rows[b].verdict != "none"
    # the day its routine was learned, as b's (the list shows it), not the day it failed
    assert rows[a].learned_on == rows[b].learned_on == LEARNED_AT.astimezone(LOCAL_TZ).date()
    # tried again only after the next learning
    with db.connect() as conn:
        assert stale_plugs(conn, later.astimezone(LOCAL_TZ).date(), 10) == []
    with db.begin() as conn:
        learn_routines(conn, later)
    with db.connect() as conn:
        assert stale_plugs(conn, later.astimezone(LOCAL_TZ).date(), 10) == [a]


def test_the_worker_pass_refreshes_and_a_database_error_does_not_raise(db, monkeypatch):
    a = plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    daily_jobs(db, LEARNED_AT)
    assert set(stored(db)) == {a}

    def failing(*_args, **_kwargs):
        raise RuntimeError("database went away")

    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT + timedelta(days=REFRESH_DAYS))
    monkeypatch.setattr(reach_refresh, "_refresh", failing)
    assert refresh_reaches(db, LEARNED_AT + timedelta(days=REFRESH_DAYS)) is None


def test_a_batch_judged_before_the_learning_never_replaces_a_newer_reach(db):
    # Two refreshers (SQLite: the embedded live loop and a separate worker): one judges a
    # week-old plug with its routine, the night's learning runs, the other judges and stores
    # the new routine's reach, then the first writes its older one.
    a = plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    refresh_reaches(db, LEARNED_AT)
    week = LEARNED_AT + timedelta(days=REFRESH_DAYS)
    with db.begin() as conn:
        learn_routines(conn, week)
    today = week.astimezone(LOCAL_TZ).date()
    with db.connect() as conn:
        ids = stale_plugs(conn, today, 10)
        assert ids == [a]
        late = reach_refresh.judged_records(conn, ids, week)
    with db.begin() as conn:
        learn_routines(conn, week + timedelta(days=1))
    assert refresh_batch(db, week + timedelta(days=1)) == 1
    newest = stored(db)[a].learned_on
    assert newest == today + timedelta(days=1)
    with db.begin() as conn:
        reach_refresh.store_records(conn, late)
    assert stored(db)[a].learned_on == newest


def test_a_change_of_the_thresholds_makes_the_stored_reach_stale(db, monkeypatch):
    a = plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    refresh_reaches(db, LEARNED_AT)
    assert stored(db)[a].verdict != "none"
    th = current_thresholds()
    off = th.model_copy(
        update={"plug_routine": th.plug_routine.model_copy(update={"enabled": False})}
    )
    monkeypatch.setattr(queries.reach, "current_thresholds", lambda: off)
    monkeypatch.setattr(reach_refresh, "current_thresholds", lambda: off)
    with db.connect() as conn:  # the device page now says the routine judges no more
        [row] = plug_reaches(conn, device_ids=[a])
        assert stale_plugs(conn, LEARNED_AT.astimezone(LOCAL_TZ).date(), 10) == [a]
    assert row.reach is not None and row.reach.verdict == "none"
    refresh_reaches(db, LEARNED_AT + H)
    assert stored(db)[a].verdict == "none"
    with db.connect() as conn:  # and then nothing is stale until something moves again
        assert stale_plugs(conn, LEARNED_AT.astimezone(LOCAL_TZ).date(), 10) == []


def test_the_persons_own_hours_or_district_make_the_stored_reach_stale(db):
    a = plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    refresh_reaches(db, LEARNED_AT)
    today = LEARNED_AT.astimezone(LOCAL_TZ).date()
    before = stored(db)[a]
    with db.connect() as conn:
        assert stale_plugs(conn, today) == []
        person = conn.scalar(select(Device.recipient_id).where(Device.id == a))
    assert person is not None
    with db.begin() as conn:  # the person's own first signal at 40 h instead of 24 h
        conn.execute(
            update(CareRecipient).where(CareRecipient.id == person).values(no_change_hours=40)
        )
    with db.connect() as conn:
        assert stale_plugs(conn, today) == [a]
    refresh_reaches(db, LEARNED_AT + H)
    after = stored(db)[a]
    assert after.basis != before.basis and after.computed_at > before.computed_at
    with db.connect() as conn:
        [row] = plug_reaches(conn, device_ids=[a], with_weekend=False)
        assert stale_plugs(conn, today) == []
    assert (after.median_h, after.worst_h) == (row.reach.median_h, row.reach.worst_h)


def test_the_bench_figure_times_the_refresh_on_plugs_with_a_routine(db):
    # test_bench's tiny city has no routine: its reach figure is 0 plugs, 0 ms, never run there
    from dashboard.bench.timings import _reach_refresh

    a, b = plug_with_history(db), plug_with_history(db)
    add_device(db, registered_at=T0)  # no routine: not timed
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    with db.connect() as conn:
        trans = conn.begin()
        ms, plugs = _reach_refresh(conn, LEARNED_AT)
        written = set(conn.scalars(select(PlugReachRecord.device_id)))
        trans.rollback()
    assert plugs == 2 and ms > 0 and written == {a, b}
    assert stored(db) == {}  # the bench's transaction is rolled back


def test_a_broken_rules_file_stores_no_plug_as_none(db, monkeypatch, tmp_path):
    a = plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    broken = tmp_path / "rules.toml"
    broken.write_text("[plug_routine]\nmin_days = 'many'\n", encoding="utf-8")
    monkeypatch.setattr(config, "DEFAULT_PATH", broken)  # a hand edit gone wrong
    assert refresh_reaches(db, LEARNED_AT) is None
    assert stored(db) == {}  # not every plug "cannot judge" until the next learning
    monkeypatch.undo()
    assert refresh_reaches(db, LEARNED_AT + H) is not None
    assert stored(db)[a].verdict != "none"
