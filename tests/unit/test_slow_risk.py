"""The slow-risk flag in the product: ingest's per-day figures and the daily job that sets and
clears the flag with its audit rows, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import insert, select, update

from dashboard.db.schema import AuditLog, AwayPeriod, CareRecipient, Device, DeviceDaily
from dashboard.detection.learning import daily_learn, learn_routines
from dashboard.detection.slow_risk import CLEAR_ACTION, SET_ACTION, update_slow_risk
from dashboard.formatting import mask_name
from dashboard.ingest import ingest_events
from dashboard.settings import LOCAL_TZ
from tests.ingest_support import VENDOR, seed_catalog
from tests.unit.test_detection import DAY0, local, power_history

TV_SLOTS = [s for s in range(15, 44) if s % 3 == 0]  # power_history's TV: 350 W over the fridge


def _daily(conn, device_id: int, day: date):
    return conn.execute(
        select(DeviceDaily.above_slots, DeviceDaily.watts_sum, DeviceDaily.watts_n).where(
            DeviceDaily.device_id == device_id, DeviceDaily.day == day
        )
    ).one()


def test_ingest_counts_half_hours_above_the_ceiling_once_a_background_is_known(db_engine):
    with db_engine.begin() as conn:
        plug = seed_catalog(conn)["plug-1"]
    events = power_history(5)
    for d in range(5):
        day = DAY0 + timedelta(days=d)
        todays = [e for e in events if datetime.fromisoformat(e["ts"]).date() == day]
        with db_engine.begin() as conn:
            # two batches a day: the day's figures add up over batches
            for batch in (todays[:24], todays[24:]):
                ingest_events(conn, VENDOR, batch, now=local(day + timedelta(days=1), 0, 5))
            learn_routines(conn, local(day + timedelta(days=1), 0, 10).astimezone(UTC))
    with db_engine.connect() as conn:
        first = _daily(conn, plug, DAY0)
        later = _daily(conn, plug, DAY0 + timedelta(days=4))
    # no background on the first day: unknown, not zero; the load is known all the same
    assert first.above_slots is None and first.watts_n == 48
    # the fridge (45↔125 W) sets the ceiling; only the TV's half-hours go above it
    assert later.above_slots == sum(1 << s for s in TV_SLOTS)
    day4 = [e["watts"] for e in events[4 * 48 : 5 * 48]]
    assert later.watts_n == 48 and later.watts_sum == sum(day4)


def _person(conn, ref: str = "R1", ended: date | None = None) -> int:
    rid = conn.execute(select(CareRecipient.id).order_by(CareRecipient.id.desc())).scalar()
    rid = (rid or 0) + 1
    conn.execute(
        insert(CareRecipient).values(
            id=rid,
            program_id=1,
            region_id=1,
            external_ref=ref,
            birth_year=1940,
            sex="F",
            household="alone",
            enrolled_on=date(2024, 1, 1),
            ended_on=ended,
            pii_name="홍길동",
        )
    )
    return rid


def _days(conn, device_id: int, first: date, levels: list[tuple[int, int, float]]) -> None:
    """``[(days, half-hours above, mean watts), ...]`` of daily rows from ``first``."""
    rows, k = [], 0
    for days, above, mean_w in levels:
        for _ in range(days):
            rows.append(
                {
                    "device_id": device_id,
                    "day": first + timedelta(days=k),
                    "events": 48,
                    "activity_slots": 0,
                    "above_slots": (1 << above) - 1,
                    "watts_sum": mean_w * 48,
                    "watts_n": 48,
                }
            )
            k += 1
    conn.execute(insert(DeviceDaily), rows)


def _morning(first: date, days_after: int) -> datetime:
    day = first + timedelta(days=days_after)
    return datetime(day.year, day.month, day.day, 0, 30, tzinfo=LOCAL_TZ).astimezone(UTC)


def _audit(conn, action: str) -> list:
    return conn.execute(
        select(AuditLog.entity_id, AuditLog.detail).where(AuditLog.action == action)
    ).all()


def test_a_decline_over_weeks_sets_the_flag_once_and_a_recovery_clears_it(db_engine):
    first = date(2026, 8, 1)
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        person = _person(conn)
        conn.execute(
            update(Device)
            .where(Device.id.in_([ids["plug-1"], ids["plug-2"]]))
            .values(recipient_id=person)
        )
        # plug-1: 60 ordinary days, then a fall to 4 half-hours a day and half the load;
        # plug-2 (the same person's second plug) stays as it was
        _days(conn, ids["plug-1"], first, [(60, 10, 300.0), (30, 4, 150.0)])
        _days(conn, ids["plug-2"], first, [(90, 8, 200.0)])
    # yesterday is judged: the 13th day of the fall is the first flagged (seven below in a row)
    with db_engine.begin() as conn:
        before = update_slow_risk(conn, _morning(first, 60 + 13))
        assert before.set == 0 and before.plugs == 2 and before.with_opinion == 2
    with db_engine.begin() as conn:
        summary = update_slow_risk(conn, _morning(first, 60 + 14))
    assert (summary.set, summary.cleared, summary.flagged) == (1, 0, 1)
    with db_engine.begin() as conn:
        again = update_slow_risk(conn, _morning(first, 60 + 15))  # still flagged: no new row
        assert (again.set, again.cleared, again.flagged) == (0, 0, 1)
        since, detail = conn.execute(
            select(CareRecipient.slow_risk_since, CareRecipient.slow_risk_detail)
        ).one()
        rows = _audit(conn, SET_ACTION)
    assert since == first + timedelta(days=74)
    assert detail["device_uid"] == "plug-1" and detail["above_ratio"] < 0.7
    assert detail["watts_ratio"] < 0.8 and detail["judged_on"] == "2026-10-13"
    assert [(str(r.entity_id), r.detail["device_uid"]) for r in rows] == [(str(person), "plug-1")]
    # back to the old level: the 14-day means are no longer under both ratios
    with db_engine.begin() as conn:
        _days(conn, ids["plug-1"], first + timedelta(days=90), [(10, 10, 300.0)])
        cleared = update_slow_risk(conn, _morning(first, 100))
        assert (cleared.set, cleared.cleared, cleared.flagged) == (0, 1, 0)
        assert conn.execute(select(CareRecipient.slow_risk_since)).scalar() is None
        (row,) = _audit(conn, CLEAR_ACTION)
    assert row.detail["since"] == since.isoformat() and row.detail["above_ratio"] >= 0.7


def test_no_flag_for_a_person_who_left_and_a_standing_flag_is_cleared(db_engine):
    first = date(2026, 8, 1)
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        person = _person(conn, ended=date(2026, 9, 1))
        conn.execute(update(Device).where(Device.id == ids["plug-1"]).values(recipient_id=person))
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == person)
            .values(slow_risk_since=date(2026, 8, 20), slow_risk_detail={"above_ratio": 0.5})
        )
        _days(conn, ids["plug-1"], first, [(60, 10, 300.0), (30, 4, 150.0)])
        summary = update_slow_risk(conn, _morning(first, 80))
        assert (summary.plugs, summary.set, summary.cleared) == (0, 0, 1)
        (row,) = _audit(conn, CLEAR_ACTION)
    assert row.detail["above_ratio"] is None  # no judgement: no active plug of an enrolled person


def test_days_marked_away_say_nothing(db_engine):
    """A home left empty for weeks looks like a decline; days marked away are left out (and
    then too few recent days remain for a judgement)."""
    first = date(2026, 8, 1)
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        person = _person(conn)
        conn.execute(update(Device).where(Device.id == ids["plug-1"]).values(recipient_id=person))
        _days(conn, ids["plug-1"], first, [(60, 10, 300.0), (30, 0, 60.0)])
        conn.execute(
            insert(AwayPeriod).values(
                recipient_id=person,
                starts_on=first + timedelta(days=60),
                ends_on=first + timedelta(days=90),
                created_by="op",
                created_at=_morning(first, 60),
            )
        )
        summary = update_slow_risk(conn, _morning(first, 80))
        assert (summary.flagged, summary.set, summary.with_opinion) == (0, 0, 0)
        conn.execute(update(AwayPeriod).values(cancelled_at=_morning(first, 80)))
        assert update_slow_risk(conn, _morning(first, 80)).set == 1  # not away after all


def test_the_daily_learning_runs_the_job_and_counts_it(db_engine):
    first = date(2026, 8, 1)
    with db_engine.begin() as conn:
        ids = seed_catalog(conn)
        person = _person(conn)
        conn.execute(update(Device).where(Device.id == ids["plug-1"]).values(recipient_id=person))
        _days(conn, ids["plug-1"], first, [(60, 10, 300.0), (30, 4, 150.0)])
    assert daily_learn(db_engine, _morning(first, 80)) is not None
    with db_engine.connect() as conn:
        (learned,) = _audit(conn, "routine_learn")
        assert learned.detail["slow_risk"] == {"flagged": 1, "set": 1, "cleared": 0}
        assert len(_audit(conn, SET_ACTION)) == 1


def test_the_flagged_people_list_is_scoped_masked_and_oldest_first(db_engine):
    from queries.slow_risk import people_slow_risk, slow_risk_of

    with db_engine.begin() as conn:
        seed_catalog(conn)
        first, second, gone = _person(conn, "R1"), _person(conn, "R2"), _person(conn, "R3")
        conn.execute(
            update(CareRecipient).where(CareRecipient.id == gone).values(ended_on=date(2026, 9, 1))
        )
        for rid, since in ((first, date(2026, 10, 5)), (second, date(2026, 9, 1)), (gone, None)):
            conn.execute(
                update(CareRecipient)
                .where(CareRecipient.id == rid)
                .values(slow_risk_since=since or date(2026, 8, 1), slow_risk_detail=DETAIL)
            )
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == first)
            .values(slow_risk_detail={"above_ratio": 0.5, "watts_ratio": 0.7})
        )
    with db_engine.connect() as conn:
        everyone = people_slow_risk(conn)
        assert list(everyone["external_ref"]) == ["R2", "R1"]  # the person who left is not listed
        assert list(everyone["above_ratio"]) == [0.41, 0.5]
        assert set(everyone["recipient_masked"]) == {mask_name("홍길동")}
        assert "pii_name" not in everyone.columns
        assert list(people_slow_risk(conn, ["4128500000"])["external_ref"]) == ["R2", "R1"]
        assert people_slow_risk(conn, ["1111000000"]).empty and people_slow_risk(conn, ()).empty
        assert len(people_slow_risk(conn, limit=1)) == 2  # one more says there are more
        assert slow_risk_of(conn, second) == (date(2026, 9, 1), DETAIL)
        conn.execute(update(CareRecipient).values(slow_risk_since=None))
        assert slow_risk_of(conn, second) is None


DETAIL = {"device_uid": "plug-1", "above_ratio": 0.41, "watts_ratio": 0.66}
