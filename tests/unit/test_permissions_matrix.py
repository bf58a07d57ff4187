"""Every domain function that changes state, called directly by every role, inside and outside
its scope: allowed (the state changed and exactly one audit row names the principal) or
refused (``NotPermitted``, nothing written).

In the style of datasette's permission tests: one table, written out by hand, and the code's
matrix (``dashboard.auth.roles``) must both agree with what the domain does, so a change to
either one alone fails here. "Inside/outside" is the district of the person for alert actions
and reveals, and the role of the account for account management (an admin account is outside
a lead's reach); API keys, thresholds, imports and roster imports have no scope, so both give
the same answer.

Refusals are caught *inside* a transaction that then commits: a write made before the check
would be kept and fail the "nothing written" assertion (a rollback would hide it).
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select
from test_actions_support import T0, add_alert, add_person, seed

from dashboard.actions import ACTION_FUNCTIONS
from dashboard.auth import ACTIONS, ROLES, NotPermitted, SessionUser, can
from dashboard.auth.reveal import reveal_personal_data
from dashboard.auth.users import create_user, get_user, set_active, set_password, unlock_user
from dashboard.complaints import import_complaints
from dashboard.db.schema import (
    Alert,
    ApiKey,
    AuditLog,
    AwayPeriod,
    BudgetExecution,
    CareRecipient,
    Complaint,
    Device,
    DeviceAssignment,
    DeviceEvent,
    DeviceType,
    DifferentPeople,
    Dispatch,
    NotificationOutbox,
    Responder,
    User,
)
from dashboard.detection.away import mark_away
from dashboard.enrollment import (
    end_enrollment,
    mark_different,
    purge_ended,
    register_device,
    replace_device,
    set_device_status,
    set_home_position,
    update_person_settings,
)
from dashboard.finance import import_budget
from dashboard.ingest.apikeys import create_key, list_keys, revoke_key
from dashboard.ingest.imports import import_and_audit
from dashboard.ingest.vendors import add_vendor, list_vendors, set_timezone
from dashboard.registry import import_devices, import_people
from dashboard.responders import register_responder
from dashboard.rules import config
from dashboard.rules.edit import update_thresholds

# The operator's district (일산동구); the fixture's other district is 종로구 in Seoul.
DISTRICT = "4128500000"
INSIDE, OUTSIDE = "inside", "outside"
PLACES = (INSIDE, OUTSIDE)

# Written out by hand: which role may do what, in scope ("I") and out of it ("O").
ALERT = {"operator": "I", "lead": "IO", "council": "", "admin": ""}
EXPECTED: dict[str, dict[str, str]] = {
    "acknowledge": ALERT,
    "ai_recall": ALERT,
    "dong_center": ALERT,
    "field_visit": ALERT,
    "emergency_119": ALERT,
    "guardian_call": ALERT,
    "close": ALERT,
    "reveal_personal_data": ALERT,
    "edit_thresholds": {"operator": "", "lead": "IO", "council": "", "admin": ""},
    "manage_users": {"operator": "", "lead": "I", "council": "", "admin": "IO"},
    "manage_api_keys": {"operator": "", "lead": "", "council": "", "admin": "IO"},
    "import_data": {"operator": "", "lead": "IO", "council": "", "admin": "IO"},
    "manage_roster": {"operator": "", "lead": "IO", "council": "", "admin": "IO"},
    "mark_away": ALERT,
    "notify_responder": ALERT,
    "manage_responders": {"operator": "", "lead": "IO", "council": "", "admin": "IO"},
    "resolve_duplicates": {"operator": "", "lead": "IO", "council": "", "admin": ""},
}
# Matrix actions that change nothing, so there is no domain write to guard: a lead's CSV
# download of the aggregate response table (no personal column).
READ_ONLY = {"export"}


@dataclass
class Case:
    """A fixture database and what a domain call needs to act in or out of scope."""

    engine: Engine
    rules: Path
    alerts: dict[str, int]
    people: dict[str, int]
    accounts: dict[str, str]
    key: str
    csv: bytes
    twins: dict[str, tuple[int, int]]  # the person and a second record of them, same dong


CSV = (
    b"event_id,device_id,ts,type,watts\n"
    b"m-1,plug-matrix,2024-12-02T09:00:00+09:00,power,61.5\n"
    b"m-2,plug-matrix,2024-12-02T09:05:00+09:00,power,60.0\n"
)


@pytest.fixture(autouse=True)
def fast_hashes(monkeypatch) -> None:
    from argon2 import PasswordHasher

    from dashboard.auth import passwords

    cheap = PasswordHasher(time_cost=1, memory_cost=64, parallelism=1)
    monkeypatch.setattr(passwords, "_hasher", cheap)


@pytest.fixture
def case(db_engine: Engine, tmp_path: Path) -> Case:
    seed(db_engine)
    inside = add_alert(db_engine, region_id=2, program_id=1)
    outside = add_alert(db_engine, region_id=4, program_id=2)
    admin = SessionUser("setup", "setup", "admin")
    with db_engine.begin() as conn:
        # The police box a notify_responder call asks (not audited: set-up, not a test call).
        conn.execute(
            insert(Responder),
            {"kind": "police_box", "name": "백석 지구대", "lat": 37.64,
             "lon": 126.78, "approximate": True, "source": "test", "active": True,
             "updated_at": T0, "updated_by": "setup"},
        )  # fmt: skip
        people = {
            place: conn.scalar(select(Alert.recipient_id).where(Alert.id == alert_id))
            for place, alert_id in ((INSIDE, inside), (OUTSIDE, outside))
        }
        # The import's device: give one fixture plug a known uid.
        conn.execute(
            Device.__table__.update()
            .where(Device.recipient_id == people[INSIDE])
            .values(device_uid="plug-matrix")
        )
        # The fixture's plugs sit in 고양 AI안부전화, which uses AI call lines (data/programs.csv):
        # roster writes inside 일산동구 act on a line the catalog pairs with that program.
        conn.execute(
            insert(DeviceType),
            {"code": "ai_call_line", "name_ko": "회선", "name_en": "line",
             "heartbeat_timeout_s": 691200},
        )  # fmt: skip
        conn.execute(
            insert(Device),
            {"device_uid": "line-matrix", "vendor": "acme", "type_code": "ai_call_line",
             "program_id": 1, "region_id": 2, "recipient_id": people[INSIDE],
             "installed_on": T0.date()},
        )  # fmt: skip
        # A second record of each person (add_person: the same name, birth year and phone):
        # the pair the duplicate check suspects and a lead marks as different people.
        twins = {
            place: (people[place], add_person(conn, program_id=program, region_id=region)[0])
            for place, program, region in ((INSIDE, 1, 2), (OUTSIDE, 2, 4))
        }
        create_user(conn, "target", "operator", "a long passphrase", T0, admin)
        create_user(conn, "root", "admin", "a long passphrase", T0, admin)
        _, key = create_key(conn, "acme", principal=admin, now=T0)
        conn.execute(AuditLog.__table__.delete())  # the setup's own rows
    rules = tmp_path / "rules.toml"
    shutil.copy(config.DEFAULT_PATH, rules)
    return Case(
        engine=db_engine,
        rules=rules,
        alerts={INSIDE: inside, OUTSIDE: outside},
        people=people,
        accounts={INSIDE: "target", OUTSIDE: "root"},
        key=key,
        csv=CSV,
        twins=twins,
    )


def _principal(role: str) -> SessionUser:
    districts = (DISTRICT,) if role == "operator" else ()
    return SessionUser(f"{role}-1", f"{role}-1", role, districts)


# --- one domain call per operation: (matrix action, audit action, call, state) -------------------


def _alert_call(action: str) -> Callable[[Any, Case, SessionUser, str], Any]:
    extra = {
        "close": {"confirmed": True, "outcome": "safe"},
        "emergency_119": {"confirmed": True},
    }

    def call(conn, case: Case, who: SessionUser, place: str) -> Any:
        function = ACTION_FUNCTIONS[action]
        if action == "notify_responder":  # the fixture's one police box
            extra[action] = {"responder_id": conn.scalar(select(Responder.id).limit(1))}
        return function(
            conn,
            case.alerts[place],
            principal=who,
            seen_version=1,
            now=T0,
            **extra.get(action, {}),
        )

    return call


def _alert_state(case: Case, place: str) -> Any:
    with case.engine.connect() as conn:
        return conn.scalar(select(Alert.version).where(Alert.id == case.alerts[place]))


def _user_state(case: Case, place: str) -> Any:
    with case.engine.connect() as conn:
        row = get_user(conn, case.accounts[place])
        made = get_user(conn, f"new-{place}")
    return (row.active, row.password_hash, row.failed_logins, made is not None)


def _key_state(case: Case, place: str) -> Any:
    with case.engine.connect() as conn:
        return sorted((k.prefix, k.revoked_at is not None) for k in list_keys(conn))


def _vendor_state(case: Case, place: str) -> Any:
    with case.engine.connect() as conn:
        return [(v.code, v.timezone, v.declared) for v in list_vendors(conn)]


def _locked(conn, case: Case, place: str) -> None:
    conn.execute(
        User.__table__.update().where(User.username == case.accounts[place]).values(failed_logins=3)
    )


@dataclass(frozen=True)
class Op:
    permission: str
    audit: str
    call: Callable[[Any, Case, SessionUser, str], Any]
    state: Callable[[Case, str], Any]
    own_transaction: bool = False  # the domain function opens its own (imports)
    # Audit rows the call writes (as the caller) before its own: ending an enrollment closes
    # the person's open alert.
    before: tuple[str, ...] = ()


OPS: dict[str, Op] = {
    **{f"alert_{a}": Op(a, f"alert_{a}", _alert_call(a), _alert_state) for a in ACTION_FUNCTIONS},
    "reveal_personal_data": Op(
        "reveal_personal_data",
        "reveal_personal_data",
        lambda conn, case, who, place: reveal_personal_data(
            conn, who, case.people[place], T0, purpose="care_check"
        ),
        lambda case, place: None,  # a reveal changes nothing but the audit log
    ),
    "user_create": Op(
        "manage_users",
        "user_create",
        lambda conn, case, who, place: create_user(
            conn,
            f"new-{place}",
            "operator" if place == INSIDE else "admin",
            "a long passphrase",
            T0,
            who,
        ),
        _user_state,
    ),
    "user_disable": Op(
        "manage_users",
        "user_disable",
        lambda conn, case, who, place: set_active(conn, case.accounts[place], False, T0, who),
        _user_state,
    ),
    "user_unlock": Op(
        "manage_users",
        "user_unlock",
        lambda conn, case, who, place: unlock_user(conn, case.accounts[place], T0, who),
        _user_state,
    ),
    "user_password": Op(
        "manage_users",
        "user_password",
        lambda conn, case, who, place: set_password(
            conn, case.accounts[place], "another long passphrase", T0, who
        ),
        _user_state,
    ),
    "api_key_create": Op(
        "manage_api_keys",
        "api_key_create",
        lambda conn, case, who, place: create_key(conn, "newvendor", principal=who, now=T0),
        _key_state,
    ),
    "api_key_revoke": Op(
        "manage_api_keys",
        "api_key_revoke",
        lambda conn, case, who, place: revoke_key(conn, case.key, principal=who, now=T0),
        _key_state,
    ),
    "vendor_add": Op(
        "manage_api_keys",
        "vendor_add",
        lambda conn, case, who, place: add_vendor(
            conn, "newvendor", timezone="Europe/Berlin", principal=who, now=T0
        ),
        _vendor_state,
    ),
    "vendor_timezone": Op(
        "manage_api_keys",
        "vendor_timezone",
        lambda conn, case, who, place: set_timezone(
            conn, "acme", "Europe/Berlin", principal=who, now=T0
        ),
        _vendor_state,
    ),
    "thresholds_update": Op(
        "edit_thresholds",
        "thresholds_update",
        lambda conn, case, who, place: update_thresholds(
            conn, who, {"battery.low_pct": 17.0}, case.rules, T0
        ),
        lambda case, place: case.rules.read_text(encoding="utf-8"),
    ),
    "import_events": Op(
        "import_data",
        "import_events",
        lambda conn, case, who, place: import_and_audit(
            case.engine, case.csv, "matrix.csv", "acme", who, T0
        ),
        lambda case, place: _count(case.engine, DeviceEvent),
        own_transaction=True,
    ),
    "complaint_import": Op(
        "import_data",
        "complaint_import",
        lambda conn, case, who, place: import_complaints(
            case.engine, COMPLAINTS_CSV, "c.csv", who, T0
        ),
        lambda case, place: _count(case.engine, Complaint),
        own_transaction=True,
    ),
    "budget_execution_import": Op(
        "import_data",
        "budget_execution_import",
        lambda conn, case, who, place: import_budget(case.engine, BUDGET_CSV, "b.csv", who, T0),
        lambda case, place: _count(case.engine, BudgetExecution),
        own_transaction=True,
    ),
    "roster_import_people": Op(
        "manage_roster",
        "roster_import_people",
        lambda conn, case, who, place: import_people(case.engine, PEOPLE_CSV, "p.csv", who, T0),
        lambda case, place: _count(case.engine, CareRecipient),
        own_transaction=True,
    ),
    "roster_import_devices": Op(
        "manage_roster",
        "roster_import_devices",
        lambda conn, case, who, place: import_devices(
            case.engine, _devices_csv(case, place), "d.csv", who, T0
        ),
        lambda case, place: _count(case.engine, Device),
        own_transaction=True,
    ),
    "person_settings": Op(
        "manage_roster",
        "person_settings",
        lambda conn, case, who, place: update_person_settings(
            conn, who, T0, case.people[place], no_change_hours=30
        ),
        lambda case, place: _person(case, place).no_change_hours,
    ),
    "person_home": Op(
        "manage_roster",
        "person_home",
        lambda conn, case, who, place: set_home_position(
            conn, who, T0, case.people[place], 37.6, 126.8
        ),
        lambda case, place: _person(case, place).pii_home_lat,
    ),
    "device_register": Op(
        "manage_roster",
        "device_register",
        lambda conn, case, who, place: register_device(
            conn,
            who,
            T0,
            device_uid=f"new-{place}",
            vendor="acme",
            type_code=_type(place),
            program_code=_program(case, place),
            installed_on=T0.date(),
            recipient_id=case.people[place],
        ),
        lambda case, place: _count(case.engine, Device),
    ),
    "device_status": Op(
        "manage_roster",
        "device_status",
        lambda conn, case, who, place: set_device_status(
            conn, who, T0, _device(case, place), "in_repair"
        ),
        lambda case, place: _statuses(case),
    ),
    "device_replace": Op(
        "manage_roster",
        "device_replace",
        lambda conn, case, who, place: replace_device(
            conn, who, T0, _device(case, place), device_uid=f"new-{place}"
        ),
        lambda case, place: _statuses(case),
    ),
    "enrollment_end": Op(
        "manage_roster",
        "enrollment_end",
        lambda conn, case, who, place: end_enrollment(
            conn, who, T0, case.people[place], "moved", T0.date()
        ),
        lambda case, place: _person(case, place).ended_on,
        before=("alert_close",),
    ),
    "responder_add": Op(
        "manage_responders",
        "responder_add",
        lambda conn, case, who, place: register_responder(
            conn, who, T0, kind="bus_stop", name=f"정류장 {place}", lat=37.64, lon=126.78
        ),
        lambda case, place: _count(case.engine, Responder),
    ),
    "away_mark": Op(
        "mark_away",
        "away_mark",
        lambda conn, case, who, place: mark_away(
            conn, who, T0, case.people[place], T0.date(), T0.date() + timedelta(days=5)
        ),
        lambda case, place: _count(case.engine, AwayPeriod),
    ),
    "duplicate_dismiss": Op(
        "resolve_duplicates",
        "duplicate_dismiss",
        lambda conn, case, who, place: mark_different(conn, who, T0, *case.twins[place]),
        lambda case, place: _count(case.engine, DifferentPeople),
    ),
    "privacy_purge": Op(
        "manage_roster",
        "privacy_purge",
        lambda conn, case, who, place: purge_ended(conn, who, T0, 30),
        lambda case, place: _count_audit(case, "privacy_purge"),
    ),
}


COMPLAINTS_CSV = (
    "접수번호,접수일시,민원유형,행정동코드\nC-1,2024-11-01 10:00,흡연,4128552000\n".encode()
)

# A new person in the fixture's dong and program, and a new plug for the person in ``place``.
PEOPLE_CSV = (
    "대상자번호,성명,출생연도,성별,행정동코드,사업,등록일\n"
    "M-0001,시험,1944,여,4128552000,goyang_ai_call,2024-11-01\n"
).encode()
BUDGET_CSV = (
    "(단위: 천원)\n회계연도,월,구,단위사업,재원,예산액,집행액\n2024,1,종로구,p,시비,100,10\n"
).encode()


def _devices_csv(case: Case, place: str) -> bytes:
    with case.engine.connect() as conn:
        ref = conn.scalar(
            select(CareRecipient.external_ref).where(CareRecipient.id == case.people[place])
        )
    header = "device_id,vendor,type,program,external_ref,installed_on\n"
    return f"{header}roster-line,acme,ai_call_line,goyang_ai_call,{ref},2024-11-01\n".encode()


def _person(case: Case, place: str):
    with case.engine.connect() as conn:
        return conn.execute(
            select(CareRecipient).where(CareRecipient.id == case.people[place])
        ).one()


def _program(case: Case, place: str) -> str:
    return "goyang_ai_call" if place == INSIDE else "seoul_smart_plug"


def _type(place: str) -> str:
    return "ai_call_line" if place == INSIDE else "smart_plug"


def _device(case: Case, place: str) -> int:
    """The person's device of the type their program uses."""
    with case.engine.connect() as conn:
        return conn.scalar(
            select(Device.id).where(
                Device.recipient_id == case.people[place], Device.type_code == _type(place)
            )
        )


def _statuses(case: Case) -> list[tuple[int, str]]:
    with case.engine.connect() as conn:
        return [
            tuple(r) for r in conn.execute(select(Device.id, Device.status).order_by(Device.id))
        ]


def _count_audit(case: Case, action: str) -> int:
    with case.engine.connect() as conn:
        return conn.scalar(
            select(func.count()).select_from(AuditLog).where(AuditLog.action == action)
        )


def _count(engine: Engine, model) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _written(case: Case) -> tuple[int, ...]:
    """Row counts of every table a refused call could have touched."""
    models = (
        AuditLog, Alert, Dispatch, NotificationOutbox, User, ApiKey, DeviceEvent, CareRecipient,
        Device, DeviceAssignment, Complaint,
    )  # fmt: skip
    return tuple(_count(case.engine, m) for m in models)


CASES = [
    pytest.param(op, role, place, id=f"{op}-{role}-{place}")
    for op in OPS
    for role in ROLES
    for place in PLACES
]


def test_every_matrix_action_is_covered() -> None:
    """A new action in roles.py needs a row in EXPECTED and a call in OPS, or is read-only."""
    assert set(EXPECTED) | READ_ONLY == set(ACTIONS)
    assert not set(EXPECTED) & READ_ONLY
    assert {op.permission for op in OPS.values()} == set(EXPECTED)
    assert set(ROLES) == {"operator", "lead", "council", "admin"}


@pytest.mark.parametrize("action", sorted(EXPECTED))
@pytest.mark.parametrize("role", ROLES)
def test_the_matrix_agrees_with_the_table(action: str, role: str) -> None:
    """roles.py and the hand-written table: a role may act somewhere iff ``can`` says so."""
    assert can(role, action) == bool(EXPECTED[action][role]), f"{role} × {action}"


@pytest.mark.parametrize(("op", "role", "place"), CASES)
def test_domain_allows_or_refuses(case: Case, op: str, role: str, place: str) -> None:
    spec = OPS[op]
    who = _principal(role)
    allowed = place[0].upper() in EXPECTED[spec.permission][role]
    if op == "user_unlock":
        with case.engine.begin() as conn:
            _locked(conn, case, place)
    before, state = _written(case), spec.state(case, place)

    if allowed:
        if spec.own_transaction:
            spec.call(None, case, who, place)
        else:
            with case.engine.begin() as conn:
                spec.call(conn, case, who, place)
        with case.engine.connect() as conn:
            # Imported events may open alerts: the rules audit those as "system", not the caller.
            audit = conn.execute(
                select(AuditLog.actor, AuditLog.action).where(AuditLog.actor != "system")
            ).all()
        assert [tuple(row) for row in audit] == [
            (who.username, name) for name in (*spec.before, spec.audit)
        ]
        if op != "reveal_personal_data":
            assert spec.state(case, place) != state, "allowed, but nothing changed"
        return

    with pytest.raises(NotPermitted) as info:
        if spec.own_transaction:
            spec.call(None, case, who, place)
        else:
            with case.engine.connect() as conn:  # commits whatever was written before the raise
                try:
                    spec.call(conn, case, who, place)
                except NotPermitted:
                    conn.commit()
                    raise
    assert info.value.role == role and info.value.action == spec.permission
    assert info.value.reason == ("role" if not can(role, spec.permission) else _scope_reason(op))
    assert _written(case) == before
    assert spec.state(case, place) == state


def _scope_reason(op: str) -> str:
    return "target_role" if op.startswith("user_") else "district"


def test_nobody_disables_their_own_account(case: Case) -> None:
    """The page greys the button out; the domain refuses too (nobody would be left to undo it)."""
    me = SessionUser("root", "root", "admin")
    before = _written(case)
    with case.engine.connect() as conn, pytest.raises(NotPermitted) as info:
        try:
            set_active(conn, "root", False, T0, me)
        finally:
            conn.commit()
    assert info.value.reason == "own_account"
    assert _written(case) == before
    with case.engine.connect() as conn:
        assert get_user(conn, "root").active
