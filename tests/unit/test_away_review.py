"""A hostile review of the return from an away period (2026-12-07): cases where the return
date's midnight is no restart of the person's spell, the due times with return dates drawn, and
the preview's count of an alert opened before the period. Each but the due-time check failed
on the first version."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Engine, insert

from dashboard.db.schema import AwayPeriod
from dashboard.rules.config import Thresholds
from dashboard.rules.plug import plug_no_change
from dashboard.settings import LOCAL_TZ
from tests.unit.test_detection import TODAY, daily_routine, local, plug_facts
from tests.unit.test_district_thresholds import DAYTIME
from tests.unit.test_household_plugs import db as db  # the fixture
from tests.unit.test_household_plugs import person_alerts, person_with_plugs, run
from tests.unit.test_rules_new_devices import T0, H

TH = Thresholds()
LEFT = T0.astimezone(LOCAL_TZ).date()  # T0 is noon in Seoul


def mark_away(db: Engine, rid: int, starts: date, ends: date) -> None:
    with db.begin() as conn:
        conn.execute(
            insert(AwayPeriod),
            {"recipient_id": rid, "starts_on": starts, "ends_on": ends,
             "created_by": "demo.op1", "created_at": T0},
        )  # fmt: skip


def hours_to(at: datetime) -> int:
    return int((at - T0) / H)


def test_an_open_severe_stays_open_at_the_return_date_without_a_sign_of_life(db):
    """The person went quiet, 심각 opened, then staff marked them away (an open alert stays
    for a person to close, docs/detection.md "Away"): the return date's midnight is no sign of
    life, so it must not close the alert as safe."""
    rid, plugs = person_with_plugs(db, 1)
    uids = [uid for _, uid in plugs]
    back = LEFT + timedelta(days=3)
    back_at = hours_to(local(back, 0).astimezone(UTC))
    run(db, uids, lambda k, h: h < 0, range(-10 * 24, 52))
    (alert,) = person_alerts(db, rid)
    assert (alert.stage, alert.status) == ("severe", "open")
    mark_away(db, rid, LEFT, back)  # staff: "in hospital until the 5th"
    run(db, uids, lambda k, h: False, range(52, back_at + 3))
    alerts = person_alerts(db, rid)
    assert [(a.status, a.outcome) for a in alerts][:1] == [("open", None)]


def test_seen_at_home_inside_the_period_counts_from_that_sign_of_life():
    """Back early without staff cancelling: signs of life at home two days before the return
    date, then nothing. Before 9590af2: 심각 at the return date's midnight; now nothing until
    관심 a day later (the blind time of the period extended by a day)."""
    last = local(TODAY - timedelta(days=2), 9, 0)  # inside a period TODAY-7 .. TODAY
    facts = plug_facts(last, daily_routine(), left_on=TODAY - timedelta(days=7), back_on=TODAY)
    now = local(TODAY, 3, 0).astimezone(UTC)
    assert plug_no_change(replace(facts, back_on=None), TH, now).stage == "severe"
    assert plug_no_change(facts, TH, now).stage is not None


def test_due_times_stay_never_late_with_a_return_date(monkeypatch):
    """tests/unit/test_rules_due.py draws no ``back_on``: the same check with return dates
    drawn (today, the last days), the clock 20 min before a Seoul midnight so the ladder's
    steps from a return midnight (24 h, 48 h) fall inside the hour the due time covers."""
    import random

    from dashboard.rules.clock import quiet_since
    from dashboard.rules.plug import person_activity
    from tests.unit import test_rules_due as due_test

    now = datetime(2026, 3, 10, 14, 40, 0, tzinfo=UTC)  # 23:40 in Seoul
    monkeypatch.setattr(due_test, "NOW", now)
    original = due_test.random_case

    def with_return(rng: random.Random):
        facts, readings = original(rng)
        own = random.Random(facts.device_id + 3)  # its own stream: the draws above stay
        if facts.type_code == "smart_plug" and own.random() < 0.6:
            today = now.astimezone(LOCAL_TZ).date()
            back = today - timedelta(days=own.choice((0, 1, 2, 3)))
            left = back - timedelta(days=own.choice((1, 3, 7)))
            facts = replace(facts, left_on=left, back_on=back)
            if facts.plug_alert is not None and own.random() < 0.5:  # an alert on the new spell
                spell = quiet_since(facts, "plug_no_change", person_activity(facts))
                stored = None if spell is None else spell.isoformat()
                facts = replace(facts, plug_alert=(stored, facts.plug_alert[1]))
        return facts, readings

    monkeypatch.setattr(due_test, "random_case", with_return)
    drawn = 0
    for facts, readings, due in due_test.cases(20261207, 400):
        drawn += facts.back_on is not None
        changed = due_test.first_change_before(facts, readings, due)
        assert changed is None, f"decision changed at {changed}, due {due}: {facts}"
    assert drawn > 40


def test_the_preview_counts_an_alert_opened_before_the_person_was_marked_away():
    """Quiet from day 8 (last seen day 7 at 22:00), marked away days 10–14: the live rule opened
    관심 on day 8 and 심각 on day 9 (before the period: it stays open), but the preview's spell
    now ends at the return date's first half-hour, inside the period, and the alert is dropped
    as one that ended while away."""
    from dashboard.detection.preview import PlugHistory, replay_counts, seen_elsewhere
    from tests.unit.test_district_thresholds import END, LAST, LOOSE, history, window_day

    left, back = window_day(10), window_day(14)
    gone = {window_day(n): DAYTIME for n in range(8, 14)}  # nothing from day 8 to day 13
    gone[back] = DAYTIME & ~sum(1 << j for j in range(15, 40))  # back at 20:00
    periods = ((left, back),)
    days = {1: history(gone)}
    seen = seen_elsewhere(1, [1], days, periods, LAST)
    plug = PlugHistory(1, 11, None, days[1], away=periods, seen=seen)
    (loose,), _ = replay_counts([plug], [LOOSE], END - timedelta(30), END)
    assert loose.severe == 1
