"""A minimal catalog for ingest tests: one region, one program, the device types and a few devices
of two vendors. Independent of the demo city so ingest tests stay small and explicit."""

from __future__ import annotations

from datetime import date

from sqlalchemy import Connection, insert

from dashboard.db.schema import Device, DeviceType, Program, Region

VENDOR = "acme"
OTHER_VENDOR = "othercare"
TYPE_OF_PREFIX = {
    "plug": "smart_plug",
    "phone": "phone_line",
    "robot": "care_robot",
    "walker": "wandering_detector",
    "smoke": "smoking_detector",
    "park": "park_machine",
    "aicall": "ai_call_line",
}


def seed_catalog(conn: Connection, extra_plugs: int = 0) -> dict[str, int]:
    """Insert the catalog and devices; returns device_uid -> devices.id."""
    conn.execute(
        insert(Region),
        [
            {
                "id": 1,
                "code": "4128500000",
                "level": "district",
                "name_ko": "일산동구",
                "name_en": "Ilsandong-gu",
            }
        ],
    )
    conn.execute(
        insert(Program),
        [
            {
                "id": 1,
                "code": "test_program",
                "kind": "device",
                "name_ko": "시험",
                "name_en": "Test",
                "region_id": 1,
            }
        ],
    )
    conn.execute(
        insert(DeviceType),
        [
            {"code": code, "name_ko": code, "name_en": code, "heartbeat_timeout_s": 7200}
            for code in sorted(set(TYPE_OF_PREFIX.values()))
        ],
    )
    uids = [(f"{prefix}-1", type_code, VENDOR) for prefix, type_code in TYPE_OF_PREFIX.items()]
    uids.append(("plug-2", "smart_plug", VENDOR))
    uids.append(("other-1", "smart_plug", OTHER_VENDOR))
    uids += [(f"bulk-{i:05d}", "smart_plug", VENDOR) for i in range(extra_plugs)]
    rows = [
        {
            "id": i,
            "device_uid": uid,
            "type_code": type_code,
            "program_id": 1,
            "vendor": vendor,
            "region_id": 1,
            "installed_on": date(2024, 1, 1),
            "status": "active",
        }
        for i, (uid, type_code, vendor) in enumerate(uids, start=1)
    ]
    conn.execute(insert(Device), rows)
    return {row["device_uid"]: row["id"] for row in rows}
