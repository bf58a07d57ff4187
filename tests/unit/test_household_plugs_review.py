"""A hostile review of rules.household (2026-12-07): cases where another plug's "sign of life"
is not the person's, or a "cleared" is not a sign of life, and the person alert must still be
raised or kept. Each failed on the first version of the change."""

from __future__ import annotations

from sqlalchemy import Engine, insert

from dashboard.db.schema import Device, DeviceAssignment
from tests.unit import test_household_plugs as hp
from tests.unit.test_rules_new_devices import T0, H, power, send

db = hp.db


def tv_goes_quiet_beside(db: Engine, name: str, readings) -> list:
    """The person's TV plug in use, then flat from hour 0, beside a second plug of theirs
    registered 12 h before hour 0 and reporting ``readings(now, hour)`` from then; the tick and
    the nightly learning hourly. The person's alerts."""
    rid, plugs = hp.person_with_plugs(db, plugs=1)
    tv = plugs[0][1]
    other = f"{tv}-{name}"
    hp.add_plug(db, rid, other, registered_hours_ago=12)
    for h in range(-hp.DAYS * 24, 30):
        now = T0 + h * H
        send(db, tv, [power(now, hp.watts(h < 0, h))], now)  # the TV: in use, then flat
        if h >= -12:
            send(db, other, readings(now, h), now)
        hp.tick_and_learn(db, now)
    return hp.person_alerts(db, rid)


def test_a_new_plug_on_a_cycling_fridge_does_not_hide_the_person_on_their_tv_plug(db):
    """A second plug put on a fridge has no background for its first nights (MIN_NIGHTS): every
    compressor cycle is a change beyond the margin, a "sign of life" on that plug. Before the
    change it hid only that plug's own alert; now it restarts the TV plug's spell every hour,
    and a collapse is never raised (before: 관심 at 24 h)."""
    alerts = tv_goes_quiet_beside(
        db,
        "fridge",
        lambda now, h: [power(now, 150.0 if h % 2 else 60.0)],  # the compressor
    )
    assert [a.stage for a in alerts] == ["attention"]
    assert alerts[0].opened_at == hp.QUIET_FROM + 24 * H


def test_a_sign_of_life_on_the_other_plug_closes_a_left_on_alert():
    """docs/detection.md: "A sign of life on the plug that did not open the alert closes it at
    ingest". A left-on alert (held_by "on") is held while its run goes on: the kettle on the
    other plug restarts the run's clock (plug._run_clock) but the hold keeps the alert open,
    neither closing nor stepping it (lifecycle._step_held: since moved)."""
    from dataclasses import replace
    from datetime import timedelta
    from types import SimpleNamespace

    from dashboard.rules.lifecycle import _level_held, merged_evidence
    from tests.unit.test_left_on import ON_AT, at, on_facts

    facts = on_facts()
    stored = merged_evidence({}, at(facts, 8).evidence)
    assert stored["held_by"] == "on"
    kettle = replace(facts, person_active_at=ON_AT + timedelta(hours=9))
    cleared = at(kettle, 10)
    assert cleared.stage is None  # the person's sign of life: every test finds nothing
    assert not _level_held(SimpleNamespace(evidence=stored), cleared)


def test_a_held_alert_whose_plug_left_service_is_not_closed_on_another_plugs_line(db):
    """The alert's judge (``plug_device_id``) was put in repair (replace_device keeps the
    person's alerts open). Its two other plugs find nothing (a held ladder alert: the fixed
    clock restarted at a standby's noise) and the person's spell has not moved (``since``
    unchanged: no sign of life). one_per_person then takes the lowest id's "cleared", and
    _level_held judges its power (60 W) against the absent plug's line (5 W ± 20 W): closed as
    safe without a sign of life. Before the change no other plug's "cleared" reached it."""
    from sqlalchemy import select, update

    from dashboard.db.schema import Alert
    from dashboard.rules.lifecycle import apply_decisions
    from dashboard.rules.model import Decision

    rid, plugs = hp.person_with_plugs(db, plugs=3)
    (a, _), (b, _), (c, _) = plugs
    since = (T0 - 40 * H).isoformat()
    now = T0
    with db.begin() as conn:
        conn.execute(update(Device).where(Device.id == a).values(status="in_repair"))
        conn.execute(
            insert(Alert),
            {"dedup_key": f"plug_no_change:{rid}", "kind": "person", "rule": "plug_no_change",
             "stage": "risk", "status": "open", "program_id": 1, "region_id": 2,
             "recipient_id": rid, "device_id": a, "opened_at": now - 16 * H,
             "updated_at": now - H, "version": 3,
             "evidence": {"basis": "ladder", "held_by": "ladder", "ladder_w": 5.0,
                          "ladder_band_w": 20.0, "since": since, "plug_device_id": a,
                          "power_w": 5.0}},
        )  # fmt: skip
        items = [
            (hp._facts(d, T0 - 40 * H, rid=rid),
             Decision("plug_no_change", None, {"since": since, "power_w": 60.0,
                                               "plug_device_id": d}))
            for d in (b, c)
        ]  # fmt: skip
        apply_decisions(conn, items, now)
    with db.connect() as conn:
        status = conn.execute(select(Alert.status).where(Alert.recipient_id == rid)).scalar()
    assert status == "open"


def test_a_new_plug_seeing_daylight_does_not_hide_the_person_on_their_tv_plug(db):
    """A new plug that reads light has no daylight course for a week (light.MIN_DAYS): sunrise
    and dusk are changes beyond the margin, "signs of life" twice a day, so the TV plug's spell
    never reaches 24 h (before: 관심 at 24 h)."""
    from dashboard.settings import LOCAL_TZ

    def lamp(now, h):
        day = 7 <= now.astimezone(LOCAL_TZ).hour < 18
        return [power(now, 20.0), (now, "lux", {"lux": 400.0 if day else 2.0})]

    alerts = tv_goes_quiet_beside(db, "lamp", lamp)
    assert [a.stage for a in alerts] == ["attention"]
    assert alerts[0].opened_at == hp.QUIET_FROM + 24 * H


def test_a_plug_moved_from_another_person_does_not_lend_their_sign_of_life(db):
    """assign_device keeps the device's state: a plug taken from person X and installed for Y
    at hour 20 carries X's last sign of life (22:00, hour 10), which would restart the spell of
    Y's own plug (flat since 10:00, hour -2): 관심 at 34 h instead of 22 h."""
    from sqlalchemy import update

    rid, plugs = hp.person_with_plugs(db, plugs=1)
    _x, moved = hp.person_with_plugs(db, plugs=1)
    tv, (moved_id, moved_uid) = plugs[0][1], moved[0]
    for h in range(-hp.DAYS * 24, 30):
        now = T0 + h * H
        send(db, tv, [power(now, hp.watts(h < 0, h))], now)  # Y's TV: in use, then flat
        if h < 20:
            send(db, moved_uid, [power(now, hp.watts(h < 16, h))], now)  # X: last used at 16
        if h == 20:
            with db.begin() as conn:  # as assign_device: recipient and region, state kept
                conn.execute(update(Device).where(Device.id == moved_id).values(recipient_id=rid))
                conn.execute(
                    insert(DeviceAssignment),
                    {"device_id": moved_id, "recipient_id": rid, "assigned_at": now},
                )
        if h >= 20:
            send(db, moved_uid, [power(now, 50.0)], now)  # at Y's: flat
        hp.tick_and_learn(db, now)
    alerts = hp.person_alerts(db, rid)
    assert [a.stage for a in alerts] == ["attention"]
    assert alerts[0].opened_at == hp.QUIET_FROM + 24 * H


def test_only_a_later_spell_is_a_sign_of_life_for_a_held_alert():
    """A decision judged on an earlier spell start (the first pass, without the staff close the
    alert was written after; a person's plug that left service) is no sign of life: the held
    alert stays; a later start closes it."""
    from datetime import timedelta
    from types import SimpleNamespace

    from dashboard.rules.lifecycle import _level_held
    from dashboard.rules.model import Decision

    since = T0
    row = SimpleNamespace(
        evidence={"basis": "level", "held_by": "level", "since": since.isoformat()}
    )

    def cleared(at):
        return Decision("plug_no_change", None, {"since": at.isoformat()})

    assert _level_held(row, cleared(since))
    assert _level_held(row, cleared(since - timedelta(hours=5)))  # before: closed as safe
    assert not _level_held(row, cleared(since + timedelta(minutes=30)))
