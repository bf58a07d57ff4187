"""Routine-aware detection in the product (issue #9): the sentence and the routine strip on a
plug alert, marking people away on the person panel and the alert detail, and the live page's
watch list of homes drifting from their routine.

Works on a private copy of the demo database (the away form writes; the watch list's homes are
built here at the real clock, since the demo city's signals end in 2024).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select, update
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.auth import SessionUser
from dashboard.auth.principal import cli_principal
from dashboard.auth.users import create_user
from dashboard.db.schema import (
    Alert,
    AuditLog,
    AwayPeriod,
    CareRecipient,
    Device,
    DeviceRoutine,
    Region,
    User,
)
from dashboard.detection.away import mark_away
from dashboard.detection.explain import explain_plug
from dashboard.formatting import format_date
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.auth import ACTIVITY_KEY, USER_KEY
from dashboard.ui.away import key as away_key
from dashboard.ui.routine_chart import day_label
from dashboard.ui.safe_text import md_escape
from dashboard.ui.watch import clear_watch
from queries.alerts import OPEN_STATUSES
from tests.apptest.conftest import APP, open_page, private_copy, texts, without_live_loop
from tests.routine_support import bits_away_from, give_routine

PASSWORD = "a long passphrase for tests"


def cli_lead() -> SessionUser:
    return SessionUser("lead", "lead", "lead")


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    """A private copy, without the embedded live loop: the homes built below report at the real
    clock, which would make the demo city look live and start the loop."""
    with (
        without_live_loop("tests/apptest/test_routine_ui.py"),
        private_copy(demo_db, tmp_path_factory.mktemp("routine-ui")) as engine,
    ):
        yield engine


def _shown(at: AppTest) -> str:
    return "\n".join(texts(at))


def _alert(db: Engine, basis: str | None) -> dict:
    """An open plug alert of the demo city raised on this basis (None: no basis at all)."""
    with db.connect() as conn:
        rows = conn.execute(
            select(Alert.id, Alert.evidence, Alert.device_id)
            .where(Alert.rule == "plug_no_change", Alert.status.in_(OPEN_STATUSES))
            .order_by(Alert.id)
        ).all()
    for row in rows:
        evidence = row.evidence if isinstance(row.evidence, dict) else json.loads(row.evidence)
        if evidence.get("basis") == basis:
            return {"id": row.id, "evidence": evidence, "device_id": row.device_id}
    pytest.fail(f"the demo city has no open plug alert with basis {basis}")


def _charts(at: AppTest) -> list[str]:
    """Each chart's Vega-Lite spec as readable JSON (Korean not escaped)."""
    return [
        json.dumps(json.loads(c.proto.spec), ensure_ascii=False) for c in at.get("vega_lite_chart")
    ]


# --- the sentence and the strip ------------------------------------------------------------------


def test_demo_plugs_have_usable_routines(db: Engine) -> None:
    with db.connect() as conn:
        plugs = conn.scalar(
            select(func.count()).select_from(Device).where(Device.type_code == "smart_plug")
        )
        usable = conn.scalar(
            select(func.count())
            .select_from(DeviceRoutine)
            .where(DeviceRoutine.reference_days >= 14)
        )
    assert plugs and usable >= 0.9 * plugs


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_routine_alert_explains_itself_and_shows_the_strip(db: Engine, lang: str) -> None:
    alert = _alert(db, "routine")
    params = {"alert": str(alert["id"])} | ({"lang": "en"} if lang == "en" else {})
    at = open_page("alerts", **params)
    sentence = md_escape(explain_plug(alert["evidence"], lang))
    [info] = [i.value for i in at.info if translate("routine.why", lang) in i.value]
    assert sentence in info
    shown = _shown(at)
    assert translate("routine.strip_title", lang, days=28) in shown
    ev = alert["evidence"]
    score = [c.value for c in at.caption if str(ev["routine_expected_slots"]) in c.value]
    assert score and f"{ev['routine_active_days']}" in score[0]
    # The strip: 28 day rows ending on the plug's last report (the demo ends 2024-11-29), today
    # marked, the three cell states in the user's language, the quiet spell drawn.
    [chart] = [c for c in _charts(at) if translate("routine.cell.active", lang) in c]
    last, today = date(2024, 11, 29), _today()
    assert day_label(last, today, lang) in chart and translate("routine.today", lang) not in chart
    assert day_label(last - timedelta(days=27), today, lang) in chart
    assert translate("routine.cell.no_data", lang) in chart and "#E69F00" in chart
    # The English sentence stored in the evidence is not shown raw in Korean.
    if lang == "ko":
        assert "No activity since" not in shown


def test_an_alert_without_basis_shows_what_it_showed_before(db: Engine) -> None:
    alert = _alert(db, "routine")
    legacy = {k: v for k, v in alert["evidence"].items() if k not in ("basis", "explanation")}
    with db.begin() as conn:
        conn.execute(update(Alert).where(Alert.id == alert["id"]).values(evidence=legacy))
    try:
        at = open_page("alerts", alert=str(alert["id"]))
        assert not [i for i in at.info if translate("routine.why") in i.value]
        assert translate("routine.strip_title", days=28) not in _shown(at)
    finally:
        with db.begin() as conn:
            conn.execute(
                update(Alert).where(Alert.id == alert["id"]).values(evidence=alert["evidence"])
            )


# --- away periods --------------------------------------------------------------------------------


def _goyang_person(db: Engine, offset: int) -> tuple[int, str]:
    """An active person in 고양시 (the demo operator's district) without open alerts."""
    open_alert = select(Alert.recipient_id).where(
        Alert.status.in_(OPEN_STATUSES), Alert.recipient_id.is_not(None)
    )
    with db.connect() as conn:
        row = conn.execute(
            select(CareRecipient.id, CareRecipient.external_ref)
            .join(Region, Region.id == CareRecipient.region_id)
            .where(
                CareRecipient.ended_on.is_(None),
                CareRecipient.id.not_in(open_alert),
                Region.code.startswith("4128"),
            )
            .order_by(CareRecipient.external_ref.desc())
            .offset(offset)
            .limit(1)
        ).one()
    return row.id, row.external_ref


def _person_page(ref: str, role: str = "operator", lang: str = "ko") -> AppTest:
    params = {"person": ref} | ({"lang": "en"} if lang == "en" else {})
    at = open_page(role=role, **params)
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _periods(db: Engine, rid: int) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AwayPeriod).where(AwayPeriod.recipient_id == rid).order_by(AwayPeriod.id)
        ).all()


def _audits(db: Engine, action: str, rid: int) -> list:
    with db.connect() as conn:
        return conn.execute(
            select(AuditLog).where(AuditLog.action == action, AuditLog.entity_id == str(rid))
        ).all()


def _today() -> date:
    return clock.now().astimezone(LOCAL_TZ).date()


def test_an_operator_marks_a_person_away_and_cancels_it(db: Engine) -> None:
    rid, ref = _goyang_person(db, 0)
    at = _person_page(ref)
    today = _today()
    at.date_input(key=away_key("people", "starts", rid)).set_value(today)
    at.date_input(key=away_key("people", "ends", rid)).set_value(today + timedelta(days=5))
    at.text_input(key=away_key("people", "note", rid)).set_value("딸 집 방문")
    at.button(key=away_key("people", "save", rid)).click().run()
    assert not at.exception and not at.error
    [period] = _periods(db, rid)
    assert (period.starts_on, period.ends_on) == (today, today + timedelta(days=5))
    assert (period.note, period.created_by) == ("딸 집 방문", "operator")
    [audit] = _audits(db, "away_mark", rid)
    assert audit.actor == "operator" and "딸" not in json.dumps(audit.detail, ensure_ascii=False)
    until = translate("away.marked_until", date=format_date(today + timedelta(days=5), "ko"))
    assert until in [w.value for w in at.warning]  # the panel says so at once
    assert [s.value for s in at.success] == [
        translate(
            "away.saved",
            starts=format_date(today, "ko"),
            ends=format_date(today + timedelta(days=5), "ko"),
        )
    ]
    at.button(key=away_key("people", f"cancel_{period.id}", rid)).click().run()
    assert _periods(db, rid)[0].cancelled_at is not None
    assert len(_audits(db, "away_cancel", rid)) == 1
    assert until not in [w.value for w in at.warning]


@pytest.mark.parametrize(
    ("starts", "ends", "message"),
    [
        (3, 1, "away.err.order"),  # returns before leaving
        (-10, 2, "away.err.too_early"),
        (0, 200, "away.err.too_long"),
    ],
)
def test_bad_dates_are_refused_translated_and_nothing_is_written(
    db: Engine, starts: int, ends: int, message: str
) -> None:
    rid, ref = _goyang_person(db, 1)
    at = _person_page(ref, lang="en")
    today = _today()
    at.date_input(key=away_key("people", "starts", rid)).set_value(today + timedelta(days=starts))
    at.date_input(key=away_key("people", "ends", rid)).set_value(today + timedelta(days=ends))
    at.button(key=away_key("people", "save", rid)).click().run()
    [error] = [e.value for e in at.error]
    assert translate(message, "en", days="92", n="200") in error
    assert translate("away.refused", "en", field="", message="")[:2] in error
    assert _periods(db, rid) == [] and _audits(db, "away_mark", rid) == []


def test_an_operator_outside_the_district_is_refused(db: Engine) -> None:
    rid, ref = _goyang_person(db, 2)
    at = _person_page(ref)
    assert away_key("people", "save", rid) in {b.key for b in at.button}
    # The account is moved to another district while the form is open: the callback, a second
    # door, is refused by the domain and writes nothing.
    with db.begin() as conn:
        _move_operator(conn, "1111000000")
    try:
        today = _today()
        at.date_input(key=away_key("people", "ends", rid)).set_value(today + timedelta(days=3))
        at.button(key=away_key("people", "save", rid)).click().run()
        assert _periods(db, rid) == [] and _audits(db, "away_mark", rid) == []
        refusal = at.session_state[away_key("people", "error", rid)]
        assert refusal == translate("away.not_permitted", reason=translate("card.refused.district"))
        # The same run re-read the account: the person is outside, the panel is gone.
        assert translate("people.not_found", ref=ref) in _shown(at) or not [
            b for b in at.button if b.key == away_key("people", "save", rid)
        ]
    finally:
        with db.begin() as conn:
            _move_operator(conn, "4128000000")


def _move_operator(conn, district: str) -> None:
    conn.execute(update(User).where(User.username == "operator").values(district_codes=[district]))


def test_the_away_form_on_a_person_alert(db: Engine) -> None:
    with db.connect() as conn:
        alert_id, rid = conn.execute(
            select(Alert.id, Alert.recipient_id)
            .join(Region, Region.id == Alert.region_id)
            .where(
                Alert.status.in_(OPEN_STATUSES),
                Alert.recipient_id.is_not(None),
                Region.code.startswith("4128"),
            )
            .order_by(Alert.id)
            .limit(1)
        ).one()
    at = open_page("alerts", role="operator", alert=str(alert_id))
    today = _today()
    at.date_input(key=away_key("alerts", "ends", rid)).set_value(today + timedelta(days=2))
    at.button(key=away_key("alerts", "save", rid)).click().run()
    assert not at.exception and not at.error
    [period] = _periods(db, rid)
    assert period.ends_on == today + timedelta(days=2)
    until = translate("away.marked_until", date=format_date(period.ends_on, "ko"))
    assert until in [w.value for w in at.warning]


def test_leads_get_the_away_form_admins_do_not(db: Engine) -> None:
    rid, ref = _goyang_person(db, 3)
    at = open_page(role="lead", person=ref)
    at.switch_page("../pages/people.py").run()
    assert away_key("people", "save", rid) in {b.key for b in at.button}  # leads do
    admin = _person_page(ref, role="admin")
    assert away_key("people", "save", rid) not in {b.key for b in admin.button}


# --- the watch list ------------------------------------------------------------------------------


def _seoul_plugs(db: Engine) -> list[tuple[int, int, str, str]]:
    """(device, person, 대상자번호, district code) of Seoul plugs without open alerts."""
    district = Region.__table__.alias("district")
    open_alert = select(Alert.device_id).where(
        Alert.status.in_(OPEN_STATUSES), Alert.device_id.is_not(None)
    )
    with db.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(
                select(Device.id, CareRecipient.id, CareRecipient.external_ref, district.c.code)
                .join(CareRecipient, CareRecipient.id == Device.recipient_id)
                .join(Region, Region.id == CareRecipient.region_id)
                .join(district, district.c.id == Region.parent_id)
                .where(
                    Device.type_code == "smart_plug",
                    Device.status == "active",
                    Device.id.not_in(open_alert),
                    CareRecipient.ended_on.is_(None),
                )
                .order_by(district.c.code, Device.id)
            ).all()
        ]


@pytest.fixture(scope="module")
def homes(db: Engine) -> dict[str, tuple[int, int, str, str]]:
    plugs = _seoul_plugs(db)
    first = plugs[0][3]
    here = [p for p in plugs if p[3] == first]
    there = next(p for p in plugs if p[3] != first)
    chosen = {"drifting": here[0], "normal": here[1], "elsewhere": there}
    now = datetime.now(UTC)
    with db.begin() as conn:
        give_routine(conn, chosen["drifting"][0], now, quiet_h=4)
        give_routine(conn, chosen["normal"][0], now, quiet_h=4, bits=bits_away_from(now))
        give_routine(conn, chosen["elsewhere"][0], now, quiet_h=5)
        create_user(
            conn,
            "seoulop",
            "operator",
            PASSWORD,
            now,
            cli_principal(),
            district_codes=[first],
        )
    clear_watch()  # earlier tests' runs of the default live page cached this minute's list
    return chosen


def _watch_lines(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown if "people?person=" in m.value)


def test_the_watch_list_shows_drifting_homes_not_normal_ones(db: Engine, homes) -> None:
    at = open_page("live", role="lead")
    lines = _watch_lines(at)
    assert homes["drifting"][2] in lines and homes["elsewhere"][2] in lines
    assert homes["normal"][2] not in lines
    assert translate("watch.title") in [s.value for s in at.subheader]
    # The sentence, in the user's language.
    assert md_escape(translate("detection.explain.routine", "ko", since="", quiet="", active=28,
                               days=28, start="", end="")[:3]) in lines  # fmt: skip


def test_the_watch_list_keeps_to_the_operators_districts(db: Engine, homes) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    district = (homes["drifting"][3],)
    at.session_state[USER_KEY] = SessionUser("seoulop", "seoulop", "operator", district)
    at.session_state[ACTIVITY_KEY] = datetime.now(UTC)
    at.run()
    at.switch_page("../pages/live.py").run()
    assert not at.exception, [e.value for e in at.exception]
    lines = _watch_lines(at)
    assert homes["drifting"][2] in lines
    assert homes["elsewhere"][2] not in lines and homes["normal"][2] not in lines
    demo_operator = open_page("live", role="operator")  # 고양시: no plugs there
    assert homes["drifting"][2] not in _watch_lines(demo_operator)


def test_the_live_page_lists_people_marked_away(db: Engine, homes) -> None:
    rid, ref = _goyang_person(db, 4)
    today = _today()
    with db.begin() as conn:
        mark_away(conn, cli_lead(), clock.now(), rid, today, today + timedelta(days=4))
    clear_watch()
    at = open_page("live", role="operator")
    [away] = [d.value for d in at.dataframe if translate("away.ends_on") in d.value.columns]
    row = away[away[translate("card.ref")] == ref]
    assert len(row) == 1
    assert row[translate("away.ends_on")].iloc[0] == format_date(today + timedelta(days=4), "ko")
    assert "*" in row[translate("col.recipient")].iloc[0]  # masked, as the live page does


def test_no_away_form_for_an_operator_outside_the_persons_district(db: Engine, homes) -> None:
    with db.connect() as conn:
        alert_id, rid = conn.execute(
            select(Alert.id, Alert.recipient_id)
            .join(Region, Region.id == Alert.region_id)
            .where(Alert.recipient_id.is_not(None), Region.code.startswith("4128"))
            .order_by(Alert.id)
            .limit(1)
        ).one()
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state[USER_KEY] = SessionUser(
        "seoulop", "seoulop", "operator", (homes["drifting"][3],)
    )
    at.session_state[ACTIVITY_KEY] = datetime.now(UTC)
    at.query_params["alert"] = str(alert_id)
    at.run()
    at.switch_page("../pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert away_key("alerts", "save", rid) not in {b.key for b in at.button}
