"""Vendor time zones: a ts without an offset is read in the vendor's declared zone (default
Asia/Seoul) on every door (HTTP, MQTT, file import); declarations through the CLI, audited."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from dashboard import cli
from dashboard.auth import cli_principal
from dashboard.clock import as_utc
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, DeviceEvent, Vendor, metadata
from dashboard.ingest.api import create_app
from dashboard.ingest.apikeys import create_key
from dashboard.ingest.core import ingest_events
from dashboard.ingest.events import Rejection, validate_event
from dashboard.ingest.files import import_file
from dashboard.ingest.mqtt import Bridge
from dashboard.ingest.vendors import (
    DEFAULT_TIMEZONE,
    VendorError,
    add_vendor,
    check_timezone,
    get_vendor,
    list_vendors,
    set_timezone,
    zone_for,
)
from dashboard.settings import get_settings
from tests.ingest_support import OTHER_VENDOR, VENDOR, seed_catalog
from tests.unit.test_ingest_api import Client

NOW = datetime(2024, 12, 1, 12, 0, tzinfo=UTC)  # 21:00 in Seoul, 13:00 in Berlin
BERLIN = ZoneInfo("Europe/Berlin")


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- the pure validator ------------------------------------------------------------------------


def sos(ts: str) -> dict:
    return {"event_id": "e", "device_id": "robot-1", "type": "sos", "ts": ts}


def test_without_a_zone_a_naive_ts_is_still_refused():
    checked = validate_event(0, sos("2024-12-01T09:00:00"))
    assert isinstance(checked, Rejection) and "needs a time zone" in checked.message


@pytest.mark.parametrize(
    ("local", "expected"),
    [
        ("2024-12-01T09:00:00", utc(2024, 12, 1, 8)),  # CET, +01:00
        ("2024-07-01T09:00:00", utc(2024, 7, 1, 7)),  # CEST, +02:00
        # Clocks go back at 03:00 CEST: 02:30 happens twice; fold=0 takes the first (CEST).
        ("2024-10-27T02:30:00", utc(2024, 10, 27, 0, 30)),
        ("2024-10-27T03:30:00", utc(2024, 10, 27, 2, 30)),  # after the change: CET
        # Clocks go forward at 02:00 CET: 02:30 does not exist; read with the CET offset.
        ("2024-03-31T02:30:00", utc(2024, 3, 31, 1, 30)),
        ("2024-03-31T03:30:00", utc(2024, 3, 31, 1, 30)),  # the same instant, CEST
        ("2024-12-01T09:00:00+09:00", utc(2024, 12, 1, 0)),  # an offset always wins
    ],
)
def test_naive_times_are_read_in_the_given_zone_across_dst(local, expected):
    checked = validate_event(0, sos(local), BERLIN)
    assert not isinstance(checked, Rejection), checked
    assert checked.ts == expected and checked.ts.tzinfo is UTC
    assert checked.naive_ts == ("+" not in local)


def test_a_date_without_a_time_is_refused_even_with_a_zone():
    checked = validate_event(0, sos("2024-12-01"), BERLIN)
    assert isinstance(checked, Rejection) and checked.field == "ts"
    assert "a date without a time of day" in checked.message


def test_out_of_range_naive_times_are_a_rejection_not_an_exception():
    checked = validate_event(0, sos("0001-01-01T00:00:00"), ZoneInfo("Asia/Seoul"))
    assert isinstance(checked, Rejection) and "out of range" in checked.message


# --- declarations ------------------------------------------------------------------------------


@pytest.fixture
def engine(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn)
    return db_engine


def declare(engine, vendor: str, zone: str) -> None:
    with engine.begin() as conn:
        add_vendor(conn, vendor, timezone=zone, principal=cli_principal(), now=NOW)


def stored_ts(engine, event_uid: str) -> datetime:
    with engine.connect() as conn:
        return as_utc(conn.scalar(select(DeviceEvent.ts).where(DeviceEvent.event_uid == event_uid)))


def test_an_undeclared_vendor_uses_asia_seoul(engine):
    with engine.begin() as conn:
        assert zone_for(conn, VENDOR) == ZoneInfo(DEFAULT_TIMEZONE)
        assert get_vendor(conn, VENDOR).declared is False
        result = ingest_events(conn, VENDOR, [sos("2024-12-01T09:00:00")], now=NOW)
    assert (result.accepted, result.timezone, result.naive_ts) == (1, "Asia/Seoul", 1)
    assert stored_ts(engine, "e") == utc(2024, 12, 1, 0)
    with engine.connect() as conn:  # vendors known from devices are listed with the default
        listed = [(v.code, v.timezone, v.declared) for v in list_vendors(conn)]
    assert listed == [(VENDOR, "Asia/Seoul", False), (OTHER_VENDOR, "Asia/Seoul", False)]


def test_setting_the_zone_of_an_undeclared_vendor_declares_it(engine):
    with engine.begin() as conn:
        info = set_timezone(conn, OTHER_VENDOR, "Europe/Berlin", principal=cli_principal(), now=NOW)
        assert (info.code, info.timezone, info.declared) == (OTHER_VENDOR, "Europe/Berlin", True)
        assert zone_for(conn, OTHER_VENDOR) == BERLIN
        assert zone_for(conn, VENDOR) == ZoneInfo("Asia/Seoul")
        detail = conn.scalar(select(AuditLog.detail).where(AuditLog.action == "vendor_timezone"))
    assert detail == {"timezone": "Europe/Berlin", "previous": "Asia/Seoul", "was_declared": False}


def test_invalid_zone_names_are_refused_with_a_clear_message(engine):
    for bad in ("Seoul", "KST", "asia/seoul", "../../etc/passwd", ""):
        with pytest.raises(VendorError, match="is not an IANA time zone name"):
            check_timezone(bad)
    with engine.begin() as conn, pytest.raises(VendorError, match="'Mars/Olympus'"):
        add_vendor(conn, "newco", timezone="Mars/Olympus", principal=cli_principal(), now=NOW)
    with engine.begin() as conn, pytest.raises(VendorError, match="not an IANA"):
        set_timezone(conn, VENDOR, "UTC+9", principal=cli_principal(), now=NOW)
    with engine.connect() as conn:
        assert conn.scalar(select(Vendor.code)) is None
        assert conn.scalar(select(AuditLog.id)) is None


def test_a_vendor_is_declared_once(engine):
    declare(engine, VENDOR, "Asia/Seoul")
    with engine.begin() as conn, pytest.raises(VendorError, match="already declared"):
        add_vendor(conn, VENDOR, principal=cli_principal(), now=NOW)


# --- the three doors ---------------------------------------------------------------------------


def test_http_reads_naive_times_in_the_vendors_zone(engine):
    declare(engine, VENDOR, "Europe/Berlin")
    with engine.begin() as conn:
        key, _ = create_key(conn, VENDOR, principal=cli_principal(), now=NOW)
        other_key, _ = create_key(conn, OTHER_VENDOR, principal=cli_principal(), now=NOW)
    client = Client(create_app(engine, clock=lambda: NOW))
    events = [
        sos("2024-10-27T02:30:00") | {"event_id": "h1"},
        sos("2024-11-30T23:00:00Z") | {"event_id": "h2"},
    ]
    reply = client.post("/v1/events", json={"events": events}, headers={"X-API-Key": key})
    assert reply.status_code == 200
    assert reply.json() == {
        "accepted": 2,
        "duplicates": 0,
        "rejected": [],
        "timezone": "Europe/Berlin",
        "naive_ts": 1,
        "clock_corrected": [],
    }
    assert stored_ts(engine, "h1") == utc(2024, 10, 27, 0, 30)
    # The other vendor declared nothing: Asia/Seoul.
    event = {"event_id": "o1", "device_id": "other-1", "type": "heartbeat"}
    body = {"events": [event | {"ts": "2024-12-01T09:00:00"}]}
    reply = client.post("/v1/events", json=body, headers={"X-API-Key": other_key})
    assert reply.json()["timezone"] == "Asia/Seoul" and reply.json()["accepted"] == 1
    assert stored_ts(engine, "o1") == utc(2024, 12, 1, 0)


def test_mqtt_reads_naive_times_in_the_vendors_zone(engine):
    declare(engine, VENDOR, "Europe/Berlin")
    bridge = Bridge(engine, "mqtt://127.0.0.1:1883", client_id="unit", clock=lambda: NOW)
    payload = json.dumps({"events": [sos("2024-03-31T02:30:00") | {"event_id": "m1"}]})
    reply = bridge.handle(f"anbu/{VENDOR}/events", payload.encode())
    assert reply == {
        "accepted": 1,
        "duplicates": 0,
        "rejected": [],
        "timezone": "Europe/Berlin",
        "naive_ts": 1,
        "clock_corrected": [],
    }
    assert stored_ts(engine, "m1") == utc(2024, 3, 31, 1, 30)


def test_file_import_reads_naive_times_in_the_vendors_zone(engine):
    declare(engine, VENDOR, "Europe/Berlin")
    data = (
        b"event_id,device_id,ts,type\n"
        b"f1,robot-1,2024-07-01 09:00,interaction\n"
        b"f2,robot-1,2024-12-01T09:00:00,interaction\n"
        b"f3,robot-1,2024-12-01T09:00:00+09:00,interaction\n"
    )
    with engine.begin() as conn:
        report = import_file(conn, data, "berlin.csv", VENDOR, NOW)
    assert report.ok, report.summary()
    assert report.summary() == (
        "berlin.csv: 3 row(s); 3 stored, 0 already stored;"
        " 2 time(s) without a zone read in Europe/Berlin"
    )
    assert stored_ts(engine, "f1") == utc(2024, 7, 1, 7)  # summer time
    assert stored_ts(engine, "f2") == utc(2024, 12, 1, 8)  # winter time
    assert stored_ts(engine, "f3") == utc(2024, 12, 1, 0)


def test_a_changed_zone_applies_to_later_events_only(engine):
    declare(engine, VENDOR, "Europe/Berlin")
    with engine.begin() as conn:
        ingest_events(conn, VENDOR, [sos("2024-12-01T09:00:00") | {"event_id": "c1"}], now=NOW)
        set_timezone(conn, VENDOR, "Asia/Seoul", principal=cli_principal(), now=NOW)
        ingest_events(conn, VENDOR, [sos("2024-12-01T09:00:00") | {"event_id": "c2"}], now=NOW)
    assert stored_ts(engine, "c1") == utc(2024, 12, 1, 8)
    assert stored_ts(engine, "c2") == utc(2024, 12, 1, 0)


# --- the CLI -----------------------------------------------------------------------------------


@pytest.fixture
def configured_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'vendors.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_cli_vendors(configured_db, capsys):
    code = cli.main(["vendors", "add", "plugco", "--name", "PlugCo", "--timezone", "Europe/Berlin"])
    assert code == 0
    assert "read in Europe/Berlin" in capsys.readouterr().out
    assert cli.main(["vendors", "add", "seoulco"]) == 0  # the default zone
    assert cli.main(["vendors", "set-timezone", "plugco", "Asia/Tokyo"]) == 0
    assert "read in Asia/Tokyo" in capsys.readouterr().out
    assert cli.main(["vendors", "set-timezone", "plugco", "Tokyo"]) == 2
    assert "'Tokyo' is not an IANA time zone name" in capsys.readouterr().err
    assert cli.main(["vendors", "add", "plugco"]) == 2
    assert "already declared" in capsys.readouterr().err
    assert cli.main(["vendors", "add", "Bad Vendor"]) == 2
    assert "vendor 'Bad Vendor'" in capsys.readouterr().err
    assert cli.main(["vendors", "list"]) == 0
    listing = capsys.readouterr().out.splitlines()
    assert listing[1].split() == ["plugco", "Asia/Tokyo", "yes", "PlugCo"]
    assert listing[2].split() == ["seoulco", "Asia/Seoul", "yes", "-"]
    with configured_db.connect() as conn:
        rows = conn.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.entity_id, AuditLog.detail).order_by(
                AuditLog.id
            )
        ).all()
    assert [(r.action, r.entity_id) for r in rows] == [
        ("vendor_add", "plugco"),
        ("vendor_add", "seoulco"),
        ("vendor_timezone", "plugco"),
    ]
    assert all(r.actor == cli_principal().username for r in rows)
    assert rows[2].detail == {
        "timezone": "Asia/Tokyo",
        "previous": "Europe/Berlin",
        "was_declared": True,
    }
