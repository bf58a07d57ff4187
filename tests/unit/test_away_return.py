"""A person marked away is judged from their return date, not from the last sign of life before
they left: the spell then raised 심각 at midnight of the day they were due back, hours before
they could be home. Real ingestion and the real tick on SQLite and PostgreSQL, and the rule."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, insert, select

from dashboard.db.schema import AwayPeriod, DeviceDaily, DeviceRoutine
from dashboard.detection.explain import explain_plug
from dashboard.detection.learning import learn_routines
from dashboard.detection.records import load_away
from dashboard.detection.routine import Routine
from dashboard.rules.config import Thresholds
from dashboard.rules.plug import plug_no_change
from dashboard.settings import LOCAL_TZ
from tests.unit.test_detection import TODAY, daily_routine, local, plug_facts
from tests.unit.test_household_plugs import DAYS, QUIET_FROM, person_alerts, person_with_plugs, run
from tests.unit.test_household_plugs import db as db  # the fixture
from tests.unit.test_rules_new_devices import T0, H

TH = Thresholds()
LEFT = T0.astimezone(LOCAL_TZ).date()  # T0 is noon in Seoul: the day they leave
BACK = LEFT + timedelta(days=7)  # the return date
BACK_AT = datetime.combine(BACK, time.min, LOCAL_TZ).astimezone(UTC)


def mark_away(db: Engine, rid: int, starts: date, ends: date, cancelled: bool = False) -> None:
    with db.begin() as conn:
        conn.execute(
            insert(AwayPeriod),
            {"recipient_id": rid, "starts_on": starts, "ends_on": ends, "created_by": "demo.op1",
             "created_at": T0 - 48 * H, "cancelled_at": T0 if cancelled else None},
        )  # fmt: skip


def hours_to(at: datetime) -> int:
    return int((at - T0) / H)


def test_the_ladder_counts_from_the_return_date(db):
    rid, plugs = person_with_plugs(db, 1)
    mark_away(db, rid, LEFT, BACK)
    uids = [uid for _, uid in plugs]
    # in use until they leave at noon, then the line stays flat: nobody comes back
    run(db, uids, lambda k, h: h < 0, range(-DAYS * 24, hours_to(BACK_AT) + 24))
    assert person_alerts(db, rid) == []  # before: 심각 at midnight of the return date
    run(db, uids, lambda k, h: False, range(hours_to(BACK_AT) + 24, hours_to(BACK_AT) + 25))
    (alert,) = person_alerts(db, rid)
    assert (alert.stage, alert.opened_at) == ("attention", BACK_AT + 24 * H)
    assert datetime.fromisoformat(alert.evidence["since"]) == BACK_AT
    assert alert.evidence["back_on"] == BACK.isoformat()
    assert f"marked away until {BACK.isoformat()}" in alert.evidence["explanation"]
    assert "돌아오는 날" in explain_plug(alert.evidence, "ko")


def test_a_cancelled_period_restarts_nothing(db):
    rid, plugs = person_with_plugs(db, 1)
    mark_away(db, rid, LEFT, BACK, cancelled=True)
    run(db, [uid for _, uid in plugs], lambda k, h: h < 0, range(-DAYS * 24, 25))
    (alert,) = person_alerts(db, rid)  # the ladder from the last sign of life, as before
    assert alert.opened_at == QUIET_FROM + 24 * H and alert.evidence["back_on"] is None


def test_away_dates_as_the_rules_load_them(db):
    people = [person_with_plugs(db, 1)[0] for _ in range(4)]
    today = LEFT + timedelta(days=20)
    ended, away, cancelled, none_yet = people
    mark_away(db, ended, LEFT, BACK)
    mark_away(db, ended, LEFT + timedelta(days=10), LEFT + timedelta(days=12))  # the latest
    mark_away(db, ended, today, today)  # a day that is no period
    mark_away(db, away, LEFT, BACK)
    mark_away(db, away, today - timedelta(days=1), today + timedelta(days=2))
    mark_away(db, cancelled, LEFT, today, cancelled=True)
    mark_away(db, none_yet, today + timedelta(days=1), today + timedelta(days=3))
    with db.connect() as conn:
        got = load_away(conn, people, today)
    assert got == {
        ended: (None, LEFT + timedelta(days=10), LEFT + timedelta(days=12)),
        away: (today + timedelta(days=2), LEFT, BACK),
    }


def test_the_rule_on_the_return_date_and_the_run_clocks():
    last = local(TODAY - timedelta(days=5), 9, 0)  # the day before they left
    facts = plug_facts(last, daily_routine(), left_on=TODAY - timedelta(days=4), back_on=TODAY)
    now = local(TODAY, 3, 0).astimezone(UTC)
    decision = plug_no_change(facts, TH, now)
    midnight = local(TODAY, 0, 0).astimezone(UTC)
    assert decision.stage is None and decision.evidence["since"] == midnight.isoformat()
    before = plug_no_change(replace(facts, back_on=None), TH, now)
    assert before.stage == "severe"  # the 5 days before counted
    # a return older than the last sign of life changes nothing
    older = replace(facts, left_on=TODAY - timedelta(days=8), back_on=TODAY - timedelta(days=6))
    assert plug_no_change(older, TH, now).evidence == before.evidence
    # seen at home inside the period (back early, not cancelled): that sign of life counts
    early = replace(facts, left_on=TODAY - timedelta(days=6))
    assert plug_no_change(early, TH, now).evidence == before.evidence
    # an alert open on the spell from before the period stays on it (for a person to close)
    open_before = replace(facts, plug_alert=(last.astimezone(UTC).isoformat(), None))
    assert plug_no_change(open_before, TH, now).stage == "severe"
    opened_after = replace(facts, plug_alert=(midnight.isoformat(), None))
    assert plug_no_change(opened_after, TH, now).evidence["since"] == midnight.isoformat()


DAYTIME = sum(1 << j for j in range(15, 44, 3))  # a sign of life every 90 min, 07:30–21:30
LEARNED_ON = BACK + timedelta(days=10)  # the window: 28 days before it, the week away inside


def _store_days(db: Engine, device_id: int) -> None:
    """28 days of a home in use every day except the week marked away (nothing at all then)."""
    rows = []
    for k in range(1, 29):
        day = LEARNED_ON - timedelta(days=k)
        bits = 0 if LEFT <= day < BACK else DAYTIME
        rows.append(
            {"device_id": device_id, "day": day, "events": 48, "activity_slots": bits,
             "change_slots": bits, "night_low_w": 50.0, "night_high_w": 52.0,
             "night_step_w": 1.0}
        )  # fmt: skip
    with db.begin() as conn:
        conn.execute(insert(DeviceDaily), rows)


def _learned(db: Engine, device_id: int) -> Routine:
    learned_at = datetime.combine(LEARNED_ON, time(0, 10), LOCAL_TZ).astimezone(UTC)
    with db.begin() as conn:
        learn_routines(conn, learned_at)
        return Routine.from_json(
            conn.execute(
                select(DeviceRoutine.model).where(DeviceRoutine.device_id == device_id)
            ).scalar_one()
        )


def test_the_days_marked_away_are_left_out_of_the_routine(db):
    """A week marked away is no gap of the person's: before, the net waited its longest (72 h)
    and the stillness test's record was the week, for the 28 days after the trip."""
    rid, ((marked, _),) = person_with_plugs(db, 1)
    _other, ((unmarked, _),) = person_with_plugs(db, 1)
    mark_away(db, rid, LEFT, BACK)
    for device_id in (marked, unmarked):
        _store_days(db, device_id)
    away, home = _learned(db, marked), _learned(db, unmarked)
    # the same home, the week not marked: the week away is its longest gap and still run
    assert home.gap_h > 7 * 24 and home.still_h > 7 * 24 and len(home.days) == 28
    assert len(away.days) == 21 and not any(LEFT <= d < BACK for d in away.days)
    assert away.gap_h < 12 and away.still_h < 12  # a night: 21:30 to 07:30
    assert away.reference_days == home.reference_days  # days away were never reference days
