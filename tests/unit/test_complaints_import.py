"""Complaint import (``dashboard.complaints``): the complaint system's export with Korean headers,
all or nothing, idempotent, duplicates recognised, matched to sites by distance; on SQLite and
PostgreSQL; and ``complaints import`` through ``dashboard.cli.main`` with its exit codes."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, insert, select

from dashboard import cli
from dashboard.auth import SessionUser
from dashboard.auth.permissions import NotPermitted
from dashboard.catalog import load_catalog
from dashboard.complaints import import_complaints
from dashboard.db.schema import AuditLog, Complaint, ComplaintSite, Program, Region
from dashboard.settings import get_settings
from queries.complaints import districts, monthly, provenance

NOW = datetime(2025, 3, 1, 0, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")
SITE = (37.6432, 126.7880)  # 백석역 1번 출구
DONG = "4128555100"
M_LAT = 1 / 111_320  # degrees of latitude per metre
HEADER = "접수번호,접수일시,민원유형,민원내용,발생장소,위도(WGS84),경도(WGS84),접수경로"


def _north(metres: float) -> tuple[str, str]:
    return f"{SITE[0] + metres * M_LAT:.6f}", f"{SITE[1]:.6f}"


def row(n: int, *, when="2025-02-03 14:20", kind="흡연", text=None, at=(0.0,), place="", ref=True):
    lat, lon = _north(at[0]) if at is not None else ("", "")
    body = text if text is not None else f"담배 연기 민원 {n}번"
    return ",".join(
        [f"2025-{n:05d}" if ref else "", when, kind, body, place, lat, lon, "국민신문고"]
    )


def csv_bytes(*rows: str, header: str = HEADER) -> bytes:
    return ("\r\n".join([header, *rows]) + "\r\n").encode("utf-8")


def _add_site(conn, code: str, lat: float, lon: float, category: str = "smoking") -> int:
    program = conn.scalar(select(Program.id).where(Program.code == "goyang_smoking"))
    region = conn.scalar(select(Region.id).where(Region.code == DONG))
    return conn.execute(
        insert(ComplaintSite)
        .values(
            code=code,
            program_id=program,
            region_id=region,
            name_ko=code,
            name_en=code,
            lat=lat,
            lon=lon,
            category=category,
        )
        .returning(ComplaintSite.id)
    ).scalar_one()


@pytest.fixture
def city(db_engine):
    with db_engine.begin() as conn:
        load_catalog(conn)
        _add_site(conn, "smk-a", *SITE)
    return db_engine


def _import(engine, data: bytes, name="민원.csv", **kwargs):
    return import_complaints(engine, data, name, LEAD, NOW, **kwargs)


def _complaints(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(select(Complaint).order_by(Complaint.id)).all()


def _audits(engine) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == "complaint_import")
        )


def test_an_export_is_stored_matched_and_audited_without_its_text(city):
    report = _import(
        city, csv_bytes(row(1), row(2, at=(500.0,)), row(3, at=None, place="일산동구 백석1동 1"))
    )
    assert report.ok, report.summary()
    assert (report.rows, report.new, report.unmatched) == (3, 3, 2)
    assert dict(report.matched) == {"smk-a": 1}
    stored = _complaints(city)
    assert [c.source_ref for c in stored] == ["id:2025-00001", "id:2025-00002", "id:2025-00003"]
    assert stored[0].site_id is not None and stored[0].distance_m == pytest.approx(0, abs=1)
    assert stored[1].site_id is None and stored[2].site_id is None
    assert stored[0].received_at == datetime(2025, 2, 3, 5, 20, tzinfo=UTC)  # 14:20 KST
    assert (stored[0].category, stored[0].channel) == ("smoking", "online")
    assert stored[0].pii_text == "담배 연기 민원 1번" and stored[0].import_file == "민원.csv"
    with city.connect() as conn:
        audit = conn.execute(select(AuditLog).where(AuditLog.action == "complaint_import")).one()
    assert audit.detail["new"] == 3 and audit.detail["unmatched"] == 2
    assert "담배" not in str(audit.detail)  # counts, never the complaint's text


def test_a_point_50_m_from_a_site_is_matched_and_500_m_is_not(city):
    report = _import(city, csv_bytes(row(1, at=(50.0,)), row(2, at=(500.0,))))
    assert report.ok and report.matched["smk-a"] == 1 and report.unmatched == 1
    near, far = _complaints(city)
    assert near.site_id is not None and near.distance_m == pytest.approx(50, abs=1)
    assert far.site_id is None and far.distance_m is None
    # The radius is configurable: at 1 km the far one would have matched.
    wide = _import(city, csv_bytes(row(3, at=(500.0,))), radius_m=1000, dry_run=True)
    assert wide.matched["smk-a"] == 1


def test_a_site_of_another_type_is_not_matched(city):
    with city.begin() as conn:
        _add_site(conn, "noise-a", SITE[0] + 10 * M_LAT, SITE[1], category="noise")
    report = _import(city, csv_bytes(row(1, kind="소음", at=(20.0,)), row(2, at=(20.0,))))
    assert report.ok and dict(report.matched) == {"noise-a": 1, "smk-a": 1}


def test_the_same_file_twice_changes_nothing(city):
    data = csv_bytes(row(1), row(2))
    assert _import(city, data).stored
    again = _import(city, data)
    assert again.ok and not again.stored and (again.new, again.already) == (0, 2)
    assert "nothing to change" in again.summary()
    assert len(_complaints(city)) == 2 and _audits(city) == 1


def test_without_complaint_numbers_a_content_hash_keeps_reimport_idempotent(city):
    header = "접수일시,민원유형,내용,위도,경도"
    lat, lon = _north(0)
    line = f"2025-02-03 14:20,흡연,같은 내용,{lat},{lon}"
    data = csv_bytes(line, line, f"2025-02-04 09:00,흡연,다른 날,{lat},{lon}", header=header)
    first = _import(city, data)
    assert first.ok and first.new == 3 and len(first.duplicates) == 1  # the identical row
    assert [c.source_ref[:7] for c in _complaints(city)] == ["sha256:"] * 3
    again = _import(city, data)
    assert (again.new, again.already) == (0, 3) and len(_complaints(city)) == 3


def test_duplicates_are_recognised_stored_once_and_shown(city):
    data = csv_bytes(
        row(1, text="백석역 출구 앞 담배 연기가 너무 심합니다"),
        row(2, text="백석역 출구 앞 담배연기가 너무 심합니다!!", when="2025-02-03 18:05"),
        row(
            3, text="백석역 출구 앞 담배 연기가 너무 심합니다", when="2025-02-04 10:00"
        ),  # next day
        row(4, text="버스정류장 옆에서 매일 아침 흡연하는 사람들"),  # same day, other text
        row(5, text="백석역 출구 앞 담배 연기가 너무 심합니다", kind="소음"),  # other type
    )
    report = _import(city, data)
    assert report.ok and report.new == 5
    assert report.duplicates == [(3, "row 2")]  # spreadsheet rows: the header is row 1
    assert report.matched["smk-a"] == 3  # row 2 at the site counted once; 소음 has no site
    stored = {c.source_ref: c for c in _complaints(city)}
    assert stored["id:2025-00002"].duplicate_of == stored["id:2025-00001"].id
    assert stored["id:2025-00003"].duplicate_of is None
    # A later file repeating a stored complaint: recognised against the database.
    later = _import(city, csv_bytes(row(9, text="백석역 출구 앞 담배 연기가 너무 심합니다.")))
    assert later.duplicates == [(2, f"stored complaint {stored['id:2025-00001'].id}")]
    assert _complaints(city)[-1].duplicate_of == stored["id:2025-00001"].id


def test_the_monthly_counts_leave_repeats_out_and_name_the_file(city):
    same = "백석역 출구 앞 담배 연기가 너무 심합니다"
    _import(city, csv_bytes(row(1, text=same), row(2, text=same), row(3, when="2025-01-10 09:00")))
    with city.connect() as conn:
        months = monthly(conn).set_index("month")["complaints"]
        sources = provenance(conn)
        with_sites = districts(conn)
        district = conn.scalar(select(Region.id).where(Region.code == "4128500000"))
        elsewhere = conn.scalar(select(Region.id).where(Region.code == "1111000000"))
        in_district = monthly(conn, districts=(district,))["complaints"].sum()
        outside = monthly(conn, districts=(elsewhere,))
    assert list(with_sites["code"]) == ["4128500000"]  # 일산동구, where the site is
    assert (in_district, len(outside)) == (2, 0)
    assert months.to_dict() == {datetime(2025, 1, 1).date(): 1, datetime(2025, 2, 1).date(): 1}
    file = sources[sources["import_file"] == "민원.csv"].iloc[0]
    assert (file["complaints"], file["duplicates"]) == (3, 1)
    assert file["imported_at"] == NOW and file["first"] == datetime(2025, 1, 10, 0, 0, tzinfo=UTC)


def test_complaints_without_text_are_never_duplicates(city):
    report = _import(city, csv_bytes(row(1, text=""), row(2, text="")))
    assert report.ok and report.duplicates == [] and report.matched["smk-a"] == 2


@pytest.mark.parametrize(
    ("line", "column", "reason"),
    [
        (row(2, when="2025-13-40 10:00"), "접수일시", "not a date and time"),
        (row(2, when="어제"), "접수일시", "YYYY-MM-DD HH:MM"),
        (row(2, when="2025-03-02 10:00"), "접수일시", "in the future"),
        (row(2, kind=""), "민원유형", "required"),
        (row(2, at=None), "발생장소", "cannot place the complaint"),
        (row(2, at=None, place="어딘가 모르는 곳"), "발생장소", "cannot place the complaint"),
        (row(1), "접수번호", "appears twice"),
    ],
)
def test_a_bad_row_refuses_the_file_naming_row_and_column(city, line, column, reason):
    report = _import(city, csv_bytes(row(1), line))
    assert not report.ok and not report.stored
    assert any(e.row == 3 and e.column == column and reason in e.reason for e in report.errors), [
        str(e) for e in report.errors
    ]
    assert "nothing was stored" in report.summary()
    assert _complaints(city) == [] and _audits(city) == 0


def test_half_a_coordinate_pair_is_refused(city):
    line = "2025-1,2025-02-03 14:20,흡연,내용,,37.6432,,"
    report = _import(city, csv_bytes(line))
    assert [(e.row, e.column) for e in report.errors] == [(2, "경도(wgs84)")]


def test_header_problems_and_unreadable_files(city):
    missing = _import(city, csv_bytes("1,흡연", header="접수번호,민원유형"))
    assert any(e.row == 1 and "required column is missing" in e.reason for e in missing.errors)
    assert "접수일시" in missing.summary()
    assert "use .csv or .xlsx" in _import(city, b"x", name="민원.txt").summary()
    assert "no data rows" in _import(city, csv_bytes()).summary()
    assert _complaints(city) == []


def test_an_export_with_title_rows_and_extra_columns(city):
    """새올-style: a title and the export date above the header, columns we do not read (the
    complainant's name among them: never stored), times with 오전/오후."""
    book = Workbook()
    sheet = book.active
    sheet.append(["민원 접수 목록"])
    sheet.merge_cells("A1:F1")
    sheet.append(["출력일: 2025-03-01"])
    sheet.append([])
    sheet.append(
        ["접수번호", "민원인", "접수일자", "민원분류", "민원요지", "처리상태", "위도", "경도"]
    )
    sheet.append(["S-1", "홍길동", "2025-02-03 오후 2:20:00", "흡연", "연기", "완료", *SITE])
    sheet.append(["S-2", "김철수", "2025.02.04 오전 12:05", "흡연", "냄새", "처리중", *SITE])
    out = io.BytesIO()
    book.save(out)
    report = _import(city, out.getvalue(), name="새올.xlsx")
    assert report.ok, report.summary()
    assert report.ignored == ["민원인", "처리상태"] and "columns not read: 민원인, 처리상태" in (
        report.summary()
    )
    first, second = _complaints(city)
    assert first.received_at == datetime(2025, 2, 3, 5, 20, tzinfo=UTC)  # 14:20 KST
    assert second.received_at == datetime(2025, 2, 3, 15, 5, tzinfo=UTC)  # 00:05 KST
    with city.connect() as conn:
        stored = [str(v) for row in conn.execute(select(Complaint)).all() for v in row]
    assert "홍길동" not in stored and "완료" not in stored
    bad = Workbook()
    bad.active.append(["민원 접수 목록"])
    bad.active.append(["접수번호", "접수일자"])
    out = io.BytesIO()
    bad.save(out)
    refused = _import(city, out.getvalue(), name="bad.xlsx")
    assert any("required column is missing" in e.reason for e in refused.errors)


def test_an_excel_export_with_date_cells(city):
    book = Workbook()
    sheet = book.active
    sheet.append(["민원번호", "접수일시", "민원유형", "내용", "위도", "경도"])
    sheet.append(["A-1", datetime(2025, 2, 3, 14, 20), "간접흡연", "내용", SITE[0], SITE[1]])
    sheet.append([12345, datetime(2025, 2, 5), "흡연", None, SITE[0], SITE[1]])
    out = io.BytesIO()
    book.save(out)
    report = _import(city, out.getvalue(), name="새올.xlsx")
    assert report.ok, report.summary()
    refs = [c.source_ref for c in _complaints(city)]
    assert refs == ["id:A-1", "id:12345"]  # Excel's 12345.0 is the number 12345
    assert _complaints(city)[1].received_at == datetime(2025, 2, 4, 15, 0, tzinfo=UTC)


def test_a_dry_run_previews_and_stores_nothing(city):
    report = _import(city, csv_bytes(row(1), row(2, at=(500.0,))), dry_run=True)
    assert report.ok and not report.stored and report.new == 2
    assert "dry run" in report.summary() and "1 matched" in report.summary()
    assert _complaints(city) == [] and _audits(city) == 0


@pytest.mark.parametrize("role", ["operator", "council"])
def test_roles_without_import_data_are_refused(city, role):
    with pytest.raises(NotPermitted):
        import_complaints(city, csv_bytes(row(1)), "a.csv", SessionUser("x", "x", role), NOW)
    assert _complaints(city) == []


# --- the command --------------------------------------------------------------------------------


@pytest.fixture
def configured(db_url, monkeypatch):
    monkeypatch.setenv("ANBU_DATABASE_URL", db_url)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_cli_exit_codes(configured, tmp_path: Path, capsys):
    good = tmp_path / "민원.csv"
    good.write_bytes(csv_bytes(row(1), row(2, at=(500.0,))))
    code, out = _run(capsys, "complaints", "import", str(good))
    assert code == 2 and "db upgrade" in out  # no tables yet
    assert _run(capsys, "db", "upgrade")[0] == 0 and _run(capsys, "init")[0] == 0
    from dashboard.db.engine import make_engine

    engine = make_engine(configured)
    with engine.begin() as conn:
        _add_site(conn, "smk-a", *SITE)

    assert _run(capsys, "complaints", "import", str(tmp_path / "none.csv"))[0] == 2
    assert _run(capsys, "complaints", "import", str(good), "--radius", "0")[0] == 2
    code, out = _run(capsys, "complaints", "import", str(good), "--dry-run")
    assert code == 0 and "dry run" in out and len(_complaints(engine)) == 0
    code, out = _run(capsys, "complaints", "import", str(good))
    assert code == 0 and "stored" in out and "site smk-a: 1" in out
    code, out = _run(capsys, "complaints", "import", str(good))
    assert code == 0 and "nothing to change" in out
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_bytes(row(7, when="2025-02-31 10:00")))
    code, out = _run(capsys, "complaints", "import", str(bad))
    assert code == 1 and "row 2, column 접수일시" in out and "nothing was stored" in out
    assert len(_complaints(engine)) == 2
    engine.dispose()


def test_a_nul_character_in_a_complaint_is_refused_not_raised(city):
    report = _import(city, csv_bytes(row(1), row(2, text="담배\x00연기")))
    assert not report.ok and [e.key for e in report.errors] == ["csv_nul"]
    assert _complaints(city) == [] and _audits(city) == 0
