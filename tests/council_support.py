"""Support module (no tests): a tiny city for the council's privacy tests, built row by row.

Dongs with a chosen number of people (each with a chosen number of smart plugs), person
alerts per dong, and wandering episodes: small enough that one person shows through any
figure that is not suppressed.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, Engine, insert, select

from dashboard.catalog import load_catalog
from dashboard.db.schema import Alert, CareRecipient, Device, Program, Region
from dashboard.reference.load import load_reference
from dashboard.settings import PROJECT_ROOT

NOW = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
SAJIK, CHEONGUN, SOGONG, BUAM = "1111053000", "1111051500", "1114052000", "1111055000"
BAEKSEOK1 = "4128555100"
_BOUNDARIES = PROJECT_ROOT / "data" / "geo" / "admdong_demo_2021.geojson"


def boundaries() -> dict:
    """The shipped dong polygons (the map slides need them)."""
    return json.loads(_BOUNDARIES.read_text(encoding="utf-8"))


def _id(conn: Connection, model, column, value) -> int:
    return conn.execute(select(model.id).where(column == value)).scalar_one()


def tiny_city(
    engine: Engine,
    people: dict[str, int],
    *,
    plugs_each: dict[str, int] | None = None,
    alerts: dict[str, int] | None = None,
    program: str = "seoul_smart_plug",
    programs: dict[str, str] | None = None,
) -> None:
    """``people``: dong code → people enrolled there (each with one smart plug, or
    ``plugs_each[dong]``); ``alerts``: dong code → person alerts opened a day before NOW;
    ``programs``: dong code → the program of its people (else ``program``)."""
    plugs_each = plugs_each or {}
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        n = 0
        for dong, count in people.items():
            region = _id(conn, Region, Region.code, dong)
            prog = _id(conn, Program, Program.code, (programs or {}).get(dong, program))
            for _ in range(count):
                n += 1
                person = conn.execute(
                    insert(CareRecipient).returning(CareRecipient.id),
                    {
                        "program_id": prog,
                        "region_id": region,
                        "external_ref": f"T-{n:04d}",
                        "birth_year": 1940,
                        "sex": "F",
                        "household": "alone",
                        "enrolled_on": date(2026, 1, 2),
                        "pii_name": f"시험{n}",
                        "pii_phone": f"010-5555-{n:04d}",
                    },
                ).scalar_one()
                for k in range(plugs_each.get(dong, 1)):
                    conn.execute(
                        insert(Device),
                        {
                            "device_uid": f"PLUG-{n:04d}-{k}",
                            "type_code": "smart_plug",
                            "program_id": prog,
                            "vendor": "acme",
                            "recipient_id": person,
                            "region_id": region,
                            "installed_on": date(2026, 1, 3),
                            "status": "active",
                        },
                    )
        for dong, count in (alerts or {}).items():
            add_alerts(conn, dong, count, NOW - timedelta(days=1))


def add_alerts(
    conn: Connection,
    dong: str,
    count: int,
    opened: datetime,
    *,
    rule: str = "plug_no_change",
    stage: str = "attention",
    minutes_open: float | None = 60,
    acknowledged_after_s: float | None = 30,
) -> None:
    """``count`` person alerts in ``dong`` (its first person's), opened at ``opened``."""
    region = _id(conn, Region, Region.code, dong)
    person, program = conn.execute(
        select(CareRecipient.id, CareRecipient.program_id)
        .where(CareRecipient.region_id == region)
        .order_by(CareRecipient.id)
    ).first()
    start = conn.execute(select(Alert.id).order_by(Alert.id.desc())).scalar() or 0
    for i in range(count):
        closed = None if minutes_open is None else opened + timedelta(minutes=minutes_open)
        acked = (
            None
            if acknowledged_after_s is None
            else opened + timedelta(seconds=acknowledged_after_s)
        )
        conn.execute(
            insert(Alert),
            {
                "dedup_key": f"t{start + i + 1}",
                "kind": "person",
                "rule": rule,
                "stage": stage,
                "status": "closed" if closed else "open",
                "program_id": program,
                "region_id": region,
                "recipient_id": person,
                "evidence": {},
                "opened_at": opened,
                "updated_at": opened,
                "acknowledged_at": acked,
                "closed_at": closed,
                "outcome": "safe" if closed else None,
            },
        )
