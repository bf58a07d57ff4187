"""The alert queue and its actions in AppTest: scope, masking and audited reveal, actions
through buttons and dialogs, conflicts and double clicks, all against the session demo DB."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from itertools import count

import pytest
import streamlit as st
from sqlalchemy import Engine, func, insert, select, update
from streamlit.testing.v1 import AppTest

from dashboard.actions import perform
from dashboard.auth import DEMO_ACCOUNTS, SessionUser
from dashboard.auth.permissions import NotPermitted
from dashboard.auth.reveal import reveal_personal_data
from dashboard.db.schema import Alert, AuditLog, CareRecipient, Device, Dispatch, Region
from dashboard.formatting import format_number, mask_name
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ
from dashboard.ui.safe_text import md_escape
from queries import alerts as alert_q
from tests.apptest.conftest import (
    TIMEOUT,
    metric,
    metric_column_share,
    open_page,
    private_copy,
    texts,
    without_live_loop,
)

GOYANG = "4128"  # the demo operator's district 고양시 (4128000000) and everything under it
_keys = count()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The queue is cached for 10 s across sessions; tests change the database in between."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def new_alert(engine: Engine, *, inside_goyang: bool = True) -> tuple[int, int, str]:
    """A fresh open person alert (version 1) of a person with a device: (alert, person, name)."""
    inside = Region.code.startswith(GOYANG)
    with engine.begin() as conn:
        person = conn.execute(
            select(
                CareRecipient.id,
                CareRecipient.pii_name,
                CareRecipient.program_id,
                CareRecipient.region_id,
                Device.id.label("device_id"),
            )
            .join(Region, Region.id == CareRecipient.region_id)
            .join(Device, Device.recipient_id == CareRecipient.id)
            .where(inside if inside_goyang else ~inside)
            .where(CareRecipient.pii_guardian_phone.is_not(None))
            .order_by(CareRecipient.id)
        ).first()
        now = datetime.now(UTC)
        alert_id = conn.execute(
            insert(Alert).returning(Alert.id),
            {
                "dedup_key": f"apptest:{next(_keys)}:{now.timestamp()}",
                "kind": "person",
                "rule": "plug_no_change",
                "stage": "risk",
                "status": "open",
                "program_id": person.program_id,
                "region_id": person.region_id,
                "recipient_id": person.id,
                "device_id": person.device_id,
                "evidence": {"no_change_hours": 37.0, "threshold_h": 24.0},
                "opened_at": now - timedelta(hours=13),
                "updated_at": now - timedelta(hours=13),
                "version": 1,
            },
        ).scalar_one()
    return alert_id, person.id, person.pii_name


def _alert(engine: Engine, alert_id: int):
    with engine.connect() as conn:
        return conn.execute(select(Alert).where(Alert.id == alert_id)).one()


def _count(engine: Engine, stmt) -> int:
    with engine.connect() as conn:
        return int(conn.execute(stmt).scalar_one())


def _reveals(engine: Engine, recipient_id: int) -> int:
    return _count(
        engine,
        select(func.count())
        .select_from(AuditLog)
        .where(AuditLog.action == "reveal_personal_data", AuditLog.entity_id == str(recipient_id)),
    )


def _dispatches(engine: Engine, alert_id: int) -> int:
    return _count(
        engine, select(func.count()).select_from(Dispatch).where(Dispatch.alert_id == alert_id)
    )


def _button(at, key: str):
    return at.button(key=key)


def _shown(at) -> str:
    return "\n".join(texts(at) + [b.label for b in at.button])


# --- the queue ------------------------------------------------------------------------------


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_queue_counts_match_the_database(demo_db, lang: str) -> None:
    with demo_db.connect() as conn:
        expected = alert_q.open_alerts(conn, datetime.now(UTC))
    at = open_page("alerts", role="lead", **({"lang": "en"} if lang == "en" else {}))
    assert metric(at, translate("alerts.open_total", lang)) == format_number(len(expected))
    for stage in ("severe", "risk", "attention"):
        n = int((expected["stage"] == stage).sum())
        assert metric(at, translate(f"state.{stage}", lang)) == format_number(n)
    unacked = int((expected["status"] == "open").sum())
    assert metric(at, translate("queue.unacknowledged", lang)) == format_number(unacked)
    queue = at.dataframe[0].value
    assert queue[translate("col.alert_id", lang)].tolist() == expected["id"].tolist()
    assert translate("queue.since_ack", lang) in queue.columns


def test_operator_sees_only_alerts_in_their_districts(demo_db) -> None:
    new_alert(demo_db, inside_goyang=False)  # at least one alert outside 고양시
    inside_id, _, _ = new_alert(demo_db, inside_goyang=True)
    with demo_db.connect() as conn:
        everything = alert_q.open_alerts(conn, datetime.now(UTC))
        ours = alert_q.open_alerts(conn, datetime.now(UTC), areas=DEMO_ACCOUNTS["operator"][1])
    assert 0 < len(ours) < len(everything)
    assert ours["region_code"].str.startswith(GOYANG).all()
    at = open_page("alerts", role="operator")
    ids = at.dataframe[0].value["경보 번호"].tolist()
    assert ids == ours["id"].tolist() and inside_id in ids
    assert metric(at, "미처리 경보") == format_number(len(ours))


# --- the recipient card ------------------------------------------------------------------------


def test_the_queue_says_who_is_handling_each_alert(demo_db) -> None:
    """At night two operators share one queue: which alerts has the other already taken?
    The list said only "확인"/"출동"; whose, only the detail of each alert."""
    taken, _, _ = new_alert(demo_db)
    waiting, _, _ = new_alert(demo_db)
    kim = SessionUser("kim", "kim", "lead")
    perform(demo_db, "field_visit", taken, principal=kim, seen_version=1, now=datetime.now(UTC))
    at = open_page("alerts", role="lead")
    queue = at.dataframe[0].value.set_index("경보 번호")
    assert queue.loc[taken, "담당"] == "kim"
    assert queue.loc[waiting, "담당"] == "–"


def test_personal_data_is_masked_by_default(demo_db) -> None:
    alert_id, person, name = new_alert(demo_db)
    at = open_page("alerts", role="operator", alert=str(alert_id))
    shown = _shown(at)
    assert name not in shown
    assert mask_name(name) in shown
    assert _button(at, "alerts_reveal").label == "개인정보 보기"
    assert _reveals(demo_db, person) == 0


def test_reveal_writes_one_audit_row_and_shows_the_name(demo_db) -> None:
    alert_id, person, name = new_alert(demo_db)
    at = open_page("alerts", role="operator", alert=str(alert_id))
    _button(at, "alerts_reveal").click().run()
    assert not at.exception
    assert name in _shown(at)
    assert _reveals(demo_db, person) == 1
    with demo_db.connect() as conn:
        row = conn.execute(
            select(AuditLog).where(
                AuditLog.action == "reveal_personal_data", AuditLog.entity_id == str(person)
            )
        ).one()
    assert row.actor == "operator" and row.entity_type == "care_recipient"
    assert row.detail["alert_id"] == alert_id
    at.run()  # re-rendering the revealed card is not a new disclosure
    assert name in _shown(at) and _reveals(demo_db, person) == 1
    # The reveal belongs to that alert: another alert of the session is masked again.
    other_id, _, _ = new_alert(demo_db)
    at.query_params["alert"] = str(other_id)
    at.run()
    assert name not in _shown(at) and mask_name(name) in _shown(at)


def test_an_alert_outside_the_operators_districts_is_not_found(demo_db) -> None:
    alert_id, person, name = new_alert(demo_db, inside_goyang=False)
    at = open_page("alerts", role="operator", alert=str(alert_id))
    shown = _shown(at)
    assert name not in shown
    assert translate("alerts.not_found", id=alert_id) in [w.value for w in at.warning]
    # Nothing of the alert: no detail (its device, actions or reveal button).
    with demo_db.connect() as conn:
        uid = conn.execute(
            select(Device.device_uid)
            .join(Alert, Alert.device_id == Device.id)
            .where(Alert.id == alert_id)
        ).scalar_one()
    assert uid not in shown
    assert not [b for b in at.button if b.key == "alerts_reveal"]
    assert not [b for b in at.button if (b.key or "").startswith("alerts_act_")]
    # The check is in the function that discloses, not only in the missing button.
    operator = SessionUser("operator", "op", "operator", DEMO_ACCOUNTS["operator"][1])
    with pytest.raises(NotPermitted), demo_db.begin() as conn:
        reveal_personal_data(conn, operator, person, datetime.now(UTC), alert_id=alert_id)
    assert _reveals(demo_db, person) == 0


# --- actions ---------------------------------------------------------------------------------


def test_acknowledge_button_changes_the_status(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="operator", alert=str(alert_id))
    _button(at, "alerts_act_acknowledge").click().run()
    assert not at.exception
    row = _alert(demo_db, alert_id)
    assert (row.status, row.acknowledged_by, row.version) == ("acknowledged", "operator", 2)
    assert any(f"경보 {alert_id}번" in s.value for s in at.success)
    assert not [b for b in at.button if b.key == "alerts_act_acknowledge"]  # not offered again


def test_close_needs_the_dialog_an_outcome_and_a_note(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    _button(at, "alerts_act_close").click().run()
    assert _alert(demo_db, alert_id).status == "open"  # the button only opens the dialog
    _button(at, "alerts_dialog_confirm").click().run()
    assert translate("close.need_outcome") in _shown(at)
    assert _alert(demo_db, alert_id).status == "open"
    at.selectbox(key="alerts_close_outcome").set_value("hospitalized")
    _button(at, "alerts_dialog_confirm").click().run()
    assert "메모가 필요합니다" in _shown(at)
    assert _alert(demo_db, alert_id).status == "open"
    at.text_area(key="alerts_close_note").input("119 이송, 일산병원")
    _button(at, "alerts_dialog_confirm").click().run()
    assert not at.exception
    row = _alert(demo_db, alert_id)
    assert (row.status, row.outcome, row.note, row.closed_by) == (
        "closed",
        "hospitalized",
        "119 이송, 일산병원",
        "lead",
    )
    assert not [b for b in at.button if b.key == "alerts_dialog_confirm"]  # dialog closed


def test_119_is_recorded_only_after_confirmation(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id), lang="en")
    _button(at, "alerts_act_emergency_119").click().run()
    assert _dispatches(demo_db, alert_id) == 0
    assert "You still phone 119 yourself" in _shown(at)
    _button(at, "alerts_dialog_cancel").click().run()
    assert _dispatches(demo_db, alert_id) == 0 and _alert(demo_db, alert_id).status == "open"
    _button(at, "alerts_act_emergency_119").click().run()
    _button(at, "alerts_dialog_confirm").click().run()
    assert _dispatches(demo_db, alert_id) == 1
    assert _alert(demo_db, alert_id).status == "dispatched"


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_conflict_names_the_other_actor_and_keeps_their_change(demo_db, lang: str) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page(
        "alerts", role="lead", alert=str(alert_id), **({"lang": "en"} if lang == "en" else {})
    )
    # Someone else acknowledges while the page still shows version 1.
    kim = SessionUser("kim", "kim", "lead")
    perform(demo_db, "acknowledge", alert_id, principal=kim, seen_version=1, now=datetime.now(UTC))
    _button(at, "alerts_act_field_visit").click().run()
    assert not at.exception
    warnings = [w.value for w in at.warning]
    expected = "kim님이" if lang == "ko" else "kim acted first"
    assert any(expected in w for w in warnings), warnings
    row = _alert(demo_db, alert_id)
    assert (row.status, row.acknowledged_by, row.version) == ("acknowledged", "kim", 2)
    assert _dispatches(demo_db, alert_id) == 0
    # The page reloaded: it now offers what is possible on version 2.
    assert not [b for b in at.button if b.key == "alerts_act_acknowledge"]


def test_double_click_dispatches_once(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    _button(at, "alerts_act_field_visit").click().run()
    _button(at, "alerts_act_field_visit").click().run()  # the second click of a double click
    assert not at.exception
    assert _dispatches(demo_db, alert_id) == 1
    assert _alert(demo_db, alert_id).version == 2
    assert any("중복 클릭" in i.value for i in at.info)


def test_council_cannot_open_alerts(demo_db) -> None:
    at = open_page(role="council")
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page("../pages/alerts.py")
    assert translate("page.alerts") not in [t.value for t in at.title]


# --- where a check request goes ---------------------------------------------------------------


@pytest.mark.parametrize("office", [True, False], ids=["office_hours", "after_hours"])
def test_check_request_caption_is_where_the_service_sends(demo_db, monkeypatch, office) -> None:
    """The caption under the check-request button is the service's own routing answer, and the
    click sends the request exactly there (in office hours and at night)."""
    from dashboard.actions import check_request_route, load_routing
    from dashboard.actions import service as action_service
    from dashboard.db.schema import NotificationOutbox
    from dashboard.settings import LOCAL_TZ
    from dashboard.ui.alert_actions import route_text

    now = datetime.now(UTC)
    local = now.astimezone(LOCAL_TZ)
    base = load_routing()
    if office:  # every day, all day: whenever the test runs, the dong center is open
        window = {"office_start": time(0, 0), "office_end": time(23, 59, 59)}
    else:  # an hour far from now: the central center takes it
        start = time(13, 0) if local.hour < 12 else time(1, 0)
        window = {"office_start": start, "office_end": time(start.hour + 1, 0)}
    dong = base.dong_center.model_copy(
        update={
            **window,
            "office_days": ("mon", "tue", "wed", "thu", "fri", "sat", "sun"),
            "holiday_years": (local.year,),
            "holidays": frozenset(),
        }
    )
    cfg = base.model_copy(update={"dong_center": dong})
    monkeypatch.setattr(action_service, "current_routing", lambda: cfg)

    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    with demo_db.connect() as conn:
        route = check_request_route(conn, alert_id, now)
    assert route.reason == ("office_hours" if office else "after_hours")
    assert route_text(route, "ko") in [c.value for c in at.caption]
    _button(at, "alerts_act_dong_center").click().run()
    assert not at.exception
    with demo_db.connect() as conn:
        notice = conn.execute(
            select(NotificationOutbox.recipient, NotificationOutbox.payload).where(
                NotificationOutbox.alert_id == alert_id
            )
        ).one()
    assert (notice.recipient, notice.payload["target"]) == (route.recipient, route.target)


@pytest.mark.parametrize("raw", ["99999999999999999999999", "9223372036854775808", "¹", "١٢", "0"])
def test_a_link_that_names_no_row_is_a_warning_not_a_traceback(demo_db, raw) -> None:
    """Digits ``int`` refuses ("¹"), other scripts' digits and numbers past SQLite's 64-bit
    keys once raised OverflowError/ValueError on the page."""
    at = open_page("alerts", role="operator", alert=raw)
    assert not at.exception
    assert translate("alerts.bad_link", value=raw) in [w.value for w in at.warning]


def test_operator_live_page_shows_only_their_districts(demo_db) -> None:
    """The wall screen once counted and listed every district for an operator (masked names
    of other cities' people in its ticker); it now shows what the alert queue shows."""
    from dashboard.auth.regions import region_in_any
    from queries.filters import districts_with_devices
    from queries.live import LiveFilters, live_snapshot

    codes = DEMO_ACCOUNTS["operator"][1]
    with demo_db.connect() as conn:
        districts = districts_with_devices(conn)
        ids = tuple(
            int(i)
            for i, c in zip(districts["id"], districts["code"], strict=True)
            if region_in_any(c, codes)
        )
        now = datetime.now(UTC)
        everything = live_snapshot(conn, now, LiveFilters())
        ours = live_snapshot(conn, now, LiveFilters(districts=ids))
    assert 0 < ours.by_program["devices"].sum() < everything.by_program["devices"].sum()
    at = open_page("live", role="operator")
    assert translate("live.scope", n=len(codes)) in _shown(at)
    total = metric(at, translate("live.total_devices"))
    assert total == format_number(int(ours.by_program["devices"].sum()))
    ticker = "\n".join(str(m.value) for m in at.markdown)
    for name in set(everything.alerts["recipient_masked"]) - set(ours.alerts["recipient_masked"]):
        assert f"· {name}" not in ticker


# --- a page left open: the callback acts as the account is now ---------------------------------


def _stale_session(engine: Engine, at, change: str) -> None:
    """What happens to an open page's session or account between its render and a click."""
    from dashboard.db.schema import User
    from dashboard.ui.auth import ACTIVITY_KEY

    if change == "idle":
        at.session_state[ACTIVITY_KEY] = datetime.now(UTC) - timedelta(hours=2)
        return
    values = {"active": False} if change == "disabled" else {"district_codes": ["1100000000"]}
    with engine.begin() as conn:
        conn.execute(update(User).where(User.username == "operator").values(**values))


@pytest.mark.parametrize("change", ["disabled", "district", "idle"])
def test_a_stale_page_cannot_act_for_an_account_that_may_no_longer(
    demo_db, tmp_path, change: str
) -> None:
    """A button's callback runs before the gate re-reads the account: a disabled account, an
    operator moved to another district, or a session idle past its timeout once dispatched."""
    with private_copy(demo_db, tmp_path) as engine:
        alert_id, _, _ = new_alert(engine)
        at = open_page("alerts", role="operator", alert=str(alert_id))
        assert _button(at, "alerts_act_field_visit")  # offered while the account may act
        _stale_session(engine, at, change)
        _button(at, "alerts_act_field_visit").click().run()
        assert not at.exception
        row = _alert(engine, alert_id)
        assert (row.status, row.version, row.acknowledged_by) == ("open", 1, None)
        assert _dispatches(engine, alert_id) == 0


@pytest.mark.parametrize("change", ["disabled", "district", "idle"])
def test_a_stale_page_cannot_reveal_for_an_account_that_may_no_longer(
    demo_db, tmp_path, change: str
) -> None:
    with private_copy(demo_db, tmp_path) as engine:
        alert_id, person, name = new_alert(engine)
        at = open_page("alerts", role="operator", alert=str(alert_id))
        before = _reveals(engine, person)  # earlier tests may have revealed this person
        _stale_session(engine, at, change)
        _button(at, "alerts_reveal").click().run()
        assert not at.exception
        assert _reveals(engine, person) == before
        assert name not in _shown(at)


# --- deciding again after a conflict; a second police box -------------------------------------


def test_a_repeat_right_after_losing_loses_again_a_later_decision_is_applied(
    demo_db, monkeypatch
) -> None:
    """After a conflict the page shows the new version. The rest of a double click (at once)
    must not dispatch on a state nobody looked at; a click after the page showed it is the
    operator's new decision, and was refused for five seconds as if it were a repeat."""
    from dashboard.ui import alert_actions

    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    kim = SessionUser("kim", "kim", "lead")
    perform(demo_db, "acknowledge", alert_id, principal=kim, seen_version=1, now=datetime.now(UTC))
    _button(at, "alerts_act_field_visit").click().run()
    assert any("kim님이" in w.value for w in at.warning)
    monkeypatch.setattr(alert_actions, "REDECIDE_S", 60.0)  # the second click comes at once
    _button(at, "alerts_act_field_visit").click().run()
    assert any("kim님이" in w.value for w in at.warning)
    assert _dispatches(demo_db, alert_id) == 0
    monkeypatch.setattr(alert_actions, "REDECIDE_S", 0.0)  # the operator read it and decided
    _button(at, "alerts_act_field_visit").click().run()
    assert not at.exception
    assert any(f"경보 {alert_id}번" in s.value for s in at.success), [w.value for w in at.warning]
    assert _dispatches(demo_db, alert_id) == 1
    row = _alert(demo_db, alert_id)
    assert (row.status, row.version, row.acknowledged_by) == ("dispatched", 3, "kim")


def _wandering_alert(engine: Engine) -> int:
    """A left-the-zone alert opened ten minutes ago on a 고양시 detector, with fresh fixes."""
    from dashboard.db.schema import DeviceEvent, Responder

    now = datetime.now(UTC)
    with engine.begin() as conn:
        d = conn.execute(
            select(Device.id, Device.program_id, Device.region_id, Device.recipient_id)
            .join(Region, Region.id == Device.region_id)
            .where(Device.type_code == "wandering_detector", Region.code.startswith(GOYANG))
            .where(Device.recipient_id.is_not(None))
            .order_by(Device.id)
        ).first()
        place = conn.execute(
            select(Responder.lat, Responder.lon).where(Responder.lat.is_not(None))
        ).first()
        conn.execute(
            insert(DeviceEvent),
            [
                {"vendor": "apptest", "event_uid": f"fix-{next(_keys)}-{i}", "device_id": d.id,
                 "ts": now - timedelta(minutes=9 - i), "received_at": now, "type": "position",
                 "value": None, "data": {"lat": place.lat + 0.001 * i, "lon": place.lon}}
                for i in range(3)
            ],
        )  # fmt: skip
        return conn.execute(
            insert(Alert).returning(Alert.id),
            {
                "dedup_key": f"apptest-wander:{next(_keys)}:{now.timestamp()}",
                "kind": "person",
                "rule": "wander_left_zone",
                "stage": "risk",
                "status": "open",
                "program_id": d.program_id,
                "region_id": d.region_id,
                "recipient_id": d.recipient_id,
                "device_id": d.id,
                "evidence": {"distance_m": 900.0},
                "opened_at": now - timedelta(minutes=10),
                "updated_at": now - timedelta(minutes=10),
                "version": 1,
            },
        ).scalar_one()


def test_a_second_police_box_is_another_request_not_a_repeat(demo_db, tmp_path) -> None:
    """Asking the two nearest places one after the other: the second was taken for a double
    click of the first and refused as a conflict with the operator's own request."""
    with private_copy(demo_db, tmp_path) as engine:
        alert_id = _wandering_alert(engine)
        at = open_page("alerts", role="lead", alert=str(alert_id))
        keys = [b.key for b in at.button if (b.key or "").startswith(f"notify_{alert_id}_")]
        assert len(keys) >= 2, keys
        _button(at, keys[0]).click().run()
        _button(at, keys[1]).click().run()  # at once, from the refreshed page
        assert not at.exception
        assert not at.warning, [w.value for w in at.warning]
        with engine.connect() as conn:
            kinds = conn.execute(
                select(Dispatch.kind).where(Dispatch.alert_id == alert_id)
            ).scalars()
            assert list(kinds) == ["responder", "responder"]
        _button(at, keys[1]).click().run()  # a double click of the second: replayed
        with engine.connect() as conn:
            assert (
                conn.execute(
                    select(func.count()).select_from(Dispatch).where(Dispatch.alert_id == alert_id)
                ).scalar_one()
                == 2
            )


def test_a_close_lost_to_a_change_keeps_what_the_operator_typed(demo_db, monkeypatch) -> None:
    """The close dialog was open while the alert changed (a colleague acted, the rules raised
    the stage): the close is refused and the page shows the new state. Reopening the dialog on
    that alert brings back the outcome and the note, which were lost and had to be typed again
    at 03:00; the operator confirms them on the new state."""
    from dashboard.ui import alert_actions

    monkeypatch.setattr(alert_actions, "REDECIDE_S", 0.0)  # the operator reads, then decides
    alert_id, _, _ = new_alert(demo_db)
    note = "보호자 통화: 일산병원 응급실로 이송됨, 02:40 도착 확인. " * 20
    at = open_page("alerts", role="lead", alert=str(alert_id))
    _button(at, "alerts_act_close").click().run()
    at.selectbox(key="alerts_close_outcome").set_value("hospitalized")
    at.text_area(key="alerts_close_note").input(note)
    kim = SessionUser("kim", "kim", "lead")
    perform(demo_db, "acknowledge", alert_id, principal=kim, seen_version=1, now=datetime.now(UTC))
    _button(at, "alerts_dialog_confirm").click().run()
    assert not at.exception
    assert any("kim님이" in w.value for w in at.warning)
    assert _alert(demo_db, alert_id).status == "acknowledged"
    _button(at, "alerts_act_close").click().run()
    assert at.selectbox(key="alerts_close_outcome").value == "hospitalized"
    assert at.text_area(key="alerts_close_note").value == note
    assert translate("dialog.draft_kept") in _shown(at)
    _button(at, "alerts_dialog_confirm").click().run()
    row = _alert(demo_db, alert_id)
    assert (row.status, row.outcome, row.note, row.version) == ("closed", "hospitalized",
                                                                 note.strip(), 3)  # fmt: skip
    # Applied: the next dialog (another alert, or this one cancelled) starts empty.
    other, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(other))
    _button(at, "alerts_act_close").click().run()
    assert at.text_area(key="alerts_close_note").value in ("", None)


def test_a_119_note_lost_to_a_change_is_kept_for_this_alert_only(demo_db, monkeypatch) -> None:
    from dashboard.ui import alert_actions

    monkeypatch.setattr(alert_actions, "REDECIDE_S", 0.0)
    alert_id, _, _ = new_alert(demo_db)
    other, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    _button(at, "alerts_act_emergency_119").click().run()
    at.text_area(key="alerts_119_note").input("호흡 곤란 호소, 119 직접 신고함")
    kim = SessionUser("kim", "kim", "lead")
    perform(demo_db, "acknowledge", alert_id, principal=kim, seen_version=1, now=datetime.now(UTC))
    _button(at, "alerts_dialog_confirm").click().run()
    assert any("kim님이" in w.value for w in at.warning)
    assert _dispatches(demo_db, alert_id) == 0
    at.query_params["alert"] = str(other)  # another alert: not its note
    at.run()
    _button(at, "alerts_act_emergency_119").click().run()
    assert at.text_area(key="alerts_119_note").value in ("", None)
    _button(at, "alerts_dialog_cancel").click().run()
    at.query_params["alert"] = str(alert_id)
    at.run()
    _button(at, "alerts_act_emergency_119").click().run()
    assert at.text_area(key="alerts_119_note").value == "호흡 곤란 호소, 119 직접 신고함"
    _button(at, "alerts_dialog_confirm").click().run()
    assert _dispatches(demo_db, alert_id) == 1


def _watch(alert_id: int, shown: int, dialog: bool) -> None:
    """An AppTest script: the queue timer's check of the detail drawn at version ``shown``."""
    import streamlit as st

    from dashboard.ui import alert_actions

    alert_actions.remember_shown(alert_id, shown)
    if dialog:
        st.session_state["alerts_dialog"] = {"action": "close", "alert_id": alert_id}
    st.session_state["changed"] = alert_actions.changed_since_shown(alert_id)


def test_the_queue_timer_finds_the_alert_below_closed_by_someone_else(demo_db) -> None:
    """Another operator closed the alert on screen: the queue's timer dropped it from the list
    while the detail under it went on offering its buttons until the operator clicked one.
    The timer's check finds the change and says who did what for the page's redraw."""
    from dashboard.ui.alert_actions import FLASH_KEY

    alert_id, _, _ = new_alert(demo_db)
    at = AppTest.from_function(_watch, args=(alert_id, 1, False), default_timeout=TIMEOUT).run()
    assert at.session_state["changed"] is False  # nothing changed since it was drawn
    kim = SessionUser("kim", "kim", "lead")
    now = datetime.now(UTC)
    perform(demo_db, "close", alert_id, principal=kim, seen_version=1, now=now,
            confirmed=True, outcome="safe")  # fmt: skip
    at = AppTest.from_function(_watch, args=(alert_id, 1, False), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["changed"] is True
    kind, text = at.session_state[FLASH_KEY]
    local = now.astimezone(LOCAL_TZ).strftime("%H:%M:%S")
    assert kind == "info" and "kim" in text and local in text and "종결" in text, text
    # The page drew the new version: nothing to redraw; a dialog open on it is left alone.
    at = AppTest.from_function(_watch, args=(alert_id, 2, False), default_timeout=TIMEOUT).run()
    assert at.session_state["changed"] is False
    at = AppTest.from_function(_watch, args=(alert_id, 1, True), default_timeout=TIMEOUT).run()
    assert at.session_state["changed"] is False


def test_the_rules_refreshing_the_evidence_redraw_the_alert_without_a_note(demo_db) -> None:
    """A wanderer's alert takes a new version at every fix (its position is evidence): the
    timer redraws the detail, so the operator's next action carries the version, but a note
    "system: 경보 갱신" every 10 seconds would bury the ones that matter."""
    from dashboard.ui.alert_actions import FLASH_KEY

    alert_id, _, _ = new_alert(demo_db)
    with demo_db.begin() as conn:  # what the lifecycle writes for new evidence, unaudited
        conn.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(version=2, updated_at=datetime.now(UTC), evidence={"distance_m": 812})
        )
    at = AppTest.from_function(_watch, args=(alert_id, 1, False), default_timeout=TIMEOUT).run()
    assert not at.exception
    assert at.session_state["changed"] is True
    assert FLASH_KEY not in at.session_state


def test_the_page_remembers_the_version_it_drew(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    at = open_page("alerts", role="lead", alert=str(alert_id))
    assert at.session_state["alerts_shown_version"] == (alert_id, 1)
    _button(at, "alerts_act_acknowledge").click().run()
    assert at.session_state["alerts_shown_version"] == (alert_id, 2)  # its own action: drawn
    assert not at.info or all("다시 불러왔습니다" not in i.value for i in at.info)


def test_a_closed_alerts_note_can_be_read_on_its_page(demo_db) -> None:
    alert_id, _, _ = new_alert(demo_db)
    kim = SessionUser("kim", "kim", "lead")
    now = datetime.now(UTC)
    perform(demo_db, "emergency_119", alert_id, principal=kim, seen_version=1, now=now,
            confirmed=True, note="호흡 곤란 호소, 119 직접 신고")  # fmt: skip
    note = "일산병원 응급실 이송, 보호자 동행"
    perform(demo_db, "close", alert_id, principal=kim, seen_version=2, now=now,
            confirmed=True, outcome="hospitalized", note=note)  # fmt: skip
    at = open_page("alerts", role="lead", alert=str(alert_id))
    _button(at, "alerts_reveal").click().run()
    shown = _shown(at)
    assert note in shown
    assert "호흡 곤란 호소, 119 직접 신고" in shown
    # Each note as plain text (no markdown), under who wrote it, when and on which action.
    assert [e.value for e in at.text] == [note, "호흡 곤란 호소, 119 직접 신고"]
    assert any("kim" in c and "종결" in c for c in (e.value for e in at.caption))


def test_an_action_note_shows_only_after_the_reveal_and_as_text(demo_db) -> None:
    """A note may name or describe the person: before this alert's audited reveal the trail says
    a note exists, not what it says; a role that may not reveal (the council) never gets the
    page; a note that looks like markdown or HTML is shown as the characters typed."""
    alert_id, person, _ = new_alert(demo_db)
    kim = SessionUser("kim", "kim", "lead")
    note = "**현관문** [비밀번호](http://x) <b>010-1234-5678</b>"
    perform(demo_db, "close", alert_id, principal=kim, seen_version=1, now=datetime.now(UTC),
            confirmed=True, outcome="no_contact", note=note)  # fmt: skip
    at = open_page("alerts", role="lead", alert=str(alert_id))
    shown = _shown(at)
    assert "010-1234-5678" not in shown and "현관문" not in shown
    assert translate("detail.note_hidden") in shown
    assert translate("detail.notes_after_reveal") in shown
    assert not at.text
    _button(at, "alerts_reveal").click().run()
    assert [e.value for e in at.text] == [note]
    _button(at, "alerts_hide").click().run()
    assert "010-1234-5678" not in _shown(at)
    # The council cannot open the page (test_council_cannot_open_alerts); were the detail ever
    # drawn for a role that may not reveal, it would not even say that a note exists.
    from dashboard.ui.alert_detail import note_access
    from queries.recipients import recipient_card

    with demo_db.connect() as conn:
        card = recipient_card(conn, person)
    council = SessionUser("c", "c", "council")
    assert note_access(council, {"id": alert_id}, card) is None
    assert note_access(council, {"id": alert_id, "region_code": card.region_code}, None) is None


def test_a_pseudonymised_persons_notes_read_as_removed_not_as_hidden(demo_db, tmp_path) -> None:
    """After the privacy purge the trail still lists each action, and where a note was it says
    the note was removed: not that it shows after a reveal, which has nothing left to show."""
    from dashboard.enrollment import end_enrollment, purge_ended

    with private_copy(demo_db, tmp_path) as engine:
        alert_id, person, _ = new_alert(engine)
        kim = SessionUser("kim", "kim", "lead")
        now = datetime.now(UTC)
        perform(engine, "emergency_119", alert_id, principal=kim, seen_version=1, now=now,
                confirmed=True, note="호흡 곤란 호소, 119 직접 신고")  # fmt: skip
        perform(engine, "close", alert_id, principal=kim, seen_version=2, now=now,
                confirmed=True, outcome="hospitalized", note="일산병원 응급실 이송")  # fmt: skip
        with engine.begin() as conn:
            end_enrollment(conn, kim, now, person, "moved", now.astimezone(LOCAL_TZ).date())
            purge_ended(conn, kim, now, 0)
        at = open_page("alerts", role="lead", alert=str(alert_id))
        shown = _shown(at)
        assert not at.exception
        assert "호흡 곤란" not in shown and "일산병원" not in shown
        assert translate("detail.note_hidden") not in shown
        assert translate("detail.notes_after_reveal") not in shown
        trail = next(d.value for d in at.dataframe if translate("detail.trail_note") in d.value)
        # The close and the 119 call, newest first, each with its note removed.
        assert trail[translate("history.kind")].tolist() == [
            translate("act.close"),
            translate("act.emergency_119"),
        ]
        assert (
            trail[translate("detail.trail_note")].tolist()
            == [translate("detail.note_redacted")] * 2
        )
        assert not at.text


# --- filters kept in the URL -------------------------------------------------------------------


STATUS = ("dispatched",)


def test_a_link_with_queue_filters_opens_the_queue_filtered(demo_db) -> None:
    """The queue's filters are read from and written to the URL as the review pages' are: a
    copied link reopens the same queue."""
    from queries.filters import districts_with_devices

    now = datetime.now(UTC)
    with demo_db.connect() as conn:
        everything = alert_q.open_alerts(conn, now)
        found = [
            (code, alert_q.open_alerts(conn, now, None, ("risk", "attention"), (int(i),), STATUS))
            for code, i in districts_with_devices(conn)[["code", "id"]].itertuples(index=False)
        ]
    # A district with such alerts, so that the link is seen to narrow the queue.
    code, expected = max(found, key=lambda pair: len(pair[1]))
    assert 0 < len(expected) < len(everything)
    at = open_page("alerts", role="lead", stage="risk,attention", district=code, status=STATUS[0])
    assert not at.warning
    assert at.multiselect(key="url_stage").value == ["risk", "attention"]
    assert at.multiselect(key="url_district").value == [code]
    assert at.multiselect(key="url_status").value == list(STATUS)
    assert metric(at, "미처리 경보") == format_number(len(expected))
    assert at.dataframe[0].value["경보 번호"].tolist() == expected["id"].tolist()
    # Changing a filter writes it back; clearing one takes it out of the link.
    at.multiselect(key="url_stage").set_value(["risk"]).run()
    assert at.query_params["stage"] == "risk"
    at.multiselect(key="url_status").set_value([]).run()
    assert "status" not in at.query_params
    assert at.query_params["district"] == code


def test_an_unusable_filter_value_in_the_link_is_named_in_a_warning(demo_db) -> None:
    """A stage that does not exist, and for an operator a district outside their areas: both
    are dropped with the warning the review pages give, and the queue shows without them."""
    with demo_db.connect() as conn:
        ours = alert_q.open_alerts(conn, datetime.now(UTC), areas=DEMO_ACCOUNTS["operator"][1])
    at = open_page("alerts", role="operator", stage="purple,severe", district="1168000000")
    warnings = [w.value for w in at.warning]
    assert translate("url.bad_choices", param="stage", values="purple") in warnings
    assert translate("url.bad_choices", param="district", values="1168000000") in warnings
    assert at.multiselect(key="url_stage").value == ["severe"]
    assert at.multiselect(key="url_district").value == []
    severe = ours[ours["stage"] == "severe"]
    assert metric(at, "미처리 경보") == format_number(len(severe))


def test_alert_facts_are_two_a_row_on_a_projector(demo_db) -> None:
    """Four facts a row cut the device id off on a projector ("PLG-00…"): there they go two by
    two, and the projector's CSS lets them wrap instead of ending in an ellipsis."""
    alert_id = int(_open_alerts_ids(demo_db)[0])
    plain = open_page("alerts", alert=str(alert_id))
    assert metric_column_share(plain, "기기") == pytest.approx(1 / 4)
    projector = open_page("alerts", alert=str(alert_id), projector="1")
    assert metric_column_share(projector, "기기") == pytest.approx(1 / 2)
    css = "\n".join(texts(projector))
    assert "white-space: normal !important" in css and ".st-key-alert_facts" in css


def _metric_help(at, label: str) -> str:
    found = [m.help for m in at.metric if m.label == label]
    assert found, f"no metric {label!r}"
    return found[0]


def test_the_longest_wait_fits_its_column_on_a_projector(demo_db, tmp_path) -> None:
    """At the projector's 61 px "29시간 4분" was cut off ("29시간 4…") in its column: there the
    longest wait shows its hours, and the help gives the minutes; off it, the whole span."""
    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:  # the oldest open alert waits 29 h 4 min (and a little)
            conn.execute(
                update(Alert)
                .where(Alert.status.in_(alert_q.OPEN_STATUSES))
                .values(opened_at=datetime.now(UTC) - timedelta(hours=29, minutes=4, seconds=5))
            )
        projector = open_page("alerts", role="operator", projector="1")
        assert metric(projector, "최장 대기") == "29시간"
        assert _metric_help(projector, "최장 대기") == translate(
            "alerts.oldest_help", "ko", value="29시간 4분"
        )
        english = open_page("alerts", role="operator", projector="1", lang="en")
        assert metric(english, "Longest waiting") == "29 h"
        plain = open_page("alerts", role="operator")
        assert metric(plain, "최장 대기") == "29시간 4분"
        assert not _metric_help(plain, "최장 대기")


@pytest.mark.parametrize("rows", [1, 3, 10, 40])
def test_a_table_height_counts_the_projector_rows(rows: int) -> None:
    """The projector's root font (20 px against 16) makes every row and the header 1.25 times
    taller: a height fixed for the usual rows showed two or three of them there."""
    from dashboard.ui.components import table_height

    shown = min(rows, 10)
    plain = table_height(rows, projector=False, max_rows=10)
    assert plain == 38 + 35 * shown  # no inner scrolling up to ten rows
    assert table_height(rows, projector=True, max_rows=10) == round(plain * 20 / 16)
    assert table_height(rows, projector=True) == round((38 + 35 * rows) * 20 / 16)  # no cap


@pytest.mark.parametrize("projector", [False, True])
def test_the_queue_shows_as_many_rows_on_a_projector(demo_db, monkeypatch, projector) -> None:
    """The queue's height is the one for its rows (ten at most) in the mode shown: on a projector
    the fixed 390 px held about seven rows, fewer with the detail's taller fonts."""
    import streamlit

    from dashboard.ui import alerts

    heights: list[int] = []

    class Recording:  # st, with st.dataframe noting the height the queue asks for
        def __getattr__(self, name: str):
            return getattr(streamlit, name)

        def dataframe(self, *args, **kwargs):
            heights.append(kwargs.get("height"))
            return streamlit.dataframe(*args, **kwargs)

    monkeypatch.setattr(alerts, "st", Recording())
    at = open_page("alerts", role="lead", **({"projector": "1"} if projector else {}))
    rows = min(len(_open_alerts_ids(demo_db)), 10)
    assert rows >= 3, "the demo has open alerts"
    scale = 20 / 16 if projector else 1  # the projector's root font size against 16 px
    assert at.dataframe and heights
    # Room for the header and every row, and not for one more.
    assert (38 + 35 * rows) * scale <= heights[-1] < (38 + 35 * (rows + 1)) * scale


def _open_alerts_ids(engine) -> list[int]:
    with engine.connect() as conn:
        return alert_q.open_alerts(conn, datetime.now(UTC))["id"].tolist()


def test_the_evidence_table_leaves_out_what_no_test_wrote(demo_db) -> None:
    """A test that did not judge writes None: the table had a row of "None" for each (the
    routine's, the level test's, the other plug's …); a yes/no reads 예/아니오, not 응답."""
    alert_id, _person, _name = new_alert(demo_db)
    with demo_db.begin() as conn:
        conn.execute(
            update(Alert)
            .where(Alert.id == alert_id)
            .values(
                evidence={"no_change_hours": 37.0, "other_plug_at": None, "back_on": None,
                          "held_by": None, "steps_apply": False}
            )
        )  # fmt: skip
    at = open_page("alerts", alert=str(alert_id))
    tables = ["\n".join(df.value.astype(str).agg(" ".join, axis=1)) for df in at.dataframe]
    shown = next(text for text in tables if "변화 없는 시간" in text)
    assert "None" not in shown
    assert translate("evidence.steps_apply", "ko") in shown and "아니오" in shown


# --- a person with several plugs: the detail draws the plug the evidence describes -------------


TV_W, KETTLE_W, STRANGER_W = 57.25, 1717.5, 999.75  # each plug's readings, told apart in a chart


def _plug_readings(engine: Engine, device_id: int, watts: float, now: datetime) -> None:
    """Six hourly power readings of one plug, ending now, and today's row of its routine strip:
    every half-hour active, or (the TV plug) none."""
    from dashboard.db.schema import DeviceDaily, DeviceEvent
    from dashboard.settings import LOCAL_TZ

    with engine.begin() as conn:
        conn.execute(
            insert(DeviceDaily),
            {"device_id": device_id, "day": now.astimezone(LOCAL_TZ).date(),
             "activity_slots": 0 if watts == TV_W else (1 << 48) - 1},
        )  # fmt: skip
        conn.execute(
            insert(DeviceEvent),
            [
                {"vendor": "apptest", "event_uid": f"plug-{device_id}-{i}", "device_id": device_id,
                 "ts": now - timedelta(hours=i), "received_at": now, "type": "power",
                 "value": watts, "data": {"watts": watts}}
                for i in range(6)
            ],
        )  # fmt: skip


def _two_plug_alert(engine: Engine, judge: str) -> tuple[int, dict[str, str]]:
    """A routine alert of a person with a TV plug and a kettle plug (built as
    tests/unit/test_household_plugs builds them), opened on the TV plug, whose evidence's
    ``plug_device_id`` is ``judge``: "kettle", "stranger" (another person's plug) or "line"
    (the person's phone line). Returns the alert and the uids by name."""
    from tests.unit.test_household_plugs import add_plug
    from tests.unit.test_rules_new_devices import add_device

    now = datetime.now(UTC)
    tv, tv_uid = add_device(engine, registered_at=now - timedelta(days=30))
    stranger, stranger_uid = add_device(engine, registered_at=now - timedelta(days=30))
    line, line_uid = add_device(engine, "phone_line")
    with engine.begin() as conn:
        person = conn.execute(
            select(CareRecipient.id, CareRecipient.program_id, CareRecipient.region_id)
            .join(Device, Device.recipient_id == CareRecipient.id)
            .where(Device.id == tv)
        ).one()
        conn.execute(update(Device).where(Device.id == line).values(recipient_id=person.id))
        evidence = next(  # a demo routine alert's evidence: a sentence and a strip to draw
            e
            for e in conn.execute(
                select(Alert.evidence).where(Alert.rule == "plug_no_change").order_by(Alert.id)
            ).scalars()
            if isinstance(e, dict) and e.get("basis") == "routine"
        )
    kettle_uid = f"{tv_uid}-kettle"
    kettle = add_plug(engine, person.id, kettle_uid, 24 * 30)
    for device, watts in ((tv, TV_W), (kettle, KETTLE_W), (stranger, STRANGER_W)):
        _plug_readings(engine, device, watts, now)
    judges = {"kettle": kettle, "stranger": stranger, "line": line}
    with engine.begin() as conn:
        alert_id = conn.execute(
            insert(Alert).returning(Alert.id),
            {"dedup_key": f"apptest-plugs:{next(_keys)}:{now.timestamp()}", "kind": "person",
             "rule": "plug_no_change", "stage": "attention", "status": "open",
             "program_id": person.program_id, "region_id": person.region_id,
             "recipient_id": person.id, "device_id": tv,
             "evidence": {**evidence, "plug_device_id": judges[judge]},
             "opened_at": now - timedelta(hours=2), "updated_at": now - timedelta(hours=2),
             "version": 1},
        ).scalar_one()  # fmt: skip
    uids = {"tv": tv_uid, "kettle": kettle_uid, "stranger": stranger_uid, "line": line_uid}
    return alert_id, uids


def _facts_table(at, lang: str = "ko") -> str:
    """The detail's facts, one "field value" line each (the table with a device field)."""
    tables = [df.value for df in at.dataframe]
    facts = next(df for df in tables if translate("col.device", lang) in set(df.iloc[:, 0]))
    return "\n".join(facts.astype(str).agg(" ".join, axis=1))


def _drawn(at, column: str) -> set:
    """The values of ``column`` in the charts' data (Arrow datasets, not in the spec)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    drawn: set = set()
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            df = convert_arrow_bytes_to_pandas_df(dataset.data.data)
            if column in df.columns:
                drawn |= set(df[column])
    return drawn


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_detail_draws_the_plug_the_evidence_describes(demo_db, tmp_path, lang) -> None:
    """The sentence was the kettle plug's while the chart, the strip and the caption were the
    TV plug's the alert opened on: an operator read "no change since 07:10" against the wrong
    plug. Now they follow the evidence's plug and say the alert opened on the other."""
    with without_live_loop("test_alerts: plugs"), private_copy(demo_db, tmp_path) as engine:
        alert_id, uid = _two_plug_alert(engine, "kettle")
        params = {"alert": str(alert_id)} | ({"lang": "en"} if lang == "en" else {})
        at = open_page("alerts", **params)
        tv, kettle = md_escape(uid["tv"]), md_escape(uid["kettle"])
        note = translate("readings.other_plug", lang, opened=tv, shown=kettle)
        since = translate("readings.caption", lang, device=kettle, since="\0").split("\0")[0]
        captions = [c.value for c in at.caption]
        # the readings' caption names the kettle and says the alert opened on the TV plug; the
        # routine strip's says so too
        assert [c for c in captions if c.startswith(since) and c.endswith(f" {note}")], captions
        assert note in captions
        assert _drawn(at, "value") == {KETTLE_W}  # the readings chart
        assert translate("routine.cell.active", lang) in _drawn(at, "state")  # the strip
        facts = _facts_table(at, lang)  # the alert's own device stays; a row names the kettle
        assert uid["tv"] in facts
        assert f"{translate('detail.evidence_plug', lang)} {uid['kettle']} (" in facts


@pytest.mark.parametrize("judge", ["stranger", "line"])
def test_the_evidence_naming_no_plug_of_the_person_draws_the_alerts_own(
    demo_db, tmp_path, judge
) -> None:
    """An evidence id that is another person's plug, or not a plug, is not drawn."""
    with without_live_loop("test_alerts: plugs"), private_copy(demo_db, tmp_path) as engine:
        alert_id, uid = _two_plug_alert(engine, judge)
        at = open_page("alerts", alert=str(alert_id))
        tv = md_escape(uid["tv"])
        since = translate("readings.caption", device=tv, since="\0").split("\0")[0]
        assert [c.value for c in at.caption if c.value.startswith(since)]
        opened = translate("readings.other_plug", opened=tv, shown="\0").split("\0")[0]
        assert not [c for c in at.caption if opened in c.value]
        assert _drawn(at, "value") == {TV_W}
        assert translate("routine.cell.active") not in _drawn(at, "state")
        assert translate("detail.evidence_plug") not in _facts_table(at)


def test_an_away_note_on_the_alert_page_waits_for_the_reveal(demo_db, tmp_path) -> None:
    """The alert page lists the person's away periods beside the actions: their notes showed
    before the card's reveal, with no audit row."""
    from dashboard.detection.away import mark_away

    with private_copy(demo_db, tmp_path) as engine:
        alert_id, person, _name = new_alert(engine)
        note = "요양병원 단기 입소"
        today = datetime.now(UTC).astimezone(LOCAL_TZ).date()
        with engine.begin() as conn:
            lead = SessionUser("lead", "lead", "lead")
            mark_away(conn, lead, datetime.now(UTC), person, today, today + timedelta(days=3), note)
        at = open_page("alerts", role="operator", alert=str(alert_id))
        assert note not in _shown(at)
        _button(at, "alerts_reveal").click().run()
        assert not at.exception
        assert note in _shown(at)
