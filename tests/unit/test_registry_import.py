"""Bulk roster import: people and devices checked row by row, previewed, stored all or nothing,
idempotent on re-import; on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import date

import pytest
from sqlalchemy import select, update

from dashboard.auth import NotPermitted, SessionUser
from dashboard.db.schema import AuditLog, CareRecipient, Device, Region
from dashboard.registry import DEVICES, PEOPLE, import_devices, import_people
from tests.registry_support import (
    CHEONGUN,
    LEAD,
    NOW,
    SAJIK,
    counts,
    device,
    person,
    prepare,
    roster_csv,
    roster_xlsx,
)


@pytest.fixture
def city(db_engine):
    prepare(db_engine)
    return db_engine


def _people(engine, rows, korean=True, dry_run=False, fmt="csv"):
    make = roster_csv if fmt == "csv" else roster_xlsx
    data = make(PEOPLE, rows, korean)
    return import_people(engine, data, f"people.{fmt}", LEAD, NOW, dry_run=dry_run)


def _devices(engine, rows, korean=True, fmt="csv"):
    make = roster_csv if fmt == "csv" else roster_xlsx
    return import_devices(engine, make(DEVICES, rows, korean), f"devices.{fmt}", LEAD, NOW)


def _person_row(engine, ref):
    with engine.connect() as conn:
        return conn.execute(select(CareRecipient).where(CareRecipient.external_ref == ref)).one()


def _region_id(engine, code):
    with engine.connect() as conn:
        return conn.scalar(select(Region.id).where(Region.code == code))


# --- people -------------------------------------------------------------------------------------


@pytest.mark.parametrize("korean", [True, False], ids=["korean", "english"])
def test_people_are_stored_with_normalised_values(city, korean):
    report = _people(city, [person(1), person(2, sex="M", phone="+82-2-123-4567")], korean)
    assert report.ok and report.stored, report.summary()
    assert (len(report.new), len(report.changed), report.unchanged) == (2, 0, 0)
    first, second = _person_row(city, "P-0001"), _person_row(city, "P-0002")
    assert (first.sex, first.pii_phone, first.household) == ("F", "010-1234-0001", "alone")
    assert (second.sex, second.pii_phone) == ("M", "02-123-4567")
    assert first.region_id == _region_id(city, SAJIK)
    assert (first.birth_year, first.no_change_hours, first.safe_zone_m) == (1944, 36, None)
    assert first.enrolled_on == date(2025, 1, 2)
    assert (first.pii_home_lat, first.pii_home_lon) == (37.5759, 126.9688)
    with city.connect() as conn:
        audit = conn.execute(select(AuditLog)).all()
    assert [(a.actor, a.action, a.entity_type) for a in audit] == [
        ("lead-1", "roster_import_people", "roster_import")
    ]
    detail = audit[0].detail
    assert detail == {
        "filename": "people.csv",
        "bytes": detail["bytes"],
        "rows": 2,
        "new": 2,
        "changed": 0,
        "unchanged": 0,
    }
    assert "시험1" not in json.dumps(detail, ensure_ascii=False)


def test_people_from_an_excel_workbook_with_date_and_number_cells(city):
    # Excel keeps dates as date cells, numbers as numbers, and drops a phone's leading zero.
    row = person(
        1,
        birth_year=1944,
        phone=1012340001,
        home_lat=37.5759,
        home_lon=126.9688,
        enrolled_on=date(2025, 1, 2),
        no_change_hours=36,
        dong_code=int(SAJIK),
    )
    report = _people(city, [row], fmt="xlsx")
    assert report.ok and report.stored, report.summary()
    stored = _person_row(city, "P-0001")
    assert (stored.pii_phone, stored.enrolled_on) == ("010-1234-0001", date(2025, 1, 2))
    # The same person from a CSV afterwards is the same person: nothing to change.
    again = _people(city, [person(1)])
    assert again.ok and (len(again.new), len(again.changed), again.unchanged) == (0, 0, 1)


def test_a_csv_saved_from_excel_keeps_phones_that_lost_their_leading_zero(city):
    """Excel reads 010-… typed as 01012340001 as a number and saves the CSV as 1012340001 (a
    Seoul 02-… as 2…): the docs accept that Excel number, but from a CSV it is text and the
    whole roster was refused, one error per phone."""
    report = _people(city, [person(1, phone="1012340001", guardian_phone="21234567")])
    assert report.ok and report.stored, report.summary()
    stored = _person_row(city, "P-0001")
    assert (stored.pii_phone, stored.pii_guardian_phone) == ("010-1234-0001", "02-123-4567")
    # Digits that are no number without their zero stay refused (a 1588 line, a short one).
    for bad in ("15881234", "10123"):
        refused = _people(city, [person(2, phone=bad)])
        assert [e.key for e in refused.errors] == ["bad_phone"], bad


BAD_PEOPLE = [
    ("dong_code", "1111099999", "unknown dong 1111099999"),
    ("dong_code", "1111000000", "is a district, not a dong"),
    ("dong_code", "11110", "10-digit"),
    ("program", "busan_plug", "unknown program 'busan_plug'"),
    ("program", "goyang_walkon", "participation program"),
    ("phone", "010-12", "not a Korean phone number"),
    ("phone", "1588-1234", "not a Korean phone number"),
    ("guardian_phone", "phone", "not a Korean phone number"),
    ("birth_year", "1899", "between 1,900 and 2,025"),
    ("birth_year", "2026", "between 1,900 and 2,025"),
    ("birth_year", "abc", "must be a number"),
    ("sex", "X", "must be M or F"),
    ("no_change_hours", "12", "between 24 and 50"),
    ("safe_zone_m", "0", "between 50 and 5,000"),
    ("safe_zone_m", "20000", "between 50 and 5,000"),
    ("safe_zone_m", "10", "between 50 and 5,000"),
    ("home_lat", "40.1", "inside Korea"),
    ("home_lat", "38.9", "inside Korea"),
    ("home_lon", "124.2", "inside Korea"),
    ("home_lon", "", "give both latitude and longitude"),
    ("enrolled_on", "2025-03-02", "is in the future"),
    ("enrolled_on", "02/01/2025", "write it as YYYY-MM-DD"),
    ("name", "", "required"),
    ("external_ref", "P 1", "must not contain spaces"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD_PEOPLE, ids=[b[2] for b in BAD_PEOPLE])
def test_a_bad_cell_refuses_the_whole_file(city, key, value, reason):
    column = next(c for c in PEOPLE.columns if c.key == key)
    report = _people(city, [person(1), person(2, **{key: value})])
    assert not report.ok and not report.stored
    assert [(e.row, e.column) for e in report.errors] == [(3, column.ko)], report.summary()
    assert reason in report.errors[0].reason
    assert f"row 3, column {column.ko}: " in report.summary()
    assert counts(city) == (0, 0, 0)  # not even the good first row, not an audit row


def test_duplicate_refs_in_the_file(city):
    report = _people(city, [person(1), person(2), person(1, name="다른사람")])
    assert not report.ok
    assert [(e.row, e.column) for e in report.errors] == [(4, "대상자번호")]
    assert "duplicate external_ref 'P-0001' (also on row 2)" in report.errors[0].reason
    assert counts(city) == (0, 0, 0)


def test_header_problems_are_reported_on_row_1(city):
    data = "성명,name,별명,대상자번호\r\n홍길동,홍길동,길동,P-1\r\n".encode()
    report = import_people(city, data, "people.csv", LEAD, NOW)
    reasons = {(e.row, e.column): e.reason for e in report.errors}
    assert "appears twice" in reasons[(1, "name")]
    assert "unknown column" in reasons[(1, "별명")]
    assert "required column is missing" in reasons[(1, "출생연도")]
    assert counts(city) == (0, 0, 0)


def test_unreadable_files_are_refused_with_a_reason(city):
    assert "use .csv or .xlsx" in str(import_people(city, b"x", "people.txt", LEAD, NOW).errors[0])
    report = import_people(city, b"\xff\xfe\x00bad", "people.xlsx", LEAD, NOW)
    assert "not a readable .xlsx workbook" in report.errors[0].reason
    only_header = roster_csv(PEOPLE, [])
    assert "no data rows" in import_people(city, only_header, "p.csv", LEAD, NOW).errors[0].reason
    assert counts(city) == (0, 0, 0)


def test_preview_counts_new_changed_and_unchanged_with_field_names(city):
    assert _people(city, [person(1), person(2), person(3)]).stored
    update_rows = [
        person(1),
        person(2, phone="010-9999-0002", address="서울특별시 종로구 새주소 2"),
        person(3, dong_code=CHEONGUN, program="seoul_smart_plug"),
        person(4),
    ]
    preview = _people(city, update_rows, dry_run=True)
    assert preview.ok and not preview.stored
    assert preview.new == ["P-0004"]
    assert preview.changed == [("P-0002", ("phone", "address")), ("P-0003", ("dong_code",))]
    assert preview.unchanged == 1
    assert "changed P-0002: phone, address" in preview.summary()
    assert "010-9999" not in preview.summary() and "새주소" not in preview.summary()
    assert counts(city) == (3, 0, 1)  # the dry run stored nothing, audited nothing

    stored = _people(city, update_rows)
    assert stored.stored and (len(stored.new), len(stored.changed)) == (1, 2)
    assert _person_row(city, "P-0002").pii_phone == "010-9999-0002"
    assert _person_row(city, "P-0003").region_id == _region_id(city, CHEONGUN)


def test_re_importing_the_same_roster_changes_nothing(city):
    rows = [person(n) for n in range(1, 6)]
    assert _people(city, rows).stored
    before = counts(city)
    again = _people(city, rows)
    assert again.ok and not again.stored
    assert (len(again.new), len(again.changed), again.unchanged) == (0, 0, 5)
    assert "nothing to change" in again.summary()
    assert counts(city) == before  # no new rows, no audit row for a no-op


def test_household_has_no_column_and_survives_an_update(city):
    assert _people(city, [person(1)]).stored
    with city.begin() as conn:
        conn.execute(update(CareRecipient).values(household="couple_75plus", risk_group="dementia"))
    assert _people(city, [person(1, name="새이름")]).changed == [("P-0001", ("name",))]
    row = _person_row(city, "P-0001")
    assert (row.pii_name, row.household, row.risk_group) == ("새이름", "couple_75plus", "dementia")


def test_a_blank_optional_cell_clears_the_stored_value(city):
    assert _people(city, [person(1, guardian_name="보호자", guardian_phone="01011112222")]).stored
    report = _people(city, [person(1)])
    assert report.changed == [("P-0001", ("guardian_name", "guardian_phone"))]
    assert _person_row(city, "P-0001").pii_guardian_phone is None


def test_without_the_catalog_the_import_says_to_run_init(db_engine):
    report = import_people(db_engine, roster_csv(PEOPLE, [person(1)]), "p.csv", LEAD, NOW)
    assert "python -m dashboard init" in report.errors[0].reason


@pytest.mark.parametrize("role", ["operator", "council"])
def test_roles_without_manage_roster_are_refused(city, role):
    who = SessionUser(f"{role}-1", f"{role}-1", role, ("1111000000",))
    with pytest.raises(NotPermitted):
        import_people(city, roster_csv(PEOPLE, [person(1)]), "p.csv", who, NOW)
    assert counts(city) == (0, 0, 0)


# --- devices ------------------------------------------------------------------------------------


@pytest.fixture
def people(city):
    assert _people(city, [person(n) for n in range(1, 4)]).stored
    with city.begin() as conn:
        conn.execute(AuditLog.__table__.delete())
    return city


def _device_row(engine, uid):
    with engine.connect() as conn:
        return conn.execute(select(Device).where(Device.device_uid == uid)).one()


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
@pytest.mark.parametrize("korean", [True, False], ids=["korean", "english"])
def test_devices_are_linked_to_their_people(people, korean, fmt):
    rows = [device(1), device(2, dong_code=CHEONGUN), device(3)]
    if fmt == "xlsx":
        rows = [r | {"installed_on": date(2025, 1, 3)} for r in rows]
    report = _devices(people, rows, korean, fmt)
    assert report.ok and report.stored, report.summary()
    plug = _device_row(people, "PLUG-0001")
    owner = _person_row(people, "P-0001")
    assert (plug.recipient_id, plug.vendor, plug.type_code, plug.status) == (
        owner.id,
        "acme",
        "smart_plug",
        "active",
    )
    assert plug.region_id == owner.region_id  # no dong given: the person's
    assert _device_row(people, "PLUG-0002").region_id == _region_id(people, CHEONGUN)
    assert plug.installed_on == date(2025, 1, 3)
    assert counts(people)[1:] == (3, 1)
    again = _devices(people, rows, korean, fmt)
    assert (len(again.new), len(again.changed), again.unchanged) == (0, 0, 3)
    assert counts(people)[1:] == (3, 1)


BAD_DEVICES = [
    ("vendor", "nobody", "unknown vendor 'nobody': create its API key first with "),
    ("vendor", "Bad Vendor!", "use 1–60 lowercase letters"),
    ("type", "toaster", "unknown device type 'toaster'"),
    (
        "type",
        "wandering_detector",
        "program 'seoul_smart_plug' does not use 'wandering_detector' devices "
        "(it uses: smart_plug)",
    ),
    ("program", "nowhere", "unknown program 'nowhere'"),
    ("program", "seoul_wrist_doctor", "participation program"),
    ("external_ref", "P-0099", "no person with external_ref 'P-0099'; import the people first"),
    ("dong_code", "4128500000", "is a district, not a dong"),
    ("installed_on", "2099-01-01", "in the future"),
    ("device_id", "", "required"),
]


@pytest.mark.parametrize(("key", "value", "reason"), BAD_DEVICES, ids=[b[2] for b in BAD_DEVICES])
def test_a_bad_device_row_refuses_the_file(people, key, value, reason):
    column = next(c for c in DEVICES.columns if c.key == key)
    report = _devices(people, [device(1), device(2, **{key: value})])
    assert [(e.row, e.column) for e in report.errors] == [(3, column.ko)], report.summary()
    assert reason in report.errors[0].reason
    assert counts(people)[1:] == (0, 0)


def test_the_unknown_vendor_error_names_the_command(people):
    report = _devices(people, [device(1, vendor="newcorp")])
    assert "`python -m dashboard apikey add newcorp`" in report.errors[0].reason


def test_a_vendor_that_already_owns_devices_is_known(people):
    """Known = an active API key, or devices already stored under that vendor's name."""
    assert _devices(people, [device(1)]).stored
    with people.begin() as conn:
        conn.execute(update(Device).values(vendor="legacy"))
    assert _devices(people, [device(2, vendor="legacy")]).stored


def test_duplicate_device_ids_in_the_file(people):
    report = _devices(people, [device(1), device(1, external_ref="P-0002")])
    assert [(e.row, e.column) for e in report.errors] == [(3, "기기번호")]
    assert "duplicate device_id 'PLUG-0001' (also on row 2)" in report.errors[0].reason
    assert counts(people)[1:] == (0, 0)


def test_a_device_assigned_to_someone_else_is_refused(people):
    assert _devices(people, [device(1)]).stored
    report = _devices(people, [device(2), device(1, external_ref="P-0002")])
    assert [(e.row, e.column) for e in report.errors] == [(3, "기기번호")]
    assert "already assigned to another person" in report.errors[0].reason
    assert "replacement is a separate operation" in report.errors[0].reason
    assert _device_row(people, "PLUG-0001").recipient_id == _person_row(people, "P-0001").id
    assert counts(people)[1:] == (1, 1)  # PLUG-0002 was not stored either


def test_an_updated_device_roster_updates_by_device_id(people):
    assert _devices(people, [device(1), device(2)]).stored
    report = _devices(people, [device(1, installed_on="2025-02-01"), device(2), device(3)])
    assert report.new == ["PLUG-0003"]
    assert report.changed == [("PLUG-0001", ("installed_on",))]
    assert _device_row(people, "PLUG-0001").installed_on == date(2025, 2, 1)


def test_errors_do_not_repeat_phones_or_positions(city):
    report = _people(city, [person(1, phone="010-777", home_lat="41.23456", home_lon="126.9")])
    assert {e.column for e in report.errors} == {"연락처", "위도"}
    assert "010-777" not in report.summary() and "41.23456" not in report.summary()


def test_a_unique_index_conflict_rolls_back_cleanly(city, monkeypatch):
    """What a concurrent import of the same refs meets between our check and our insert,
    made here by inserting the planned rows twice: the unique index refuses, everything rolls
    back, and the report says to try again."""
    from dashboard.registry import roster

    real_apply = roster._apply

    def apply_twice(conn, kind, plan):
        real_apply(conn, kind, plan)
        real_apply(conn, kind, plan)

    monkeypatch.setattr(roster, "_apply", apply_twice)
    report = _people(city, [person(1), person(2)])
    assert not report.ok and not report.stored
    assert "the roster changed while importing" in report.errors[0].reason
    assert counts(city) == (0, 0, 0)


def test_a_fresh_device_roster_opens_no_alert_on_the_first_tick(people):
    """Plugs installed years ago, registered now, no event yet: the clocks start at the
    registration, so the first silence tick opens nothing (docs/rules.md)."""
    from datetime import timedelta

    from dashboard.clock import as_utc
    from dashboard.db.schema import Alert
    from dashboard.rules import run_silence_tick

    rows = [device(n, installed_on="2020-06-01") for n in (1, 2, 3)]
    assert _devices(people, rows).stored
    assert as_utc(_device_row(people, "PLUG-0001").registered_at) == NOW
    with people.begin() as conn:
        assert run_silence_tick(conn, NOW + timedelta(minutes=1)).opened == 0
    with people.begin() as conn:  # after the heartbeat timeout: device tickets, no person alert
        run_silence_tick(conn, NOW + timedelta(hours=3))
    with people.connect() as conn:
        opened = conn.execute(select(Alert.rule, Alert.stage)).all()
    assert sorted(opened) == [("device_silent", "attention")] * 3


def test_an_ended_enrollment_is_not_written_back_by_a_roster(people):
    """After an end (and the privacy purge), re-importing an old roster must not restore the
    person's personal data or give them devices that would count as live."""
    with people.begin() as conn:
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.external_ref == "P-0001")
            .values(ended_on=date(2025, 1, 31), pii_phone=None, pii_address=None)
        )
    report = _people(people, [person(1), person(2)])
    assert [(e.row, e.column) for e in report.errors] == [(2, "대상자번호")]
    assert "ended on 2025-01-31" in report.errors[0].reason
    assert _person_row(people, "P-0001").pii_phone is None
    report = _devices(people, [device(1)])
    assert [(e.row, e.column) for e in report.errors] == [(2, "대상자번호")]
    assert counts(people)[1] == 0


def test_a_vendor_declared_with_its_time_zone_is_known(people):
    from dashboard.db.schema import Vendor

    with people.begin() as conn:
        conn.execute(
            Vendor.__table__.insert().values(
                code="tzcorp", timezone="Asia/Seoul", created_at=NOW, updated_at=NOW
            )
        )
    assert _devices(people, [device(1, vendor="tzcorp")]).stored


def test_a_nul_character_in_a_csv_is_refused_with_its_line(city):
    """PostgreSQL text cannot hold NUL: the file is refused by the reader, naming the line,
    instead of the database raising mid-import (and SQLite storing it)."""
    rows = [person(1), person(2, name="시험\x00둘"), person(3)]
    report = _people(city, rows)
    assert not report.ok and not report.stored
    assert [(e.row, e.key, e.params) for e in report.errors] == [(0, "csv_nul", {"line": 3})]
    assert "line 3 contains a NUL character" in report.summary()
    assert counts(city) == (0, 0, 0)


@pytest.mark.parametrize("day", ["0001-01-01", "1800-03-01", "1999-12-31"])
def test_a_day_before_2000_is_refused_and_the_rules_tick_still_runs(people, day):
    """Year 1 installed was stored, and every rules tick then failed on it (no UTC moment)."""
    from dashboard.rules.worker import tick_once

    report = _devices(people, [device(1, installed_on=day)])
    assert [(e.row, e.column, e.key) for e in report.errors] == [(2, "설치일", "date_too_early")]
    assert f"{day} is before 2000-01-01" in report.summary()
    refused = _people(people, [person(4, enrolled_on=day)])
    assert [e.key for e in refused.errors] == ["date_too_early"]
    assert counts(people) == (3, 0, 0)
    tick_once(people, NOW)


@pytest.mark.parametrize("ref", ["김-001", "A/1", "A\u200bB", "<b>1</b>", "-lead", "P#1"])
def test_a_reference_the_people_page_cannot_open_is_refused(city, ref):
    """The page opens a person by ``?person=REF`` and refused such refs as a bad link: stored,
    the person could never be opened. The import now takes exactly what the page opens."""
    from dashboard.registry.columns import REF_PATTERN

    assert not REF_PATTERN.fullmatch(ref)
    report = _people(city, [person(1, external_ref=ref)])
    assert [(e.row, e.column, e.key) for e in report.errors] == [(2, "대상자번호", "id_characters")]
    assert counts(city) == (0, 0, 0)


@pytest.mark.parametrize("uid", ["기기1", "A/1", "A\u200bB", "_x", "PLUG#2"])
def test_a_device_id_the_devices_page_cannot_open_is_refused(people, uid):
    from dashboard.registry.columns import UID_PATTERN

    assert not UID_PATTERN.fullmatch(uid)
    report = _devices(people, [device(1, device_id=uid)])
    assert [(e.row, e.column, e.key) for e in report.errors] == [(2, "기기번호", "id_characters")]
    assert counts(people) == (3, 0, 0)
    # What the page and register_device accept still imports: a MAC-style vendor id.
    assert _devices(people, [device(1, device_id="AA:BB:CC:00:11:22")]).stored


def test_a_name_with_control_codes_is_refused(city):
    report = _people(city, [person(1, name="시험\x1b[2J"), person(2, address="주소\x07")])
    assert [(e.row, e.column, e.key) for e in report.errors] == [
        (2, "성명", "control_codes"),
        (3, "주소", "control_codes"),
    ]
    assert counts(city) == (0, 0, 0)


def test_checks_against_the_database_are_refused_in_korean(people):
    from dashboard.i18n import translate

    rows = [
        device(1, dong_code="9999999999"),
        device(2, dong_code="1111000000"),  # 종로구: a district, not a dong
        device(3, program="no_such"),
        device(4, vendor="nobody"),
        device(5, type="robot"),
        device(6, external_ref="P-0404"),
    ]
    report = _devices(people, rows)
    found = {(e.row, e.key) for e in report.errors}
    assert {(2, "unknown_dong"), (3, "not_a_dong"), (4, "unknown_program")} <= found
    assert {(5, "unknown_vendor"), (6, "unknown_device_type"), (7, "no_person")} <= found
    for error in report.errors:
        assert error.key, str(error)
        korean = translate(f"import_error.{error.key}", "ko", **error.params)
        assert not any(w in korean for w in ("unknown", "must", "import the")), korean
    half = _people(people, [person(9, home_lon="")])
    assert [e.key for e in half.errors] == ["lat_lon_pair"]
    assert counts(people) == (3, 0, 0)


def test_a_person_moved_to_another_district_takes_their_devices_along(people):
    """A roster that moves someone (종로구 → 고양시) left their devices in the old dong: the old
    district's operators kept listing the device with the person's (masked) name, the new
    district's did not see it. A device given its own dong on purpose stays where it is."""
    from queries.roster import device_list

    ilsan = "4128555100"
    rows = [device(1), device(2, dong_code=CHEONGUN)]
    assert _devices(people, rows).stored
    moved = _people(people, [person(1, dong_code=ilsan), person(2, dong_code=ilsan)])
    assert moved.stored and len(moved.changed) == 2
    assert _device_row(people, "PLUG-0001").region_id == _region_id(people, ilsan)
    assert _device_row(people, "PLUG-0002").region_id == _region_id(people, CHEONGUN)
    with people.connect() as conn:
        jongno = device_list(conn, with_names=True, areas=("1111000000",))
        goyang = device_list(conn, with_names=True, areas=("4128000000",))
    assert list(jongno["device_uid"]) == ["PLUG-0002"]
    assert list(goyang["device_uid"]) == ["PLUG-0001"]


def test_re_importing_a_device_retired_in_the_app_says_it_is_on_the_shelf(people):
    """The monthly device roster still lists a device retired in the app since: it was refused
    as "already assigned to a fixed site", which it is not."""
    from dashboard.enrollment import set_device_status

    assert _devices(people, [device(1)]).stored
    with people.begin() as conn:
        set_device_status(conn, LEAD, NOW, _device_row(people, "PLUG-0001").id, "retired")
    report = _devices(people, [device(1)])
    assert [(e.row, e.column, e.key) for e in report.errors] == [
        (2, "기기번호", "device_unassigned")
    ]
    assert "out of service and with nobody" in report.summary()
    assert "fixed site" not in report.summary()


def _alert(conn, key, *, kind, region_id, recipient_id, device_id, status="open"):
    from dashboard.db.schema import Alert

    program_id = conn.scalar(select(Device.program_id).where(Device.id == device_id))
    return conn.execute(
        Alert.__table__.insert()
        .values(
            dedup_key=key,
            kind=kind,
            rule="robot_sos" if kind == "person" else "device_silent",
            stage="severe" if kind == "person" else "attention",
            status=status,
            program_id=program_id,
            region_id=region_id,
            recipient_id=recipient_id,
            device_id=device_id,
            opened_at=NOW,
            updated_at=NOW,
            closed_at=NOW if status == "closed" else None,
            version=1,
        )
        .returning(Alert.id)
    ).scalar_one()


def test_a_moved_persons_open_alerts_follow_them_to_the_new_district(people):
    """A roster moving someone (종로구 → 고양시) moved their devices but left their open alerts
    in the old dong: the new district's operators, now responsible, could not find a 심각 SOS
    in their queue, and the old district's listed it but were refused every action (the actions
    check the person's own dong). Open alerts and the open tickets of the devices that moved go
    along; closed alerts stay where they happened, and another person's stay put."""
    from queries.alerts import open_alerts

    ilsan = "4128555100"
    assert _devices(people, [device(1), device(2)]).stored
    sajik = _region_id(people, SAJIK)
    one, two = _device_row(people, "PLUG-0001"), _device_row(people, "PLUG-0002")
    pid = _person_row(people, "P-0001").id
    with people.begin() as conn:
        sos = _alert(conn, "a", kind="person", region_id=sajik, recipient_id=pid, device_id=one.id)
        ticket = _alert(
            conn, "b", kind="device_fault", region_id=sajik, recipient_id=None, device_id=one.id
        )
        old = _alert(
            conn,
            "c",
            kind="person",
            region_id=sajik,
            recipient_id=pid,
            device_id=one.id,
            status="closed",
        )
        other = _alert(
            conn,
            "d",
            kind="person",
            region_id=sajik,
            recipient_id=_person_row(people, "P-0002").id,
            device_id=two.id,
        )
    assert _people(people, [person(1, dong_code=ilsan)]).stored
    with people.connect() as conn:
        goyang = open_alerts(conn, NOW, areas=("4128000000",))
        jongno = open_alerts(conn, NOW, areas=("1111000000",))
        from dashboard.db.schema import Alert

        regions = dict(conn.execute(select(Alert.id, Alert.region_id)).all())
    assert sorted(goyang["id"]) == sorted([sos, ticket])
    assert list(jongno["id"]) == [other]
    assert regions[old] == sajik and regions[other] == sajik


def test_the_rosters_zone_and_home_bounds_are_the_person_pages():
    """The import stored what the person page then refused (and its zone form crashed on)."""
    from dashboard.enrollment import people as domain
    from dashboard.registry import columns

    assert columns.SAFE_ZONE_M == domain.SAFE_ZONE_M
    assert (columns.HOME_LAT, columns.HOME_LON) == (domain.KOREA_LAT, domain.KOREA_LON)


def _kept_by_hand(rows: list[list[object]]) -> bytes:
    """A people roster as a city keeps it in Excel: a title merged across the top, a date line,
    names with spaces and notes, and 보호자 merged over 성명 | 연락처 (a two-row header)."""
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["2025년 종로구 돌봄 대상자 명단"])
    sheet.merge_cells("A1:K1")
    sheet.append(["(기준일: 2025-02-28)"])
    sheet.append(
        [
            "대상자 번호",
            "성 명",
            "출생 연도",
            "성별",
            "연락처(휴대폰)",
            "주소",
            "행정동 코드",
            "보호자",
            None,
            "사업",
            "등록일",
        ]
    )
    sheet.append([None] * 7 + ["성명", "연락처", None, None])
    for column in "ABCDEFGJK":
        sheet.merge_cells(f"{column}3:{column}4")
    sheet.merge_cells("H3:I3")
    for row in rows:
        sheet.append(row)
    sheet.append([None] * 11)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def test_a_roster_kept_by_hand_with_a_title_and_a_merged_two_row_header(city):
    """The first file a city brings was refused whole: the title was taken for the header
    ("unknown column 2025년 …", every required column missing) and "대상자 번호" with a space
    was no known column. The header is found below the title, the group 보호자 joins the names
    under it, and errors keep the spreadsheet's row numbers."""
    row = [
        "P-0001",
        "시험1",
        1944,
        "여",
        "010-1234-0001",
        "서울 종로구",
        SAJIK,
        "보호자1",
        "010 5555 0001",
        "seoul_smart_plug",
        "2025-01-02",
    ]
    data = _kept_by_hand([row, ["P-0002", *row[1:4], "1588-1234", *row[5:]]])
    refused = import_people(city, data, "명단.xlsx", LEAD, NOW)
    found = [(e.row, e.column, e.key) for e in refused.errors]
    assert found == [(6, "연락처(휴대폰)", "bad_phone")]
    report = import_people(city, _kept_by_hand([row]), "명단.xlsx", LEAD, NOW)
    assert report.ok and report.stored, report.summary()
    stored = _person_row(city, "P-0001")
    assert (stored.pii_guardian_name, stored.pii_guardian_phone) == ("보호자1", "010-5555-0001")
    assert stored.pii_phone == "010-1234-0001"
    # A header the file does not have is still refused on row 1, naming what is missing.
    bad = import_people(city, "명단\r\n성명,연락처\r\n시험,010\r\n".encode(), "p.csv", LEAD, NOW)
    found = [(e.row, e.column, e.key) for e in bad.errors]
    assert (1, "대상자번호", "column_missing_named") in found


def test_wanderers_left_without_a_home_are_named_in_the_preview(city):
    """A city's first roster of wandering-detector wearers without 위도/경도 was stored without
    a word, and every one of them was watched by nothing (no home, no zone: the rules decide
    nothing). The file is still valid; the preview and the outcome say who and why."""
    wanderer = {"program": "goyang_wandering", "dong_code": "4128555100"}
    rows = [
        person(1, **wanderer, home_lat="", home_lon=""),
        person(2, **wanderer),  # with a home: watched
        person(3, home_lat="", home_lon=""),  # a smart plug needs no home
    ]
    report = _people(city, rows)
    assert report.stored and report.no_zone == ["P-0001"]
    assert "note: 1 wandering-detector wearer(s) without a home position (P-0001)" in (
        report.summary()
    )
    detector = {"type": "wandering_detector", "program": "goyang_wandering"}
    devices = _devices(city, [device(1, **detector, device_id="WALK-1"), device(2, **detector)])
    assert devices.stored and devices.no_zone == ["WALK-1"]
    # Once the home is in the roster, nothing to say.
    again = _people(city, [person(1, **wanderer)])
    assert again.stored and again.no_zone == []


def test_a_preview_for_an_admin_does_not_say_which_personal_field_differs(city):
    """Admins import rosters but see no personal data. The dry run named the fields that
    differ, so a file giving every person the same guessed name (and blanks elsewhere) told an
    admin, unaudited, whose stored name it was: the row without "name" among its changes.
    For a principal without personal-data access the personal fields are one marker."""
    assert _people(city, [person(1, name="김영수"), person(2, name="이순자")]).stored
    admin = SessionUser("admin-1", "admin-1", "admin")
    guesses = [
        person(n, name="김영수", phone="", address="", home_lat="", home_lon="") for n in (1, 2)
    ]
    data = roster_csv(PEOPLE, guesses)
    preview = import_people(city, data, "guess.csv", admin, NOW, dry_run=True)
    assert preview.ok and not preview.stored
    assert preview.changed == [("P-0001", ("personal_data",)), ("P-0002", ("personal_data",))]
    assert "name" not in preview.summary()
    mixed = roster_csv(PEOPLE, [person(1, name="김영수", phone="", dong_code=CHEONGUN)])
    report = import_people(city, mixed, "mixed.csv", admin, NOW, dry_run=True)
    assert report.changed == [("P-0001", ("personal_data", "dong_code"))]
    # A lead sees them all, as before.
    lead = import_people(city, data, "guess.csv", LEAD, NOW, dry_run=True)
    assert lead.changed[0] == ("P-0001", ("phone", "address", "home_lat", "home_lon"))
    assert lead.changed[1][1][0] == "name"
