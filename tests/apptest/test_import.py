"""기기 데이터 가져오기 page: a good file is stored and audited, a file with one bad row stores
nothing and names the row; only leads and admins reach the page.

Imports write, so these tests run on a copy of the session database: the figures other AppTests
assert on the shared one stay untouched.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from dashboard.auth import SessionUser
from dashboard.db.schema import AuditLog, Device, DeviceEvent
from dashboard.i18n import translate
from dashboard.ingest.events import ALL_FIELDS
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import open_page, private_copy, texts

VENDOR = "plugco"

LEAD = SessionUser("lead", "lead", "lead")


@pytest.fixture(scope="module")
def import_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    """A copy of the session database, made the app's database for this module only."""
    with private_copy(demo_db, tmp_path_factory.mktemp("import")) as engine:
        yield engine


def _device_ids(engine: Engine, n: int = 3) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.scalars(
                select(Device.device_uid)
                .where(Device.vendor == VENDOR)
                .order_by(Device.id)
                .limit(n)
            )
        )


def _csv(rows: list[dict[str, object]]) -> bytes:
    header = ["event_id", "device_id", "ts", "type", "watts", "battery_pct"]
    lines = [",".join(header)]
    lines += [",".join(str(r.get(c, "")) for c in header) for r in rows]
    return ("\n".join(lines) + "\n").encode("utf-8")


def _rows(
    engine: Engine, prefix: str, watts: list[object] | None = None
) -> list[dict[str, object]]:
    ts = (datetime.now(UTC) - timedelta(minutes=30)).isoformat(timespec="seconds")
    devices = _device_ids(engine)
    watts = watts or [12.5, 40, 3]
    return [
        {"event_id": f"{prefix}-{i}", "device_id": d, "ts": ts, "type": "power", "watts": w}
        for i, (d, w) in enumerate(zip(devices, watts, strict=True))
    ]


def _stored(engine: Engine, prefix: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(
            select(func.count())
            .select_from(DeviceEvent)
            .where(DeviceEvent.vendor == VENDOR, DeviceEvent.event_uid.like(f"{prefix}-%"))
        )


def _audits(engine: Engine, action: str, filename: str) -> list[AuditLog]:
    with engine.connect() as conn:
        return list(
            conn.execute(
                select(AuditLog.actor, AuditLog.detail).where(
                    AuditLog.action == action, AuditLog.entity_id == filename
                )
            )
        )


def _open(lang: str = "ko", role: str = "lead") -> AppTest:
    at = open_page(role=role, **({"lang": "en"} if lang == "en" else {}))
    at.switch_page("../pages/import_events.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _import(at: AppTest, filename: str, data: bytes, vendor: str = VENDOR) -> AppTest:
    at.selectbox(key="import_vendor").set_value(vendor).run()
    at.file_uploader[0].set_value((filename, data, "text/csv")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.button(key="import_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_good_file_is_stored_and_audited(import_db: Engine, lang: str) -> None:
    prefix, filename = f"apptest-good-{lang}", f"good-{lang}.csv"
    at = _open(lang)
    assert [t.value for t in at.title] == [translate("page.import", lang)]
    assert at.button(key="import_run").disabled  # nothing chosen yet
    at.selectbox(key="import_vendor").set_value(VENDOR).run()
    at.file_uploader[0].set_value((filename, _csv(_rows(import_db, prefix)), "text/csv")).run()
    preview = at.dataframe[0].value
    assert list(preview["event_id"]) == [f"{prefix}-{i}" for i in range(3)]
    at.button(key="import_run").click().run()
    assert not at.exception, [e.value for e in at.exception]

    assert _stored(import_db, prefix) == 3
    expected = translate(
        "importing.success", lang, filename=md_escape(filename), vendor=VENDOR, rows=3,
        accepted=3, duplicates=0,
    )  # fmt: skip
    assert [s.value for s in at.success] == [expected]
    assert not at.error
    ((actor, detail),) = _audits(import_db, "import_events", filename)
    assert actor == "lead"
    assert detail | {"bytes": 0} == {
        "vendor": VENDOR, "filename": filename, "bytes": 0, "rows": 3, "accepted": 3,
        "duplicates": 0, "errors": 0,
    }  # fmt: skip
    assert at.file_uploader[0].value is None  # emptied: a second click cannot resend it


def test_same_file_twice_counts_duplicates(import_db: Engine) -> None:
    prefix = "apptest-twice"
    data = _csv(_rows(import_db, prefix))
    at = _import(_open(), "twice.csv", data)
    at = _import(at, "twice.csv", data)
    assert _stored(import_db, prefix) == 3
    assert at.success[0].value == translate(
        "importing.success",
        filename=md_escape("twice.csv"),
        vendor=VENDOR,
        rows=3,
        accepted=0,
        duplicates=3,
    )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_one_bad_row_stores_nothing_and_names_the_row(import_db: Engine, lang: str) -> None:
    prefix, filename = f"apptest-bad-{lang}", f"bad-{lang}.csv"
    data = _csv(_rows(import_db, prefix, watts=[12.5, -1, 3]))  # spreadsheet row 3
    at = _import(_open(lang), filename, data)

    assert _stored(import_db, prefix) == 0
    assert [e.value for e in at.error] == [
        translate("importing.refused", lang, filename=md_escape(filename), vendor=VENDOR, n=1)
    ]
    assert not at.success
    errors = at.dataframe[-1].value
    row = errors.iloc[0]
    assert row[translate("importing.row", lang)] == "3"
    assert row[translate("importing.column", lang)] == "watts"
    # pydantic's range error, said in the page's language with the bound and the value given
    assert row[translate("importing.reason", lang)] == translate(
        "import_error.type.greater_than_equal", lang, ge=0, value="-1.0"
    )
    ((actor, detail),) = _audits(import_db, "import_refused", filename)
    assert actor == "lead" and detail["errors"] == 1 and detail["accepted"] == 0
    assert at.file_uploader[0].value is not None  # kept, to compare with the report


def test_unknown_device_is_reported_and_nothing_stored(import_db: Engine) -> None:
    prefix = "apptest-ghost"
    rows = _rows(import_db, prefix)
    rows[1]["device_id"] = "ghost-7"
    at = _import(_open("en"), "ghost.csv", _csv(rows))
    assert _stored(import_db, prefix) == 0
    errors = at.dataframe[-1].value
    assert list(errors["Row"]) == ["3"] and list(errors["Column"]) == ["device_id"]
    assert errors["Reason"].iloc[0] == translate(
        "import_error.unknown_device", "en", device="ghost-7"
    )


def test_excel_file_is_previewed_and_stored(import_db: Engine) -> None:
    from openpyxl import Workbook

    prefix = "apptest-xlsx"
    rows = _rows(import_db, prefix)
    book = Workbook()
    sheet = book.active
    sheet.append(["event_id", "device_id", "ts", "type", "watts"])
    for r in rows:
        sheet.append([r["event_id"], r["device_id"], r["ts"], r["type"], r["watts"]])
    buffer = io.BytesIO()
    book.save(buffer)
    at = _import(_open(), "export.xlsx", buffer.getvalue())
    assert _stored(import_db, prefix) == 3
    assert at.success


def test_typed_vendor_names_are_checked(import_db: Engine) -> None:
    """A typed vendor (AppTest cannot type into a selectbox) is checked before the button
    enables, and the import itself refuses it again, audited, storing nothing."""
    from dashboard.ingest.imports import import_and_audit
    from dashboard.ui.importing import vendor_error

    expected = translate("importing.vendor_invalid", vendor=md_escape("Plug Co!"))
    assert vendor_error("Plug Co!") == expected  # shown as markdown: the typed name is escaped
    assert vendor_error("newco") is None and vendor_error(None) is None
    data = _csv(_rows(import_db, "apptest-badvendor"))
    report = import_and_audit(import_db, data, "v.csv", "Plug Co!", LEAD, datetime.now(UTC))
    assert not report.ok and report.errors[0].row == 0
    assert _stored(import_db, "apptest-badvendor") == 0
    assert len(_audits(import_db, "import_refused", "v.csv")) == 1


def test_vendor_choices_include_device_vendors(import_db: Engine) -> None:
    at = _open()
    shown = "\n".join(texts(at) + list(at.selectbox(key="import_vendor").options))
    assert "plugco" in shown and "carevoice" in shown


@pytest.mark.parametrize("role", ["operator", "council"])
def test_operator_and_council_cannot_reach_import(import_db: Engine, role: str) -> None:
    at = open_page(role=role)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/import_events.py")


def test_admin_reaches_import(import_db: Engine) -> None:
    at = _open(role="admin")
    assert [t.value for t in at.title] == [translate("page.import")]


def test_page_rechecks_the_role(import_db: Engine) -> None:
    """Run directly (as a deep link without the entry script would), it stops an operator."""
    from dashboard.settings import PROJECT_ROOT
    from tests.apptest.conftest import TIMEOUT, login_as

    at = AppTest.from_file(
        str(PROJECT_ROOT / "pages" / "import_events.py"), default_timeout=TIMEOUT
    )
    login_as(at, "operator").run()
    assert [e.value for e in at.error] == [translate("auth.forbidden")]
    assert not at.file_uploader and not at.button


def test_problem_report_download_cannot_run_a_formula(import_db: Engine, monkeypatch) -> None:
    """A vendor's column named like a formula is listed in the problem report; the CSV the page
    offers shows it as text (leading apostrophe), not as ``=cmd|...`` that Excel would run."""
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage

    payload = "=cmd|' /C calc'!A0"
    downloads: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def recording(self, path_or_data, mimetype, kind, filename=None):  # type: ignore[no-untyped-def]
        downloads[filename or ""] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", recording)
    rows = _csv(_rows(import_db, "x")).split(b"\n", 1)[1]
    data = f"event_id,device_id,ts,type,watts,{payload}\n".encode() + rows
    at = _import(_open("en"), "formula.csv", data)
    assert at.error and _stored(import_db, "x") == 0
    assert payload.lower() in list(at.dataframe[-1].value["Column"])  # shown as it is on screen
    report = downloads["formula-errors.csv"].decode("utf-8-sig")
    assert f"'{payload.lower()}" in report
    assert not any(cell.startswith("=") for line in report.splitlines() for cell in line.split(","))


def test_zip_bomb_and_oversized_sheet_are_refused_on_the_page(import_db: Engine) -> None:
    """The preview and the import use the importer's bounded reader: both refuse at once."""
    from tests.xlsx_support import expanding_sheet, sheet_rows, write_workbook

    for filename, blocks, reason in [
        ("bomb.xlsx", expanding_sheet(1024), "expands to 1,024 MB when unpacked"),
        ("rows.xlsx", sheet_rows(120_000), "100,000 rows with values"),
    ]:
        buffer = io.BytesIO()
        write_workbook(buffer, blocks)
        at = _import(_open("en"), filename, buffer.getvalue())
        assert any(md_escape(reason) in w.value for w in at.warning), [w.value for w in at.warning]
        assert [e.value for e in at.error] == [
            translate("importing.refused", "en", filename=md_escape(filename), vendor=VENDOR, n=1)
        ]
        assert reason in at.dataframe[-1].value["Reason"].iloc[0]
        assert len(_audits(import_db, "import_refused", filename)) == 1


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_bad_header_and_a_foreign_encoding_read_in_the_page_language(
    import_db: Engine, lang: str
) -> None:
    """Header problems and the reader's refusals carry a key: the Korean page shows Korean
    (the English text stays the CLI's and the JSON report's)."""
    filename = f"bad-header-{lang}.csv"
    data = b"event_id,ts,type,colour\ne1,2024-12-01T09:00:00+09:00,power,red\n"
    at = _import(_open(lang), filename, data)
    reasons = list(at.dataframe[-1].value[translate("importing.reason", lang)])
    known = ", ".join(ALL_FIELDS)
    assert reasons[0] == translate("import_error.unknown_column", lang, known=known)
    assert translate("import_error.column_missing", lang) in reasons
    if lang == "ko":
        assert not any("unknown column" in r or "required column" in r for r in reasons)

    # Neither UTF-8 nor CP949: the preview says why, in the page's language.
    at = _open(lang)
    at.file_uploader[0].set_value(("latin.csv", b"event_id\n\xff\xfe\xfa\n", "text/csv")).run()
    warnings = [w.value for w in at.warning]
    reason = translate("import_error.not_utf8", lang, line=2)
    assert translate("importing.preview_failed", lang, reason=reason) in warnings, warnings
    if lang == "ko":
        assert not any("neither UTF-8" in w for w in warnings)
