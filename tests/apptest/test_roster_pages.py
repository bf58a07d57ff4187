"""대상자 관리 and 기기 관리: who sees whom, the filters, the person panel (audited reveal, home,
timeline against the database), deep links, and the roster import's preview and confirm.

The module works on a private copy of the demo database with two people of 종로구 (Seoul) added
through the roster import: outside the demo operator's districts (고양시), so the copy holds
people an operator must never see. One of them has no home position (the "approximate" flag).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.db.schema import Alert, AuditLog, CareRecipient, Device, Dispatch
from dashboard.formatting import mask_name
from dashboard.i18n import translate, translate_or
from dashboard.registry import DEVICES, PEOPLE, import_roster
from dashboard.ui.person import purpose_key
from tests.apptest.conftest import open_page, private_copy, texts
from tests.registry_support import LEAD, device, person, roster_csv

SEOUL_WITH_HOME = "P-0001"
SEOUL_NO_HOME = "P-0002"
SEOUL_DEVICE = "SEOUL-PLUG-1"


@pytest.fixture(scope="module")
def roster_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("roster")) as engine:
        people = [
            person(1, name="서울하나"),
            person(2, name="서울두울", home_lat="", home_lon="", address=""),
        ]
        now = clock.now()
        for kind, rows in (
            (PEOPLE, people),
            (DEVICES, [device(1, device_id=SEOUL_DEVICE, vendor="plugco")]),
        ):
            data = roster_csv(kind, rows)
            report = import_roster(engine, kind, data, f"{kind.name}.csv", LEAD, now)
            assert report.stored, report.summary()
        yield engine


def _open(page: str, role: str = "lead", lang: str = "ko", **params: str) -> AppTest:
    if lang == "en":
        params["lang"] = "en"
    at = open_page(role=role, **params)
    at.switch_page(f"../pages/{page}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _table_column(at: AppTest, marker: str, column: str) -> list[str]:
    """Column ``column`` of the first table that has a column ``marker``."""
    frame = next(d.value for d in at.dataframe if marker in d.value.columns)
    return [str(v) for v in frame[column]]


def _refs(at: AppTest, lang: str = "ko") -> list[str]:
    return _table_column(at, translate("people.open_alerts", lang), translate("card.ref", lang))


def _device_ids(at: AppTest) -> list[str]:
    return _table_column(at, translate("devices.device_id"), translate("devices.device_id"))


def _name(engine: Engine, ref: str) -> str:
    with engine.connect() as conn:
        return conn.scalar(select(CareRecipient.pii_name).where(CareRecipient.external_ref == ref))


def _goyang_person_with_history(engine: Engine) -> str:
    """A demo person (고양시) with at least one dispatch: the richest timeline."""
    with engine.connect() as conn:
        return conn.scalar(
            select(CareRecipient.external_ref)
            .join(Alert, Alert.recipient_id == CareRecipient.id)
            .join(Dispatch, Dispatch.alert_id == Alert.id)
            .order_by(CareRecipient.external_ref)
            .limit(1)
        )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_lead_sees_every_district_with_masked_names(roster_db: Engine, lang: str) -> None:
    at = _open("people", lang=lang)
    at.text_input(key="people_search").set_value("P-000").run()
    assert [t.value for t in at.title] == [translate("page.people", lang)]
    refs = _refs(at, lang)
    assert SEOUL_WITH_HOME in refs and SEOUL_NO_HOME in refs
    shown = "\n".join(texts(at))
    assert mask_name("서울하나") in shown
    assert "서울하나" not in shown  # masked until an audited reveal


def test_operator_sees_only_their_districts(roster_db: Engine) -> None:
    at = _open("people", role="operator")
    refs = _refs(at)
    assert refs and SEOUL_WITH_HOME not in refs and SEOUL_NO_HOME not in refs
    # A name search runs inside the districts: a Seoul name matches nothing.
    at.text_input(key="people_search").set_value("서울하나").run()
    assert not at.dataframe and at.info[0].value == translate("people.none")
    # A deep link to someone elsewhere reads as "not found", with no card.
    at = _open("people", role="operator", person=SEOUL_WITH_HOME)
    assert [w.value for w in at.warning][-1] == translate("people.not_found", ref="P\\-0001")
    assert not _has_button(at, "people_reveal")
    assert mask_name("서울하나") not in "\n".join(texts(at))


def _has_button(at: AppTest, key: str) -> bool:
    return any(b.key == key for b in at.button)


def test_operator_devices_are_scoped_too(roster_db: Engine) -> None:
    at = _open("devices", role="operator")
    assert SEOUL_DEVICE not in "\n".join(texts(at))
    at.text_input(key="dev_search").set_value(SEOUL_DEVICE).run()
    assert not at.dataframe  # the Seoul device is outside the operator's districts
    at = _open("devices", role="lead")
    at.text_input(key="dev_search").set_value(SEOUL_DEVICE).run()
    assert _device_ids(at) == [SEOUL_DEVICE]


def test_admin_sees_the_roster_without_any_personal_data(roster_db: Engine) -> None:
    at = _open("people", role="admin", person=SEOUL_WITH_HOME)
    shown = "\n".join(texts(at))
    assert SEOUL_WITH_HOME in shown
    for name in ("서울하나", "서울두울"):
        assert name not in shown and mask_name(name) not in shown
    assert "-****-" not in shown and "시험로" not in shown  # not even a masked phone; address
    assert translate("col.recipient") not in _table_columns(at, translate("people.open_alerts"))
    assert not _has_button(at, "people_reveal")  # admins may not reveal
    assert translate("person.approximate") in shown  # the home is personal data
    devices = _open("devices", role="admin", device=SEOUL_DEVICE)
    shown = "\n".join(texts(devices))
    assert SEOUL_WITH_HOME in shown and mask_name("서울하나") not in shown  # the ref, no name


def _table_columns(at: AppTest, marker: str) -> list[str]:
    """The columns of every table that has a column ``marker``."""
    return [str(c) for d in at.dataframe if marker in d.value.columns for c in d.value.columns]


def test_council_cannot_reach_the_roster_pages(roster_db: Engine) -> None:
    at = open_page(role="council")
    for page in ("people", "devices"):
        with pytest.raises(ValueError, match="Could not find a navigation page"):
            at.switch_page(f"../pages/{page}.py")


def test_filters_narrow_the_list(roster_db: Engine) -> None:
    with roster_db.connect() as conn:
        group = conn.scalar(
            select(CareRecipient.risk_group)
            .where(CareRecipient.risk_group.is_not(None), CareRecipient.risk_group != "")
            .order_by(CareRecipient.risk_group)
            .limit(1)
        )
        in_group = conn.scalar(
            select(func.count()).select_from(CareRecipient).where(CareRecipient.risk_group == group)
        )
    at = _open("people")
    at.multiselect(key="people_risk").set_value([group]).run()
    groups = set(_table_column(at, translate("people.open_alerts"), translate("person.risk_group")))
    assert groups == {translate_or(f"risk.{group}", group)}  # shown translated
    assert len(_refs(at)) == min(in_group, 200)
    at.multiselect(key="people_risk").set_value([]).run()
    at.multiselect(key="people_status").set_value(["ended"]).run()
    with roster_db.connect() as conn:
        ended = conn.scalar(
            select(func.count())
            .select_from(CareRecipient)
            .where(CareRecipient.ended_on.is_not(None))
        )
    assert len(_refs(at)) == ended if ended else not at.dataframe


def test_name_search_for_a_lead(roster_db: Engine) -> None:
    at = _open("people")
    at.text_input(key="people_search").set_value("서울두").run()
    assert _refs(at) == [SEOUL_NO_HOME]


def test_person_panel_timeline_matches_the_database(roster_db: Engine) -> None:
    ref = _goyang_person_with_history(roster_db)
    assert ref, "the demo city has dispatches"
    at = _open("people", role="operator", person=ref)
    with roster_db.connect() as conn:
        rid = conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))
        alerts = conn.scalar(select(func.count()).where(Alert.recipient_id == rid))
        dispatches = conn.scalar(
            select(func.count())
            .select_from(Dispatch)
            .join(Alert, Alert.id == Dispatch.alert_id)
            .where(Alert.recipient_id == rid)
        )
        devices = list(conn.scalars(select(Device.device_uid).where(Device.recipient_id == rid)))
    timeline = next(d.value for d in at.dataframe if translate("person.what") in d.value.columns)
    kinds = list(timeline[translate("person.entry_col")])
    assert kinds.count(translate("person.entry.alert")) == min(alerts, 50)
    assert kinds.count(translate("person.entry.dispatch")) == min(dispatches, 50)
    assert set(devices) <= set(timeline[translate("person.ref")])
    assert translate("person.home_on_record") in "\n".join(texts(at))
    assert translate("person.approximate") not in "\n".join(texts(at))


def test_person_without_home_is_flagged_approximate(roster_db: Engine) -> None:
    at = _open("people", person=SEOUL_NO_HOME)
    shown = "\n".join(texts(at))
    assert translate("person.approximate") in shown
    assert translate("person.approximate_help") in shown


def test_reveal_is_audited_and_shows_the_name(roster_db: Engine) -> None:
    at = _open("people", person=SEOUL_WITH_HOME)
    assert "서울하나" not in "\n".join(texts(at))
    with roster_db.connect() as conn:
        before = conn.scalar(select(func.count()).where(AuditLog.action == "reveal_personal_data"))
        rid = conn.scalar(
            select(CareRecipient.id).where(CareRecipient.external_ref == SEOUL_WITH_HOME)
        )
    # Outside an alert a reveal says why: the button waits for the purpose.
    assert at.button(key="people_reveal").disabled
    at.selectbox(key=purpose_key(rid)).set_value("inquiry").run()
    at.button(key="people_reveal").click().run()
    assert not at.exception
    assert "서울하나" in "\n".join(texts(at))
    with roster_db.connect() as conn:
        rows = conn.scalars(
            select(AuditLog.detail)
            .where(AuditLog.action == "reveal_personal_data")
            .order_by(AuditLog.id)
        ).all()
    assert len(rows) == before + 1
    assert rows[-1]["purpose"] == "inquiry"
    # Hidden and opened again: the purpose is asked again, not carried over.
    at.button(key="people_hide").click().run()
    assert at.selectbox(key=purpose_key(rid)).value is None
    assert at.button(key="people_reveal").disabled


@pytest.mark.parametrize("value", ["<script>", "x" * 80, "P 0001"])
def test_bad_person_link_warns(roster_db: Engine, value: str) -> None:
    at = _open("people", person=value)
    assert any(translate("people.bad_link", value="")[:10] in w.value for w in at.warning)
    assert not _has_button(at, "people_reveal")


def test_unknown_person_link_warns(roster_db: Engine) -> None:
    at = _open("people", person="NOBODY-1")
    assert translate("people.not_found", ref="NOBODY\\-1") in [w.value for w in at.warning]


def test_device_link_shows_its_alerts(roster_db: Engine) -> None:
    with roster_db.connect() as conn:
        uid, n = conn.execute(
            select(Device.device_uid, func.count(Alert.id))
            .join(Alert, Alert.device_id == Device.id)
            .group_by(Device.device_uid)
            .order_by(func.count(Alert.id).desc(), Device.device_uid)
            .limit(1)
        ).one()
    at = _open("devices", device=uid)
    alerts = next(
        d.value for d in at.dataframe if translate("history.dispatch_count") in d.value.columns
    )
    assert len(alerts) == min(n, 20)
    at = _open("devices", device="bad id!")
    assert any(translate("devices.bad_link", value="")[:8] in w.value for w in at.warning)


def test_import_preview_then_confirm(roster_db: Engine) -> None:
    data = roster_csv(
        PEOPLE,
        [
            person(1, name="서울하나", no_change_hours="30"),  # changed: threshold
            person(2, name="서울두울", home_lat="", home_lon="", address=""),  # unchanged
            person(3, name="서울세엣"),  # new
        ],
    )
    at = _open("people")
    at.file_uploader[0].set_value(("people.csv", data, "text/csv")).run()
    assert not at.exception
    preview = translate(
        "roster.preview",
        counts=translate("roster.counts", rows="3", new="1", changed="1", unchanged="1"),
    )
    assert preview in [m.value for m in at.markdown]
    changed = _table_column(at, translate("roster.changed_fields"), translate("roster.key"))
    assert changed == ["P-0001"]
    with roster_db.connect() as conn:
        assert conn.scalar(select(func.count()).where(CareRecipient.external_ref == "P-0003")) == 0
    at.button(key="roster_people_confirm").click().run()
    assert not at.exception
    assert any("people\\.csv" in s.value for s in at.success)
    with roster_db.connect() as conn:
        assert conn.scalar(select(func.count()).where(CareRecipient.external_ref == "P-0003")) == 1
        hours = conn.scalar(
            select(CareRecipient.no_change_hours).where(CareRecipient.external_ref == "P-0001")
        )
    assert hours == 30


def test_import_errors_are_listed_and_nothing_is_stored(roster_db: Engine) -> None:
    data = roster_csv(
        DEVICES, [device(9, device_id="SEOUL-PLUG-9", vendor="plugco", type="no_such_type")]
    )
    at = _open("devices", role="admin")
    at.file_uploader[0].set_value(("bad.csv", data, "text/csv")).run()
    assert not at.exception
    assert at.error and "bad\\.csv" in at.error[0].value
    assert not _has_button(at, "roster_devices_confirm")
    with roster_db.connect() as conn:
        assert conn.scalar(select(func.count()).where(Device.device_uid == "SEOUL-PLUG-9")) == 0


def test_operator_has_no_import_section(roster_db: Engine) -> None:
    at = _open("people", role="operator")
    assert not at.file_uploader


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_roster_cell_errors_read_in_the_page_language(roster_db: Engine, lang: str) -> None:
    """A coordinate outside Korea and a date that does not exist: the error table says so in
    the page's language, from the refusal's key (the CLI keeps the English text)."""
    data = roster_csv(PEOPLE, [person(7, home_lon="140", enrolled_on="2030-13-45")])
    at = _open("people", lang=lang)
    at.file_uploader[0].set_value(("cells.csv", data, "text/csv")).run()
    assert not at.exception
    reasons = _table_column(
        at, translate("importing.reason", lang), translate("importing.reason", lang)
    )
    assert translate("import_error.outside_korea", lang, low=124.5, high=132.0) in reasons
    assert translate("import_error.no_such_date", lang, value="2030-13-45") in reasons
    if lang == "ko":
        assert not any("must be" in r or "not a date" in r for r in reasons), reasons


def test_roster_database_checks_read_in_korean(roster_db: Engine) -> None:
    """The checks against the database (a dong the catalog lacks, a program that is not one)
    once kept their English text on the Korean page; they carry keys like the cell checks."""
    data = roster_csv(PEOPLE, [person(8, dong_code="1111099999", program="no_such_program")])
    at = _open("people")
    at.file_uploader[0].set_value(("db.csv", data, "text/csv")).run()
    assert not at.exception
    reasons = _table_column(at, translate("importing.reason", "ko"), "이유")
    assert translate("import_error.unknown_dong", "ko", code="1111099999") in reasons
    assert any(r.startswith("알 수 없는 사업 no_such_program") for r in reasons), reasons
    assert not any("unknown" in r for r in reasons), reasons


def test_import_preview_warns_about_wanderers_without_a_home(roster_db: Engine) -> None:
    rows = [person(7, program="goyang_wandering", dong_code="4128555100", home_lat="",
                   home_lon="")]  # fmt: skip
    at = _open("people")
    at.file_uploader[0].set_value(("wanderers.csv", roster_csv(PEOPLE, rows), "text/csv")).run()
    assert not at.exception
    warning = translate("roster.no_zone", n="1", refs="P\\-0007")
    assert warning in [w.value for w in at.warning]


def test_the_section_stays_open_to_show_what_was_stored(roster_db: Engine) -> None:
    """A city's first import fills the list above the section: the page's elements shifted, the
    expander was drawn anew, closed, and hid the success message (and any note) inside it."""
    at = _open("devices")
    title = translate("roster.title_devices")
    assert not next(e for e in at.expander if e.label == title).proto.expanded
    rows = [device(8, device_id="SEOUL-PLUG-8", vendor="plugco", external_ref="P-0001")]
    at.file_uploader[0].set_value(("more.csv", roster_csv(DEVICES, rows), "text/csv")).run()
    at.button(key="roster_devices_confirm").click().run()
    assert not at.exception
    section = next(e for e in at.expander if e.label == title)
    assert section.proto.expanded
    assert any("more\\.csv" in s.value for s in section.success)
