"""대상자 관리, acting on one person: settings, notes (after the audited reveal), home position,
end of enrollment. Each action writes through the enrollment domain with its audit row, a
refusal is shown translated and writes nothing, operators get no action, the council no page.

The module works on a private copy of the demo database (the actions write).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.db.schema import Alert, AuditLog, CareRecipient, Device, Region
from dashboard.enrollment.people import KOREA_LAT
from dashboard.formatting import format_date
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.person import purpose_key
from dashboard.ui.person_actions import key
from queries.alerts import OPEN_STATUSES
from tests.apptest.conftest import open_page, private_copy, texts


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("person-actions")) as engine:
        yield engine


def _open(ref: str, role: str = "lead", lang: str = "ko") -> AppTest:
    params = {"person": ref} | ({"lang": "en"} if lang == "en" else {})
    at = open_page(role=role, **params)
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _people(db: Engine, n: int, offset: int = 0) -> list[tuple[int, str]]:
    """Active demo people of 고양시 (the demo operator's district), without open alerts."""
    open_alert = select(Alert.recipient_id).where(
        Alert.status.in_(OPEN_STATUSES), Alert.recipient_id.is_not(None)
    )
    with db.connect() as conn:
        rows = conn.execute(
            select(CareRecipient.id, CareRecipient.external_ref)
            .join(Region, Region.id == CareRecipient.region_id)
            .where(
                CareRecipient.ended_on.is_(None),
                CareRecipient.id.not_in(open_alert),
                Region.code.startswith("4128"),
            )
            .order_by(CareRecipient.external_ref)
            .offset(offset)
            .limit(n)
        ).all()
    assert len(rows) == n
    return [(r.id, r.external_ref) for r in rows]


def _audits(db: Engine, action: str, rid: int) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog)
            .where(AuditLog.action == action, AuditLog.entity_id == str(rid))
            .order_by(AuditLog.id)
        ).all()


def _person(db: Engine, rid: int):
    with db.connect() as conn:
        return conn.execute(select(CareRecipient).where(CareRecipient.id == rid)).one()


def _keys(at: AppTest) -> set[str]:
    widgets = (*at.button, *at.number_input, *at.text_area, *at.selectbox, *at.date_input)
    return {w.key for w in widgets if w.key}


def _shown(at: AppTest) -> str:
    return "\n".join(texts(at))


# --- settings -----------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_lead_changes_settings_prefilled_saved_audited_and_shown(db: Engine, lang: str) -> None:
    [(rid, ref)] = _people(db, 1, offset=0 if lang == "ko" else 1)
    before = _person(db, rid)
    at = _open(ref, lang=lang)
    hours = at.number_input(key=key("no_change_hours", rid))
    assert hours.value == before.no_change_hours  # prefilled (None: the program's default)
    hours.set_value(36)
    at.number_input(key=key("safe_zone_m", rid)).set_value(450)
    risk = at.selectbox(key=key("risk_group", rid))  # options as shown: translated labels
    risk.select_index(list(risk.options).index(translate("risk.dementia", lang)))
    at.button(key=key("settings_save", rid)).click().run()
    assert not at.exception
    after = _person(db, rid)
    assert (after.no_change_hours, after.safe_zone_m, after.risk_group) == (36, 450, "dementia")
    [entry] = _audits(db, "person_settings", rid)
    assert entry.actor == "lead" and entry.detail["no_change_hours"] == 36
    assert set(entry.detail["fields"]) <= {"no_change_hours", "safe_zone_m", "risk_group"}
    assert at.success and translate("person_edit.saved", lang, fields="")[:6] in at.success[0].value
    facts = next(d.value for d in at.dataframe if translate("col.field", lang) in d.value.columns)
    values = dict(zip(facts.iloc[:, 0], facts.iloc[:, 1], strict=True))
    assert values[translate("person.no_change_hours", lang)] == "36 h"  # at once, not after TTL
    assert values[translate("col.safe_zone", lang)] == "450 m"


def test_unchanged_form_saves_nothing(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=2)
    at = _open(ref)
    at.button(key=key("settings_save", rid)).click().run()
    assert [i.value for i in at.info][-1] == translate("person_edit.no_change")
    assert _audits(db, "person_settings", rid) == []


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("no_change_hours", 60, translate("person_edit.err.range", low=24, high=50, value=60)),
        ("safe_zone_m", 10, translate("person_edit.err.range", low=50, high=5000, value=10)),
    ],
)
def test_refused_setting_is_shown_translated_and_nothing_is_written(
    db: Engine, field: str, value: int, expected: str
) -> None:
    [(rid, ref)] = _people(db, 1, offset=3)
    before = _person(db, rid)
    at = _open(ref)
    at.number_input(key=key("no_change_hours", rid)).set_value(30)  # valid, but not alone
    at.number_input(key=key(field, rid)).set_value(value)
    at.button(key=key("settings_save", rid)).click().run()
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert expected in error and translate("person_edit.refused", field="", message="")[:4] in error
    after = _person(db, rid)
    assert (after.no_change_hours, after.safe_zone_m) == (
        before.no_change_hours,
        before.safe_zone_m,
    )
    assert _audits(db, "person_settings", rid) == []
    assert at.number_input(key=key(field, rid)).value == value  # the entry stays to be fixed


# --- notes --------------------------------------------------------------------------------------

NOTE = "**보행기** 사용 <b>x</b> [링크](http://evil.example) $x$"


def test_notes_are_edited_and_shown_only_after_the_audited_reveal(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=4)
    at = _open(ref)
    assert key("notes", rid) not in _keys(at)  # personal data: not before the reveal
    assert translate("person_edit.notes_locked") in _shown(at)
    at.selectbox(key=purpose_key(rid)).set_value("records").run()
    at.button(key="people_reveal").click().run()
    [reveal] = _audits(db, "reveal_personal_data", rid)
    assert "notes" in reveal.detail["fields"]
    at.text_area(key=key("notes", rid)).set_value(NOTE)
    at.button(key=key("settings_save", rid)).click().run()
    assert not at.exception
    assert _person(db, rid).notes == NOTE
    [entry] = _audits(db, "person_settings", rid)
    assert entry.detail == {"fields": ["notes"]}  # that they changed, never what they say
    assert NOTE in [x.value for x in at.text]  # as plain text: no markdown, no HTML …
    assert not any("보행기" in m.value for m in at.markdown)
    # … and hidden again for a new session until the next reveal, with only a hint they exist.
    at = _open(ref)
    assert "보행기" not in _shown(at)
    assert translate("person.notes_hidden") in _shown(at)


def test_admin_edits_settings_without_notes_home_or_personal_data(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=4)  # the person whose notes the test above wrote
    assert _person(db, rid).notes
    at = _open(ref, role="admin")
    keys = _keys(at)
    assert key("settings_save", rid) in keys and key("end_review", rid) in keys
    assert not {key(p, rid) for p in ("notes", "home_lat", "home_save", "end_note")} & keys
    shown = _shown(at)
    assert "보행기" not in shown and translate("person.notes_hidden") not in shown
    assert translate("person_home.not_for_role") in shown
    at.number_input(key=key("no_change_hours", rid)).set_value(40)
    at.button(key=key("settings_save", rid)).click().run()
    assert _person(db, rid).no_change_hours == 40
    assert _audits(db, "person_settings", rid)[-1].actor == "admin"


# --- home position ------------------------------------------------------------------------------


def test_lead_sets_the_home_by_coordinates(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=5)
    at = _open(ref)
    lat, lon = at.number_input(key=key("home_lat", rid)), at.number_input(key=key("home_lon", rid))
    home = _person(db, rid)
    assert (lat.value, lon.value) == (home.pii_home_lat, home.pii_home_lon)  # prefilled
    assert at.button(key=key("home_save", rid)).disabled  # nothing new to save yet
    lat.set_value(37.6601)
    at.number_input(key=key("home_lon", rid)).set_value(126.7702)
    at.run()
    assert any("37.660100, 126.770200" in c.value for c in at.caption)  # the point to confirm
    at.button(key=key("home_save", rid)).click().run()
    assert not at.exception
    home = _person(db, rid)
    assert (home.pii_home_lat, home.pii_home_lon) == (37.6601, 126.7702)
    [entry] = _audits(db, "person_home", rid)
    assert entry.detail == {"cleared": False, "source": "entered"}  # no coordinates audited
    assert translate("person_home.saved") in [s.value for s in at.success]
    assert translate("person.home_on_record") in _shown(at)


def test_a_clicked_point_is_saved_with_its_source(db: Engine) -> None:
    """What streamlit-folium's change callback leaves (the browser test clicks for real)."""
    [(rid, ref)] = _people(db, 1, offset=6)
    at = _open(ref)
    at.session_state[f"people_map_{rid}"] = {"last_clicked": {"lat": 37.65, "lng": 126.78}}
    at.session_state[key("home_lat", rid)] = 37.65
    at.session_state[key("home_lon", rid)] = 126.78
    at.session_state[key("home_picked", rid)] = (37.65, 126.78)
    at.run()
    at.button(key=key("home_save", rid)).click().run()
    assert _audits(db, "person_home", rid)[-1].detail["source"] == "map"


@pytest.mark.parametrize(("lat", "lon"), [(48.137, 11.575), (126.78, 37.65)])
def test_a_position_outside_korea_is_refused_and_nothing_is_written(
    db: Engine, lat: float, lon: float
) -> None:
    [(rid, ref)] = _people(db, 1, offset=7)
    before = _person(db, rid)
    at = _open(ref)
    at.number_input(key=key("home_lat", rid)).set_value(lat)
    at.number_input(key=key("home_lon", rid)).set_value(lon)
    at.run()
    at.button(key=key("home_save", rid)).click().run()
    [error] = [e.value for e in at.error]
    assert f"{KOREA_LAT[0]}–{KOREA_LAT[1]}" in error and translate("person_home.lat") in error
    after = _person(db, rid)
    assert (after.pii_home_lat, after.pii_home_lon) == (before.pii_home_lat, before.pii_home_lon)
    assert _audits(db, "person_home", rid) == []


# --- end of enrollment --------------------------------------------------------------------------


def _person_with_open_alerts(db: Engine) -> tuple[int, str, int, int]:
    """An active person with open alerts: id, ref, open alerts (theirs and their devices'),
    devices."""
    with db.connect() as conn:
        rid, ref = conn.execute(
            select(CareRecipient.id, CareRecipient.external_ref)
            .join(Alert, Alert.recipient_id == CareRecipient.id)
            .where(Alert.status.in_(OPEN_STATUSES), CareRecipient.ended_on.is_(None))
            .order_by(CareRecipient.external_ref)
            .limit(1)
        ).one()
        devices = list(conn.scalars(select(Device.id).where(Device.recipient_id == rid)))
        alerts = conn.scalar(
            select(func.count())
            .select_from(Alert)
            .where(
                (Alert.recipient_id == rid) | Alert.device_id.in_(devices),
                Alert.status != "closed",
            )
        )
    return rid, ref, alerts, len(devices)


def test_end_of_enrollment_needs_a_confirmation_that_says_what_it_closes(db: Engine) -> None:
    rid, ref, alerts, devices = _person_with_open_alerts(db)
    assert alerts and devices
    at = _open(ref)
    at.selectbox(key=key("end_reason", rid)).set_value("facility")
    at.text_area(key=key("end_note", rid)).set_value("요양원 입소")
    at.button(key=key("end_review", rid)).click().run()
    assert _person(db, rid).ended_on is None  # reviewing writes nothing
    today = clock.now().astimezone(LOCAL_TZ).date()
    warning = translate(
        "person_end.confirm_text",
        ref=ref.replace("-", "\\-"),
        reason=translate("enrollment.reason.facility"),
        date=format_date(today, "ko"),
        alerts=alerts,
        devices=devices,
    )
    assert warning in [w.value for w in at.warning]
    at.button(key=key("end_confirm", rid)).click().run()
    assert not at.exception
    person = _person(db, rid)
    assert (person.ended_on, person.end_reason) == (today, "facility")
    assert person.notes.endswith(f"[서비스 종료 {today.isoformat()}] 요양원 입소")
    [entry] = _audits(db, "enrollment_end", rid)
    assert len(entry.detail["closed_alerts"]) == alerts
    assert len(entry.detail["released_devices"]) == devices
    with db.connect() as conn:
        assert not conn.scalar(
            select(func.count()).where(Alert.recipient_id == rid, Alert.status != "closed")
        )
    done = translate("person_end.done", ref=ref.replace("-", "\\-"), alerts=alerts, devices=devices)
    assert done in [s.value for s in at.success]
    # The person now shows as ended, with the date and reason, and offers no action.
    shown = _shown(at)
    assert translate("person.status.ended") in shown
    assert translate("enrollment.reason.facility") in shown
    assert translate("person_edit.ended") in shown
    assert not {key(p, rid) for p in ("settings_save", "end_review", "home_save")} & _keys(at)


def test_cancel_leaves_the_person_enrolled(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=8)
    at = _open(ref)
    at.button(key=key("end_review", rid)).click().run()
    at.button(key=key("end_cancel", rid)).click().run()
    assert key("end_confirm", rid) not in _keys(at)
    assert _person(db, rid).ended_on is None and _audits(db, "enrollment_end", rid) == []


@pytest.mark.parametrize("days", [1, -40_000])
def test_a_refused_end_date_is_shown_and_nothing_is_written(db: Engine, days: int) -> None:
    [(rid, ref)] = _people(db, 1, offset=9)
    at = _open(ref)
    today = clock.now().astimezone(LOCAL_TZ).date()
    day = max(today + timedelta(days=days), date(2000, 1, 1))
    at.date_input(key=key("end_date", rid)).set_value(day)
    at.button(key=key("end_review", rid)).click().run()
    at.button(key=key("end_confirm", rid)).click().run()
    assert not at.exception
    enrolled = format_date(_person(db, rid).enrolled_on, "ko")
    expected = "person_edit.err.future" if days > 0 else "person_edit.err.before_enrollment"
    [error] = [e.value for e in at.error]
    assert translate(expected, date=enrolled) in error
    assert _person(db, rid).ended_on is None and _audits(db, "enrollment_end", rid) == []


# --- who may act --------------------------------------------------------------------------------


def test_operator_sees_the_person_but_no_roster_action(db: Engine) -> None:
    [(rid, ref)] = _people(db, 1, offset=10)
    at = _open(ref, role="operator")
    assert translate("person.title", ref=ref.replace("-", "\\-")) in [s.value for s in at.subheader]
    keys = _keys(at)
    assert "people_reveal" in keys  # reading, in their districts, stays
    # Marking the person away is theirs (tests/apptest/test_routine_ui.py); the roster is not.
    roster = {k for k in keys if k.endswith(f"_{rid}") and k.startswith("people_")}
    assert roster and all(k.startswith("people_away_") for k in roster)
    # The away form and the page's folded slow-risk list (operators see their districts').
    slow_risk = translate("slow_risk.title", n=0).split("0")[0]
    labels = [e.label for e in at.expander if not e.label.startswith(slow_risk)]
    assert labels == [translate("away.title")]
    assert translate("person_home.title") not in _shown(at)
    assert translate("person_home.not_for_role") not in _shown(at)


def test_council_cannot_reach_the_page(db: Engine) -> None:
    at = open_page(role="council")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/people.py")


# --- a page left open: the callback acts as the account is now ---------------------------------


def test_a_stale_page_saves_nothing_for_a_disabled_account(db: Engine) -> None:
    """The save button's callback runs before the page's gate re-reads the account: a lead
    disabled since the page was drawn no longer saves through it."""
    from sqlalchemy import update

    from dashboard.db.schema import User

    [(rid, ref)] = _people(db, 1, offset=7)
    before = _person(db, rid)
    at = _open(ref)
    at.number_input(key=key("no_change_hours", rid)).set_value(30)
    with db.begin() as conn:
        conn.execute(update(User).where(User.username == "lead").values(active=False))
    try:
        at.button(key=key("settings_save", rid)).click().run()
    finally:
        with db.begin() as conn:
            conn.execute(update(User).where(User.username == "lead").values(active=True))
    assert not at.exception
    assert _person(db, rid).no_change_hours == before.no_change_hours
    assert _audits(db, "person_settings", rid) == []


def test_an_away_note_shows_only_after_the_audited_reveal(db: Engine) -> None:
    """An away period's note ("입원: 일산백병원 3주") is free text about the person, cleared by
    the privacy purge like the other notes, yet it showed to anyone opening the person with
    no reveal and no audit row."""
    from datetime import timedelta

    from dashboard.auth import SessionUser
    from dashboard.detection.away import mark_away

    [(rid, ref)] = _people(db, 1, offset=14)
    note = "입원 일산백병원 3주"
    today = clock.now().astimezone(LOCAL_TZ).date()
    with db.begin() as conn:
        lead = SessionUser("lead", "lead", "lead")
        mark_away(conn, lead, clock.now(), rid, today, today + timedelta(days=5), note)
    at = _open(ref, role="operator")
    assert note not in _shown(at)
    assert translate("person.notes_hidden") in _shown(at)  # that there is one, not what
    at.selectbox(key=purpose_key(rid)).set_value("care_check").run()
    at.button(key="people_reveal").click().run()
    assert not at.exception
    assert note in _shown(at)
