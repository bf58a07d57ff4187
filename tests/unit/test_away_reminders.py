"""The daily reminder while someone is marked away: once per person and Seoul day, to the
district's operators, from 09:00, with no personal data; nothing for cancelled, past or future
periods. Also the away queries the pages read."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from test_actions_support import T0, add_person, seed, who

from dashboard.actions.routing import CHANNELS, load_routing
from dashboard.db.schema import AuditLog, NotificationOutbox
from dashboard.detection.away import cancel_away, mark_away
from dashboard.notify.reminders import (
    AUDIT_ACTION,
    daily_away_reminders,
    queue_away_reminders,
    reminder_key,
)
from dashboard.settings import LOCAL_TZ
from queries.away import away_periods_of, away_until, people_away

LEAD = who("kim", "lead")
TODAY = T0.astimezone(LOCAL_TZ).date()  # Monday 2024-12-02, 10:00 in Seoul


def _rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(NotificationOutbox).order_by(NotificationOutbox.id)).all()


def _away(engine, rid: int, starts: int, ends: int) -> int:
    with engine.begin() as conn:
        return mark_away(
            conn, LEAD, T0, rid, TODAY + timedelta(starts), TODAY + timedelta(ends), "입원 중"
        )


def test_one_reminder_per_person_and_day_to_the_districts_operators(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        away, _ = add_person(conn)
        later, _ = add_person(conn)
        cancelled, _ = add_person(conn)
        add_person(conn)  # at home
    _away(db_engine, away, -1, 3)
    _away(db_engine, away, 0, 5)  # overlapping: one reminder, the later return date
    _away(db_engine, later, 2, 6)  # not yet away
    gone = _away(db_engine, cancelled, 0, 4)
    with db_engine.begin() as conn:
        cancel_away(conn, LEAD, T0, gone)

    first = daily_away_reminders(db_engine, T0)
    again = daily_away_reminders(db_engine, T0 + timedelta(minutes=1))  # the next worker pass
    assert (first.people, first.queued) == (1, 1) and again is None
    [row] = _rows(db_engine)
    assert row.idempotency_key == reminder_key(away, TODAY)
    assert row.channel == "operators" and row.recipient == "operators:4128500000"
    assert row.alert_id is None
    assert row.payload["ends_on"] == str(TODAY + timedelta(5))
    text = str(row.payload)
    assert "김복순" not in text and "010" not in text and "입원" not in text  # name, phone, note
    assert row.payload["recipient_ref"] in row.payload["message"]
    with db_engine.connect() as conn:
        audits = conn.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == AUDIT_ACTION)
        )
    assert audits == 1


def test_the_reminder_waits_for_the_morning_and_comes_again_the_next_day(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        rid, _ = add_person(conn)
    _away(db_engine, rid, 0, 3)
    night = datetime.combine(TODAY + timedelta(1), datetime.min.time(), LOCAL_TZ)
    assert daily_away_reminders(db_engine, night + timedelta(hours=2)) is None  # 02:00 Seoul
    assert _rows(db_engine) == []
    next_morning = night + timedelta(hours=9)
    assert daily_away_reminders(db_engine, next_morning).queued == 1
    keys = {r.idempotency_key for r in _rows(db_engine)}
    assert reminder_key(rid, TODAY + timedelta(1)) in keys


def test_queueing_twice_the_same_day_writes_one_row(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        rid, _ = add_person(conn)
    _away(db_engine, rid, 0, 2)
    for minutes in (0, 30):  # e.g. two workers past the guard at once
        with db_engine.begin() as conn:
            queue_away_reminders(conn, T0 + timedelta(minutes=minutes))
    assert len(_rows(db_engine)) == 1


def test_the_operators_channel_is_routed():
    routing = load_routing()
    assert "operators" in CHANNELS
    assert routing.recipients.operators == "operators:{district_code}"
    assert routing.delivery.transport("operators", demo=True) == "log"


def test_away_queries(db_engine):
    seed(db_engine)
    with db_engine.begin() as conn:
        rid, _ = add_person(conn)
        other, _ = add_person(conn, region_id=4, program_id=2)
    _away(db_engine, rid, 0, 3)
    _away(db_engine, rid, 5, 9)
    _away(db_engine, other, 0, 2)
    with db_engine.connect() as conn:
        periods = away_periods_of(conn, rid, TODAY)
        assert list(periods["current"]) == [True, False]
        assert away_until(conn, rid, TODAY) == TODAY + timedelta(3)
        assert away_until(conn, rid, TODAY + timedelta(3)) is None  # back on the return date
        everyone = people_away(conn, TODAY)
        goyang = people_away(conn, TODAY, areas=("4128000000",))
        nobody = people_away(conn, TODAY, areas=())
    assert set(everyone["recipient_id"]) == {rid, other}
    assert list(goyang["recipient_id"]) == [rid] and nobody.empty
    assert list(goyang["recipient_masked"]) == ["김*순"]
    assert isinstance(goyang["ends_on"].iloc[0], date)


def test_the_worker_sends_the_reminder_once_a_day(db_engine):
    from dashboard.rules.worker import run_worker

    seed(db_engine)
    with db_engine.begin() as conn:
        rid, _ = add_person(conn)
    _away(db_engine, rid, 0, 3)
    for minutes in (0, 1, 2):  # three worker passes in one morning
        run_worker(db_engine, once=True, clock=lambda m=minutes: T0 + timedelta(minutes=m))
    reminders = [r for r in _rows(db_engine) if r.channel == "operators"]
    assert [r.idempotency_key for r in reminders] == [reminder_key(rid, TODAY)]
