"""Queue, history, readings and recipient queries on the small hand-made city, both backends."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine, func, insert, select, update

from dashboard.auth import NotPermitted, SessionUser, reveal
from dashboard.db.schema import Alert, AuditLog, CareRecipient, Device, DeviceEvent, Dispatch
from queries import alerts, recipients
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_household_plugs import person_with_plugs
from tests.unit.test_queries import HOME, NOW, seed_small
from tests.unit.test_rules_new_devices import add_device

GOYANG = ("4128000000",)
SEOUL = ("1100000000",)


db = lifecycle.db  # a person with several plugs, as tests/unit/test_household_plugs builds one


@pytest.fixture
def city(db_engine: Engine) -> tuple[Engine, dict[str, int]]:
    return db_engine, seed_small(db_engine)


def test_open_alerts_carry_the_version_and_filter_by_area_and_status(city):
    engine, _ = city
    with engine.connect() as conn:
        df = alerts.open_alerts(conn, NOW)
        assert (df["version"] == 1).all()
        assert {"acknowledged_by", "recipient_id", "has_guardian_phone"} <= set(df.columns)
        assert len(alerts.open_alerts(conn, NOW, areas=GOYANG)) == 3
        assert len(alerts.open_alerts(conn, NOW, areas=("4128500000",))) == 3  # 일산동구
        assert alerts.open_alerts(conn, NOW, areas=SEOUL).empty
        assert alerts.open_alerts(conn, NOW, areas=()).empty  # no districts: nothing
        assert alerts.open_alerts(conn, NOW, statuses=("acknowledged",))["stage"].tolist() == [
            "risk"
        ]


def test_earlier_alerts_and_dispatches_follow_the_person(city):
    engine, devices = city
    with engine.begin() as conn:
        open_id, closed_id, person = conn.execute(
            select(func.min(Alert.id), func.max(Alert.id), Alert.recipient_id)
            .where(Alert.device_id == devices["W-1"])
            .group_by(Alert.recipient_id)
        ).one()
        conn.execute(
            insert(Dispatch),
            [
                {"alert_id": closed_id, "kind": "field_visit", "target": "현장 출동팀",
                 "requested_at": NOW - timedelta(hours=49), "requested_by": "kim"},
                {"alert_id": closed_id, "kind": "guardian_call", "target": "보호자",
                 "requested_at": NOW - timedelta(hours=48), "requested_by": "kim"},
            ],
        )  # fmt: skip
    with engine.connect() as conn:
        earlier = alerts.earlier_alerts(conn, open_id, person, devices["W-1"])
        assert earlier["id"].tolist() == [closed_id]
        assert earlier["dispatches"].tolist() == [2]
        assert alerts.earlier_alerts(conn, closed_id, person, None)["id"].tolist() == [open_id]
        sent = alerts.dispatches_for(conn, person, devices["W-1"])
        assert sent["kind"].tolist() == ["guardian_call", "field_visit"]  # newest first
        assert sent["requested_at"].dt.tz is not None
        assert alerts.dispatches_for(conn, None, None).empty
        assert alerts.earlier_alerts(conn, open_id, None, None).empty


def test_device_readings_one_device_window_limit_and_distance(city):
    engine, devices = city
    with engine.begin() as conn:
        person = conn.execute(
            select(CareRecipient.id).where(CareRecipient.pii_name == "이순자")
        ).scalar_one()
        rows = [
            {"vendor": "t", "event_uid": f"p{i}", "device_id": devices["W-2"],
             "ts": NOW - timedelta(minutes=10 * i), "received_at": NOW, "type": "position",
             "value": 1.0, "data": {"lat": HOME[0] + 0.001 * i, "lon": HOME[1]}}
            for i in range(6)
        ] + [
            {"vendor": "t", "event_uid": "old", "device_id": devices["W-2"],
             "ts": NOW - timedelta(days=3), "received_at": NOW, "type": "position",
             "value": 1.0, "data": {"lat": HOME[0], "lon": HOME[1]}},
            {"vendor": "t", "event_uid": "other", "device_id": devices["W-1"],
             "ts": NOW, "received_at": NOW, "type": "position", "value": 1.0, "data": None},
        ]  # fmt: skip
        conn.execute(insert(DeviceEvent), rows)
    since = NOW - timedelta(hours=48)
    with engine.connect() as conn:
        df = alerts.device_readings(conn, devices["W-2"], since, NOW, ("position",), person)
        assert len(df) == 6 and df["ts"].is_monotonic_increasing
        assert df["distance_m"].iloc[-1] == 0 and 500 < df["distance_m"].iloc[0] < 600
        assert not {"lat", "lon", "data"} & set(df.columns)  # coordinates stay inside
        newest = alerts.device_readings(conn, devices["W-2"], since, NOW, ("position",), limit=2)
        assert newest["ts"].tolist() == df["ts"].tolist()[-2:]
        assert newest["distance_m"].isna().all()  # no person, no home
        assert alerts.device_readings(conn, devices["W-2"], since, NOW, ("power",)).empty


def test_person_plug_is_only_a_smart_plug_of_that_person(db):
    """The alert detail draws the plug an alert's evidence names only if this finds it."""
    rid, [(first, first_uid), (other, other_uid)] = person_with_plugs(db)
    stranger, _ = add_device(db)  # another person's plug
    line, _ = add_device(db, "phone_line")
    with db.begin() as conn:  # a phone line of the same person
        conn.execute(update(Device).where(Device.id == line).values(recipient_id=rid))
    with db.connect() as conn:
        for device, uid in ((first, first_uid), (other, other_uid)):
            plug = alerts.person_plug(conn, device, rid)
            assert plug is not None and (plug.id, plug.device_uid) == (device, uid)
            assert (plug.device_type_ko, plug.device_type_en) == ("smart_plug", "smart_plug")
        for wrong in (stranger, line, 10**6, 0, -1, 2**63):  # 2**63: no bind error either
            assert alerts.person_plug(conn, wrong, rid) is None, wrong


def test_recipient_card_is_masked_and_reveal_is_audited(city):
    engine, _ = city
    with engine.begin() as conn:
        person = conn.execute(
            select(CareRecipient.id).where(CareRecipient.pii_name == "김영수")
        ).scalar_one()
        conn.execute(
            CareRecipient.__table__.update()
            .where(CareRecipient.id == person)
            .values(pii_guardian_name="김철수", pii_guardian_phone="010-9876-5432")
        )
    with engine.connect() as conn:
        card = recipients.recipient_card(conn, person)
        assert recipients.recipient_card(conn, 999_999) is None
    assert card.masked == {
        "name": "김*수",
        "phone": "010-****-5678",
        "address": "고양시 일산동구 ***",
        "guardian_name": "김*수",
        "guardian_phone": "010-****-5432",
    }
    assert card.has_guardian_phone and card.region_code == "4128555100"
    assert "김영수" not in repr(card)

    operator = SessionUser("op", "op", "operator", GOYANG)
    with engine.begin() as conn:
        data = reveal.reveal_personal_data(conn, operator, person, NOW, alert_id=7)
    assert data["name"] == "김영수" and data["guardian_phone"] == "010-9876-5432"
    for user in (
        SessionUser("op2", "op2", "operator", SEOUL),  # outside their districts
        SessionUser("c", "c", "council", ()),  # the role never sees personal data
    ):
        with pytest.raises(NotPermitted), engine.begin() as conn:
            reveal.reveal_personal_data(conn, user, person, NOW)
    with engine.connect() as conn:
        audit = conn.execute(select(AuditLog)).all()
    assert len(audit) == 1
    assert (audit[0].actor, audit[0].action, audit[0].entity_id) == (
        "op",
        "reveal_personal_data",
        str(person),
    )
    assert audit[0].detail["alert_id"] == 7 and audit[0].at.tzinfo is not None


def test_masking_helpers():
    assert recipients.mask_phone("010-1234-5678") == "010-****-5678"
    assert recipients.mask_phone(None) == "–"
    assert recipients.mask_address("서울특별시 노원구 상계로 1") == "서울특별시 노원구 ***"
    assert recipients.mask_address("어딘가") == "***"


def test_alert_trail_lists_the_alerts_entries_with_their_notes(city):
    """Newest first, the ``alert_`` prefix dropped, a close by the rules named auto_close, a
    blank note read as none, another alert's entries left out."""
    engine, _ = city
    with engine.begin() as conn:
        alert_id, other = conn.execute(select(Alert.id).order_by(Alert.id).limit(2)).scalars()
        entry = {"entity_type": "alert", "entity_id": str(alert_id)}
        conn.execute(
            insert(AuditLog),
            [
                {**entry, "at": NOW - timedelta(minutes=30), "actor": "system",
                 "action": "alert_open", "detail": {"rule": "r"}},
                {**entry, "at": NOW - timedelta(minutes=20), "actor": "kim",
                 "action": "alert_emergency_119", "detail": {"note": "호흡 곤란\n119 신고"}},
                {**entry, "at": NOW - timedelta(minutes=10), "actor": "lee",
                 "action": "alert_acknowledge", "detail": {"note": "  "}},
                {**entry, "at": NOW, "actor": "system", "action": "alert_close", "detail": None},
                {"entity_type": "alert", "entity_id": str(other), "at": NOW, "actor": "kim",
                 "action": "alert_close", "detail": {"note": "다른 경보"}},
            ],
        )  # fmt: skip
        df = alerts.alert_trail(conn, alert_id)
    assert df["action"].tolist()[:4] == ["auto_close", "acknowledge", "emergency_119", "open"]
    assert df["actor"].tolist()[:4] == ["system", "lee", "kim", "system"]
    assert df["note"].fillna("-").tolist()[:4] == ["-", "-", "호흡 곤란\n119 신고", "-"]
    assert "다른 경보" not in df["note"].tolist()
    assert str(df["at"].dt.tz) == "UTC"


def test_a_reveal_outside_an_alert_says_why(city) -> None:
    """The person page revealed with no purpose at all: the access log had who, whom and when,
    not why (수행업무). Outside an alert a purpose is required and kept; an alert's reveal has
    the alert as its purpose."""
    engine, _ = city
    with engine.connect() as conn:
        person = conn.execute(
            select(CareRecipient.id).where(CareRecipient.pii_name == "김영수")
        ).scalar_one()
    operator = SessionUser("op", "op", "operator", GOYANG)
    for purpose in (None, "", "curiosity"):
        with pytest.raises(reveal.RevealPurposeMissing), engine.begin() as conn:
            reveal.reveal_personal_data(conn, operator, person, NOW, purpose=purpose)
    with engine.connect() as conn:
        assert conn.execute(select(AuditLog)).all() == []
    with engine.begin() as conn:
        reveal.reveal_personal_data(conn, operator, person, NOW, purpose="guardian")
        reveal.reveal_personal_data(conn, operator, person, NOW, alert_id=7)
    with engine.connect() as conn:
        details = conn.scalars(select(AuditLog.detail).order_by(AuditLog.id)).all()
    assert [d["purpose"] for d in details] == ["guardian", "alert"]
