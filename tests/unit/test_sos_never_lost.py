"""A person who asks for help is alerted whatever the device's status or clock (SQLite and
PostgreSQL, through the real ingest): an SOS from a robot marked in repair or retired, or out of
service with its person's enrollment ended, and an SOS stamped by a clock that is wrong."""

from __future__ import annotations

import logging
from datetime import date, datetime, timedelta

import pytest
from sqlalchemy import Engine, delete, func, insert, select, update

from dashboard.db.schema import (
    Alert,
    Device,
    DeviceAssignment,
    DeviceEvent,
    DeviceType,
    Program,
    Vendor,
)
from dashboard.enrollment import (
    end_enrollment,
    register_device,
    replace_device,
    set_device_status,
)
from dashboard.ingest.core import ingest_events
from dashboard.rules.engine import run_silence_tick
from tests.unit.test_actions_support import T0, add_person, seed, who

LEAD = who("lead1", "lead")
TODAY = date(2024, 12, 2)
M = timedelta(minutes=1)


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            insert(DeviceType),
            [{"code": code, "name_ko": code, "name_en": code, "heartbeat_timeout_s": 7200}
             for code in ("care_robot", "wandering_detector")],
        )  # fmt: skip
        conn.execute(
            insert(Program),
            [{"id": 3, "code": "goyang_care_robot", "kind": "device", "name_ko": "로봇",
              "name_en": "robots", "region_id": 1},
             {"id": 4, "code": "goyang_wandering", "kind": "device", "name_ko": "배회",
              "name_en": "wandering", "region_id": 1}],
        )  # fmt: skip
        conn.execute(
            insert(Vendor),
            {"code": "acme", "timezone": "Asia/Seoul", "created_at": T0, "updated_at": T0},
        )
    return db_engine


def robot_for_a_person(db: Engine, uid: str = "robot-1") -> tuple[int, int]:
    with db.begin() as conn:
        rid, _plug = add_person(conn, program_id=3)
        did = register_device(
            conn, LEAD, T0, device_uid=uid, vendor="acme", type_code="care_robot",
            program_code="goyang_care_robot", installed_on=TODAY, recipient_id=rid,
        )  # fmt: skip
    return rid, did


def sos(db: Engine, event_id: str, ts: datetime | str, now: datetime, uid: str = "robot-1"):
    stamp = ts if isinstance(ts, str) else ts.isoformat()
    event = {"event_id": event_id, "device_id": uid, "type": "sos", "ts": stamp}
    with db.begin() as conn:
        return ingest_events(conn, "acme", [event], now=now)


def sos_alerts(db: Engine) -> list:
    with db.connect() as conn:
        return conn.execute(select(Alert).where(Alert.rule == "robot_sos").order_by(Alert.id)).all()


def _in_repair(db: Engine, did: int) -> None:
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "in_repair")


def _retired(db: Engine, did: int) -> None:
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "retired")


def _replaced_retired(db: Engine, did: int) -> None:
    with db.begin() as conn:
        replace_device(conn, LEAD, T0, did, device_uid="robot-new")


def _replaced_in_repair(db: Engine, did: int) -> None:
    with db.begin() as conn:
        replace_device(conn, LEAD, T0, did, device_uid="robot-new", old_status="in_repair")


@pytest.mark.parametrize(
    ("leave", "status", "released"),
    [
        (_in_repair, "in_repair", False),  # still with its person
        (_retired, "retired", True),  # released: the person of its last assignment
        (_replaced_retired, "retired", True),
        (_replaced_in_repair, "in_repair", True),
    ],
)
def test_an_sos_from_a_robot_out_of_service_alerts_its_person(db, leave, status, released):
    rid, did = robot_for_a_person(db)
    leave(db, did)
    result = sos(db, "s1", T0 + 5 * M, now=T0 + 6 * M)
    assert (result.accepted, result.rejected) == (1, [])
    [alert] = sos_alerts(db)
    assert (alert.stage, alert.status, alert.kind) == ("severe", "open", "person")
    assert (alert.recipient_id, alert.device_id) == (rid, did)
    assert alert.dedup_key == f"robot_sos:{rid}"
    # the operator reads that the robot was marked out of service
    assert alert.evidence["device_status"] == status
    assert alert.evidence["linkage"] == "119"
    assert alert.evidence["sos_at"] == (T0 + 5 * M).isoformat()
    assert ("released_at" in alert.evidence) is released
    # the same SOS sent again is a duplicate, not a second alert
    again = sos(db, "s1", T0 + 5 * M, now=T0 + 8 * M)
    assert (again.accepted, again.duplicates) == (0, 1)
    assert len(sos_alerts(db)) == 1
    # the tick leaves the out-of-service robot alone (the alert is sticky, nothing to judge)
    with db.begin() as conn:
        run_silence_tick(conn, T0 + 10 * M)
    [alert] = sos_alerts(db)
    assert alert.status == "open"


def test_an_sos_after_the_persons_enrollment_ended_still_alerts(db):
    """Ending an enrollment retires the robot; someone pressing its button is still someone
    asking for help (the robot may not be collected yet)."""
    rid, did = robot_for_a_person(db)
    with db.begin() as conn:
        end_enrollment(conn, LEAD, T0, rid, "terminated", TODAY)
    assert sos(db, "s1", T0 + 5 * M, now=T0 + 6 * M).accepted == 1
    [alert] = sos_alerts(db)
    assert (alert.stage, alert.recipient_id, alert.device_id) == ("severe", rid, did)
    assert alert.evidence["device_status"] == "retired"
    assert alert.evidence["enrollment_ended_on"] == TODAY.isoformat()


def test_an_active_robot_sos_keeps_its_evidence_as_before(db):
    robot_for_a_person(db)
    sos(db, "s1", T0 + 5 * M, now=T0 + 6 * M)
    [alert] = sos_alerts(db)
    assert alert.evidence == {"sos_at": (T0 + 5 * M).isoformat(), "sos_count": 1,
                              "linkage": "119"}  # fmt: skip


def test_an_sos_from_a_wandering_detector_alerts_too(db):
    """``sos`` is accepted from any device; a detector with a button is a person asking."""
    with db.begin() as conn:
        rid, _plug = add_person(conn, program_id=4)
        did = register_device(
            conn, LEAD, T0, device_uid="walker-1", vendor="acme", type_code="wandering_detector",
            program_code="goyang_wandering", installed_on=TODAY, recipient_id=rid,
        )  # fmt: skip
    assert sos(db, "w1", T0 + 5 * M, now=T0 + 6 * M, uid="walker-1").accepted == 1
    [alert] = sos_alerts(db)
    assert (alert.stage, alert.recipient_id, alert.device_id) == ("severe", rid, did)


def test_an_sos_nobody_can_be_alerted_for_is_logged(db, caplog):
    """A robot at a site, or never tied to a person, has nobody to alert for: the event is
    kept and a warning names the device, never silence."""
    _rid, did = robot_for_a_person(db)
    with db.begin() as conn:  # as a device registered before assignments were recorded
        conn.execute(delete(DeviceAssignment).where(DeviceAssignment.device_id == did))
        conn.execute(
            update(Device).where(Device.id == did).values(status="retired", recipient_id=None)
        )
    with caplog.at_level(logging.WARNING, logger="dashboard.rules.engine"):
        assert sos(db, "s1", T0 + 5 * M, now=T0 + 6 * M).accepted == 1
    assert sos_alerts(db) == []
    assert f"SOS from device {did} (care_robot, retired) not alerted" in caplog.text
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceEvent)) == 1


# --- a wrong device clock -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stamp", "why"),
    [
        ("2024-12-02T11:00:00+09:00", "ts: 3600 s ahead of the server clock"),  # an hour ahead
        ("1970-01-01T00:00:12Z", "ts: before 2000-01-01"),  # rebooted with its clock unset
    ],
)
def test_an_sos_with_a_wrong_clock_is_stored_at_receipt_and_alerted(db, stamp, why):
    rid, did = robot_for_a_person(db)
    now = T0  # 10:00 in Seoul
    result = sos(db, "s1", stamp, now=now)
    assert (result.accepted, result.rejected) == (1, [])
    [(index, note)] = result.clock_corrected
    assert index == 0 and note.startswith(why)
    assert f"stored at the server's receive time {now.isoformat()}" in note
    with db.connect() as conn:
        row = conn.execute(select(DeviceEvent)).one()
    device_ts = datetime.fromisoformat(stamp).astimezone(T0.tzinfo).isoformat()
    assert row.ts == now and row.received_at == now
    assert row.data == {"device_ts": device_ts, "clock_corrected": True}
    [alert] = sos_alerts(db)
    assert (alert.stage, alert.recipient_id, alert.device_id) == ("severe", rid, did)
    assert alert.evidence["sos_at"] == now.isoformat()
    assert (alert.evidence["clock_corrected"], alert.evidence["device_ts"]) == (True, device_ts)


@pytest.mark.parametrize("later", [timedelta(minutes=2), timedelta(days=3)])
def test_a_resent_corrected_sos_is_a_duplicate_not_a_second_alert(db, later):
    """Each copy is stamped at its own receipt; the id still identifies it (on PostgreSQL the
    first copy is found however long before, not only within the 24 h window of other ids)."""
    robot_for_a_person(db)
    assert sos(db, "s1", "1970-01-01T00:00:12Z", now=T0).accepted == 1
    again = sos(db, "s1", "1970-01-01T00:00:12Z", now=T0 + later)
    assert (again.accepted, again.duplicates, again.rejected) == (0, 1, [])
    assert len(again.clock_corrected) == 1  # the vendor still hears of the clock
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DeviceEvent)) == 1
    assert len(sos_alerts(db)) == 1


def test_a_corrected_sos_id_reused_by_another_device_is_refused(db):
    robot_for_a_person(db)
    robot_for_a_person(db, "robot-2")
    assert sos(db, "s1", "1970-01-01T00:00:12Z", now=T0).accepted == 1
    other = sos(db, "s1", "1970-01-01T00:00:12Z", now=T0 + timedelta(days=3), uid="robot-2")
    assert other.accepted == 0
    assert other.rejected[0][1].startswith("event_id: 's1' is already stored (device 'robot-1'")


def test_other_types_with_a_wrong_clock_are_still_refused(db):
    robot_for_a_person(db)
    events = [
        {"event_id": "i1", "device_id": "robot-1", "type": "interaction",
         "ts": "1970-01-01T00:00:12Z"},
        {"event_id": "h1", "device_id": "robot-1", "type": "heartbeat",
         "ts": (T0 + 6 * M).isoformat()},
    ]  # fmt: skip
    with db.begin() as conn:
        result = ingest_events(conn, "acme", events, now=T0)
    assert result.accepted == 0 and result.clock_corrected == []
    assert dict(result.rejected) == {
        0: "ts: before 2000-01-01; the device clock is probably not set",
        1: "ts: 360 s ahead of the server clock (at most 300 s allowed); check the device clock",
    }


def test_a_file_import_still_refuses_an_sos_with_a_wrong_clock(db):
    """A file is not received when its rows happened: stamped at the import, an old press
    would be alerted as a new one; the row is refused, as before."""
    from dashboard.ingest.files import import_file

    robot_for_a_person(db)
    data = b"event_id,device_id,ts,type\ns1,robot-1,1970-01-01T00:00:12Z,sos\n"
    with db.begin() as conn:
        report = import_file(conn, data, "sos.csv", "acme", T0)
    assert report.accepted == 0
    assert [(e.row, e.column) for e in report.errors] == [(2, "ts")]
    assert sos_alerts(db) == []
