"""The schema round-trips the same values on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from sqlalchemy import insert, inspect, select
from sqlalchemy.exc import IntegrityError, StatementError

from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceType,
    Program,
    Region,
    metadata,
)
from dashboard.db.schema.participation import COMPLAINT_PII_COLUMNS
from dashboard.db.schema.people import PII_COLUMNS

KST = timezone(timedelta(hours=9))


def _seed_minimal(conn) -> dict[str, int]:
    city = conn.execute(
        insert(Region).values(
            code="4128500000", level="district", name_ko="고양시 일산동구", name_en="Ilsan-dong-gu"
        )
    ).inserted_primary_key[0]
    dong = conn.execute(
        insert(Region).values(
            code="4128555100",
            level="dong",
            name_ko="백석1동",
            name_en="Baekseok 1-dong",
            parent_id=city,
            lat=37.643,
            lon=126.788,
        )
    ).inserted_primary_key[0]
    program = conn.execute(
        insert(Program).values(
            code="goyang_wandering",
            kind="device",
            name_ko="배회감지기",
            name_en="Wandering detectors",
            region_id=city,
        )
    ).inserted_primary_key[0]
    conn.execute(
        insert(DeviceType).values(
            code="wandering_detector",
            name_ko="배회감지기",
            name_en="Wandering detector",
            heartbeat_timeout_s=3600,
        )
    )
    person = conn.execute(
        insert(CareRecipient).values(
            program_id=program,
            region_id=dong,
            external_ref="W-0001",
            birth_year=1940,
            sex="F",
            household="alone",
            enrolled_on=date(2024, 7, 1),
            pii_name="홍길순",
            pii_phone="010-0000-0001",
        )
    ).inserted_primary_key[0]
    device = conn.execute(
        insert(Device).values(
            device_uid="WD-1",
            type_code="wandering_detector",
            program_id=program,
            vendor="safewalk",
            recipient_id=person,
            region_id=dong,
            installed_on=date(2024, 7, 1),
            status="active",
        )
    ).inserted_primary_key[0]
    return {"dong": dong, "program": program, "person": person, "device": device}


def test_every_table_exists(db_engine):
    assert set(inspect(db_engine).get_table_names()) >= set(metadata.tables)


def test_times_round_trip_as_aware_utc_and_json_as_dicts(db_engine):
    ts = datetime(2024, 11, 29, 9, 30, 15, tzinfo=KST)
    with db_engine.begin() as conn:
        ids = _seed_minimal(conn)
        conn.execute(
            insert(DeviceEvent).values(
                vendor="safewalk",
                event_uid="e-1",
                device_id=ids["device"],
                ts=ts,
                received_at=ts,
                type="position",
                value=None,
                data={"lat": 37.64, "lon": 126.79, "accuracy_m": 12, "note": "백석역"},
            )
        )
    with db_engine.connect() as conn:
        row = conn.execute(select(DeviceEvent.ts, DeviceEvent.data)).one()
    assert row.ts == ts
    assert row.ts.tzinfo is not None and row.ts.utcoffset() == timedelta(0)
    assert row.data == {"lat": 37.64, "lon": 126.79, "accuracy_m": 12, "note": "백석역"}


def test_naive_datetimes_are_refused(db_engine):
    with db_engine.begin() as conn:
        ids = _seed_minimal(conn)
    with pytest.raises(StatementError, match="naive datetime"), db_engine.begin() as conn:
        conn.execute(
            insert(DeviceEvent).values(
                vendor="v",
                event_uid="e",
                device_id=ids["device"],
                ts=datetime(2024, 1, 1),
                received_at=datetime.now(UTC),
                type="heartbeat",
            )
        )


def test_vendor_event_id_is_unique(db_engine):
    now = datetime.now(UTC)
    with db_engine.begin() as conn:
        ids = _seed_minimal(conn)
    row = dict(
        vendor="v",
        event_uid="same",
        device_id=ids["device"],
        ts=now,
        received_at=now,
        type="heartbeat",
    )
    with db_engine.begin() as conn:
        conn.execute(insert(DeviceEvent).values(**row))
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(insert(DeviceEvent).values(**row))


def test_only_one_open_alert_per_dedup_key(db_engine):
    now = datetime.now(UTC)
    with db_engine.begin() as conn:
        ids = _seed_minimal(conn)
    alert = dict(
        dedup_key=f"wander_left_zone:{ids['person']}",
        kind="person",
        rule="wander_left_zone",
        stage="severe",
        program_id=ids["program"],
        region_id=ids["dong"],
        recipient_id=ids["person"],
        opened_at=now,
        updated_at=now,
        status="closed",
        outcome="safe",
        closed_at=now,
    )
    with db_engine.begin() as conn:
        conn.execute(insert(Alert).values(**alert))  # a closed one
        conn.execute(insert(Alert).values(**{**alert, "status": "open", "outcome": None}))
    with pytest.raises(IntegrityError), db_engine.begin() as conn:
        conn.execute(insert(Alert).values(**{**alert, "status": "acknowledged", "outcome": None}))


def test_personal_data_columns_are_marked():
    assert set(PII_COLUMNS) == {
        "pii_name",
        "pii_phone",
        "pii_address",
        "pii_home_lat",
        "pii_home_lon",
        "pii_guardian_name",
        "pii_guardian_phone",
        "pii_zone_polygon",  # a safe-zone polygon drawn around the home
    }
    # An imported complaint's text and place: a complainant may name a home or a neighbour.
    assert set(COMPLAINT_PII_COLUMNS) == {"pii_text", "pii_place", "pii_lat", "pii_lon"}
    # No other table may hold personal data columns.
    for table in metadata.tables.values():
        if table.name not in ("care_recipients", "complaints"):
            assert not [c for c in table.columns if c.name.startswith("pii_")], table.name
