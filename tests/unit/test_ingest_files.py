"""File import of vendor exports: CSV and .xlsx, all or nothing, errors by row and column."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from dashboard import cli
from dashboard.clock import as_utc
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, DeviceDaily, DeviceEvent, metadata
from dashboard.ingest.files import RowError, import_file
from dashboard.settings import get_settings
from tests.ingest_support import VENDOR, seed_catalog

NOW = datetime(2024, 12, 1, 3, 0, tzinfo=UTC)

GOOD_CSV = """\
event_id,device_id,ts,type,watts,lux,direction,duration_s,outcome,note
f1,plug-1,2024-12-01T08:00:00+09:00,power,35.5,,,,,
f2,plug-1,2024-12-01T08:00:00+09:00,lux,,220,,,,
f3,phone-1,2024-11-30T22:10:00Z,call,,,out,42,,
f4,aicall-1,2024-12-01T10:00:00+09:00,ai_call_result,,,,,concern,"무릎이 아프다고 함, 방문 요망"
,,,,,,,,,
"""


@pytest.fixture
def engine(db_engine):
    with db_engine.begin() as conn:
        seed_catalog(conn)
    return db_engine


def run_import(engine, data: bytes, filename: str, vendor: str = VENDOR):
    with engine.begin() as conn:
        return import_file(conn, data, filename, vendor, NOW)


def count(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(DeviceEvent))


def test_ids_numbered_per_device_are_refused_by_row_not_half_dropped(engine):
    """An export whose event ids restart for each device: before, the file was "stored" with
    the second device's rows counted as already stored (lost, no error). Now every reused id
    is a problem of its row, naming the row (or stored event) that has it, in both languages."""
    from dashboard.i18n import translate

    assert run_import(engine, GOOD_CSV.encode(), "export.csv").ok
    csv = (
        "event_id,device_id,ts,type,watts\n"
        "1,plug-1,2024-12-01T09:00:00+09:00,power,5\n"
        "1,plug-2,2024-12-01T09:00:00+09:00,power,7\n"
        "f1,plug-2,2024-12-01T08:00:00+09:00,power,35.5\n"
        "f1,plug-1,2024-12-01T08:00:00+09:00,power,35.5\n"  # already stored as is: fine
    )
    report = run_import(engine, csv.encode(), "per-device.csv")
    assert [str(e) for e in report.errors] == [
        "row 3, column event_id: '1' is already used on row 2 (device 'plug-1', power); "
        "an event_id must be unique per vendor, not per device",
        "row 4, column event_id: 'f1' is already stored (device 'plug-1', power); "
        "an event_id must be unique per vendor, not per device",
    ]
    assert count(engine) == 4  # nothing of the file
    ko = translate(f"import_error.{report.errors[0].key}", "ko", **report.errors[0].params)
    assert "2행" in ko and "plug-1" in ko


def test_a_good_csv_is_stored_and_reimporting_it_is_harmless(engine):
    report = run_import(engine, GOOD_CSV.encode(), "export.csv")
    assert report.ok, report.summary()
    assert (report.rows, report.accepted, report.duplicates) == (4, 4, 0)
    assert report.summary() == "export.csv: 4 row(s); 4 stored, 0 already stored"
    with engine.connect() as conn:
        note = conn.scalar(select(DeviceEvent.data).where(DeviceEvent.event_uid == "f4"))
        assert note == {"outcome": "concern", "note": "무릎이 아프다고 함, 방문 요망"}
        assert conn.scalar(select(func.sum(DeviceDaily.events))) == 4
    again = run_import(engine, GOOD_CSV.encode(), "export.csv")
    assert (again.ok, again.accepted, again.duplicates) == (True, 0, 4)
    assert count(engine) == 4


def test_one_bad_row_stores_nothing_and_every_problem_is_reported(engine):
    data = GOOD_CSV.replace("out,42", "sideways,42").replace("35.5", "-1")
    data += "f5,ghost-7,2024-12-01T09:00:00+09:00,sos,,,,,,\n"
    data += "f6,plug-1,2024-12-01,sos,,,,,,\n"
    report = run_import(engine, data.encode(), "bad.csv")
    assert not report.ok
    assert report.errors == [
        RowError(2, "watts", "Input should be greater than or equal to 0 (got -1.0)"),
        RowError(4, "direction", "Input should be 'in' or 'out' (got 'sideways')"),
        RowError(7, "device_id", "unknown device 'ghost-7'"),
        RowError(
            8,
            "ts",
            "a date without a time of day (expected e.g. 2024-12-01T09:00:00+09:00)"
            " (got '2024-12-01')",
        ),
    ]
    summary = report.summary()
    assert summary.startswith("bad.csv: 4 problem(s); nothing was stored")
    assert "row 7, column device_id: unknown device 'ghost-7'" in summary
    assert count(engine) == 0


def test_a_field_of_another_type_is_an_error_in_that_column(engine):
    data = "event_id,device_id,ts,type,watts,lux\nz1,plug-1,2024-12-01T09:00:00+09:00,lux,3,4\n"
    report = run_import(engine, data.encode(), "x.csv")
    assert report.errors == [RowError(2, "watts", "not a field of 'lux' events")]


@pytest.mark.parametrize(
    ("data", "filename", "expected"),
    [
        (
            b"event_id,device_id,ts,type,wats\n",
            "a.csv",
            "row 1, column wats: unknown column (known columns: event_id, device_id",
        ),
        (b"event_id,device_id,type\n", "a.csv", "row 1, column ts: required column is missing"),
        (b"event_id,device_id,ts,type,type\n", "a.csv", "row 1, column type: column appears twice"),
        (b"event_id,device_id,ts,type\n", "a.csv", "file: no data rows below the header"),
        (b"", "a.csv", "file: the file is empty"),
        (b"abc", "a.json", "file: unsupported file type '.json'; use .csv or .xlsx"),
        (b"not a zip", "a.xlsx", "file: not a readable .xlsx workbook"),
        (
            b"event_id,device_id,ts,type\nq,plug-1,2024-12-01T09:00:00Z,sos,extra\n",
            "a.csv",
            "row 2: a value in a column without a header",
        ),
    ],
)
def test_file_and_header_problems(engine, data, filename, expected):
    report = run_import(engine, data, filename)
    assert not report.ok
    assert str(report.errors[0]).startswith(expected)


def test_unknown_vendor_name_is_refused(engine):
    report = run_import(engine, GOOD_CSV.encode(), "a.csv", vendor="Not/A vendor")
    assert "vendor 'Not/A vendor'" in str(report.errors[0])


def test_cp949_csv_from_korean_excel(engine):
    data = (
        "event_id,device_id,ts,type,kind\nk1,robot-1,2024-12-01T09:00:00+09:00,interaction,복약\n"
    )
    report = run_import(engine, data.encode("cp949"), "robot.csv")
    assert report.ok, report.summary()
    with engine.connect() as conn:
        assert conn.scalar(select(DeviceEvent.data)) == {"kind": "복약"}


def xlsx(rows: list[list]) -> bytes:
    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def test_xlsx_with_numbers_and_numeric_ids(engine):
    data = xlsx(
        [
            ["event_id", "device_id", "ts", "type", "lat", "lon", "accuracy_m", "battery_pct"],
            [1001, "walker-1", "2024-12-01T09:00:00+09:00", "position", 37.658, 126.770, 6, 81],
            [1002.0, "walker-1", "2024-12-01T09:05:00+09:00", "heartbeat", None, None, None, 80],
        ]
    )
    report = run_import(engine, data, "walker.xlsx")
    assert report.ok, report.summary()
    with engine.connect() as conn:
        assert set(conn.scalars(select(DeviceEvent.event_uid))) == {"1001", "1002"}


def test_xlsx_date_cells_without_a_zone_are_read_in_the_vendors_zone(engine):
    data = xlsx(
        [
            ["event_id", "device_id", "ts", "type"],
            ["d1", "robot-1", datetime(2024, 12, 1, 9), "sos"],
        ]
    )
    report = run_import(engine, data, "robot.xlsx")
    assert report.ok, report.summary()
    assert (report.naive_ts, report.timezone) == (1, "Asia/Seoul")
    assert "1 time(s) without a zone read in Asia/Seoul" in report.summary()
    with engine.connect() as conn:
        stored = as_utc(conn.scalar(select(DeviceEvent.ts).where(DeviceEvent.event_uid == "d1")))
    assert stored == datetime(2024, 12, 1, 0, tzinfo=UTC)  # 09:00 in Seoul


def test_cli_import_events(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    metadata.create_all(engine)
    with engine.begin() as conn:
        seed_catalog(conn)
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    good.write_text(GOOD_CSV.replace("2024-12-01T10:00:00+09:00", "2024-12-01T08:30:00+09:00"))
    bad.write_text(GOOD_CSV.replace("35.5", "lots"))
    try:
        assert cli.main(["import-events", str(bad), "--vendor", VENDOR]) == 1
        assert "row 2, column watts" in capsys.readouterr().out
        assert cli.main(["import-events", str(good), "--vendor", VENDOR]) == 0
        assert "4 stored" in capsys.readouterr().out
        assert cli.main(["import-events", str(tmp_path / "nope.csv"), "--vendor", VENDOR]) == 2
        with engine.connect() as conn:
            audit = conn.execute(
                select(AuditLog.action, AuditLog.actor, AuditLog.entity_id)
                .where(AuditLog.entity_type == "event_import")
                .order_by(AuditLog.id)
            ).all()
        assert [(a.action, a.entity_id) for a in audit] == [
            ("import_refused", "bad.csv"),
            ("import_events", "good.csv"),
        ]
        assert all(a.actor.startswith("cli:") for a in audit)
    finally:
        get_settings.cache_clear()
        engine.dispose()
