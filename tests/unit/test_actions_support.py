"""Support module (no tests): a tiny catalog (districts, dongs, programs, a device type) and
people with alerts in any state, shared by the action, notification and metric tests."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert

from dashboard.auth import SessionUser
from dashboard.db.schema import Alert, CareRecipient, Device, DeviceType, Program, Region

# Monday 2024-12-02 10:00 KST: dong-center office hours.
T0 = datetime(2024, 12, 2, 1, 0, tzinfo=UTC)
_n = itertools.count(1)


def who(name: str = "kim", role: str = "lead", districts: tuple[str, ...] = ()) -> SessionUser:
    """The acting principal of a test: a lead (acts in every district) unless told otherwise."""
    return SessionUser(username=name, display_name=name, role=role, district_codes=districts)


def seed(engine: Engine) -> None:
    with engine.begin() as conn:
        # executemany takes its columns from the first row: give every row every key.
        conn.execute(
            insert(Region),
            [
                {"id": 1, "code": "4128500000", "level": "district", "name_ko": "일산동구",
                 "name_en": "Ilsandong-gu", "parent_id": None},
                {"id": 2, "code": "4128552000", "level": "dong", "parent_id": 1,
                 "name_ko": "경기도 고양시 일산동구 백석1동", "name_en": "Baekseok 1-dong"},
                {"id": 3, "code": "1111000000", "level": "district", "name_ko": "종로구",
                 "name_en": "Jongno-gu", "parent_id": None},
                {"id": 4, "code": "1111051500", "level": "dong", "parent_id": 3,
                 "name_ko": "청운효자동", "name_en": "Cheongunhyoja-dong"},
            ],
        )  # fmt: skip
        conn.execute(
            insert(Program),
            [
                {"id": 1, "code": "goyang_ai_call", "kind": "device", "name_ko": "AI안부전화",
                 "name_en": "AI calls", "region_id": 1},
                {"id": 2, "code": "seoul_smart_plug", "kind": "device", "name_ko": "플러그",
                 "name_en": "Plugs", "region_id": 3},
            ],
        )  # fmt: skip
        conn.execute(
            insert(DeviceType),
            [{"code": "smart_plug", "name_ko": "플러그", "name_en": "plug",
              "heartbeat_timeout_s": 7200}],
        )  # fmt: skip


def add_person(
    conn: Connection, *, program_id: int = 1, region_id: int = 2, guardian: bool = True
) -> tuple[int, int]:
    """A care recipient with one smart plug; returns (recipient_id, device_id)."""
    n = next(_n)
    rid = conn.execute(
        insert(CareRecipient).returning(CareRecipient.id),
        {"program_id": program_id, "region_id": region_id, "external_ref": f"R{n:05d}",
         "birth_year": 1940, "sex": "F", "household": "alone", "enrolled_on": date(2024, 1, 1),
         "pii_name": "김복순", "pii_phone": "010-0000-0000",
         "pii_guardian_phone": "010-1111-2222" if guardian else None},
    ).scalar_one()  # fmt: skip
    did = conn.execute(
        insert(Device).returning(Device.id),
        {"device_uid": f"plug-{n}", "vendor": "acme", "type_code": "smart_plug",
         "program_id": program_id, "region_id": region_id, "recipient_id": rid,
         "installed_on": date(2024, 1, 1)},
    ).scalar_one()  # fmt: skip
    return rid, did


def add_alert(
    engine: Engine,
    *,
    status: str = "open",
    stage: str = "risk",
    rule: str = "plug_no_change",
    kind: str = "person",
    opened_at: datetime = T0,
    program_id: int = 1,
    region_id: int = 2,
    guardian: bool = True,
    **extra: Any,
) -> int:
    """An alert already in ``status`` (version 1), as the rules or earlier actions left it."""
    with engine.begin() as conn:
        rid, did = add_person(conn, program_id=program_id, region_id=region_id, guardian=guardian)
        values = {
            "dedup_key": f"{rule}:{rid}:{next(_n)}",
            "kind": kind,
            "rule": rule,
            "stage": stage,
            "status": status,
            "program_id": program_id,
            "region_id": region_id,
            "recipient_id": rid if kind == "person" else None,
            "device_id": did,
            "evidence": {},
            "opened_at": opened_at,
            "updated_at": opened_at,
            "version": 1,
        }
        if status in ("acknowledged", "dispatched", "closed"):
            values |= {"acknowledged_at": opened_at, "acknowledged_by": "earlier"}
        if status in ("dispatched", "closed"):
            values["dispatched_at"] = opened_at
        if status == "closed":
            values |= {"closed_at": opened_at, "closed_by": "earlier", "outcome": "safe"}
        values |= extra
        return conn.execute(insert(Alert).returning(Alert.id), values).scalar_one()
