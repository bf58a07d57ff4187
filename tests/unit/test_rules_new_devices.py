"""No instant 심각 for new devices: the silence clocks start at the later of installation and the
first event (before any event: the registration), and back-filled history cannot open 위험 or
심각 by itself. Real ingestion (``ingest_events``) and the real silence tick, with an injected
clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, insert, select

from dashboard.clock import as_utc
from dashboard.db.schema import CareRecipient, Device, DeviceState
from dashboard.ingest.core import ingest_events
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_alert_lifecycle import alerts, open_alerts, tick

db = lifecycle.db  # the fixture: regions, a program and the device types with their timeouts

T0 = datetime(2024, 12, 2, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
H = timedelta(hours=1)
M = timedelta(minutes=1)
VENDOR = "v"
_n = itertools.count(1)


def add_device(
    db: Engine,
    type_code: str = "smart_plug",
    *,
    installed_on: date = date(2024, 1, 1),
    registered_at: datetime | None = None,
) -> tuple[int, str]:
    """A device as the roster registers it: no device_state row, no events."""
    n = next(_n)
    with db.begin() as conn:
        rid = conn.execute(
            insert(CareRecipient).returning(CareRecipient.id),
            {"program_id": 1, "region_id": 2, "external_ref": f"N{n}", "birth_year": 1940,
             "sex": "F", "household": "alone", "enrolled_on": date(2024, 1, 1),
             "pii_name": "김복순"},
        ).scalar()  # fmt: skip
        did = conn.execute(
            insert(Device).returning(Device.id),
            {"device_uid": f"N{n}", "type_code": type_code, "program_id": 1, "vendor": VENDOR,
             "recipient_id": rid, "region_id": 2, "installed_on": installed_on,
             "registered_at": registered_at},
        ).scalar()  # fmt: skip
    return did, f"N{n}"


def send(db: Engine, uid: str, events: list[tuple[datetime, str, dict]], now: datetime):
    """Ingest ``(ts, type, fields)`` events as the vendor would, at ``now``."""
    batch = [
        {"event_id": f"{uid}-{ts.isoformat()}-{kind}", "device_id": uid, "ts": ts.isoformat(),
         "type": kind, **fields}
        for ts, kind, fields in events
    ]  # fmt: skip
    with db.begin() as conn:
        result = ingest_events(conn, VENDOR, batch, now=now)
    assert result.rejected == [] and result.accepted == len(events)
    return result


def power(ts: datetime, watts: float) -> tuple[datetime, str, dict]:
    return ts, "power", {"watts": watts}


def stages(db: Engine, did: int) -> dict[str, str]:
    return {rule: a.stage for rule, a in open_alerts(db, did).items()}


def device_state(db: Engine, did: int):
    with db.connect() as conn:
        return conn.execute(select(DeviceState).where(DeviceState.device_id == did)).one()


def test_a_device_registered_today_opens_nothing_on_the_first_tick(db):
    did, _ = add_device(db, registered_at=T0 - 10 * M)  # installed long ago, entered today
    assert tick(db, T0).opened == 0
    assert tick(db, T0 + 2 * H - 11 * M).opened == 0  # 2 h heartbeat timeout not yet passed
    assert alerts(db, did) == []
    tick(db, T0 + 2 * H)  # the timeout counted from the registration: a device ticket
    (alert,) = alerts(db, did)
    assert (alert.rule, alert.stage, alert.evidence["cause"]) == (
        "device_silent", "attention", "never_reported")  # fmt: skip
    # The person's no-change clock counts from the registration as well.
    tick(db, T0 + 24 * H - 11 * M)
    assert stages(db, did) == {"device_silent": "attention"}
    tick(db, T0 + 24 * H)
    assert stages(db, did)["plug_no_change"] == "attention"


def test_without_a_registration_time_a_device_installed_today_counts_from_midnight(db):
    did, _ = add_device(db, installed_on=date(2024, 12, 2))  # 00:00 Seoul: 15:00 UTC the day before
    tick(db, T0 - 11 * H + M)  # 01:01 Seoul
    assert alerts(db, did) == []
    tick(db, T0)  # 12:00 Seoul: past the heartbeat timeout, a device ticket; no person alert
    assert stages(db, did) == {"device_silent": "attention"}


def test_without_registration_or_event_the_clock_counts_from_installation(db):
    """Devices entered before registration times were kept: the installation is all we know."""
    did, _ = add_device(db)
    tick(db, T0)
    assert stages(db, did)["plug_no_change"] == "severe"


def test_a_silent_ticket_before_the_first_event_does_not_hide_the_first_event(db):
    """The tick gives a never-reported device a state row; its first event still counts."""
    did, uid = add_device(db, registered_at=T0)
    tick(db, T0 + 3 * H)
    assert stages(db, did) == {"device_silent": "attention"}
    send(db, uid, [power(T0 + 4 * H, 40.0)], now=T0 + 4 * H)
    assert stages(db, did) == {}  # the device reports: its ticket closed
    state = device_state(db, did)
    assert as_utc(state.first_seen_at) == as_utc(state.first_received_at) == T0 + 4 * H
    send(db, uid, [power(T0 + 27 * H, 40.0)], now=T0 + 27 * H)
    assert tick(db, T0 + 28 * H - M).opened == 0
    tick(db, T0 + 28 * H)  # 24 h after the first event
    assert stages(db, did) == {"plug_no_change": "attention"}


def test_a_state_without_a_known_first_event_keeps_counting_as_before(db):
    """Rows written before first_seen_at existed (or by the demo builder) keep NULL: their
    clocks count from the last sign of life or the installation, as they always did."""
    did, uid = add_device(db)
    with db.begin() as conn:
        conn.execute(
            insert(DeviceState),
            {"device_id": did, "state": "normal", "state_since": T0 - 72 * H,
             "last_seen_at": T0 - 72 * H, "last_activity_at": T0 - 72 * H,
             "last_power_w": 40.0, "updated_at": T0 - 72 * H},
        )  # fmt: skip
    send(db, uid, [power(T0, 40.0)], now=T0)  # no change: still quiet for 72 h
    state = device_state(db, did)
    assert state.first_seen_at is None and state.first_received_at is None
    tick(db, T0)
    assert stages(db, did)["plug_no_change"] == "severe"


def test_installation_long_before_the_first_event_opens_no_instant_severe(db):
    did, uid = add_device(db)  # installed 2024-01-01, no registration time
    send(db, uid, [power(T0, 40.0)], now=T0)  # the first event: a reading, no change yet
    assert alerts(db, did) == []
    assert tick(db, T0).opened == 0
    send(db, uid, [power(T0 + 22 * H, 40.0), (T0 + 22 * H, "heartbeat", {})], now=T0 + 22 * H)
    assert tick(db, T0 + 24 * H - M).opened == 0
    tick(db, T0 + 24 * H)  # the ladder counts from the first event
    assert stages(db, did) == {"plug_no_change": "attention"}
    assert open_alerts(db, did)["plug_no_change"].evidence["since"] == T0.isoformat()


def test_backfilled_days_of_old_events_into_an_active_device_open_nothing(db):
    did, uid = add_device(db, registered_at=T0 - 10 * 24 * H)
    send(db, uid, [power(T0 - H, 10.0), power(T0, 80.0)], now=T0)  # the TV went on just now
    old = [power(T0 - 72 * H + i * H, 10.0 if i % 5 else 90.0) for i in range(48)]
    old += [(T0 - 72 * H, "heartbeat", {"battery_pct": 90.0})]
    send(db, uid, old, now=T0 + M)  # the vendor back-fills three days
    assert tick(db, T0 + 2 * M).opened == 0
    assert alerts(db, did) == []
    state = device_state(db, did)
    # Clocks follow the newest event: the back-fill moved nothing forward or back but the start.
    assert as_utc(state.last_activity_at) == T0 and as_utc(state.last_seen_at) == T0
    assert state.last_power_w == 80.0
    assert as_utc(state.first_seen_at) == T0 - 72 * H
    assert as_utc(state.first_received_at) == T0


def test_backfilled_quiet_history_cannot_raise_a_device_past_attention(db):
    did, uid = add_device(db, registered_at=T0 - 2 * H)
    send(db, uid, [power(T0 - H, 40.0)], now=T0 - H)  # reporting, no change yet
    old = [power(T0 - 96 * H + i * H, 40.0) for i in range(90)]  # four quiet days
    send(db, uid, old, now=T0)
    tick(db, T0)
    assert stages(db, did) == {"plug_no_change": "attention"}  # not 심각 from old events


def test_backfilled_history_ending_two_days_ago_counts_from_its_newest_activity(db):
    did, uid = add_device(db, registered_at=T0 - M)
    history = [power(T0 - 120 * H + i * H, 10.0 if i % 2 else 80.0) for i in range(73)]
    assert history[-1][0] == T0 - 48 * H  # the last change two days ago
    flat = [power(T0 - 48 * H + i * H, 80.0) for i in range(1, 48)]  # then flat to T0 - 1 h
    send(db, uid, history + flat, now=T0)
    tick(db, T0)
    alert = open_alerts(db, did)["plug_no_change"]
    # The person's 48 h without a change are real: 관심 at once, not 심각 at once.
    assert alert.stage == "attention"
    assert alert.evidence["no_change_hours"] == 48.0
    assert alert.evidence["since"] == (T0 - 48 * H).isoformat()
    assert alert.evidence["observed_since"] == T0.isoformat()
    assert "device_silent" not in stages(db, did)  # reported an hour ago
    # The later stages count the time Anbu has been watching (ladder 24/36/48 h from now).
    tick(db, T0 + 36 * H - M)
    assert stages(db, did)["plug_no_change"] == "attention"
    assert stages(db, did)["device_silent"] == "risk"  # 2 h timeout + 24 h, from now
    tick(db, T0 + 36 * H)
    assert stages(db, did)["plug_no_change"] == "risk"
    tick(db, T0 + 48 * H)
    assert stages(db, did)["plug_no_change"] == "severe"


def test_backfilled_history_that_simply_ends_two_days_ago_is_a_device_fault(db):
    """Issue #9: no readings for two days is a dead device, not two days of a person's quiet:
    the silence ticket at once, 위험 a day after Anbu started watching; no person alert."""
    did, uid = add_device(db, registered_at=T0 - M)
    history = [power(T0 - 120 * H + i * H, 10.0 if i % 2 else 80.0) for i in range(73)]
    send(db, uid, history, now=T0)  # the last event two days ago
    tick(db, T0)
    assert stages(db, did) == {"device_silent": "attention"}
    tick(db, T0 + 48 * H)
    assert stages(db, did) == {"device_silent": "risk"}


def test_live_activity_after_a_backfill_clears_the_alert(db):
    did, uid = add_device(db, registered_at=T0 - M)
    flat = [power(T0 - 48 * H + i * H, 90.0) for i in range(48)]  # flat after the change
    send(db, uid, [power(T0 - 50 * H, 10.0), power(T0 - 49 * H, 90.0), *flat], now=T0)
    tick(db, T0)
    assert stages(db, did)["plug_no_change"] == "attention"
    send(db, uid, [power(T0 + H, 10.0)], now=T0 + H)  # a change beyond the margin, live
    assert "plug_no_change" not in stages(db, did)


@pytest.mark.parametrize("type_code", ["phone_line", "care_robot"])
def test_other_quiet_rules_count_from_the_first_event_too(db, type_code):
    did, uid = add_device(db, type_code)  # installed 2024-01-01
    send(db, uid, [(T0, "heartbeat", {})], now=T0)
    tick(db, T0 + M)
    assert alerts(db, did) == []
