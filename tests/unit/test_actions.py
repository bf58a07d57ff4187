"""Alert actions: the transition table (pure and on both databases), effects, audit, routing.

Concurrency (two operators, double clicks) is in test_actions_concurrency.py.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, func, select
from test_actions_support import T0, add_alert, seed, who

from dashboard.actions import (
    ACTIONS,
    ConfirmationRequired,
    ConflictError,
    ForbiddenTransition,
    NotPermitted,
    Request,
    allowed_actions,
    check_request_route,
    next_status,
    perform,
)
from dashboard.actions.transitions import close_outcomes
from dashboard.auth import require
from dashboard.db.schema import Alert, AuditLog, Dispatch, NotificationOutbox

KIM = who("kim")
LEE = who("lee")

# Written out by hand (not derived from TRANSITIONS) so the test is an independent statement
# of the rules in docs/alert-actions.md. None = forbidden.
D = "dispatched"
EXPECTED = {
    "open": {"acknowledge": "acknowledged", "ai_recall": D, "dong_center": D,
             "field_visit": D, "emergency_119": D, "guardian_call": D, "close": "closed"},
    "acknowledged": {"acknowledge": None, "ai_recall": D, "dong_center": D, "field_visit": D,
                     "emergency_119": D, "guardian_call": D, "close": "closed"},
    "dispatched": {"acknowledge": None, "ai_recall": D, "dong_center": D, "field_visit": D,
                   "emergency_119": D, "guardian_call": D, "close": "closed"},
    "closed": dict.fromkeys(ACTIONS),
}  # fmt: skip
PAIRS = [(s, a, EXPECTED[s][a]) for s in EXPECTED for a in ACTIONS]


def full_request(action: str) -> Request:
    """The request a UI sends after its dialog: confirmed, and with an outcome for close."""
    if action == "close":
        return Request(action, confirmed=True, outcome="safe", note="통화로 안전 확인")
    return Request(action, confirmed=True)


def kwargs_for(action: str) -> dict:
    if action == "close":
        return {"confirmed": True, "outcome": "safe", "note": "통화로 안전 확인"}
    if action == "emergency_119":
        return {"confirmed": True}
    return {}


# --- the pure table ----------------------------------------------------------------------------


def test_the_table_covers_every_status_and_action():
    assert set(EXPECTED) == {"open", "acknowledged", "dispatched", "closed"}
    assert len(PAIRS) == 4 * 7


@pytest.mark.parametrize(("status", "action", "expected"), PAIRS)
def test_transition_table(status, action, expected):
    if expected is None:
        with pytest.raises(ForbiddenTransition) as info:
            next_status(status, full_request(action))
        assert info.value.status == status and info.value.action == action
    else:
        assert next_status(status, full_request(action)) == expected


@pytest.mark.parametrize("status", ["open", "acknowledged", "dispatched"])
def test_allowed_actions_match_the_table(status):
    assert allowed_actions(status) == [a for a in ACTIONS if EXPECTED[status][a]]
    assert allowed_actions("closed") == []


@pytest.mark.parametrize("action", ["emergency_119", "close"])
def test_119_and_close_need_explicit_confirmation(action):
    for confirmed in (False, None, 1, "yes"):
        req = Request(action, confirmed=confirmed, outcome="safe" if action == "close" else None)
        with pytest.raises(ConfirmationRequired):
            next_status("open", req)


def test_close_needs_a_known_outcome():
    for outcome in (None, "", "fine", "SAFE"):
        with pytest.raises(ForbiddenTransition, match="needs an outcome"):
            next_status("open", Request("close", confirmed=True, outcome=outcome))


@pytest.mark.parametrize("outcome", ["hospitalized", "deceased", "no_contact"])
def test_grave_outcomes_need_a_note(outcome):
    with pytest.raises(ForbiddenTransition, match="needs a note"):
        next_status("dispatched", Request("close", confirmed=True, outcome=outcome, note="  "))
    req = Request("close", confirmed=True, outcome=outcome, note="현장 확인")
    assert next_status("dispatched", req) == "closed"


@pytest.mark.parametrize("outcome", ["safe", "false_alarm", "device_fault"])
def test_other_outcomes_close_without_a_note(outcome):
    assert next_status("open", Request("close", confirmed=True, outcome=outcome)) == "closed"


def test_only_close_takes_an_outcome_and_unknown_actions_are_refused():
    with pytest.raises(ForbiddenTransition, match="only close"):
        next_status("open", Request("acknowledge", outcome="safe"))
    with pytest.raises(ForbiddenTransition, match="unknown action"):
        next_status("open", Request("reopen"))


@pytest.mark.parametrize("action", ["ai_recall", "dong_center", "emergency_119", "guardian_call"])
def test_person_actions_are_refused_on_device_tickets(action):
    with pytest.raises(ForbiddenTransition, match="no care recipient"):
        next_status("open", full_request(action), has_person=False)
    assert action not in allowed_actions("open", has_person=False)
    assert {"acknowledge", "field_visit", "close"} <= set(allowed_actions("open", has_person=False))


def test_roles():
    """Every alert action is a matrix action; only operators and leads take them."""
    for action in ACTIONS:
        require(who(role="operator"), action)
        require(who(role="lead"), action)
        for role in ("council", "admin", ""):
            with pytest.raises(NotPermitted):
                require(who(role=role), action)


# --- the same table on the database ------------------------------------------------------------


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    return db_engine


def counts(db: Engine, alert_id: int) -> tuple[int, int, int]:
    with db.connect() as conn:
        return tuple(
            conn.execute(select(func.count()).where(table.alert_id == alert_id)).scalar_one()
            if table is not AuditLog
            else conn.execute(
                select(func.count()).where(AuditLog.entity_id == str(alert_id))
            ).scalar_one()
            for table in (Dispatch, NotificationOutbox, AuditLog)
        )


def load(db: Engine, alert_id: int):
    with db.connect() as conn:
        return conn.execute(select(Alert.__table__).where(Alert.id == alert_id)).one()


def test_every_transition_on_the_database(db):
    """All 28 (status, action) pairs: allowed ones move and record, forbidden ones do nothing."""
    now = T0 + timedelta(minutes=3)
    for status, action, expected in PAIRS:
        alert_id = add_alert(db, status=status)
        before = load(db, alert_id)
        if expected is None:
            with pytest.raises(ForbiddenTransition):
                perform(db, action, alert_id, principal=KIM, seen_version=1, now=now,
                        **kwargs_for(action))  # fmt: skip
            assert load(db, alert_id) == before, (status, action)
            assert counts(db, alert_id) == (0, 0, 0), (status, action)
            continue
        result = perform(db, action, alert_id, principal=KIM, seen_version=1, now=now,
                         **kwargs_for(action))  # fmt: skip
        after = load(db, alert_id)
        assert (result.status, after.status, after.version) == (expected, expected, 2)
        assert after.updated_at == now
        # Every action implies acknowledgement; an earlier one is kept.
        assert after.acknowledged_at is not None
        if status == "open":
            assert (after.acknowledged_at, after.acknowledged_by) == (now, "kim")
        else:
            assert after.acknowledged_by == "earlier"
        dispatches, _, audits = counts(db, alert_id)
        assert audits == 1
        assert dispatches == (1 if expected == "dispatched" else 0)
        if expected == "dispatched":
            assert after.dispatched_at == (now if status != "dispatched" else T0)
        if expected == "closed":
            assert (after.closed_at, after.closed_by, after.outcome) == (now, "kim", "safe")


def test_audit_entry_says_who_did_what(db):
    alert_id = add_alert(db)
    perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0, note="2인 1조")
    with db.connect() as conn:
        entry = conn.execute(select(AuditLog.__table__)).one()
        dispatch = conn.execute(select(Dispatch.__table__)).one()
        notice = conn.execute(select(NotificationOutbox.__table__)).one()
    assert (entry.actor, entry.action, entry.entity_type, entry.entity_id, entry.at) == (
        "kim", "alert_field_visit", "alert", str(alert_id), T0
    )  # fmt: skip
    assert entry.detail["from"] == "open" and entry.detail["to"] == "dispatched"
    assert entry.detail["dispatch_id"] == dispatch.id
    assert entry.detail["notifications"] == [notice.idempotency_key]
    assert (dispatch.kind, dispatch.requested_by) == ("field_visit", "kim")
    assert dispatch.note == "2인 1조"
    assert (notice.channel, notice.recipient) == ("field_visit", "field_team:4128500000")
    assert notice.idempotency_key == f"alert{alert_id}:v1:field_visit:field_visit"
    assert notice.payload["dispatch_id"] == dispatch.id
    # The outbox carries the program reference, never the name or phone number.
    assert "김복순" not in str(notice.payload) and "010" not in str(notice.payload)


def test_acknowledge_tells_nobody(db):
    alert_id = add_alert(db)
    result = perform(db, "acknowledge", alert_id, principal=KIM, seen_version=1, now=T0)
    assert result.notifications == () and counts(db, alert_id) == (0, 0, 1)


def test_119_tells_the_liaison_and_the_on_duty_lead(db):
    alert_id = add_alert(db, stage="severe")
    result = perform(db, "emergency_119", alert_id, principal=KIM, seen_version=1, now=T0,
                     confirmed=True)  # fmt: skip
    with db.connect() as conn:
        rows = conn.execute(select(NotificationOutbox.channel, NotificationOutbox.recipient)).all()
    assert sorted(rows) == [("emergency_119", "119:liaison"), ("lead", "lead:on_duty")]
    assert len(result.notifications) == 2


def test_119_without_confirmation_writes_nothing(db):
    alert_id = add_alert(db)
    with pytest.raises(ConfirmationRequired):
        perform(db, "emergency_119", alert_id, principal=KIM, seen_version=1, now=T0)
    assert load(db, alert_id).version == 1 and counts(db, alert_id) == (0, 0, 0)


def test_guardian_call_needs_a_guardian_phone(db):
    alert_id = add_alert(db, guardian=False)
    with pytest.raises(ForbiddenTransition, match="no guardian phone"):
        perform(db, "guardian_call", alert_id, principal=KIM, seen_version=1, now=T0)
    ok = add_alert(db)
    perform(db, "guardian_call", ok, principal=KIM, seen_version=1, now=T0)
    with db.connect() as conn:
        notice = conn.execute(select(NotificationOutbox.__table__)).one()
    assert notice.recipient.startswith("guardian:")
    assert notice.payload["resolve"] == "guardian_phone"


def test_device_ticket_allows_a_technician_visit_but_not_a_person_call(db):
    alert_id = add_alert(db, kind="device_fault", rule="device_silent")
    with pytest.raises(ForbiddenTransition, match="no care recipient"):
        perform(db, "ai_recall", alert_id, principal=KIM, seen_version=1, now=T0)
    result = perform(db, "field_visit", alert_id, principal=KIM, seen_version=1, now=T0)
    assert result.status == "dispatched"


def test_ai_recall_goes_to_the_auto_call_channel(db):
    alert_id = add_alert(db)
    perform(db, "ai_recall", alert_id, principal=KIM, seen_version=1, now=T0)
    with db.connect() as conn:
        notice = conn.execute(select(NotificationOutbox.__table__)).one()
    assert notice.channel == "auto_call" and notice.recipient.startswith("device:")


def test_close_after_dispatch_tells_the_parties_still_working(db):
    alert_id = add_alert(db)
    perform(db, "dong_center", alert_id, principal=KIM, seen_version=1, now=T0)
    perform(db, "ai_recall", alert_id, principal=KIM, seen_version=2, now=T0)
    later = T0 + timedelta(hours=10)  # night: the notice still goes to the dong center asked
    perform(db, "close", alert_id, principal=LEE, seen_version=3, now=later, outcome="hospitalized",
            note="119 이송", confirmed=True)  # fmt: skip
    with db.connect() as conn:
        rows = conn.execute(
            select(NotificationOutbox.channel, NotificationOutbox.recipient,
                   NotificationOutbox.payload).order_by(NotificationOutbox.id)
        ).all()  # fmt: skip
    closing = [(c, r, p["action"]) for c, r, p in rows[2:]]
    assert closing == [
        ("lead", "lead:on_duty", "close_lead"),
        ("dong_center", "dong:4128552000", "closed"),
    ]


def test_a_closed_alert_stays_closed(db):
    alert_id = add_alert(db)
    perform(db, "close", alert_id, principal=KIM, seen_version=1, now=T0, outcome="false_alarm",
            confirmed=True)  # fmt: skip
    for action in ACTIONS:
        with pytest.raises(ForbiddenTransition, match="terminal"):
            perform(db, action, alert_id, principal=KIM, seen_version=2, now=T0,
                    **kwargs_for(action))  # fmt: skip


def test_stale_version_is_a_conflict_naming_the_winner(db):
    alert_id = add_alert(db)
    perform(db, "acknowledge", alert_id, principal=KIM, seen_version=1, now=T0)
    with pytest.raises(ConflictError) as info:
        perform(db, "field_visit", alert_id, principal=LEE, seen_version=1,
                now=T0 + timedelta(seconds=4))  # fmt: skip
    err = info.value
    assert (err.last.by, err.last.action, err.last.at) == ("kim", "acknowledge", T0)
    assert (err.current_version, err.current_status, err.attempted) == (2, "acknowledged",
                                                                         "field_visit")  # fmt: skip
    assert "kim did acknowledge at 2024-12-02 10:00:00 KST" in str(err)
    assert "kim님이 10:00:00에 먼저 '확인'" in err.message_ko
    assert counts(db, alert_id) == (0, 0, 1)


def test_conflict_with_the_rules_names_the_system(db):
    alert_id = add_alert(db)
    later = T0 + timedelta(minutes=2)
    with db.begin() as conn:  # what dashboard.rules.lifecycle does on a new reading
        conn.execute(
            Alert.__table__.update()
            .where(Alert.id == alert_id)
            .values(stage="severe", version=2, updated_at=later)
        )
    with pytest.raises(ConflictError) as info:
        perform(db, "acknowledge", alert_id, principal=KIM, seen_version=1, now=later)
    assert (info.value.last.by, info.value.last.action, info.value.last.at) == (
        "system", "update", later
    )  # fmt: skip


def test_naive_time_and_missing_actor_are_refused(db):
    alert_id = add_alert(db)
    with pytest.raises(ValueError, match="timezone-aware"):
        perform(
            db, "acknowledge", alert_id, principal=KIM, seen_version=1, now=datetime(2024, 1, 1)
        )
    with pytest.raises(ValueError, match="actor"):
        perform(db, "acknowledge", alert_id, principal=who(" "), seen_version=1, now=T0)


# --- routing of check requests -----------------------------------------------------------------

KST = timedelta(hours=9)


@pytest.mark.parametrize(
    ("local", "target", "recipient", "reason"),
    [
        ("2024-12-02 09:00", "백석1동 행정복지센터", "dong:4128552000", "office_hours"),  # Mon
        ("2024-12-02 17:59", "백석1동 행정복지센터", "dong:4128552000", "office_hours"),
        ("2024-12-02 18:00", "중앙관제센터", "central:control_center", "after_hours"),
        ("2024-12-03 08:59", "중앙관제센터", "central:control_center", "after_hours"),
        ("2024-12-07 11:00", "중앙관제센터", "central:control_center", "weekend"),  # Sat
        ("2024-12-25 11:00", "중앙관제센터", "central:control_center", "holiday"),  # Wed
        ("2025-10-08 11:00", "중앙관제센터", "central:control_center", "holiday"),  # 대체공휴일
    ],
)
def test_check_request_routing(db, local, target, recipient, reason):
    now = datetime.fromisoformat(local).replace(tzinfo=UTC) - KST
    alert_id = add_alert(db, opened_at=now - timedelta(minutes=1))
    result = perform(db, "dong_center", alert_id, principal=KIM, seen_version=1, now=now)
    assert result.target == target
    with db.connect() as conn:
        notice = conn.execute(select(NotificationOutbox.__table__)).one()
        entry = conn.execute(select(AuditLog.__table__)).one()
        dispatch = conn.execute(select(Dispatch.__table__)).one()
    assert (notice.recipient, notice.payload["target"], dispatch.target) == (
        recipient, target, target
    )  # fmt: skip
    assert entry.detail["route_reason"] == reason


@pytest.mark.parametrize(
    ("local", "region_id", "reason"),
    [
        ("2024-12-02 10:00", 2, "office_hours"),  # Monday, a person in 백석1동
        ("2024-12-02 22:00", 2, "after_hours"),  # the same person at night
        ("2024-12-02 10:00", 1, "no_dong"),  # a person known only by district: no dong center
    ],
)
def test_the_route_shown_is_the_route_taken(db, local, region_id, reason):
    """The page shows check_request_route; the dispatch goes exactly there, day and night."""
    now = datetime.fromisoformat(local).replace(tzinfo=UTC) - KST
    alert_id = add_alert(db, region_id=region_id, opened_at=now - timedelta(minutes=1))
    with db.connect() as conn:
        shown = check_request_route(conn, alert_id, now)
    assert shown.reason == reason
    result = perform(db, "dong_center", alert_id, principal=KIM, seen_version=1, now=now)
    with db.connect() as conn:
        notice = conn.execute(select(NotificationOutbox.__table__)).one()
    assert (result.target, notice.recipient) == (shown.target, shown.recipient)


# --- the routing file is validated -------------------------------------------------------------


def test_the_shipped_routing_file_is_valid():
    from dashboard.actions import load_routing

    cfg = load_routing()
    assert cfg.dong_center.holiday_years == (2024, 2025, 2026)
    assert cfg.delivery.transport("auto_call", demo=True) == "log"
    assert cfg.delivery.transport("emergency_119", demo=False) == "webhook"


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('[dong_center]\noffice_days = ["mon", "funday"]', "unknown weekday"),
        ('[dong_center]\noffice_start = "18:00"\noffice_end = "09:00"', "before office_end"),
        ('[dong_center]\nholiday_years = [2024]\nholidays = ["2025-01-01"]', "not listed"),
        ('[dong_center]\ndong_target = "{dongg} 센터"', "unknown placeholder"),
        ('[dong_center]\nofice_start = "09:00"', "dong_center.ofice_start: unknown key"),
        ('timezone = "Asia/Nowhere"', "unknown time zone"),
        ('[delivery.production]\ndefault = "fax"', "delivery.production.default"),
        ('[delivery.demo]\nsms = "log"\ndefault = "log"', "unknown channel"),
        ("[delivery.retry]\nlease_s = 10\ntimeout_s = 10", "lease_s must be more than"),
        ("not toml [", "not valid TOML"),
    ],
)
def test_routing_mistakes_name_the_key(toml, message):
    from dashboard.actions import RoutingConfigError
    from dashboard.actions.routing import parse_routing

    with pytest.raises(RoutingConfigError, match=message):
        parse_routing(toml)


def test_every_change_a_conflict_can_name_reads_in_korean():
    """The Korean conflict message once showed 'notify_responder' and 'deescalate' as typed."""
    from dashboard.actions.errors import ACTION_LABELS_KO, LastChange
    from dashboard.actions.service import _VERSIONING

    names = {a.removeprefix("alert_") for a in _VERSIONING} | {"auto_close", "update"}
    assert names <= set(ACTION_LABELS_KO), names - set(ACTION_LABELS_KO)
    for did in sorted(names):
        err = ConflictError(
            1,
            attempted="notify_responder",
            seen_version=1,
            current_version=2,
            current_status="dispatched",
            last=LastChange(by="kim", action=did, at=T0),
        )
        assert did not in err.message_ko and "notify_responder" not in err.message_ko


@pytest.mark.parametrize("outcome", ["safe", "hospitalized", "deceased", "no_contact"])
def test_a_device_ticket_is_not_closed_with_an_outcome_about_a_person(db, outcome):
    """A device fault ticket closed as 사망 told the on-duty lead of a death on 기기 점검."""
    alert_id = add_alert(db, kind="device_fault", rule="device_silent")
    with pytest.raises(ForbiddenTransition, match="device fault ticket closes as"):
        perform(db, "close", alert_id, principal=KIM, seen_version=1, now=T0, confirmed=True,
                outcome=outcome, note="기기 회수")  # fmt: skip
    with db.connect() as conn:
        assert conn.execute(select(Alert.status).where(Alert.id == alert_id)).scalar_one() == "open"
        assert conn.execute(select(func.count()).select_from(NotificationOutbox)).scalar_one() == 0
    for fine in ("device_fault", "false_alarm"):
        assert fine in close_outcomes(has_person=False)
    assert set(close_outcomes(has_person=False)) == {"device_fault", "false_alarm"}
    result = perform(db, "close", alert_id, principal=KIM, seen_version=1, now=T0,
                     confirmed=True, outcome="device_fault")  # fmt: skip
    assert result.outcome == "device_fault"


@pytest.mark.parametrize("action", ["field_visit", "emergency_119", "close"])
def test_a_note_with_a_nul_character_is_refused_not_a_database_error(db, action):
    """PostgreSQL refuses NUL in text and JSON: the note raised a DataError (a traceback)."""
    alert_id = add_alert(db)
    kwargs = kwargs_for(action) | {"note": "119 이송\x00 일산병원"}
    if action == "close":
        kwargs["outcome"] = "hospitalized"
    with pytest.raises(ForbiddenTransition, match="NUL"):
        perform(db, action, alert_id, principal=KIM, seen_version=1, now=T0, **kwargs)
    with db.connect() as conn:
        assert conn.execute(select(Alert.version).where(Alert.id == alert_id)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(Dispatch)).scalar_one() == 0
