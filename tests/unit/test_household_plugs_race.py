"""A person's other plug reports while the tick runs (``lifecycle._moved_on``): the tick read
its facts before the sign of life was committed and must not write an alert that sign of life
already ended. Real ingestion, the nightly learning and the real tick, on SQLite and
PostgreSQL; the race is made deterministic by committing the sign of life between the tick's
evaluation and its writes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

import dashboard.rules.engine as engine
from tests.unit import test_household_plugs as hp
from tests.unit.test_rules_new_devices import T0, H, power, send, tick

db = hp.db


def tick_while_the_kettle_goes_on(db: Engine, monkeypatch, uid: str, hour: int) -> None:
    """The tick at ``hour``: its facts read and its rules run, then ingest commits the kettle on
    plug ``uid`` (a sign of life its learned background judges), then the tick writes."""
    now = T0 + hour * H
    real = engine.apply_decisions
    calls = []

    def racing(conn, items, at, *args, **kwargs):
        calls.append(at)
        if len(calls) == 1:  # the tick's (ingest's own evaluation calls it again)
            kettle = now + 10 * timedelta(minutes=1)
            send(db, uid, [power(kettle, 400.0)], kettle)
        return real(conn, items, at, *args, **kwargs)

    monkeypatch.setattr(engine, "apply_decisions", racing)
    try:
        tick(db, now)
    finally:
        monkeypatch.setattr(engine, "apply_decisions", real)
    assert calls[0] == now  # the tick's (then ingest's inside it, where it evaluates)


@pytest.mark.parametrize("hour", [22, 34])
def test_a_sign_of_life_on_the_other_plug_during_the_tick_is_not_written_over(
    db, monkeypatch, hour
):
    """Both plugs flat from 10:00 (hour -2). At hour 22 the tick opens 관심 (24 h), at hour 34
    it escalates to 위험 (36 h). The kettle on the other plug, committed while that tick runs,
    is the person's: at hour 22 there is nothing to open; at hour 34 ingest closed the alert
    as safe and the tick must not open it again at 위험 (before: it did, and the alert stood
    until the next evaluation)."""
    rid, plugs = hp.person_with_plugs(db)
    uids = [uid for _, uid in plugs]
    hp.run(db, uids, lambda k, h: h < 0, range(-hp.DAYS * 24, hour))
    before = [(a.stage, a.status) for a in hp.person_alerts(db, rid)]
    assert before == ([] if hour == 22 else [("attention", "open")])
    now = T0 + hour * H  # (no reading this hour: ingest would judge it first)
    # the plug that would judge is the lower id: the kettle goes on the other
    tick_while_the_kettle_goes_on(db, monkeypatch, uids[1], hour)
    after = [(a.stage, a.status, a.outcome) for a in hp.person_alerts(db, rid)]
    assert after == ([] if hour == 22 else [("attention", "closed", "safe")])
    tick(db, now + 20 * timedelta(minutes=1))  # the next evaluation, on the new facts
    assert [(a.stage, a.status) for a in hp.person_alerts(db, rid)] == [
        (s, st) for s, st, _o in after
    ]


def test_only_a_later_sign_of_life_the_other_plug_lends_makes_the_decision_stale(db):
    """``_moved_on``'s conditions are ``lendable_signs``' (``household.Lender``): a sign of life
    from before the plug's background was learned, one of a plug reading light without its
    course, one from before the plug came to the person, or one no later than the person's
    latest sign the decision saw does not make it stale; nor does any for another rule."""
    from dataclasses import replace
    from datetime import date

    from sqlalchemy import insert

    from dashboard.db.schema import DeviceState
    from dashboard.rules.household import Lender
    from dashboard.rules.lifecycle import _moved_on
    from dashboard.rules.model import Decision

    rid, ((a, _), (b, _)) = hp.person_with_plugs(db)
    read, sign = T0, T0 + 2 * H  # the person's latest as the tick read it; the other plug's
    with db.begin() as conn:
        conn.execute(
            insert(DeviceState),
            [{"device_id": d, "state": "normal", "state_since": T0 - 48 * H, "updated_at": at,
              "last_seen_at": at, "last_activity_at": at, "last_lux": lux}
             for d, at, lux in ((a, read, None), (b, sign, 3.0))],
        )  # fmt: skip
    facts = replace(hp._facts(a, read, rid=rid), last_seen_at=read)
    key = f"plug_no_change:{rid}"
    plug = [(key, facts, Decision("plug_no_change", "attention"))]
    day = sign.astimezone(hp.LOCAL_TZ).date()

    def stale(lender: Lender | None, items=plug) -> bool:
        with db.connect() as conn:
            return bool(_moved_on(conn, items, {b: lender} if lender else {}))

    assert stale(Lender(rid, day, True, None))
    assert stale(Lender(rid, date(2024, 1, 1), True, sign))  # assigned at the sign: its own
    assert not stale(None)  # not a lending plug (no background, another district's switch)
    assert not stale(Lender(rid, day + timedelta(days=1), True, None))  # background too young
    assert not stale(Lender(rid, day, False, None))  # reads light, no course yet
    assert not stale(Lender(rid, day, True, sign + H))  # someone else's
    seen = replace(facts, person_active_at=sign)  # the decision saw it already
    assert not stale(Lender(rid, day, True, None), [(key, seen, plug[0][2])])
    ticket = [(f"device_silent:d{a}", facts, Decision("device_silent", "attention"))]
    assert not stale(Lender(rid, day, True, None), ticket)
