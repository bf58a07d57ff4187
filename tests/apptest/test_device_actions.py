"""기기 관리 actions on a private copy of the demo city: register, assign/reassign, replace, out of
and back into service. Each happy path writes the device change and its audit row and shows it;
each refusal shows the translated reason next to the form and writes nothing; operators get no
forms; admins choose people by 대상자번호 and see no name."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import AuditLog, CareRecipient, ComplaintSite, Device, Program
from dashboard.formatting import mask_name
from dashboard.i18n import translate
from dashboard.ui.device_actions import (
    REG_CONFIRM,
    REG_DONG,
    REG_PROGRAM,
    REG_REF,
    REG_SITE,
    REG_SUBMIT,
    REG_TARGET,
    REG_TYPE,
    REG_UID,
    REG_VENDOR,
    action_key,
)
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import open_page, private_copy, texts


@pytest.fixture
def db(demo_db: Engine, tmp_path) -> Iterator[Engine]:
    """A fresh copy per test: every test here writes."""
    with private_copy(demo_db, tmp_path) as engine:
        yield engine


def _open(role: str = "lead", **params: str) -> AppTest:
    at = open_page("devices", role=role, **params)
    assert not at.exception, [e.value for e in at.exception]
    return at


def _run(at: AppTest) -> AppTest:
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _snapshot(engine: Engine) -> tuple:
    """Everything an action could write: devices (all columns that change) and the audit log."""
    with engine.connect() as conn:
        devices = conn.execute(
            select(Device.id, Device.status, Device.recipient_id, Device.site_id).order_by(
                Device.id
            )
        ).all()
        audit = conn.scalar(  # the app's own rows (sign-in, first run) are not the action's
            select(func.count()).select_from(AuditLog).where(AuditLog.action.like("device%"))
        )
    return devices, audit


def _audit(engine: Engine, action: str) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(AuditLog).where(AuditLog.action == action).order_by(AuditLog.id)
        ).all()


def _device(engine: Engine, uid: str):
    with engine.connect() as conn:
        return conn.execute(select(Device).where(Device.device_uid == uid)).one_or_none()


def _active_person(engine: Engine, program: str, *, without_device: bool = False) -> str:
    """The 대상자번호 of an enrolled person of ``program`` (optionally one with no device)."""
    stmt = (
        select(CareRecipient.external_ref)
        .join(Program, Program.id == CareRecipient.program_id)
        .where(Program.code == program, CareRecipient.ended_on.is_(None))
        .order_by(CareRecipient.external_ref)
    )
    if without_device:
        stmt = stmt.where(~CareRecipient.id.in_(select(Device.recipient_id).where(
            Device.recipient_id.is_not(None)
        )))  # fmt: skip
    with engine.connect() as conn:
        return conn.scalars(stmt).first()


def _assigned_device(engine: Engine, program: str) -> str:
    with engine.connect() as conn:
        return conn.scalar(
            select(Device.device_uid)
            .join(Program, Program.id == Device.program_id)
            .join(CareRecipient, CareRecipient.id == Device.recipient_id)
            .where(
                Program.code == program,
                Device.status == "active",
                CareRecipient.ended_on.is_(None),
            )
            .order_by(Device.device_uid)
        )


def _choose(at: AppTest, did: int, action: str) -> AppTest:
    at.radio(key=action_key("choice", did)).set_value(action)
    return _run(at)


def _shows_device(at: AppTest, uid: str) -> bool:
    return translate("devices.title", uid=md_escape(uid)) in [str(h.value) for h in at.subheader]


def _errors(at: AppTest) -> list[str]:
    return [str(e.value) for e in at.error]


def _register(at: AppTest, program: str, uid: str, vendor: str, ref: str, confirm: bool = True):
    at.selectbox(key=REG_PROGRAM).set_value(program)
    _run(at)
    at.text_input(key=REG_UID).input(uid)
    at.selectbox(key=REG_VENDOR).set_value(vendor)
    at.text_input(key=REG_REF).input(ref)
    if confirm:
        at.checkbox(key=REG_CONFIRM).check()
    at.button(key=REG_SUBMIT).click()
    return _run(at)


def test_lead_registers_a_device_for_a_person(db: Engine) -> None:
    ref = _active_person(db, "goyang_wandering", without_device=True) or _active_person(
        db, "goyang_wandering"
    )
    at = _open()
    at = _register(at, "goyang_wandering", "WD-NEW-1", "safestep", ref)
    assert not _errors(at), _errors(at)
    stored = _device(db, "WD-NEW-1")
    with db.connect() as conn:
        person_id = conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))
    assert (stored.status, stored.recipient_id, stored.type_code, stored.vendor) == (
        "active",
        person_id,
        "wandering_detector",
        "safestep",
    )
    [entry] = _audit(db, "device_register")
    assert (entry.actor, entry.entity_id, entry.detail["device_uid"]) == (
        "lead",
        str(stored.id),
        "WD-NEW-1",
    )
    assert translate("device_actions.registered", uid=md_escape("WD-NEW-1")) in [
        str(s.value) for s in at.success
    ]
    # The page opens the new device and the list (cache cleared) has it.
    assert any(
        translate("devices.title", uid=md_escape("WD-NEW-1")) == str(h.value) for h in at.subheader
    )
    at.text_input(key="dev_search").set_value("WD-NEW").run()
    frame = next(d.value for d in at.dataframe if translate("devices.device_id") in d.value.columns)
    assert list(frame[translate("devices.device_id")]) == ["WD-NEW-1"]
    assert at.text_input(key=REG_UID).value == ""  # the form is emptied for the next device


def test_register_offers_only_the_programs_device_types_and_its_sites(db: Engine) -> None:
    at = _open()
    at.selectbox(key=REG_PROGRAM).set_value("goyang_smoking")
    _run(at)
    assert at.selectbox(key=REG_TYPE).options == ["흡연 감지기"]
    assert at.radio(key=REG_TARGET).value == "person"
    at.radio(key=REG_TARGET).set_value("site")
    _run(at)
    with db.connect() as conn:
        site_id, name = conn.execute(
            select(ComplaintSite.id, ComplaintSite.name_ko).order_by(ComplaintSite.id)
        ).first()
    assert at.selectbox(key=REG_SITE).value is None
    at.selectbox(key=REG_SITE).set_value(site_id)
    at.text_input(key=REG_UID).input("SMOKE-NEW-1")
    at.selectbox(key=REG_VENDOR).set_value("smokeguard")
    at.checkbox(key=REG_CONFIRM).check()
    at.button(key=REG_SUBMIT).click()
    _run(at)
    assert not _errors(at), _errors(at)
    stored = _device(db, "SMOKE-NEW-1")
    assert (stored.site_id, stored.recipient_id, stored.type_code) == (
        site_id,
        None,
        "smoking_detector",
    )
    assert name  # a real site of the demo
    # Another program: its own type only, and the earlier choices are reset.
    at.selectbox(key=REG_PROGRAM).set_value("seoul_smart_plug")
    _run(at)
    assert at.selectbox(key=REG_TYPE).options == ["스마트플러그"]
    assert at.selectbox(key=REG_DONG).value is None
    assert not [r for r in at.radio if r.key == REG_TARGET]  # no sites: people only


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_refused_registration_shows_why_and_writes_nothing(db: Engine, lang: str) -> None:
    before = _snapshot(db)
    params = {"lang": "en"} if lang == "en" else {}
    at = _open(**params)
    # Unknown 대상자번호.
    at = _register(at, "goyang_wandering", "WD-NEW-2", "safestep", "NO-SUCH-REF")
    expected = translate("enrollment_error.unknown_ref", lang, ref=md_escape("NO-SUCH-REF"))
    assert [e for e in _errors(at) if expected in e], _errors(at)
    assert f"**{translate('device_actions.ref', lang)}**" in _errors(at)[0]
    # A device id already registered.
    taken = _assigned_device(db, "goyang_wandering")
    ref = _active_person(db, "goyang_wandering")
    at.text_input(key=REG_UID).input(taken)
    at.text_input(key=REG_REF).input(ref)
    at.checkbox(key=REG_CONFIRM).check()
    at.button(key=REG_SUBMIT).click()
    _run(at)
    assert _errors(at) == [
        f"**{translate('devices.device_id', lang)}**: "
        + translate("enrollment_error.uid_taken", lang, uid=md_escape(taken))
    ]
    # A person of another program.
    other = _active_person(db, "seoul_smart_plug")
    at.text_input(key=REG_UID).input("WD-NEW-2")
    at.text_input(key=REG_REF).input(other)
    at.checkbox(key=REG_CONFIRM).check()
    at.button(key=REG_SUBMIT).click()
    _run(at)
    assert translate("enrollment_error.owner_other_program", lang) in _errors(at)[0]
    # Not confirmed.
    at.text_input(key=REG_REF).input(ref)
    at.checkbox(key=REG_CONFIRM).uncheck()
    at.button(key=REG_SUBMIT).click()
    _run(at)
    assert translate("device_actions.confirm_first", lang) in _errors(at)[0]
    assert _snapshot(db) == before


def test_lead_replaces_a_device_keeping_the_person(db: Engine) -> None:
    uid = _assigned_device(db, "goyang_wandering")
    old = _device(db, uid)
    at = _open(device=uid)
    _choose(at, old.id, "replace")
    at.text_input(key=action_key("new_uid", old.id)).input("WD-REPL-1")
    at.radio(key=action_key("old_status", old.id)).set_value("in_repair")
    at.checkbox(key=action_key("replace_confirm", old.id)).check()
    at.button(key=action_key("replace_submit", old.id)).click()
    _run(at)
    assert not _errors(at), _errors(at)
    new, old_now = _device(db, "WD-REPL-1"), _device(db, uid)
    assert (new.status, new.recipient_id, new.vendor) == ("active", old.recipient_id, old.vendor)
    assert (old_now.status, old_now.recipient_id, old_now.replaced_by_id) == (
        "in_repair",
        None,
        new.id,
    )
    [entry] = _audit(db, "device_replace")
    assert (entry.actor, entry.entity_id, entry.detail["new_device_uid"]) == (
        "lead",
        str(old.id),
        "WD-REPL-1",
    )
    # The page now shows the new device, with the success message.
    assert any(
        translate("devices.title", uid=md_escape("WD-REPL-1")) == str(h.value) for h in at.subheader
    )
    assert any(md_escape("WD-REPL-1") in str(s.value) for s in at.success)


def test_a_refused_replacement_writes_nothing(db: Engine) -> None:
    uid = _assigned_device(db, "goyang_wandering")
    busy = _assigned_device(db, "seoul_smart_plug")  # in use by someone else
    old = _device(db, uid)
    before = _snapshot(db)
    at = _open(device=uid)
    _choose(at, old.id, "replace")
    at.text_input(key=action_key("new_uid", old.id)).input(busy)
    at.checkbox(key=action_key("replace_confirm", old.id)).check()
    at.button(key=action_key("replace_submit", old.id)).click()
    _run(at)
    assert _errors(at) == [
        f"**{translate('devices.device_id')}**: "
        + translate("enrollment_error.uid_in_use", uid=md_escape(busy))
    ]
    assert _snapshot(db) == before


def test_out_of_service_and_back(db: Engine) -> None:
    uid = _assigned_device(db, "goyang_care_robot")
    device = _device(db, uid)
    at = _open(device=uid)
    _choose(at, device.id, "out_of_service")
    assert at.radio(key=action_key("to", device.id)).options == [
        translate("device_actions.out_to_in_repair"),
        translate("device_actions.out_to_retired"),
    ]
    at.checkbox(key=action_key("out_of_service_confirm", device.id)).check()
    at.button(key=action_key("out_submit", device.id)).click()
    _run(at)
    assert not _errors(at), _errors(at)
    now = _device(db, uid)
    assert (now.status, now.recipient_id) == ("in_repair", device.recipient_id)
    assert [e.detail for e in _audit(db, "device_status")] == [
        {"from": "active", "to": "in_repair"}
    ]
    # In repair: return to service (or retire) is offered, replace is not.
    choice = at.radio(key=action_key("choice", device.id))
    assert choice.options == [
        translate("device_actions.return"),
        translate("device_actions.out_of_service"),
    ]
    _choose(at, device.id, "return")
    at.button(key=action_key("return_submit", device.id)).click()  # not confirmed
    _run(at)
    assert translate("device_actions.confirm_first") in _errors(at)[0]
    assert _device(db, uid).status == "in_repair"
    at.checkbox(key=action_key("return_confirm", device.id)).check()
    at.button(key=action_key("return_submit", device.id)).click()
    _run(at)
    assert _device(db, uid).status == "active"
    assert [e.detail["to"] for e in _audit(db, "device_status")] == ["in_repair", "active"]


def test_reassign_to_another_person_of_the_program(db: Engine) -> None:
    uid = _assigned_device(db, "goyang_wandering")
    device = _device(db, uid)
    with db.connect() as conn:
        other_ref, other_id = conn.execute(
            select(CareRecipient.external_ref, CareRecipient.id)
            .join(Program, Program.id == CareRecipient.program_id)
            .where(
                Program.code == "goyang_wandering",
                CareRecipient.ended_on.is_(None),
                CareRecipient.id != device.recipient_id,
            )
            .order_by(CareRecipient.id)
        ).first()
    at = _open(device=uid)
    _choose(at, device.id, "assign")
    at.text_input(key=action_key("ref", device.id)).input(other_ref)
    at.checkbox(key=action_key("assign_confirm", device.id)).check()
    at.button(key=action_key("assign_submit", device.id)).click()
    _run(at)
    assert not _errors(at), _errors(at)
    now = _device(db, uid)
    assert (now.status, now.recipient_id) == ("active", other_id)
    assert [e.detail["to"] for e in _audit(db, "device_status")] == ["retired"]
    [entry] = _audit(db, "device_assign")
    assert (entry.actor, entry.detail["recipient_id"]) == ("lead", other_id)
    assert translate("device_actions.assigned", uid=md_escape(uid)) in [
        str(s.value) for s in at.success
    ]


def test_operator_reads_only(db: Engine) -> None:
    uid = _assigned_device(db, "goyang_wandering")  # inside the demo operator's districts
    at = _open(role="operator", device=uid)
    assert _shows_device(at, uid)
    keys = [w.key or "" for kind in ("radio", "button", "text_input", "selectbox") for w in
            at.get(kind)]  # fmt: skip
    assert not [k for k in keys if k.startswith(("devact_", "devreg_"))], keys
    labels = [e.label for e in at.expander]
    assert translate("device_actions.register_title") not in labels
    assert translate("device_actions.title") not in texts(at)


def test_admin_registers_by_reference_and_sees_no_name(db: Engine) -> None:
    ref = _active_person(db, "goyang_care_robot")
    with db.connect() as conn:
        name = conn.scalar(select(CareRecipient.pii_name).where(CareRecipient.external_ref == ref))
    at = _open(role="admin")
    at = _register(at, "goyang_care_robot", "ROBOT-NEW-1", "hyobot", ref)
    assert not _errors(at), _errors(at)
    assert _device(db, "ROBOT-NEW-1").status == "active"
    [entry] = _audit(db, "device_register")
    assert entry.actor == "admin"
    shown = "\n".join(texts(at))
    assert md_escape(ref) in shown  # the panel names the person by 대상자번호
    assert name not in shown and mask_name(name) not in shown
