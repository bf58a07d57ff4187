"""Support module (no tests): roster files in memory, CSV or .xlsx, Korean or English headers."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from sqlalchemy import Engine, func, select

from dashboard.auth import SessionUser
from dashboard.catalog import load_catalog
from dashboard.db.schema import AuditLog, CareRecipient, Device
from dashboard.ingest.apikeys import create_key
from dashboard.registry import DEVICES, PEOPLE
from dashboard.registry.roster import RosterKind

# Saturday 2025-03-01 09:00 KST.
NOW = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")
VENDOR = "acme"
SAJIK, CHEONGUN = "1111053000", "1111051500"  # two dongs of 종로구, Seoul


def person(n: int = 1, **changes: Any) -> dict[str, Any]:
    """A valid person (roster keys → cell text); ``changes`` replace cells."""
    row = {
        "external_ref": f"P-{n:04d}",
        "name": f"시험{n}",
        "birth_year": "1944",
        "sex": "여",
        "phone": f"010 1234 {n:04d}",
        "address": "서울특별시 종로구 시험로 1",
        "dong_code": SAJIK,
        "home_lat": "37.5759",
        "home_lon": "126.9688",
        "guardian_name": "",
        "guardian_phone": "",
        "program": "seoul_smart_plug",
        "enrolled_on": "2025-01-02",
        "no_change_hours": "36",
        "safe_zone_m": "",
    }
    return row | changes


def device(n: int = 1, **changes: Any) -> dict[str, Any]:
    row = {
        "device_id": f"PLUG-{n:04d}",
        "vendor": VENDOR,
        "type": "smart_plug",
        "program": "seoul_smart_plug",
        "external_ref": f"P-{n:04d}",
        "dong_code": "",
        "installed_on": "2025-01-03",
    }
    return row | changes


def headers(kind: RosterKind, korean: bool) -> list[str]:
    return [c.ko if korean else c.key for c in kind.columns]


def roster_csv(kind: RosterKind, rows: list[dict[str, Any]], korean: bool = True) -> bytes:
    lines = [",".join(headers(kind, korean))]
    lines += [",".join(str(row[c.key]) for c in kind.columns) for row in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def roster_xlsx(kind: RosterKind, rows: list[dict[str, Any]], korean: bool = True) -> bytes:
    """A workbook; cells keep the Python type given (a date stays an Excel date cell)."""
    book = Workbook()
    sheet = book.active
    sheet.append(headers(kind, korean))
    for row in rows:
        sheet.append([None if row[c.key] == "" else row[c.key] for c in kind.columns])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def prepare(engine: Engine) -> None:
    """The catalog from data/*.csv and an API key for the vendor: a city before its roster."""
    with engine.begin() as conn:
        load_catalog(conn)
        create_key(conn, VENDOR, principal=SessionUser("setup", "setup", "admin"), now=NOW)
        conn.execute(AuditLog.__table__.delete())


def counts(engine: Engine) -> tuple[int, int, int]:
    """(people, devices, audit rows)."""
    with engine.connect() as conn:
        return tuple(
            conn.scalar(select(func.count()).select_from(m))
            for m in (CareRecipient, Device, AuditLog)
        )


__all__ = ["DEVICES", "PEOPLE"]
