"""Enrollment lifecycle on SQLite and PostgreSQL: people's settings and home, devices
(register, assign, replace keeping history, status), end of enrollment (alerts closed, devices
out of the live counts and the rules), the privacy purge and its daily run, reveal limits."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update

from dashboard.auth.permissions import NotPermitted
from dashboard.auth.reveal import Pseudonymised, reveal_personal_data
from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    ComplaintSite,
    Device,
    DeviceAssignment,
    DeviceEvent,
    DeviceType,
    Dispatch,
    NotificationOutbox,
    Program,
    Region,
    Vendor,
)
from dashboard.enrollment import (
    EndImpact,
    EnrollmentError,
    assign_device,
    end_enrollment,
    end_impact,
    purge_ended,
    register_device,
    replace_device,
    set_device_status,
    set_home_position,
    update_person_settings,
)
from dashboard.enrollment.daily import daily_purge
from dashboard.rules.engine import run_silence_tick
from queries.enrollment import home_position, person_alerts, person_devices, person_events
from queries.live import device_counts
from tests.unit.test_actions_support import T0, add_alert, add_person, seed, who

LEAD, ADMIN = who("lead1", "lead"), who("admin1", "admin")
OPERATOR = who("op1", "operator", ("4128500000",))
TODAY = date(2024, 12, 2)
# The fixture's people have smart plugs; the catalog pairs plugs with 서울 스마트플러그 only.
SEOUL_PLUGS = {"program_id": 2, "region_id": 4}


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(update(Region).where(Region.id == 2).values(lat=37.64, lon=126.79))
        conn.execute(
            insert(DeviceType),
            [{"code": code, "name_ko": code, "name_en": code, "heartbeat_timeout_s": 7200}
             for code in ("ai_call_line", "care_robot")],
        )  # fmt: skip
        conn.execute(
            insert(Program),
            {"id": 3, "code": "goyang_care_robot", "kind": "device", "name_ko": "로봇",
             "name_en": "robots", "region_id": 1},
        )  # fmt: skip
        # A declared vendor (`vendors add`): devices may name it before it owns any.
        conn.execute(
            insert(Vendor),
            {"code": "acme", "timezone": "Asia/Seoul", "created_at": T0, "updated_at": T0},
        )
    return db_engine


def person(db: Engine, **where: int) -> tuple[int, int]:
    with db.begin() as conn:
        return add_person(conn, **where)


def row(db: Engine, table, key: int):
    with db.connect() as conn:
        return conn.execute(select(table).where(table.id == key)).one()


def audits(db: Engine, action: str) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        ).all()


def live_devices(db: Engine) -> int:
    with db.connect() as conn:
        return int(device_counts(conn)["devices"].sum())


# --- people ---------------------------------------------------------------------------------


def test_settings_are_bounded_and_audited_without_notes_text(db):
    rid, _ = person(db)
    with db.begin() as conn:
        update_person_settings(
            conn, LEAD, T0, rid, no_change_hours=36, safe_zone_m=300, notes="계단 조심"
        )
    p = row(db, CareRecipient, rid)
    assert (p.no_change_hours, p.safe_zone_m, p.notes) == (36, 300, "계단 조심")
    [entry] = audits(db, "person_settings")
    assert entry.detail == {
        "no_change_hours": 36,
        "safe_zone_m": 300,
        "fields": ["no_change_hours", "notes", "safe_zone_m"],
    }
    for bad in ({"no_change_hours": 23}, {"no_change_hours": 51}, {"safe_zone_m": 10},
                {"notes": "x" * 2001}, {}):  # fmt: skip
        with pytest.raises(EnrollmentError), db.begin() as conn:
            update_person_settings(conn, LEAD, T0, rid, **bad)
    assert row(db, CareRecipient, rid).no_change_hours == 36


def test_home_position_or_the_dongs_centroid_flagged_approximate(db):
    rid, _ = person(db)
    with db.connect() as conn:
        assert home_position(conn, rid) == (37.64, 126.79, True)
    with db.begin() as conn:
        set_home_position(conn, LEAD, T0, rid, 37.65, 126.78, source="map")
    with db.connect() as conn:
        assert home_position(conn, rid) == (37.65, 126.78, False)
    for lat, lon in ((48.1, 11.5), (37.6, None), (126.8, 37.6)):
        with pytest.raises(EnrollmentError), db.begin() as conn:
            set_home_position(conn, LEAD, T0, rid, lat, lon)
    with db.begin() as conn:
        set_home_position(conn, LEAD, T0, rid, None, None)
    with db.connect() as conn:
        assert home_position(conn, rid).approximate
    assert [a.detail["cleared"] for a in audits(db, "person_home")] == [False, True]
    assert "37.65" not in str([a.detail for a in audits(db, "person_home")])


@pytest.mark.parametrize("principal", [OPERATOR, who("c", "council")])
def test_roles_without_manage_roster_are_refused_and_nothing_is_written(db, principal):
    rid, did = person(db)
    calls = [
        lambda c: update_person_settings(c, principal, T0, rid, no_change_hours=30),
        lambda c: set_home_position(c, principal, T0, rid, 37.6, 126.8),
        lambda c: set_device_status(c, principal, T0, did, "in_repair"),
        lambda c: replace_device(c, principal, T0, did, device_uid="new"),
        lambda c: end_enrollment(c, principal, T0, rid, "moved", TODAY),
        lambda c: purge_ended(c, principal, T0, 0),
    ]
    for call in calls:
        with pytest.raises(NotPermitted), db.begin() as conn:
            call(conn)
    with db.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AuditLog)).scalar() == 0
    assert row(db, Device, did).status == "active"


# --- devices --------------------------------------------------------------------------------


def test_register_and_assign_rules(db):
    rid, _ = person(db)
    other, _ = person(db)
    with db.begin() as conn:
        did = register_device(
            conn, ADMIN, T0, device_uid="X-1", vendor="acme", type_code="ai_call_line",
            program_code="goyang_ai_call", installed_on=TODAY, recipient_id=rid,
        )  # fmt: skip
    d = row(db, Device, did)
    assert (d.recipient_id, d.region_id, d.status, d.registered_at) == (rid, 2, "active", T0)
    bad = [
        {"device_uid": "X-1"},  # already registered
        {"type_code": "robot"},
        {"program_code": "seoul_smart_plug"},  # the person's program differs
        {"site_id": 1},  # both a person and a site
        {"region_code": "9999999999"},
        {"type_code": "smart_plug"},  # 고양 AI안부전화 uses AI call lines (data/programs.csv)
        {"vendor": "acmee"},  # no API key, not declared, owns no device
        {"installed_on": TODAY + timedelta(days=1)},
        {"device_uid": "X 2"},
    ]
    for change in bad:
        args = {"device_uid": "X-2", "vendor": "acme", "type_code": "ai_call_line",
                "program_code": "goyang_ai_call", "installed_on": TODAY,
                "recipient_id": rid} | change  # fmt: skip
        with pytest.raises(EnrollmentError), db.begin() as conn:
            register_device(conn, LEAD, T0, **args)
    # Assigned to someone still enrolled: refused until released.
    with pytest.raises(EnrollmentError, match="release it first"), db.begin() as conn:
        assign_device(conn, LEAD, T0, did, recipient_id=other)
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "retired")
    assert (row(db, Device, did).status, row(db, Device, did).recipient_id) == ("retired", None)
    with db.begin() as conn:
        assign_device(conn, LEAD, T0 + timedelta(hours=1), did, recipient_id=other)
    assert (row(db, Device, did).status, row(db, Device, did).recipient_id) == ("active", other)
    with db.connect() as conn:
        periods = conn.execute(
            select(DeviceAssignment.recipient_id, DeviceAssignment.release_reason)
            .where(DeviceAssignment.device_id == did)
            .order_by(DeviceAssignment.id)
        ).all()
        # The first holder keeps the device's history for the time it was theirs.
        assert did in set(person_devices(conn, rid)["device_id"])
    assert [tuple(p) for p in periods] == [(rid, "retired"), (other, None)]


def test_a_device_type_the_program_does_not_use_is_refused_and_nothing_written(db):
    rid, legacy = person(db)  # the fixture's plug in 고양 AI안부전화: a pairing from before
    args = {"device_uid": "X-9", "vendor": "acme", "type_code": "smart_plug",
            "program_code": "goyang_ai_call", "installed_on": TODAY,
            "recipient_id": rid}  # fmt: skip
    with db.connect() as conn:
        before = conn.scalar(select(func.count()).select_from(Device))
    with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
        register_device(conn, LEAD, T0, **args)
    err = refused.value
    assert (err.field, err.key) == ("type_code", "type_not_in_program")
    assert err.params == {"program": "goyang_ai_call", "type": "smart_plug", "uses": "ai_call_line"}
    assert "program 'goyang_ai_call' does not use 'smart_plug' devices (it uses: ai_call_line)" in (
        str(err)
    )
    # A replacement takes the old device's type: a mis-paired one is not copied onto a new one.
    with pytest.raises(EnrollmentError, match="does not use 'smart_plug'"), db.begin() as conn:
        replace_device(conn, LEAD, T0, legacy, device_uid="X-10")
    with db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Device)) == before
    assert row(db, Device, legacy).status == "active"
    assert audits(db, "device_register") == audits(db, "device_replace") == []
    # A program the catalog file does not list (added to the database by hand): not restricted.
    with db.begin() as conn:
        conn.execute(
            insert(Program),
            {"id": 9, "code": "city_own_program", "kind": "device", "name_ko": "시 자체 사업",
             "name_en": "own", "region_id": 1},
        )  # fmt: skip
    own, _ = person(db, program_id=9)
    with db.begin() as conn:
        register_device(conn, LEAD, T0, **args | {"program_code": "city_own_program",
                                                  "recipient_id": own})  # fmt: skip
    assert len(audits(db, "device_register")) == 1


def test_every_refusal_key_has_both_translations():
    from dashboard.i18n import LANGS, has_key
    from dashboard.settings import PROJECT_ROOT

    keys = set()
    for source in ("dashboard/enrollment/devices.py", "dashboard/ui/device_actions.py"):
        keys |= set(re.findall(r'key="([a-z_]+)"', (PROJECT_ROOT / source).read_text()))
    assert {"type_not_in_program", "unknown_vendor", "unknown_ref"} <= keys
    missing = [
        (k, lang) for k in keys for lang in LANGS if not has_key(f"enrollment_error.{k}", lang)
    ]
    assert not missing


def test_device_at_a_site_and_status_validation(db):
    with db.begin() as conn:
        conn.execute(
            insert(ComplaintSite),
            {"id": 1, "code": "S1", "program_id": 2, "region_id": 4, "name_ko": "공원",
             "name_en": "park", "lat": 37.6, "lon": 126.8, "category": "smoking"},
        )  # fmt: skip
        did = register_device(
            conn, LEAD, T0, device_uid="S-1", vendor="acme", type_code="smart_plug",
            program_code="seoul_smart_plug", installed_on=TODAY, site_id=1,
        )  # fmt: skip
    assert (row(db, Device, did).site_id, row(db, Device, did).lat) == (1, 37.6)
    with pytest.raises(EnrollmentError), db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "broken")
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "in_repair")
    assert live_devices(db) == 0
    with pytest.raises(EnrollmentError, match="in repair"), db.begin() as conn:
        assign_device(conn, LEAD, T0, did, site_id=1)
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "active")
    assert live_devices(db) == 1


def test_replacement_keeps_the_old_devices_history_with_the_person(db):
    alert_id = add_alert(
        db, kind="device_fault", rule="device_silent", stage="attention", **SEOUL_PLUGS
    )
    old = row(db, Alert, alert_id).device_id
    rid = row(db, Device, old).recipient_id
    person_alert = add_alert(db, **SEOUL_PLUGS)  # another person's: untouched
    with db.begin() as conn:
        conn.execute(
            insert(DeviceEvent),
            {"vendor": "acme", "event_uid": "e1", "device_id": old, "ts": T0 - timedelta(days=1),
             "received_at": T0, "type": "power", "value": 3.0},
        )  # fmt: skip
        new = replace_device(conn, LEAD, T0, old, device_uid="plug-new")
    o, n = row(db, Device, old), row(db, Device, new)
    assert (o.status, o.recipient_id, o.replaced_by_id) == ("retired", None, new)
    assert (n.status, n.recipient_id, n.region_id, n.type_code) == ("active", rid, 4, "smart_plug")
    a = row(db, Alert, alert_id)
    assert (a.status, a.outcome, a.closed_by, a.version) == ("closed", "device_fault", "lead1", 2)
    assert row(db, Alert, person_alert).status == "open"
    with db.connect() as conn:
        devices = person_devices(conn, rid)
        assert list(devices["device_id"]) == [old, new]
        assert list(person_events(conn, rid)["device_id"]) == [old]
        assert alert_id in set(person_alerts(conn, rid)["id"])
    [entry] = audits(db, "device_replace")
    assert entry.detail["closed_alerts"] == [alert_id]
    assert [e.entity_id for e in audits(db, "alert_close")] == [str(alert_id)]
    with pytest.raises(EnrollmentError), db.begin() as conn:
        replace_device(conn, LEAD, T0, old, device_uid="plug-3")  # no longer in service


def test_replacement_by_a_device_from_the_shelf_and_in_repair(db):
    _, a = person(db, **SEOUL_PLUGS)
    _, b = person(db, **SEOUL_PLUGS)
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, b, "retired")
        with pytest.raises(EnrollmentError, match="replace itself"):
            replace_device(conn, LEAD, T0, a, device_uid=row(db, Device, a).device_uid)
    with db.begin() as conn:
        new = replace_device(
            conn, LEAD, T0, a, device_uid=row(db, Device, b).device_uid, old_status="in_repair"
        )
    assert new == b
    assert row(db, Device, a).status == "in_repair" and row(db, Device, b).status == "active"


# --- end of enrollment ----------------------------------------------------------------------


def test_end_of_enrollment_closes_alerts_releases_devices_and_leaves_live_counts(db):
    dispatched = add_alert(db, status="dispatched")
    rid = row(db, Alert, dispatched).recipient_id
    did = row(db, Alert, dispatched).device_id
    with db.begin() as conn:
        conn.execute(
            insert(Alert),
            {"dedup_key": "x", "kind": "device_fault", "rule": "battery_low", "stage": "attention",
             "status": "open", "program_id": 1, "region_id": 2, "device_id": did,
             "opened_at": T0, "updated_at": T0, "version": 1},
        )  # fmt: skip
        conn.execute(
            insert(NotificationOutbox),
            {"idempotency_key": "d", "alert_id": dispatched, "channel": "field_visit",
             "recipient": "team", "payload": {"dispatch_id": 1}, "next_attempt_at": T0,
             "created_at": T0},
        )  # fmt: skip
        conn.execute(
            insert(Dispatch),
            {"id": 1, "alert_id": dispatched, "kind": "field_visit", "target": "t",
             "requested_at": T0, "requested_by": "op"},
        )  # fmt: skip
    _, other_device = person(db)
    assert live_devices(db) == 2
    with db.begin() as conn:
        result = end_enrollment(conn, LEAD, T0, rid, "death", TODAY)
    assert len(result.closed_alerts) == 2 and result.released_devices == (did,)
    with db.connect() as conn:
        closed = {
            r.kind: r for r in conn.execute(select(Alert).where(Alert.id.in_(result.closed_alerts)))
        }
        notices = conn.execute(
            select(NotificationOutbox.channel).where(NotificationOutbox.idempotency_key != "d")
        ).scalars().all()  # fmt: skip
    assert closed["person"].outcome == "deceased" and "사망" in closed["person"].note
    assert closed["device_fault"].outcome == "device_fault"
    assert notices == ["field_visit"]  # the team on its way is stood down
    p = row(db, CareRecipient, rid)
    assert (p.ended_on, p.end_reason, p.pii_name) == (TODAY, "death", "김복순")
    assert row(db, Device, did).status == "retired"
    assert live_devices(db) == 1
    with pytest.raises(EnrollmentError, match="already ended"), db.begin() as conn:
        end_enrollment(conn, LEAD, T0, rid, "moved", TODAY)
    for reason, day in (("gone", TODAY), ("moved", TODAY + timedelta(days=1)),
                        ("moved", date(2023, 1, 1))):  # fmt: skip
        with pytest.raises(EnrollmentError), db.begin() as conn:
            rid2 = row(db, Device, other_device).recipient_id
            end_enrollment(conn, LEAD, T0, rid2, reason, day)


def test_other_reasons_close_as_enrollment_ended(db):
    alert_id = add_alert(db)
    rid = row(db, Alert, alert_id).recipient_id
    with db.begin() as conn:
        end_enrollment(conn, ADMIN, T0, rid, "facility", TODAY)
    a = row(db, Alert, alert_id)
    assert (a.outcome, a.closed_by) == ("enrollment_ended", "admin1")
    assert "시설 입소" in a.note


def test_end_impact_names_what_the_end_will_close_and_release(db):
    alert_id = add_alert(db, status="acknowledged")
    rid = row(db, Alert, alert_id).recipient_id
    did = row(db, Alert, alert_id).device_id
    with db.connect() as conn:
        impact = end_impact(conn, rid)
    assert impact == EndImpact(open_alerts=(alert_id,), devices=(did,))
    with db.begin() as conn:
        result = end_enrollment(conn, LEAD, T0, rid, "moved", TODAY)
    assert (result.closed_alerts, result.released_devices) == (impact.open_alerts, impact.devices)
    with db.connect() as conn:
        assert end_impact(conn, rid) == EndImpact((), ())  # closed and released: nothing left


def test_the_ends_note_joins_the_staff_notes_and_never_the_audit(db):
    rid, _ = person(db)
    with db.begin() as conn:
        update_person_settings(conn, LEAD, T0, rid, notes="x" * 1_990)
    with pytest.raises(EnrollmentError, match="note") as err, db.begin() as conn:
        end_enrollment(conn, LEAD, T0, rid, "moved", TODAY, note="요양병원으로 옮기심")
    assert err.value.field == "note"
    assert row(db, CareRecipient, rid).ended_on is None  # nothing written
    with db.begin() as conn:
        update_person_settings(conn, LEAD, T0, rid, notes="계단 조심")
        end_enrollment(conn, LEAD, T0, rid, "moved", TODAY, note=" 딸 집으로 전출 ")
    notes = row(db, CareRecipient, rid).notes
    assert notes == f"계단 조심\n[서비스 종료 {TODAY.isoformat()}] 딸 집으로 전출"
    [entry] = audits(db, "enrollment_end")
    assert entry.detail["note"] is True and "딸" not in str(entry.detail)


def test_a_silence_tick_after_the_end_opens_nothing_for_the_person(db):
    ended, ended_device = person(db)
    _, kept_device = person(db)
    with db.begin() as conn:
        end_enrollment(conn, LEAD, T0, ended, "moved", TODAY)
        # Even a device someone set back to active by hand is not watched for an ended person.
        conn.execute(
            update(Device)
            .where(Device.id == ended_device)
            .values(status="active", recipient_id=ended)
        )
    with db.begin() as conn:
        run_silence_tick(conn, T0 + timedelta(days=3))
    with db.connect() as conn:
        opened = set(conn.execute(select(Alert.device_id)).scalars())
    assert kept_device in opened  # the tick does open alerts for a silent device
    assert ended_device not in opened


# --- privacy ----------------------------------------------------------------------------------


def _ended(db: Engine, day: date) -> int:
    rid, _ = person(db)
    with db.begin() as conn:
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.id == rid)
            .values(pii_address="고양시 일산동구 백석로 1", pii_home_lat=37.6, pii_home_lon=126.8,
                    pii_guardian_name="김보호", notes="보호자 김보호 010-1234-5678")
        )  # fmt: skip
        end_enrollment(conn, LEAD, T0, rid, "moved", day)
    return rid


def test_purge_dry_run_then_real_run_clears_exactly_the_personal_data(db):
    old = _ended(db, date(2024, 1, 10))
    recent = _ended(db, date(2024, 11, 30))
    active, _ = person(db)
    alert_id = add_alert(db)
    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == alert_id).values(recipient_id=old))
        report = purge_ended(conn, LEAD, T0, 30, dry_run=True)
    assert report.recipient_ids == (old,) and report.dry_run
    assert row(db, CareRecipient, old).pii_name == "김복순"
    assert audits(db, "privacy_purge") == []
    before = row(db, CareRecipient, old)
    with db.begin() as conn:
        report = purge_ended(conn, ADMIN, T0, 30)
    after = row(db, CareRecipient, old)
    assert after.pii_name == f"가명-{old}"
    assert all(
        getattr(after, c) is None
        for c in ("pii_phone", "pii_address", "pii_home_lat", "pii_home_lon",
                  "pii_guardian_name", "pii_guardian_phone", "notes")
    )  # fmt: skip
    kept = ("birth_year", "sex", "region_id", "program_id", "enrolled_on", "ended_on",
            "end_reason", "external_ref", "household")  # fmt: skip
    assert [getattr(after, c) for c in kept] == [getattr(before, c) for c in kept]
    assert after.pseudonymized_at == T0
    assert row(db, CareRecipient, recent).pii_name == "김복순"
    assert row(db, CareRecipient, active).pii_name == "김복순"
    assert row(db, Alert, alert_id).recipient_id == old  # statistics keep the alert
    [entry] = audits(db, "privacy_purge")
    assert entry.detail["recipient_ids"] == [old] and entry.detail["count"] == 1
    assert "김" not in str(entry.detail)
    with db.begin() as conn:
        again = purge_ended(conn, ADMIN, T0 + timedelta(minutes=1), 30)
    assert again.recipient_ids == ()
    assert row(db, CareRecipient, old).pseudonymized_at == T0


def test_the_workers_daily_purge_runs_once_per_seoul_day(db):
    rid = _ended(db, date(2024, 1, 10))
    assert daily_purge(db, T0, retention_days=30).recipient_ids == (rid,)
    assert daily_purge(db, T0 + timedelta(hours=10), retention_days=30) is None  # 20:00 KST
    later = _ended(db, date(2024, 1, 11))
    # 2024-12-03 00:30 KST: a new Seoul day, a new run.
    report = daily_purge(db, T0 + timedelta(hours=14, minutes=30), retention_days=30)
    assert report is not None and report.recipient_ids == (later,)
    assert len(audits(db, "privacy_purge")) == 2


# --- reveal -----------------------------------------------------------------------------------


def test_reveal_of_an_ended_enrollment_is_for_leads_and_nothing_after_purge(db):
    rid = _ended(db, date(2024, 1, 10))
    with pytest.raises(NotPermitted) as refused, db.begin() as conn:
        reveal_personal_data(conn, OPERATOR, rid, T0)
    assert refused.value.reason == "ended_enrollment"
    with db.begin() as conn:
        assert reveal_personal_data(conn, LEAD, rid, T0, purpose="inquiry")["name"] == "김복순"
    with db.begin() as conn:
        purge_ended(conn, LEAD, T0, 0)
    with pytest.raises(Pseudonymised), db.begin() as conn:
        reveal_personal_data(conn, LEAD, rid, T0)
    active, _ = person(db)
    with db.begin() as conn:  # an operator still sees the people in care in their districts
        assert reveal_personal_data(conn, OPERATOR, active, T0, purpose="visit")["name"] == "김복순"


def test_end_reasons_and_outcome_have_translations():
    from dashboard.i18n import translate

    for reason, ko in (("death", "사망"), ("moved", "전출"), ("facility", "시설 입소"),
                       ("terminated", "서비스 해지"), ("other", "기타")):  # fmt: skip
        assert translate(f"enrollment.reason.{reason}", "ko") == ko
    assert translate("outcome.enrollment_ended", "ko") == "서비스 종료"


def test_the_card_tells_pages_what_the_reveal_will_answer(db):
    from dashboard.auth.reveal import check_reveal
    from queries.recipients import recipient_card

    rid = _ended(db, date(2024, 1, 10))
    with db.connect() as conn:
        card = recipient_card(conn, rid)
    assert card.ended and not card.pseudonymized
    assert check_reveal(OPERATOR, card.region_code, ended=card.ended) == "ended_enrollment"
    assert check_reveal(LEAD, card.region_code, ended=card.ended) is None
    with db.begin() as conn:
        purge_ended(conn, LEAD, T0, 0)
    with db.connect() as conn:
        card = recipient_card(conn, rid)
    assert card.pseudonymized and card.masked["phone"] == "–"


def test_the_rule_worker_runs_the_daily_purge(db, monkeypatch):
    from dashboard.rules.worker import run_worker
    from dashboard.settings import get_settings

    monkeypatch.setenv("ANBU_PRIVACY_RETENTION_DAYS", "30")
    get_settings.cache_clear()
    try:
        rid = _ended(db, date(2024, 1, 10))
        run_worker(db, once=True, clock=lambda: T0)
        run_worker(db, once=True, clock=lambda: T0 + timedelta(minutes=1))
    finally:
        get_settings.cache_clear()
    assert row(db, CareRecipient, rid).pii_name == f"가명-{rid}"
    [entry] = audits(db, "privacy_purge")
    assert entry.actor == "system:privacy"


def test_closures_by_the_end_of_enrollment_are_not_operator_responses(db):
    from queries.response_metrics import alerts_in_period, false_alarms_of, response_times_of

    ended = add_alert(db, opened_at=T0 - timedelta(hours=5))
    answered = add_alert(db, opened_at=T0 - timedelta(hours=5), status="acknowledged")
    with db.begin() as conn:
        conn.execute(
            update(Alert)
            .where(Alert.id == answered)
            .values(status="closed", closed_at=T0, closed_by="op", outcome="false_alarm")
        )
        end_enrollment(conn, LEAD, T0, row(db, Alert, ended).recipient_id, "moved", TODAY)
    assert row(db, Alert, ended).acknowledged_at is None  # nobody acknowledged it
    with db.connect() as conn:
        df = alerts_in_period(conn, T0 - timedelta(days=1), T0 + timedelta(days=1), None, None)
    times = response_times_of(df).set_index("measure")
    assert times.loc["close", "n"] == 1 and times.loc["acknowledge", "n"] == 1
    assert false_alarms_of(df)["closed"].tolist() == [1]


def test_an_event_from_a_released_device_is_kept_and_only_an_sos_alerts(db):
    """A released robot is watched by no rule (no fault tickets, no quiet person), but a press
    of its SOS button is someone asking for help: it alerts the person of its last assignment,
    saying the robot was retired and the enrollment ended (tests/unit/test_sos_never_lost.py)."""
    from dashboard.ingest.core import ingest_events

    rid, _ = person(db, program_id=3)
    other, _ = person(db, program_id=3)
    robots = {}
    with db.begin() as conn:
        for who_id in (rid, other):
            robots[who_id] = register_device(
                conn, LEAD, T0, device_uid=f"robot-{who_id}", vendor="acme",
                type_code="care_robot", program_code="goyang_care_robot", installed_on=TODAY,
                recipient_id=who_id,
            )  # fmt: skip
        end_enrollment(conn, LEAD, T0, rid, "moved", TODAY)
    for who_id in (rid, other):
        event = {"event_id": f"sos-{who_id}", "device_id": f"robot-{who_id}", "type": "sos",
                 "ts": (T0 + timedelta(minutes=5)).isoformat()}  # fmt: skip
        with db.begin() as conn:
            assert ingest_events(conn, "acme", [event], now=T0 + timedelta(minutes=6)).accepted
    with db.connect() as conn:
        opened = conn.execute(
            select(Alert.device_id, Alert.evidence).where(Alert.rule == "robot_sos")
        ).all()
        stored = conn.execute(select(func.count()).select_from(DeviceEvent)).scalar()
        heartbeat = {"event_id": "hb", "device_id": f"robot-{rid}", "type": "heartbeat",
                     "ts": (T0 + timedelta(days=3)).isoformat()}  # fmt: skip
        ingest_events(conn, "acme", [heartbeat], now=T0 + timedelta(days=3))
        run_silence_tick(conn, T0 + timedelta(days=5))
        others = conn.execute(select(Alert.rule).where(Alert.device_id == robots[rid])).all()
    assert {device_id for device_id, _ in opened} == {robots[rid], robots[other]}
    [ended] = [evidence for device_id, evidence in opened if device_id == robots[rid]]
    assert (ended["device_status"], ended["enrollment_ended_on"]) == ("retired", TODAY.isoformat())
    assert others == [("robot_sos",)]  # nothing else: no interaction, no silence
    assert stored == 2  # the event is kept all the same


def test_the_enrollment_doc_states_the_bounds_the_code_enforces():
    from dashboard.enrollment import people
    from dashboard.settings import PROJECT_ROOT
    from dashboard.ui.person_actions import FAR_KM

    doc = (PROJECT_ROOT / "docs" / "enrollment.md").read_text(encoding="utf-8")
    doc = " ".join(doc.split())  # line breaks are layout
    page = doc.split("## From the people page", 1)[1].split(" ## ", 1)[0]
    for text in (
        "무변화 기준시간 ({}–{} h)".format(*people.NO_CHANGE_HOURS),
        "안심 반경 ({}–{:,} m".format(*people.SAFE_ZONE_M),
        f"≤ {people.RISK_GROUP_MAX} characters",
        f"메모 (≤ {people.NOTES_MAX:,} characters)",
        "lat {}–{}, lon {}–{}".format(*people.KOREA_LAT, *people.KOREA_LON),
        f"a warning above {FAR_KM:g} km",
        "[서비스 종료 YYYY-MM-DD]",
    ):
        assert text in page, text
    with_note = doc.split("## End of enrollment", 1)[1]
    assert f"exceed {people.NOTES_MAX:,} characters" in with_note


def test_an_installation_day_before_2000_is_refused_by_register_and_replace(db):
    """The rules read installed_on as a Seoul midnight: year 1 is no UTC moment and stopped the
    whole tick; any day before 2000 is a typo."""
    rid, _legacy = person(db)
    args = {"device_uid": "X-1", "vendor": "acme", "type_code": "ai_call_line",
            "program_code": "goyang_ai_call", "recipient_id": rid}  # fmt: skip
    for day in (date(1, 1, 1), date(1800, 1, 1), date(1999, 12, 31)):
        with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
            register_device(conn, LEAD, T0, **args, installed_on=day)
        assert (refused.value.field, refused.value.key) == ("installed_on", "installed_too_early")
    assert audits(db, "device_register") == []
    with db.begin() as conn:
        did = register_device(conn, LEAD, T0, **args, installed_on=date(2000, 1, 1))
    with pytest.raises(EnrollmentError, match="before 2000-01-01"), db.begin() as conn:
        replace_device(conn, LEAD, T0, did, device_uid="X-2", installed_on=date(1, 1, 1))
    assert audits(db, "device_replace") == []


def test_free_text_with_control_codes_is_refused_and_nothing_written(db):
    """NUL made PostgreSQL fail the write (an internal error, SQLite stored it); ESC and the
    like are a damaged paste. Tabs and line breaks stay text."""
    rid, _legacy = person(db)
    for field in ("notes", "risk_group"):
        for bad in ("a\x00b", "\x1b[31mred", "bell\x07", "\ud800"):
            with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
                update_person_settings(conn, LEAD, T0, rid, **{field: bad})
            assert (refused.value.field, refused.value.key) == (field, "control_codes")
    with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
        end_enrollment(conn, LEAD, T0, rid, "moved", TODAY, note="이사\x00")
    assert (refused.value.field, refused.value.key) == ("note", "control_codes")
    args = {"device_uid": "X-1", "vendor": "acme", "type_code": "ai_call_line",
            "program_code": "goyang_ai_call", "recipient_id": rid,
            "installed_on": TODAY}  # fmt: skip
    with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
        register_device(conn, LEAD, T0, **args, label="현관\x00")
    assert (refused.value.field, refused.value.key) == ("label", "control_codes")
    stored = row(db, CareRecipient, rid)
    assert stored.notes is None and stored.ended_on is None
    assert audits(db, "person_settings") == audits(db, "enrollment_end") == []
    assert audits(db, "device_register") == []
    with db.begin() as conn:
        update_person_settings(conn, LEAD, T0, rid, notes="첫 줄\n\t둘째 줄")
    assert row(db, CareRecipient, rid).notes == "첫 줄\n\t둘째 줄"


def test_a_replacement_id_with_a_nul_is_refused_before_any_lookup(db):
    rid, _legacy = person(db)
    args = {"device_uid": "X-1", "vendor": "acme", "type_code": "ai_call_line",
            "program_code": "goyang_ai_call", "recipient_id": rid,
            "installed_on": TODAY}  # fmt: skip
    with db.begin() as conn:
        did = register_device(conn, LEAD, T0, **args)
    with pytest.raises(EnrollmentError) as refused, db.begin() as conn:
        replace_device(conn, LEAD, T0, did, device_uid="X-2\x00")
    assert (refused.value.field, refused.value.key) == ("device_uid", "uid_characters")
    assert row(db, Device, did).status == "active" and audits(db, "device_replace") == []


def test_retiring_a_device_closes_its_open_tickets(db):
    """A silent device taken out of service on 기기 관리 (운영 중지 → 회수) kept its 신호 끊김
    ticket open in the operators' queue for good: the rules no longer look at a retired device,
    so nothing would ever close it. Retiring closes it as a replacement does; a device in repair
    keeps its ticket (the fault being repaired), and the person's alerts stay open."""
    ticket = add_alert(
        db, kind="device_fault", rule="device_silent", stage="attention", **SEOUL_PLUGS
    )
    did = row(db, Alert, ticket).device_id
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "in_repair")
    assert row(db, Alert, ticket).status == "open"
    with db.begin() as conn:
        set_device_status(conn, LEAD, T0, did, "retired")
    a = row(db, Alert, ticket)
    assert (a.status, a.outcome, a.closed_by, a.note) == (
        "closed",
        "device_fault",
        "lead1",
        "기기 회수",
    )
    [entry] = audits(db, "device_status")[-1:]
    assert entry.detail["closed_alerts"] == [ticket]
