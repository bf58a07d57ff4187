"""Possible duplicates at the roster import: a row that may be a person enrolled under another
대상자번호 is imported with a warning naming the row and the other 대상자번호; on SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, select

from dashboard.db.schema import CareRecipient
from dashboard.enrollment import end_enrollment
from dashboard.registry import PEOPLE, import_people
from dashboard.registry import roster as roster_module
from dashboard.registry.roster import DuplicateWarning
from tests.registry_support import CHEONGUN, LEAD, NOW, counts, person, prepare, roster_csv

NEAR_LAT = "37.5751"  # about 11 m north of the stored home
FAR_LAT = "37.5755"  # about 56 m north

# The stored person, and a file row that shares name and birth year and nothing else.
STORED = {
    "name": "김복순",
    "phone": "010-1111-0001",
    "address": "서울특별시 종로구 가나로 1",
    "guardian_phone": "010-2222-0001",
    "home_lat": "37.5750",
    "home_lon": "126.9700",
}
STRANGER = {
    "name": "김 복순",
    "phone": "010-1111-0002",
    "address": "서울특별시 종로구 다라로 9",
    "guardian_phone": "010-2222-0002",
    "home_lat": FAR_LAT,
    "home_lon": "126.9700",
}
# Another phone, address and home than STRANGER's.
ELSEWHERE = {
    "phone": "010-9999-0009",
    "address": "서울특별시 종로구 마바로 5",
    "home_lat": "37.5800",
}
SECOND_KEYS = {
    "phone": {"phone": "1011110001"},  # the zero Excel dropped
    "address": {"address": "서울특별시 종로구가나로 1 (사직동)"},
    "guardian_phone": {"guardian_phone": "010 2222 0001"},
    "home": {"home_lat": NEAR_LAT},
}


@pytest.fixture
def city(db_engine):
    prepare(db_engine)
    report = _import(db_engine, [person(1, **STORED)])
    assert report.stored and not report.duplicates, report.summary()
    return db_engine


def _import(engine, rows, *, dry_run=False, who=LEAD):
    return import_people(engine, roster_csv(PEOPLE, rows), "people.csv", who, NOW, dry_run=dry_run)


def _id(engine, ref: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))


# --- detection at the import ----------------------------------------------------------------------


@pytest.mark.parametrize("key", list(SECOND_KEYS))
def test_a_row_matching_a_stored_person_is_imported_with_a_warning(city, key) -> None:
    before = counts(city)[0]
    report = _import(city, [person(2, **STRANGER | SECOND_KEYS[key])])
    assert report.ok and report.stored, report.summary()  # still imported: staff may know better
    assert report.duplicates == [DuplicateWarning(2, "P-0002", "P-0001", None, (key,))]
    assert counts(city)[0] == before + 1
    text = report.summary()
    assert "warning: 1 row(s) may be a person already enrolled under another 대상자번호" in text
    assert "row 2 (P-0002): possibly the same person as P-0001 (same name and birth year; " in text
    assert text.endswith("stored")
    for value in ("김복순", "010", "가나로", "37.57"):  # names keys, never values
        assert value not in text.split("stored")[0].split("warning:")[1], value


@pytest.mark.parametrize(
    "changes",
    [
        {},  # the same name and birth year only
        STORED | {"birth_year": "1945"},  # everything the same but the birth year
        STORED | {"name": "김복희"},  # everything the same but the name
    ],
    ids=["name-and-year-only", "another-birth-year", "another-name"],
)
def test_near_misses_are_not_warned_about(city, changes) -> None:
    report = _import(city, [person(2, **STRANGER | changes)])
    assert report.stored and report.duplicates == [], report.summary()
    assert "warning" not in report.summary()


def test_two_rows_of_one_file_and_a_row_updating_a_stored_person(city) -> None:
    rows = [
        person(1, **STORED),  # unchanged: the stored P-0001 as the file has it
        person(2, **STRANGER | {"guardian_phone": "010-3333-0003"}),
        person(3, **STRANGER | {"guardian_phone": "010-3333-0003"} | ELSEWHERE),
        person(4, **STORED | {"birth_year": "1950"}),  # a near miss
    ]
    report = _import(city, rows)
    assert report.stored, report.summary()
    assert report.duplicates == [DuplicateWarning(4, "P-0003", "P-0002", 3, ("guardian_phone",))]
    assert "row 4 (P-0003): possibly the same person as P-0002 on row 3" in report.summary()


def test_a_person_moved_into_the_file_is_compared_as_the_file_has_them(city) -> None:
    """The stored P-0001 moves to another dong of Seoul with a new phone: compared with the
    file's values, not the stored ones (the file is the state after the import)."""
    rows = [
        person(1, **STORED | {"dong_code": CHEONGUN, "phone": "010-4444-0004"}),
        person(2, **STRANGER | {"phone": "010-4444-0004"}),
    ]
    report = _import(city, rows)
    assert report.duplicates == [DuplicateWarning(3, "P-0002", "P-0001", 2, ("phone",))]


def test_another_city_and_an_ended_enrollment_are_not_compared(city) -> None:
    goyang = {"dong_code": "4128552000", "program": "goyang_ai_call"}
    report = _import(city, [person(2, **STORED | goyang)])
    assert report.duplicates == [], report.summary()
    with city.begin() as conn:
        end_enrollment(conn, LEAD, NOW, _id(city, "P-0001"), "moved", date(2025, 2, 1))
    # Re-enrolled under a new 대상자번호 on purpose (docs/roster.md): no warning.
    report = _import(city, [person(3, **STORED)])
    assert report.stored and report.duplicates == [], report.summary()


def test_a_dry_run_warns_and_stores_nothing(city) -> None:
    before = counts(city)
    report = _import(city, [person(2, **STRANGER | SECOND_KEYS["phone"])], dry_run=True)
    assert report.ok and not report.stored and len(report.duplicates) == 1
    assert "dry run: the file is valid; nothing was stored" in report.summary()
    assert counts(city) == before


def test_the_check_adds_two_queries_whatever_the_files_size(city, monkeypatch) -> None:
    """Not one query per row: the active people of the file's cities and birth years, and the
    pairs marked different, once per import."""

    def statements(rows, check: bool) -> int:
        seen = []
        if not check:
            monkeypatch.setattr(roster_module, "_duplicate_people", lambda conn, rows: [])
        listen = lambda *args: seen.append(args[2])  # noqa: E731
        event.listen(city, "before_cursor_execute", listen)
        try:
            report = _import(city, rows, dry_run=True)
        finally:
            event.remove(city, "before_cursor_execute", listen)
            monkeypatch.undo()
        assert report.ok, report.summary()
        return len(seen)

    for n in (5, 600):
        rows = [person(10 + i, **STRANGER | {"name": f"시험{i}"}) for i in range(n)]
        assert statements(rows, True) - statements(rows, False) == 2, n
