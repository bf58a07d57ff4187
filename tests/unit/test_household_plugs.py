"""A person with two smart plugs is one person (``rules.household``): a sign of life on either
plug is theirs, their one alert gets one decision per evaluation, a staff close restarts both
plugs' clocks, and the ladder's steps apply whichever plug judges. Real ingestion and the real
silence tick, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import Engine, insert, select, update

from dashboard.db.schema import Alert, Device
from dashboard.detection.explain import explain_plug
from dashboard.detection.learning import learn_routines
from dashboard.rules.household import one_per_person, with_person_activity
from dashboard.rules.model import Decision, DeviceFacts
from dashboard.settings import LOCAL_TZ
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_rules_new_devices import T0, VENDOR, H, add_device, power, send, tick

db = lifecycle.db

DAYS = 10  # days of history before the spell under test: old enough for the fixed clock


def person_with_plugs(db: Engine, plugs: int = 2) -> tuple[int, list[tuple[int, str]]]:
    """A person with ``plugs`` smart plugs registered before the history ``run`` sends."""
    registered = DAYS * 24 + 1
    first = add_device(db, registered_at=T0 - registered * H)  # the person and a first plug
    with db.connect() as conn:
        rid = conn.execute(select(Device.recipient_id).where(Device.id == first[0])).scalar_one()
    more = [f"{first[1]}-{k}" for k in range(1, plugs)]
    return rid, [first] + [(add_plug(db, rid, uid, registered), uid) for uid in more]


def add_plug(db: Engine, rid: int, uid: str, registered_hours_ago: int) -> int:
    """A smart plug of person ``rid``, registered that many hours before ``T0``."""
    with db.begin() as conn:
        return conn.execute(
            insert(Device).returning(Device.id),
            {"device_uid": uid, "type_code": "smart_plug", "program_id": 1, "vendor": VENDOR,
             "recipient_id": rid, "region_id": 2, "installed_on": date(2024, 1, 1),
             "registered_at": T0 - registered_hours_ago * H},
        ).scalar()  # fmt: skip


def person_alerts(db: Engine, rid: int) -> list:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(Alert)
                .where(Alert.recipient_id == rid, Alert.rule == "plug_no_change")
                .order_by(Alert.id)
            )
        )


def watts(active: bool, hour: int) -> float:
    """A plug in use: the TV on from 08:00 to 22:00 for an hour in every three (200 W), at
    standby (50 W) otherwise and all night, so its learned night ceiling is its standby; one
    unused stays at 50 W. ``hour``: hours from ``T0`` (noon in Seoul)."""
    local = (12 + hour) % 24
    return 200.0 if active and 8 <= local < 22 and local % 3 == 0 else 50.0


# A plug in use until hour 0 last changed at 10:00 (hour -2): on at 09:00, off at 10:00.
QUIET_FROM = T0 - 2 * H


def run(db: Engine, uids: list[str], active, hours: range) -> None:
    """Each plug reports hourly (``active(k, hour)``: plug k in use then), the tick hourly, the
    nightly learning at 01:00 (a plug's signs of life stand for the person's on their other
    plugs once judged against its learned background: rules.household.lendable_signs)."""
    for h in hours:
        now = T0 + h * H
        for k, uid in enumerate(uids):
            send(db, uid, [power(now, watts(active(k, h), h))], now)
        tick_and_learn(db, now)


def tick_and_learn(db: Engine, now: datetime) -> None:
    """The nightly learning at 01:00 (Seoul), the tick every call."""
    if now.astimezone(LOCAL_TZ).hour == 1:
        with db.begin() as conn:
            learn_routines(conn, now)
    tick(db, now)


def test_a_plug_left_unused_raises_nothing_while_the_other_is_used(db):
    rid, plugs = person_with_plugs(db)
    uids = [uid for _, uid in plugs]
    # both in use for DAYS days, then the TV plug (0) unused for 3 days, the kettle (1) in use
    run(db, uids, lambda k, h: h < 0 or k == 1, range(-DAYS * 24, 72))
    assert person_alerts(db, rid) == []  # before: 관심 at 24 h, 심각 at 48 h


def test_both_plugs_quiet_is_one_alert_on_the_ladder_from_the_later_sign_of_life(db):
    rid, plugs = person_with_plugs(db)
    uids = [uid for _, uid in plugs]
    # plug 0 last used before hour 0; plug 1 in use until hour 8: on at 18:00 (hour 6), off
    # at 19:00 (hour 7), the person's last sign of life; then both flat
    run(db, uids, lambda k, h: h < 0 or (k == 1 and h < 8), range(-DAYS * 24, 61))
    (alert,) = person_alerts(db, rid)
    last = T0 + 7 * H
    assert alert.status == "open"
    assert datetime.fromisoformat(alert.evidence["since"]) == last
    assert alert.opened_at == last + 24 * H
    assert alert.stage == "severe"  # 48 h after hour 7
    # both plugs find the same: the lower device id judges, and says where the person was seen
    assert alert.evidence["plug_device_id"] == plugs[0][0]
    assert datetime.fromisoformat(alert.evidence["other_plug_at"]) == last
    assert "was on another of their plugs, at" in alert.evidence["explanation"]
    assert "다른 플러그에서" in explain_plug(alert.evidence, "ko")
    with db.connect() as conn:
        stages = [
            row.detail["stage"]
            for row in conn.execute(
                select(lifecycle.AuditLog).where(lifecycle.AuditLog.entity_id == str(alert.id))
            )
            if row.detail and "stage" in row.detail
        ]
    assert stages == ["attention", "risk", "severe"]  # opened, then the two escalations


def test_a_sign_of_life_on_the_other_plug_closes_the_alert_at_ingest(db):
    rid, plugs = person_with_plugs(db)
    uids = [uid for _, uid in plugs]
    run(db, uids, lambda k, h: h < 0, range(-DAYS * 24, 30))
    (alert,) = person_alerts(db, rid)
    assert alert.status == "open"
    other = next(uid for did, uid in plugs if did != alert.device_id)
    now = T0 + 30 * H + 10 * 60 * timedelta(seconds=1)
    send(db, other, [power(now, 400.0)], now)  # the kettle on the plug that did not open it
    (alert,) = person_alerts(db, rid)
    assert (alert.status, alert.outcome) == ("closed", "safe")
    assert alert.closed_at == now


def test_a_staff_close_restarts_both_plugs_clocks(db):
    rid, plugs = person_with_plugs(db)
    uids = [uid for _, uid in plugs]
    run(db, uids, lambda k, h: h < 0, range(-DAYS * 24, 26))
    (alert,) = person_alerts(db, rid)
    with db.begin() as conn:
        conn.execute(
            update(Alert).where(Alert.id == alert.id).values(
                status="closed", closed_at=T0 + 26 * H, closed_by="demo.op1", outcome="safe",
                version=Alert.version + 1))  # fmt: skip
    run(db, uids, lambda k, h: False, range(26, 50))
    assert [a.status for a in person_alerts(db, rid)] == ["closed"]  # before: reopened at once
    run(db, uids, lambda k, h: False, range(50, 51))
    assert [a.status for a in person_alerts(db, rid)] == ["closed", "open"]


def _facts(device_id: int, activity: datetime | None, rid: int | None = 7) -> DeviceFacts:
    return DeviceFacts(
        device_id=device_id,
        type_code="smart_plug",
        program_id=1,
        region_id=2,
        heartbeat_timeout_s=7200,
        recipient_id=rid,
        last_activity_at=activity,
    )


def test_each_plug_reads_the_persons_latest_sign_of_life_on_another_plug():
    a, b, c, d = _facts(1, T0), _facts(2, T0 + 5 * H), _facts(3, None), _facts(5, T0 + 9 * H)
    lone = _facts(4, T0, rid=8)
    lent = {1: T0, 2: T0 + 5 * H, 4: T0}  # 5's sign of life is not lent (its background young)
    got = {f.device_id: f.person_active_at for f in with_person_activity([a, b, c, d, lone], lent)}
    assert got == {1: T0 + 5 * H, 2: T0, 3: T0 + 5 * H, 4: None, 5: T0 + 5 * H}


def test_one_decision_per_person_the_gravest_the_judges_on_a_tie():
    class Row:
        def __init__(self, device_id, evidence=None):
            self.device_id, self.evidence = device_id, evidence or {}

    key = "plug_no_change:7"
    f1, f2, f3 = _facts(1, T0), _facts(2, T0), _facts(3, T0)

    def items(*stages):
        return [
            (key, f, Decision("plug_no_change", s, {"n": f.device_id}))
            for f, s in zip((f1, f2, f3), stages, strict=True)
        ]

    other = ("device_silent:d1", f1, Decision("device_silent", None))
    chosen = one_per_person([*items("attention", "risk", "risk"), other], {})
    # the gravest stage, the lowest device id among them; other rules' decisions kept
    assert sorted((k, f.device_id, d.stage) for k, f, d in chosen) == [
        ("device_silent:d1", 1, None),
        (key, 2, "risk"),
    ]
    # a tie goes to the plug whose evidence the open alert holds
    judged = {key: Row(1, {"plug_device_id": 3})}
    assert [f.device_id for k, f, d in one_per_person(items("risk", "risk", "risk"), judged)] == [3]
    # nothing found by any plug: only the judging plug's "cleared" (its holds read its evidence)
    assert [f.device_id for k, f, d in one_per_person(items(None, None, None), judged)] == [3]
    # without the key, the plug that opened it
    assert [f.device_id for k, f, d in one_per_person(items(None, None, None), {key: Row(2)})] == [
        2
    ]
