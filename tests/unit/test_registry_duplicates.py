"""Possible duplicates at the roster import and on the person: a row that may be a person
enrolled under another 대상자번호 is imported with a warning naming the row and the other
대상자번호; a lead marks a pair as different people (audited, kept across re-imports); on
SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import event, func, select

from dashboard.auth import NotPermitted, SessionUser
from dashboard.db.schema import AuditLog, CareRecipient, DifferentPeople
from dashboard.enrollment import (
    EnrollmentError,
    NotFound,
    end_enrollment,
    mark_different,
    suspected_duplicates,
    unmark_different,
)
from dashboard.registry import PEOPLE, import_people
from dashboard.registry import roster as roster_module
from dashboard.registry.roster import DuplicateWarning
from queries.duplicates import suspected_list
from tests.registry_support import CHEONGUN, LEAD, NOW, counts, person, prepare, roster_csv

ADMIN = SessionUser("admin-1", "admin-1", "admin")
OPERATOR = SessionUser("op-1", "op-1", "operator", ("1111000000",))  # 종로구
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


def _audit(engine) -> list[tuple]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(AuditLog.actor, AuditLog.action, AuditLog.entity_id, AuditLog.detail).where(
                AuditLog.action.like("duplicate_%")
            )
        )
        return [tuple(r) for r in rows]


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


# --- the person page's read, and a lead's judgement -----------------------------------------------


def _pair(city) -> tuple[int, int]:
    report = _import(city, [person(2, **STRANGER | SECOND_KEYS["home"])])
    assert report.stored and report.duplicates
    return _id(city, "P-0001"), _id(city, "P-0002")


def test_the_suspects_name_the_other_and_the_keys_never_a_value(city) -> None:
    first, second = _pair(city)
    with city.connect() as conn:
        for me, other in ((first, "P-0002"), (second, "P-0001")):
            [suspect] = suspected_duplicates(conn, LEAD, me)
            assert (suspect.external_ref, suspect.keys, suspect.different) == (
                other,
                ("home",),
                False,
            )
            assert suspect.open_alerts == 0 and suspect.program_code == "seoul_smart_plug"
        # Admins manage the roster without personal data: the 대상자번호 and the keys' names.
        [seen] = suspected_duplicates(conn, ADMIN, first)
        assert seen.external_ref == "P-0002"
        assert not {"김복순", "37.575", "010-1111-0001"} & {str(v) for v in vars(seen).values()}
        listed = suspected_list(conn)
    assert list(zip(listed["first_ref"], listed["second_ref"], strict=True)) == [
        ("P-0001", "P-0002")
    ]


def test_operators_do_not_see_the_suspicion(city) -> None:
    first, _ = _pair(city)
    with city.connect() as conn, pytest.raises(NotPermitted) as info:
        suspected_duplicates(conn, OPERATOR, first)
    assert info.value.reason == "role"


def test_a_lead_marks_a_pair_as_different_people_audited_and_kept_on_reimport(city) -> None:
    first, second = _pair(city)
    with city.begin() as conn:
        assert mark_different(conn, LEAD, NOW, second, first) is True
    with city.begin() as conn:
        assert mark_different(conn, LEAD, NOW, first, second) is False  # already: nothing written
    assert _audit(city) == [
        (
            "lead-1",
            "duplicate_dismiss",
            str(first),
            {"pair": [first, second], "refs": ["P-0001", "P-0002"], "keys": ["home"]},
        )
    ]
    with city.connect() as conn:
        [suspect] = suspected_duplicates(conn, LEAD, first)
        assert suspect.different and suspect.marked_by == "lead-1"
        assert suspected_list(conn).empty
    # Re-importing both (unchanged, then with one more key in common): no warning.
    again = _import(city, [person(1, **STORED), person(2, **STRANGER | SECOND_KEYS["home"])])
    assert again.ok and again.duplicates == [] and not again.stored
    changed = STRANGER | SECOND_KEYS["home"] | SECOND_KEYS["phone"]
    again = _import(city, [person(2, **changed)])
    assert again.stored and again.duplicates == [], again.summary()
    # A third record of the same person is a new pair: warned about.
    third = _import(city, [person(3, **changed)])
    assert {w.other_ref for w in third.duplicates} == {"P-0001", "P-0002"}
    # Undone: the pair is named again, and the undo is audited.
    with city.begin() as conn:
        assert unmark_different(conn, LEAD, NOW, first, second) is True
    with city.begin() as conn:
        assert unmark_different(conn, LEAD, NOW, first, second) is False
    assert [row[1] for row in _audit(city)] == ["duplicate_dismiss", "duplicate_restore"]
    again = _import(city, [person(2, **changed)])
    assert [w.other_ref for w in again.duplicates] == ["P-0001", "P-0003"]


@pytest.mark.parametrize("who", [ADMIN, OPERATOR, SessionUser("c", "c", "council")])
def test_only_leads_judge_a_pair(city, who) -> None:
    first, second = _pair(city)
    for act in (mark_different, unmark_different):
        with city.connect() as conn, pytest.raises(NotPermitted) as info:
            act(conn, who, NOW, first, second)
        assert (info.value.action, info.value.reason) == ("resolve_duplicates", "role")
    with city.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DifferentPeople)) == 0
    assert _audit(city) == []


def test_what_cannot_be_marked(city) -> None:
    first, second = _pair(city)
    other = _import(city, [person(5, name="이영희")])
    assert other.stored
    cases = [
        ((first, first), EnrollmentError, "same_person"),
        ((first, _id(city, "P-0005")), EnrollmentError, "not_suspected"),
        ((first, 99_999), NotFound, None),
    ]
    for (a, b), error, key in cases:
        with city.connect() as conn, pytest.raises(error) as info:
            mark_different(conn, LEAD, NOW, a, b)
        assert getattr(info.value, "key", None) == key or error is NotFound
    with city.begin() as conn:
        end_enrollment(conn, LEAD, NOW, second, "moved", date(2025, 2, 1))
    with city.connect() as conn, pytest.raises(EnrollmentError) as info:
        mark_different(conn, LEAD, NOW, first, second)
    assert info.value.key == "person_ended"
    with city.connect() as conn:
        assert suspected_duplicates(conn, LEAD, first) == []  # an ended enrollment is history
        assert conn.scalar(select(func.count()).select_from(DifferentPeople)) == 0
    assert _audit(city) == []
