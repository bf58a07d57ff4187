"""Participation import: enrolment and weekly activity files as program systems export them,
per-row errors naming row and column, all or nothing, preview, idempotent re-import, audit,
permission, the CLI's exit codes; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from dashboard import cli
from dashboard.auth import NotPermitted, SessionUser
from dashboard.catalog import load_catalog
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, DataImport, Enrolment, ParticipationWeek, Program
from dashboard.participation import import_participation, importer
from dashboard.settings import PROJECT_ROOT, get_settings

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")
SAMPLES = PROJECT_ROOT / "data" / "samples"
ENROLMENTS = SAMPLES / "participation-enrolments-sample.csv"
ACTIVITY = SAMPLES / "participation-activity-sample.csv"
HEAD = "사업,참여자번호,행정동,등록일,상태,종료일,건강행태개선"


@pytest.fixture
def city(db_engine):
    with db_engine.begin() as conn:
        load_catalog(conn)
    return db_engine


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _enrolments(engine) -> dict[str, Enrolment]:
    with engine.connect() as conn:
        return {r.participant_ref: r for r in conn.execute(select(Enrolment)).all()}


def test_enrolment_sample_then_activity_sample(city):
    report = import_participation(city, ENROLMENTS.read_bytes(), "명단.csv", LEAD, NOW)
    assert report.stored, report.summary()
    assert report.kind == "enrolment records" and len(report.new) == 5
    people = _enrolments(city)
    first, dropped = people["MH24-0001"], people["MH24-0003"]
    assert (first.status, first.ended_on, first.improved, first.risk_reduced, first.sex) == (
        "completed",
        date(2024, 6, 24),
        True,
        True,
        "F",
    )
    assert (dropped.status, dropped.improved, dropped.cohort) == ("dropped", None, "chronic")
    with city.connect() as conn:
        program = conn.scalar(select(Program.id).where(Program.code == "goyang_mobile_health"))
    assert {p.program_id for p in people.values()} == {program}

    report = import_participation(city, ACTIVITY.read_bytes(), "활동.csv", LEAD, NOW)
    assert report.stored, report.summary()
    assert report.kind == "weekly activity records" and len(report.new) == 81
    assert _count(city, ParticipationWeek) == 81
    with city.connect() as conn:
        kinds = conn.execute(select(DataImport.kind, DataImport.filename)).all()
        audit = conn.execute(select(AuditLog.action, AuditLog.actor)).all()
    assert kinds == [("participation", "명단.csv"), ("participation", "활동.csv")]
    assert audit == [("participation_import", "lead-1")] * 2


def test_reimport_is_idempotent_and_a_change_updates_in_place(city):
    data = ENROLMENTS.read_bytes()
    assert import_participation(city, data, "a.csv", LEAD, NOW).stored
    again = import_participation(city, data, "a.csv", LEAD, NOW)
    assert again.ok and not again.stored and again.unchanged == 5 and not again.new
    assert "nothing to change" in again.summary()
    changed = data.decode().replace("2024-06-24,아니오,예", "2024-06-24,예,예").encode()
    report = import_participation(city, changed, "b.csv", LEAD, NOW)
    assert report.stored and report.changed == [("MH24-0002", ("improved",))]
    assert _count(city, Enrolment) == 5 and _enrolments(city)["MH24-0002"].improved is True
    import_participation(city, ACTIVITY.read_bytes(), "w.csv", LEAD, NOW)
    week = ACTIVITY.read_text().replace("MH24-0005,0,0", "MH24-0005,0,2").encode()
    report = import_participation(city, week, "w2.csv", LEAD, NOW)
    assert report.changed == [("MH24-0005 week 0", ("active_days",))] and report.unchanged == 80
    assert _count(city, ParticipationWeek) == 81
    with city.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DataImport)) == 4


def test_errors_name_row_and_column_and_nothing_is_stored(city):
    bad = "\n".join(
        [
            HEAD,
            "goyang_mobile_health,A-1,백석1동,2024-01-08,완료,2024-06-24,예",  # fine
            "walking_club,A-2,백석1동,2024-01-08,,,",  # unknown program
            "goyang_mobile_health,A-3,어딘가동,2024-01-08,,,",  # unknown dong
            "goyang_mobile_health,A-4,백석1동,2024-13-01,,,",  # not a date
            "goyang_mobile_health,A-5,백석1동,2024-01-08,완료,,",  # completed without 종료일
            "goyang_mobile_health,A-6,백석1동,2024-01-08,참여중,,아마",  # not yes/no
            "goyang_mobile_health,A-7,백석1동,2025-01-08,,,",  # in the future
            "goyang_mobile_health,A-1,백석1동,2024-01-08,,,",  # the same participant again
            "goyang_mobile_health,A-9,백석1동,2024-03-08,중도탈락,2024-02-01,",  # ends before
        ]
    )
    report = import_participation(city, bad.encode(), "bad.csv", LEAD, NOW)
    assert not report.ok and not report.stored
    assert [(e.row, e.column) for e in report.errors] == [
        (3, "사업"),
        (4, "행정동"),
        (5, "등록일"),
        (6, "종료일"),
        (7, "건강행태개선"),
        (8, "등록일"),
        (9, "참여자번호"),
        (10, "종료일"),
    ]
    assert "row 2" in report.errors[6].reason
    assert _count(city, Enrolment) == 0 and _count(city, DataImport) == 0
    assert _count(city, AuditLog) == 0


def test_activity_needs_enrolled_participants_and_whole_days(city):
    import_participation(city, ENROLMENTS.read_bytes(), "a.csv", LEAD, NOW)
    bad = "사업,참여자번호,주차,활동일수\n" + "\n".join(
        [
            "goyang_mobile_health,MH24-0001,0,8",
            "goyang_mobile_health,MH24-0001,1,2.5",
            "goyang_mobile_health,MH24-0001,-1,2",
        ]
    )
    report = import_participation(city, bad.encode(), "w.csv", LEAD, NOW)
    found = [(e.row, e.column) for e in report.errors]
    assert found == [(2, "활동일수"), (3, "활동일수"), (4, "주차")]
    unknown = "사업,참여자번호,주차,활동일수\ngoyang_mobile_health,NOBODY,0,3\n"
    report = import_participation(city, unknown.encode(), "w.csv", LEAD, NOW)
    assert [(e.row, e.column) for e in report.errors] == [(2, "참여자번호")]
    assert "import the enrolment file" in report.errors[0].reason
    assert _count(city, ParticipationWeek) == 0


def test_header_problems(city):
    missing = "사업,참여자번호,행정동\ngoyang_mobile_health,A,백석1동\n"
    report = import_participation(city, missing.encode(), "m.csv", LEAD, NOW)
    assert [(e.row, e.column, e.reason) for e in report.errors] == [
        (1, "등록일", "required column is missing")
    ]
    mixed = "사업,참여자번호,주차,활동일수,행정동\ngoyang_mobile_health,A,0,1,백석1동\n"
    report = import_participation(city, mixed.encode(), "x.csv", LEAD, NOW)
    assert "enrolment file" in report.errors[0].reason
    report = import_participation(city, b"\x00\x01 not a table", "x.xlsx", LEAD, NOW)
    assert report.unreadable and not report.ok


def test_merged_header_and_thousands_in_a_workbook(city):
    book = Workbook()
    sheet = book.active
    sheet.append(["모바일 헬스케어 참여자 현황"])
    sheet.append(["사업", "참여자번호", "지역", "등록일", "결과", None])
    sheet.append([None, None, None, None, "건강행태개선", "위험요인감소"])
    sheet.merge_cells("E2:F2")
    for column in "ABCD":
        sheet.merge_cells(f"{column}2:{column}3")
    sheet.append(["모바일 헬스케어", 1001, "4128555100", datetime(2024, 3, 4), "예", "아니오"])
    out = io.BytesIO()
    book.save(out)
    report = import_participation(city, out.getvalue(), "merged.xlsx", LEAD, NOW)
    assert report.stored, report.summary()
    person = _enrolments(city)["1001"]
    assert (person.enrolled_on, person.status, person.improved, person.risk_reduced) == (
        date(2024, 3, 4),
        "active",
        True,
        False,
    )


def test_only_import_data_may_import(city):
    data = ENROLMENTS.read_bytes()
    for role in ("operator", "council"):
        with pytest.raises(NotPermitted):
            import_participation(city, data, "a.csv", SessionUser("x", "x", role), NOW)
    assert _count(city, Enrolment) == 0


# --- CLI ----------------------------------------------------------------------------------------


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
    sample = str(ENROLMENTS)
    code, out = _run(capsys, "participation", "import", sample)
    assert code == 2 and "no participation tables yet" in out
    assert _run(capsys, "db", "upgrade")[0] == 0
    assert _run(capsys, "init")[0] == 0
    assert _run(capsys, "participation", "import", str(tmp_path / "missing.csv"))[0] == 2
    junk = tmp_path / "junk.xlsx"
    junk.write_bytes(b"PK\x03\x04 broken")
    assert _run(capsys, "participation", "import", str(junk))[0] == 2

    code, out = _run(capsys, "participation", "import", sample, "--dry-run")
    assert code == 0 and "5 new" in out and "dry run" in out
    engine = make_engine(configured)
    try:
        assert _count(engine, Enrolment) == 0
        code, out = _run(capsys, "participation", "import", sample)
        assert code == 0 and "stored" in out and _count(engine, Enrolment) == 5
        code, out = _run(capsys, "participation", "import", sample)
        assert code == 0 and "nothing to change" in out
        bad = tmp_path / "bad.csv"
        bad.write_text(f"{HEAD}\ngoyang_mobile_health,Z,백석1동,someday,,,\n", encoding="utf-8")
        code, out = _run(capsys, "participation", "import", str(bad))
        assert code == 1 and "row 2, column 등록일" in out and "nothing was stored" in out
        assert _count(engine, Enrolment) == 5
    finally:
        engine.dispose()


def test_the_sample_files_are_documented():
    doc = (PROJECT_ROOT / "docs" / "participation-import.md").read_text(encoding="utf-8")
    for path in (ENROLMENTS, ACTIVITY):
        assert path.is_file() and path.name in doc
    assert "participation import FILE [--dry-run]" in doc
    # The columns, the status words and the week range the doc lists are the importer's.
    for column in importer.COLUMNS:
        assert f"| {column.label} " in doc, column.label
    for word in importer.STATUSES:
        assert word in doc or word.isascii(), word
    assert f"0–{importer.MAX_WEEK}" in doc
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/participation-import.md" in readme
