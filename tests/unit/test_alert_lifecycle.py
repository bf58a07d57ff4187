"""Alert lifecycle on SQLite and PostgreSQL: open, dedup, escalate, clear, state, with time travel.

Ingestion is simulated: each helper stores events and moves ``device_state`` the way
``dashboard.ingest`` does, then calls ``on_events`` like ingestion does.
"""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update

from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceState,
    DeviceType,
    NotificationOutbox,
    Program,
    Region,
)
from dashboard.rules import on_events, run_silence_tick
from dashboard.rules.config import current_thresholds
from dashboard.rules.device import device_silent
from dashboard.rules.facts import load_facts, load_facts_by_id
from dashboard.rules.lifecycle import apply_decisions
from dashboard.rules.model import Decision, dedup_key

T0 = datetime(2024, 12, 2, 0, 0, tzinfo=UTC)
H = timedelta(hours=1)
M = timedelta(minutes=1)
S = timedelta(seconds=1)
HOME = (37.6486, 126.7868)
TYPES = {
    "smart_plug": 7200,
    "phone_line": 93600,
    "ai_call_line": 691200,
    "care_robot": 7200,
    "wandering_detector": 3600,
}
_uid = itertools.count(1)


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    with db_engine.begin() as conn:
        conn.execute(
            insert(Region),
            [
                {"id": 1, "code": "4128500000", "level": "district", "name_ko": "고양시 일산동구",
                 "name_en": "Ilsandong-gu"},
                {"id": 2, "code": "4128552000", "level": "dong", "parent_id": 1,
                 "name_ko": "경기도 고양시 일산동구 백석1동", "name_en": "Baekseok 1-dong"},
            ],
        )  # fmt: skip
        conn.execute(
            insert(Program),
            [{"id": 1, "code": "p", "kind": "device", "name_ko": "p", "name_en": "p",
              "region_id": 1}],
        )  # fmt: skip
        conn.execute(
            insert(DeviceType),
            [
                {"code": c, "name_ko": c, "name_en": c, "heartbeat_timeout_s": s}
                for c, s in TYPES.items()
            ],
        )
    return db_engine


def add_device(db: Engine, type_code: str, *, no_change_hours=None, safe_zone_m=None) -> int:
    n = next(_uid)
    with db.begin() as conn:
        rid = conn.execute(
            insert(CareRecipient).returning(CareRecipient.id),
            {"program_id": 1, "region_id": 2, "external_ref": f"R{n}", "birth_year": 1940,
             "sex": "F", "household": "alone", "enrolled_on": date(2024, 1, 1),
             "no_change_hours": no_change_hours, "safe_zone_m": safe_zone_m, "pii_name": "김복순",
             "pii_home_lat": HOME[0], "pii_home_lon": HOME[1]},
        ).scalar()  # fmt: skip
        did = conn.execute(
            insert(Device).returning(Device.id),
            {"device_uid": f"D{n}", "type_code": type_code, "program_id": 1, "vendor": "v",
             "recipient_id": rid, "region_id": 2, "installed_on": date(2024, 1, 1)},
        ).scalar()  # fmt: skip
        conn.execute(
            insert(DeviceState),
            {"device_id": did, "state": "normal", "state_since": T0, "last_seen_at": T0,
             "last_activity_at": T0, "updated_at": T0},
        )  # fmt: skip
    return did


def report(db: Engine, did: int, ts: datetime, type_: str = "heartbeat", value=None, data=None,
           *, activity: bool = False, now: datetime | None = None, **state) -> None:  # fmt: skip
    """Store one event, move the state as ingestion would, then run the event rules."""
    with db.begin() as conn:
        conn.execute(
            insert(DeviceEvent),
            {"vendor": "v", "event_uid": f"e{next(_uid)}", "device_id": did, "ts": ts,
             "received_at": ts, "type": type_, "value": value, "data": data},
        )  # fmt: skip
        values = {"last_seen_at": ts, "last_event_type": type_, "updated_at": ts, **state}
        values["rules_due_at"] = None  # as ingest: any event may change a decision
        if activity:
            values["last_activity_at"] = ts
        conn.execute(update(DeviceState).where(DeviceState.device_id == did).values(**values))
        on_events(conn, {did}, now or ts)


def tick(db: Engine, now: datetime):
    with db.begin() as conn:
        return run_silence_tick(conn, now)


def alerts(db: Engine, did: int, rule: str | None = None) -> list:
    q = select(Alert).where(Alert.device_id == did).order_by(Alert.id)
    if rule:
        q = q.where(Alert.rule == rule)
    with db.connect() as conn:
        return list(conn.execute(q))


def open_alerts(db: Engine, did: int) -> dict[str, object]:
    return {a.rule: a for a in alerts(db, did) if a.status != "closed"}


def state(db: Engine, did: int) -> str:
    with db.connect() as conn:
        return conn.execute(select(DeviceState.state).where(DeviceState.device_id == did)).scalar()


def audit_actions(db: Engine, alert_id: int) -> list[str]:
    with db.connect() as conn:
        return list(
            conn.execute(
                select(AuditLog.action)
                .where(AuditLog.entity_id == str(alert_id))
                .order_by(AuditLog.id)
            ).scalars()
        )


def outbox(db: Engine) -> list:
    with db.connect() as conn:
        return list(conn.execute(select(NotificationOutbox).order_by(NotificationOutbox.id)))


def heartbeat_every_hour(db: Engine, did: int, until: datetime) -> None:
    """Keep a device reporting (no activity) so only the person rule speaks."""
    with db.begin() as conn:
        conn.execute(
            update(DeviceState).where(DeviceState.device_id == did).values(last_seen_at=until)
        )


# --- smart plug ladder, clearing, dedup ---------------------------------------------------------


def test_plug_ladder_escalates_then_clears_and_keeps_the_record(db):
    did = add_device(db, "smart_plug")
    heartbeat_every_hour(db, did, T0 + 60 * H)
    assert tick(db, T0 + 24 * H - M).opened == 0
    summary = tick(db, T0 + 24 * H)
    assert (summary.opened, summary.states_changed) == (1, 1)
    (alert,) = alerts(db, did)
    assert (alert.rule, alert.kind, alert.stage, alert.status) == (
        "plug_no_change", "person", "attention", "open")  # fmt: skip
    assert alert.dedup_key == f"plug_no_change:{alert.recipient_id}"
    assert alert.evidence["last_activity_at"] == T0.isoformat()
    assert alert.evidence["threshold_h"] == 24
    assert state(db, did) == "attention"

    assert tick(db, T0 + 30 * H).updated == 0  # only older: no write, no version bump
    assert alerts(db, did)[0].version == 1
    assert tick(db, T0 + 36 * H).escalated == 1
    assert tick(db, T0 + 48 * H).escalated == 1
    (alert,) = alerts(db, did)
    assert (alert.stage, alert.version) == ("severe", 3)
    assert state(db, did) == "severe"

    # The TV goes on: ingestion moves last_activity_at, the batch's rules close the alert.
    report(db, did, T0 + 50 * H, "power", 80.0, activity=True, last_power_w=80.0)
    (alert,) = alerts(db, did)
    assert (alert.status, alert.outcome, alert.closed_by) == ("closed", "safe", "system")
    assert alert.closed_at == T0 + 50 * H
    assert alert.stage == "severe"  # the record keeps how bad it got
    assert alert.evidence["condition_cleared_at"] == (T0 + 50 * H).isoformat()
    assert state(db, did) == "normal"
    assert audit_actions(db, alert.id) == [
        "alert_open", "alert_escalate", "alert_escalate", "alert_close"]  # fmt: skip

    # After closing, a new silence opens a new alert; the old one stays.
    heartbeat_every_hour(db, did, T0 + 80 * H)
    tick(db, T0 + 74 * H)
    rows = alerts(db, did)
    assert [(a.status, a.stage) for a in rows] == [("closed", "severe"), ("open", "attention")]


def test_readings_under_an_open_alert_do_not_bump_its_version(db):
    """An operator who opened the alert before the plug's next report must not be told it
    changed: the readings of the moment are not worth a write; a stage change still is."""
    did = add_device(db, "smart_plug")
    report(db, did, T0, "power", 50.0, activity=True, last_power_w=50.0)
    heartbeat_every_hour(db, did, T0 + 24 * H)
    tick(db, T0 + 24 * H)
    (alert,) = alerts(db, did, "plug_no_change")
    for k, watts in enumerate((52.0, 49.0, 51.5), start=1):  # within the 5 W margin
        report(db, did, T0 + 24 * H + 10 * k * M, "power", watts, last_power_w=watts)
    (after,) = alerts(db, did, "plug_no_change")
    assert (after.status, after.version) == ("open", alert.version)
    heartbeat_every_hour(db, did, T0 + 36 * H)
    assert tick(db, T0 + 36 * H).escalated == 1
    (risk,) = alerts(db, did, "plug_no_change")
    assert (risk.stage, risk.version) == ("risk", alert.version + 1)
    assert risk.evidence["power_w"] == 51.5  # written along with the stage


def test_personal_threshold_30h(db):
    did = add_device(db, "smart_plug", no_change_hours=30)
    heartbeat_every_hour(db, did, T0 + 60 * H)
    tick(db, T0 + 29 * H)
    assert alerts(db, did) == []
    tick(db, T0 + 30 * H)
    assert open_alerts(db, did)["plug_no_change"].stage == "attention"
    tick(db, T0 + 42 * H)
    assert open_alerts(db, did)["plug_no_change"].stage == "risk"


def test_repeats_never_duplicate_and_never_lower_the_stage(db):
    did = add_device(db, "smart_plug")
    heartbeat_every_hour(db, did, T0 + 60 * H)
    for hours in (40, 41, 25, 40):  # a clock that jumps back must not de-escalate
        tick(db, T0 + hours * H)
    (alert,) = alerts(db, did)
    assert alert.stage == "risk"
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Alert)).scalar() == 1


def test_operator_close_restarts_the_clock(db):
    did = add_device(db, "smart_plug")
    heartbeat_every_hour(db, did, T0 + 80 * H)
    tick(db, T0 + 25 * H)
    with db.begin() as conn:
        conn.execute(
            update(Alert).values(status="closed", closed_at=T0 + 26 * H, closed_by="demo.op1",
                                 outcome="safe", version=Alert.version + 1))  # fmt: skip
    tick(db, T0 + 49 * H)
    assert len(alerts(db, did)) == 1
    tick(db, T0 + 50 * H)
    assert [a.status for a in alerts(db, did)] == ["closed", "open"]


def test_a_dispatched_alert_is_not_closed_by_a_reading(db):
    did = add_device(db, "smart_plug")
    heartbeat_every_hour(db, did, T0 + 60 * H)
    tick(db, T0 + 25 * H)
    with db.begin() as conn:
        conn.execute(update(Alert).values(status="dispatched", version=Alert.version + 1))
    report(db, did, T0 + 26 * H, "power", 80.0, activity=True)
    (alert,) = alerts(db, did)
    assert alert.status == "dispatched"
    assert alert.evidence["condition_cleared_at"] == (T0 + 26 * H).isoformat()


# --- device fault vs person alert ---------------------------------------------------------------


def test_silent_plug_is_a_device_fault_not_a_person_alert(db):
    did = add_device(db, "smart_plug")
    with db.begin() as conn:  # the person was active just before the plug went quiet
        conn.execute(update(DeviceState).values(last_activity_at=T0 + 50 * H,
                                                last_seen_at=T0 + 50 * H))  # fmt: skip
    assert tick(db, T0 + 52 * H).opened == 0
    tick(db, T0 + 52 * H + M)
    (fault,) = alerts(db, did)
    assert (fault.rule, fault.kind, fault.stage) == ("device_silent", "device_fault", "attention")
    assert fault.recipient_id is None
    assert fault.dedup_key == f"device_silent:d{did}"
    assert fault.evidence["timeout_s"] == 7200
    assert state(db, did) == "offline"

    report(db, did, T0 + 53 * H, "heartbeat")
    (fault,) = alerts(db, did)
    assert (fault.status, fault.outcome, fault.closed_by) == ("closed", "device_fault", "system")
    assert state(db, did) == "normal"


def test_person_alert_outranks_offline(db):
    did = add_device(db, "smart_plug")  # no activity since T0, reporting until T0 + 23 h
    with db.begin() as conn:
        conn.execute(update(DeviceState).values(last_seen_at=T0 + 23 * H))
    tick(db, T0 + 25 * H + M)  # 24 h watched quiet (to the 2 h timeout), then silent
    assert set(open_alerts(db, did)) == {"plug_no_change", "device_silent"}
    assert state(db, did) == "attention"
    tick(db, T0 + 36 * H + M)  # an alert opened on watched quiet keeps the ladder's clock
    assert open_alerts(db, did)["plug_no_change"].stage == "risk"


def test_a_plug_silent_since_the_last_sign_of_life_raises_only_its_device_fault(db):
    """Issue #9: a dead device is a device fault, not a person alert; the fault becomes 위험
    once the person has gone a day unobserved (device_silent.risk_after_h)."""
    did = add_device(db, "smart_plug")  # silent since T0, no activity since T0
    tick(db, T0 + 25 * H)
    assert set(open_alerts(db, did)) == {"device_silent"}
    assert state(db, did) == "offline"
    tick(db, T0 + 60 * H)  # past the person's whole ladder (24/36/48 h)
    assert set(open_alerts(db, did)) == {"device_silent"}
    assert open_alerts(db, did)["device_silent"].stage == "risk"


def test_device_that_never_reported_gets_an_offline_row(db):
    did = add_device(db, "care_robot")
    with db.begin() as conn:
        conn.execute(DeviceState.__table__.delete())
    tick(db, datetime(2024, 1, 1, 12, tzinfo=UTC))
    assert open_alerts(db, did)["device_silent"].evidence["cause"] == "never_reported"
    assert state(db, did) == "offline"


def test_low_battery_is_a_fault_that_leaves_the_state_alone(db):
    did = add_device(db, "wandering_detector", safe_zone_m=500)
    report(db, did, T0 + M, "heartbeat", 19.0, battery_pct=19.0)
    fault = open_alerts(db, did)["low_battery"]
    assert (fault.kind, fault.stage, fault.evidence["battery_pct"]) == (
        "device_fault",
        "attention",
        19.0,
    )
    assert state(db, did) == "normal"
    report(db, did, T0 + 2 * M, "heartbeat", 22.0, battery_pct=22.0)
    assert "low_battery" in open_alerts(db, did)  # hysteresis band: still open
    report(db, did, T0 + 3 * M, "heartbeat", 90.0, battery_pct=90.0)
    assert open_alerts(db, did) == {}
    assert alerts(db, did)[0].outcome == "device_fault"


# --- call ladder --------------------------------------------------------------------------------


def unanswered(db, did, ts):
    report(db, did, ts, "ai_call_result", None, {"outcome": "unanswered"})


def test_call_ladder_auto_call_then_dong_center(db):
    did = add_device(db, "phone_line")
    heartbeat_every_hour(db, did, T0 + 80 * H)
    tick(db, T0 + 72 * H - M)
    assert alerts(db, did) == [] and outbox(db) == []
    tick(db, T0 + 72 * H)
    first = open_alerts(db, did)["call_no_activity"]
    assert first.stage == "attention"
    (call1,) = outbox(db)
    assert (call1.channel, call1.alert_id, call1.payload["attempt"]) == ("auto_call", first.id, 1)
    tick(db, T0 + 72 * H + M)
    assert len(outbox(db)) == 1  # the request is idempotent

    a = T0 + 72 * H + 5 * M
    unanswered(db, did, a)
    call2 = outbox(db)[-1]
    assert (call2.payload["attempt"], call2.next_attempt_at) == (2, a + H)
    unanswered(db, did, a + 30 * M)  # two within the hour: not yet
    assert "call_auto_unanswered" not in open_alerts(db, did)
    unanswered(db, did, a + 61 * M)
    risk = open_alerts(db, did)["call_auto_unanswered"]
    assert (risk.stage, risk.evidence["dong_center"]) == ("risk", "백석1동 행정복지센터")
    assert outbox(db)[-1].channel == "dong_center"
    assert state(db, did) == "risk"

    # The person calls their daughter: both close as safe.
    report(db, did, a + 2 * H, "call", 120.0, {"direction": "out"}, activity=True)
    assert open_alerts(db, did) == {}
    assert {a.outcome for a in alerts(db, did)} == {"safe"}
    assert state(db, did) == "normal"


# --- AI check-in calls --------------------------------------------------------------------------


def test_ai_call_three_in_a_row_then_answered(db):
    did = add_device(db, "ai_call_line")
    week = timedelta(days=7)
    for n in (1, 2):
        unanswered(db, did, T0 + n * week)
    assert alerts(db, did) == []
    unanswered(db, did, T0 + 3 * week)
    assert open_alerts(db, did)["ai_call_unanswered"].stage == "attention"
    unanswered(db, did, T0 + 4 * week)
    assert open_alerts(db, did)["ai_call_unanswered"].stage == "risk"
    report(db, did, T0 + 5 * week, "ai_call_result", None, {"outcome": "answered"}, activity=True)
    assert open_alerts(db, did) == {}


def test_ai_call_concern_once_and_not_reopened_after_staff_close(db):
    did = add_device(db, "ai_call_line")
    data = {"outcome": "concern", "note": "허리 통증"}
    report(db, did, T0 + H, "ai_call_result", None, data, activity=True)
    concern = open_alerts(db, did)["ai_call_concern"]
    assert (concern.stage, concern.evidence["note"]) == ("attention", "허리 통증")
    report(db, did, T0 + 2 * H, "heartbeat")
    assert len(alerts(db, did)) == 1
    tick(db, T0 + 3 * H)
    assert open_alerts(db, did)["ai_call_concern"].status == "open"  # sticky
    with db.begin() as conn:
        conn.execute(update(Alert).values(status="closed", closed_at=T0 + 4 * H,
                                          closed_by="demo.op2", outcome="safe"))  # fmt: skip
    report(db, did, T0 + 5 * H, "heartbeat")
    assert len(alerts(db, did)) == 1


# --- robot --------------------------------------------------------------------------------------


def test_robot_sos_is_severe_at_once(db):
    did = add_device(db, "care_robot")
    report(db, did, T0 + H, "sos", activity=True)
    sos = open_alerts(db, did)["robot_sos"]
    assert (sos.stage, sos.evidence["linkage"], sos.evidence["sos_at"]) == (
        "severe", "119", (T0 + H).isoformat())  # fmt: skip
    assert state(db, did) == "severe"
    report(db, did, T0 + H + M, "interaction", activity=True)
    assert len(alerts(db, did)) == 1 and alerts(db, did)[0].status == "open"


def test_robot_no_interaction_48h(db):
    did = add_device(db, "care_robot")
    heartbeat_every_hour(db, did, T0 + 60 * H)
    tick(db, T0 + 48 * H - M)
    assert alerts(db, did) == []
    tick(db, T0 + 48 * H)
    assert open_alerts(db, did)["robot_no_interaction"].stage == "attention"
    report(db, did, T0 + 49 * H, "interaction", activity=True)
    assert open_alerts(db, did) == {}


# --- wandering ----------------------------------------------------------------------------------


def position(db, did, ts, metres_north, now=None, metres_east=0.0):
    lat = HOME[0] + metres_north / 111_195
    lon = HOME[1] + metres_east / (111_195 * 0.7913)  # cos(37.65°)
    report(db, did, ts, "position", None, {"lat": lat, "lon": lon}, now=now,
           last_lat=lat, last_lon=lon)  # fmt: skip


def test_wandering_left_zone_lost_and_back(db):
    """One episode, one alert: it opens after the dwell, rides out hovering at the edge,
    escalates with time outside, gets a lost-position alert beside it, de-escalates while the
    person is coming back and closes once the return is confirmed."""
    did = add_device(db, "wandering_detector", safe_zone_m=500)  # T0 = 09:00 in Seoul
    position(db, did, T0 + M, 450)
    position(db, did, T0 + 2 * M, 700)  # past the edge by the margin: the dwell starts
    position(db, did, T0 + 3 * M, 640)
    assert alerts(db, did) == []
    position(db, did, T0 + 3 * M + 30 * S, 580)
    left = open_alerts(db, did)["wander_left_zone"]
    assert (left.stage, left.evidence["safe_zone_m"]) == ("attention", 500.0)
    assert left.evidence["distance_m"] == pytest.approx(580, abs=2)
    assert left.evidence["outside_since"] == (T0 + 2 * M).isoformat()
    assert state(db, did) == "attention"

    for minute, north, east in ((5, 490, 0), (6, 515, 60), (7, 485, 0)):  # at the edge
        position(db, did, T0 + minute * M, north, metres_east=east)
    assert [a.id for a in alerts(db, did)] == [left.id]  # neither closed nor reopened

    heartbeat_every_hour(db, did, T0 + 40 * M)  # still reporting, but no position fix
    tick(db, T0 + 37 * M)
    assert "wander_no_position" not in open_alerts(db, did)
    tick(db, T0 + 38 * M + S)
    lost = open_alerts(db, did)["wander_no_position"]
    assert (lost.stage, lost.evidence["position_at"]) == ("severe", (T0 + 7 * M).isoformat())
    assert open_alerts(db, did)["wander_left_zone"].stage == "risk"  # 15 min outside
    assert audit_actions(db, left.id)[-1] == "alert_escalate"

    position(db, did, T0 + 50 * M, 100)  # back inside by the margin: confirming
    assert "wander_no_position" not in open_alerts(db, did)
    returning = open_alerts(db, did)["wander_left_zone"]
    assert (returning.id, returning.stage) == (left.id, "attention")
    assert returning.evidence["returning_since"] == (T0 + 50 * M).isoformat()
    assert audit_actions(db, left.id)[-1] == "alert_deescalate"
    position(db, did, T0 + 54 * M, 90)
    assert "wander_left_zone" in open_alerts(db, did)
    position(db, did, T0 + 55 * M, 95)
    assert open_alerts(db, did) == {}
    assert {a.outcome for a in alerts(db, did)} == {"safe"}
    assert state(db, did) == "normal"


def test_a_wanderer_at_home_waits_for_its_due_time_and_a_zone_edit_brings_it_back(db):
    """At home with nothing pending, the tick schedules the detector instead of judging it
    every minute; a pending exit keeps it due at its dwell; a smaller zone (staff edit) is
    judged at the next tick and opens the alert at once."""
    from dashboard.enrollment.geofence import set_geofence
    from dashboard.rules.engine import _candidates
    from tests.registry_support import LEAD

    did = add_device(db, "wandering_detector", safe_zone_m=500)
    th = current_thresholds()

    def candidate(at: datetime) -> bool:
        with db.connect() as conn:
            return did in {f.device_id for f in load_facts(conn, _candidates(conn, th, at))}

    position(db, did, T0 + M, 300)  # at home
    assert candidate(T0 + 2 * M)
    tick(db, T0 + 2 * M)
    assert not candidate(T0 + 3 * M) and not candidate(T0 + 20 * M)
    assert candidate(T0 + 2 * M + H)  # never more than an hour
    position(db, did, T0 + 30 * M, 560)  # past the edge, not by the margin: the edge dwell
    tick(db, T0 + 30 * M + 10 * S)
    assert not candidate(T0 + 31 * M) and candidate(T0 + 32 * M)  # edge_dwell_min = 2
    tick(db, T0 + 32 * M)
    assert open_alerts(db, did)["wander_left_zone"].stage == "attention"
    assert candidate(T0 + 33 * M)  # outside: every tick
    position(db, did, T0 + 40 * M, 100)
    position(db, did, T0 + 46 * M, 90)  # back, confirmed after the re-entry dwell
    assert open_alerts(db, did) == {}
    tick(db, T0 + 47 * M)
    assert not candidate(T0 + 48 * M)

    with db.begin() as conn:
        rid = conn.execute(select(Device.recipient_id).where(Device.id == did)).scalar()
        set_geofence(conn, LEAD, T0 + 50 * M, rid, safe_zone_m=50)  # 90 m out is now outside
    assert candidate(T0 + 51 * M)
    tick(db, T0 + 51 * M)
    assert open_alerts(db, did)["wander_left_zone"].stage == "attention"


# --- concurrency --------------------------------------------------------------------------------


def test_concurrent_open_updates_the_winner_instead_of_failing(db):
    did = add_device(db, "care_robot")
    with db.begin() as conn:
        (facts,) = load_facts_by_id(conn, [did])
        decision = Decision("robot_sos", "severe", {"sos_at": T0.isoformat(), "linkage": "119"})
        # Another worker already opened it between our read and our insert:
        conn.execute(
            insert(Alert),
            {"dedup_key": f"robot_sos:{facts.recipient_id}", "kind": "person",
             "rule": "robot_sos", "stage": "risk", "status": "open", "program_id": 1,
             "region_id": 2, "recipient_id": facts.recipient_id, "device_id": did,
             "evidence": {}, "opened_at": T0, "updated_at": T0, "version": 1},
        )  # fmt: skip
        import dashboard.rules.lifecycle as lifecycle

        real = lifecycle._open_alerts
        calls = iter([{}, None])
        lifecycle._open_alerts = lambda c, **kw: next(calls) or real(c, **kw)
        try:
            changes = apply_decisions(conn, [(facts, decision)], T0 + M)
        finally:
            lifecycle._open_alerts = real
    assert (changes.opened, changes.escalated) == (0, 1)
    (alert,) = alerts(db, did)
    assert (alert.stage, alert.version) == ("severe", 2)


def test_many_opens_in_a_row_survive_prepared_statements(db):
    """psycopg prepares a statement after 5 runs and PostgreSQL then plans it generically; the
    partial-index conflict target must still be inferred there (a bound predicate is not)."""
    robots = [add_device(db, "care_robot") for _ in range(14)]
    for n, did in enumerate(robots):
        report(db, did, T0 + n * M, "sos", activity=True)
    assert all(open_alerts(db, did)["robot_sos"].stage == "severe" for did in robots)


def test_a_tick_does_not_reopen_what_an_event_closed_while_it_ran(db):
    """The tick reads a silent plug's facts; before it writes, ingest commits the plug's next
    report and closes the device-silent ticket. The tick's decision (silent) is stale: it must
    not open the ticket again, and the next tick, on the new facts, has nothing to open."""
    did = add_device(db, "smart_plug")
    with db.begin() as conn:
        conn.execute(update(DeviceState).values(last_activity_at=T0 + 50 * H,
                                                last_seen_at=T0 + 50 * H))  # fmt: skip
    tick(db, T0 + 52 * H + M)
    (fault,) = alerts(db, did)
    assert fault.rule == "device_silent" and fault.status != "closed"
    now = T0 + 53 * H
    with db.connect() as tick_conn:
        (stale,) = load_facts_by_id(tick_conn, [did])  # read before the report commits
        report(db, did, now, "heartbeat")  # ingest: stored, state moved on, ticket closed
        assert [a.status for a in alerts(db, did)] == ["closed"]
        decision = device_silent(stale, current_thresholds(), now + M)
        assert decision is not None and decision.stage is not None  # what the tick concluded
        changes = apply_decisions(tick_conn, [(stale, decision)], now + M)
        tick_conn.commit()
    assert changes.opened == 0
    assert [a.status for a in alerts(db, did)] == ["closed"]
    # Without the newer report the same stale facts do open it: the guard is what held.
    with db.connect() as conn, conn.begin():
        (fresh,) = load_facts_by_id(conn, [did])
        fresh_silent = device_silent(fresh, current_thresholds(), now + 3 * H)
        assert apply_decisions(conn, [(fresh, fresh_silent)], now + 3 * H).opened == 1


def _held_plug_alert(db: Engine, did: int, since: datetime, first: datetime) -> None:
    """An open plug alert the level test raised at ``first`` (held on its spell, ``since``)."""
    evidence = {"basis": "level", "held_by": "level", "since": since.isoformat(),
                "alerted_at": first.isoformat(), "steps_apply": True, "threshold_h": 24,
                "risk_at_h": 36, "severe_at_h": 48}  # fmt: skip
    with db.begin() as conn:
        rid = conn.execute(select(Device.recipient_id).where(Device.id == did)).scalar()
        conn.execute(
            insert(Alert),
            {"dedup_key": dedup_key("plug_no_change", rid, did), "kind": "person",
             "rule": "plug_no_change", "stage": "attention", "status": "open", "program_id": 1,
             "region_id": 2, "recipient_id": rid, "device_id": did, "evidence": evidence,
             "opened_at": first, "updated_at": first, "version": 1},
        )  # fmt: skip


def _apply(db: Engine, did: int, band_since: datetime, decision: Decision, now: datetime):
    with db.begin() as conn:
        (facts,) = load_facts_by_id(conn, [did])
        apply_decisions(conn, [(replace(facts, band_since=band_since), decision)], now)
    (alert,) = alerts(db, did, "plug_no_change")
    return alert


def test_a_held_plug_alert_says_once_that_its_steps_no_longer_apply(db):
    """The chart draws the steps' times while ``steps_apply``: a held alert whose power left its
    band since the first alert is written once with it False (still held at its stage)."""
    since, first = T0, T0 + 6 * H
    did = add_device(db, "smart_plug")
    _held_plug_alert(db, did, since, first)
    no_stage = Decision("plug_no_change", None, {"since": since.isoformat()})
    kept = _apply(db, did, since, no_stage, first + 4 * H)  # in its band: nothing to write
    assert (kept.stage, kept.version, kept.evidence["steps_apply"]) == ("attention", 1, True)
    broken = first + H
    for minutes in (0, 10):  # the band broke after the first alert: one write, then none
        alert = _apply(db, did, broken, no_stage, first + 4 * H + minutes * M)
        assert (alert.status, alert.stage, alert.version) == ("open", "attention", 2)
        assert alert.evidence["steps_apply"] is False
        assert alert.evidence["alerted_at"] == first.isoformat()


def test_steps_apply_is_judged_against_the_first_alert_the_alert_keeps(db):
    """A decision that could not see the open alert says "now" for the first alert; the alert
    keeps its own (merged_evidence), and whether the steps apply is judged against that one."""
    since, first, now = T0, T0 + 6 * H, T0 + 10 * H
    did = add_device(db, "smart_plug")
    _held_plug_alert(db, did, since, first)
    evidence = {"since": since.isoformat(), "alerted_at": now.isoformat(), "steps_apply": True}
    alert = _apply(db, did, first + H, Decision("plug_no_change", "attention", evidence), now)
    assert alert.evidence["alerted_at"] == first.isoformat()
    assert alert.evidence["steps_apply"] is False
