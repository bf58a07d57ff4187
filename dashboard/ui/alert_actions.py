"""Action buttons on one alert, their callbacks and the 119 / close confirmation dialogs.

Every write happens in an ``on_click`` callback calling ``dashboard.actions.perform`` with the
session user and the version the operator saw (the domain checks role and district again). The
outcome of a callback is kept in the session as a *flash* and shown on the next render
(callbacks run before the page draws).
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import Any

import streamlit as st

from dashboard import clock
from dashboard.actions import (
    NEEDS_CONFIRMATION,
    ActionError,
    AlertNotFound,
    ConfirmationRequired,
    ConflictError,
    ForbiddenTransition,
    LastChange,
    NotPermitted,
    Route,
    allowed_actions,
    check_request_route,
    last_change,
    perform,
)
from dashboard.actions.transitions import (
    CONTROL_NOTE_REASON,
    DEVICE_TICKET_REASON,
    NOTE_REQUIRED_OUTCOMES,
    OUTCOMES,
    close_outcomes,
)
from dashboard.auth import SessionUser, can
from dashboard.auth.permissions import may
from dashboard.formatting import format_datetime
from dashboard.i18n import state_label
from dashboard.settings import LOCAL_TZ
from dashboard.ui.alerts import rule_label
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from queries.alerts import alert_version

FLASH_KEY = "alerts_flash"  # (kind, text) shown once above the alert
BUST_KEY = "alerts_bust_cache"  # the next queue read skips the shared 10 s cache
_DIALOG_KEY = "alerts_dialog"  # {"action", "alert_id", "version", "region_code", "error"}
_LAST_KEY = "alerts_last_request"
# A second click on the same button within this window reuses the first click's version, so
# the domain recognises the repeat (same request key) and writes nothing.
DOUBLE_CLICK_WINDOW_S = 5.0
# After a click lost to someone else (a conflict), a repeat this soon after the page showed the
# new state is the rest of the same double click and loses again; a later one is the operator
# deciding again on what the page now shows, and carries that version.
REDECIDE_S = 1.0
_OUTCOME_KEY = "alerts_close_outcome"
_NOTE_KEY = "alerts_close_note"
_NOTE_119_KEY = "alerts_119_note"
# What was typed in a 119 / close dialog whose action was not applied (the alert changed under
# it): {"alert_id", "action", "values": {widget key: value}}. Reopening that dialog on that alert
# fills it in again, so a long note is not lost to a colleague's click or a stage raised meanwhile.
_DRAFT_KEY = "alerts_dialog_draft"
_DIALOG_FIELDS = {"close": (_OUTCOME_KEY, _NOTE_KEY), "emergency_119": (_NOTE_119_KEY,)}
# (alert id, version) of the detail on screen: the queue's timer redraws the page when the
# alert changes under it (closed or escalated by someone else), instead of leaving an alert
# gone from the queue on screen with its buttons.
SHOWN_KEY = "alerts_shown_version"
_BUTTON_TYPE = {"acknowledge": "primary", "emergency_119": "primary"}
_ICONS = {
    "acknowledge": ":material/done:",
    "ai_recall": ":material/phone_callback:",
    "dong_center": ":material/home_work:",
    "field_visit": ":material/directions_run:",
    "emergency_119": ":material/emergency:",
    "guardian_call": ":material/family_restroom:",
    "close": ":material/task_alt:",
}
# Reasons of ForbiddenTransition the operator may meet, to i18n keys (others shown verbatim).
_REASONS = {
    "no guardian phone on file": "act.reason.no_guardian_phone",
    "no device to call through": "act.reason.no_device",
    "the alert is closed; closed is terminal": "act.reason.closed",
    "the alert is already acknowledged": "act.reason.acknowledged",
    "the alert is already acknowledged (a dispatch implies it)": "act.reason.acknowledged",
    DEVICE_TICKET_REASON: "act.reason.device_outcome",
    CONTROL_NOTE_REASON: "act.reason.control_note",
}


def _user() -> SessionUser | None:
    """Who acts: the account as it is now, not the session's copy (a callback is a door)."""
    from dashboard.ui.auth import acting_user

    return acting_user()


def may_act(user: SessionUser, region_code: str | None) -> bool:
    """Operators act only in their districts (the same scope as their personal data)."""
    return may(user, "acknowledge", region_code)


def action_label(action: str, lang: str | None = None) -> str:
    return t(f"act.{action}") if lang is None else _translate(f"act.{action}", lang)


def _translate(key: str, lang: str, **kwargs: Any) -> str:
    from dashboard.i18n import translate_or

    return translate_or(key, key.split(".")[-1], lang, **kwargs)


def conflict_message(err: ConflictError, lang: str) -> str:
    """Who did what, when, and that this request was not applied; Korean from the domain."""
    if lang == "ko":
        return md_escape(err.message_ko)  # names the user who acted first
    who = _translate("act.system", lang) if err.last.by == "system" else md_escape(err.last.by)
    return _translate(
        "act.conflict",
        lang,
        who=who,
        at=err.last.at.astimezone(LOCAL_TZ).strftime("%H:%M:%S"),
        did=_translate(f"act.{err.last.action}", lang),
        mine=_translate(f"act.{err.attempted}", lang),
    )


def changed_message(last: LastChange, lang: str) -> str:
    """The alert on screen changed: who did what, when (the detail has been read again)."""
    who = _translate("act.system", lang) if last.by == "system" else md_escape(last.by)
    return _translate(
        "act.changed",
        lang,
        who=who,
        at=last.at.astimezone(LOCAL_TZ).strftime("%H:%M:%S"),
        did=_translate(f"act.{last.action}", lang),
    )


def remember_shown(alert_id: int, version: int) -> None:
    """The page read this alert's detail at ``version`` (before the queue's fragment runs, so a
    full run never finds its own detail stale)."""
    st.session_state[SHOWN_KEY] = (alert_id, version)


def changed_since_shown(alert_id: int | None) -> bool:
    """For the queue's timer: has the alert drawn below changed since it was drawn? Then leave
    a note of who did what for the page's redraw (none for the rules' evidence alone). Not
    while a 119 or close dialog is open: its confirm meets the conflict, and what was typed is
    kept (``_DRAFT_KEY``)."""
    shown = st.session_state.get(SHOWN_KEY)
    if alert_id is None or not shown or shown[0] != alert_id or st.session_state.get(_DIALOG_KEY):
        return False
    with get_engine().connect() as conn:
        version = alert_version(conn, alert_id)
        if version is None or version <= shown[1]:
            return False
        last = last_change(conn, alert_id)
    # The rules refreshing the evidence (a wanderer's position at every fix) redraws it quietly:
    # a note every 10 seconds would bury the ones that matter.
    if not last.evidence_only:
        _flash("info", changed_message(last, current_lang()))
    return True


def error_message(err: ActionError | NotPermitted, action: str, lang: str) -> str:
    label = _translate(f"act.{action}", lang)
    if isinstance(err, NotPermitted):
        return _translate("act.err.not_permitted", lang, action=label)
    if isinstance(err, AlertNotFound):
        return _translate("act.err.not_found", lang, id=err.alert_id)
    if isinstance(err, ConfirmationRequired):
        return _translate("act.err.confirm", lang, action=label)
    if isinstance(err, ForbiddenTransition):
        key = _REASONS.get(err.reason)
        reason = _translate(key, lang) if key else md_escape(err.reason)
        return _translate("act.err.forbidden", lang, action=label, reason=reason)
    return _translate("act.err.other", lang, action=label, reason=md_escape(err))


def _flash(kind: str, text: str) -> None:
    st.session_state[FLASH_KEY] = (kind, text)


def show_flash() -> None:
    """The result of the last action, once: a toast for success, a box for every outcome."""
    flash = st.session_state.pop(FLASH_KEY, None)
    if not flash:
        return
    kind, text = flash
    if kind == "success":
        st.toast(text, icon=":material/check_circle:")
    {"success": st.success, "info": st.info, "warning": st.warning}.get(kind, st.error)(text)


def _seen_version(alert_id: int, action: str, actor: str, version: int) -> int:
    """The version to send: a quick repeat of the same click keeps the first click's version.

    ``action`` names the request (a responder's id included: notifying a second police box is
    another request, not a repeat). A repeat of a click that lost to someone else keeps the old
    version only until the page has shown the new state for REDECIDE_S."""
    last = st.session_state.get(_LAST_KEY)
    now = time.monotonic()
    if last and (last["alert_id"], last["action"], last["actor"]) == (alert_id, action, actor):
        if last.get("conflict"):
            shown = last.get("shown_at")
            if shown is None or now - shown < REDECIDE_S:
                return last["version"]
        elif now - last["at"] < DOUBLE_CLICK_WINDOW_S:
            return last["version"]
    st.session_state[_LAST_KEY] = {
        "alert_id": alert_id,
        "action": action,
        "actor": actor,
        "version": version,
        "at": now,
    }
    return version


def run_action(
    alert_id: int, action: str, version: int, region_code: str | None, **extra: Any
) -> bool:
    """Perform ``action``; leave a flash. Returns True when the dialog (if any) may close."""
    lang = current_lang()
    user = _user()
    if user is None or not can(user.role, action) or not may_act(user, region_code):
        reason = "district" if user is not None and can(user.role, action) else "role"
        _flash("error", error_message(NotPermitted(user, action, reason), action, lang))
        return True
    request = f"{action}:{extra['responder_id']}" if "responder_id" in extra else action
    seen = _seen_version(alert_id, request, user.username, version)
    try:
        result = perform(
            get_engine(),
            action,
            alert_id,
            principal=user,
            seen_version=seen,
            now=clock.now(),
            **extra,
        )
    except ConflictError as err:
        _flash("warning", conflict_message(err, lang))
        last = st.session_state.get(_LAST_KEY)
        if last and last["version"] == seen:
            last["conflict"] = True  # nothing applied: see _seen_version
    except (ActionError, NotPermitted) as err:
        st.session_state.pop(_LAST_KEY, None)  # nothing applied: a new click is a new request
        _flash("error", error_message(err, action, lang))
        return not isinstance(err, ForbiddenTransition | ConfirmationRequired)
    else:
        st.session_state.pop(_DRAFT_KEY, None)  # applied: nothing typed is waiting any more
        if result.replayed:
            _flash("info", t("act.replayed", action=action_label(action)))
        else:
            target = f" → {md_escape(result.target)}" if result.target else ""
            _flash("success", t("act.done", id=alert_id, action=action_label(action)) + target)
    st.session_state[BUST_KEY] = True
    return True


def _on_click(alert_id: int, action: str, version: int, region_code: str | None) -> None:
    if action in NEEDS_CONFIRMATION:  # the dialog sends confirmed=True, never this button
        st.session_state[_DIALOG_KEY] = {
            "action": action,
            "alert_id": alert_id,
            "version": version,
            "region_code": region_code,
            "error": None,
        }
        for key in (_OUTCOME_KEY, _NOTE_KEY, _NOTE_119_KEY):
            st.session_state.pop(key, None)
        draft = st.session_state.get(_DRAFT_KEY)
        if draft and (draft["alert_id"], draft["action"]) == (alert_id, action):
            st.session_state.update(draft["values"])  # before the dialog's widgets exist
            st.session_state[_DIALOG_KEY]["draft"] = True
        return
    run_action(alert_id, action, version, region_code)


def _on_confirm() -> None:
    dialog = st.session_state.get(_DIALOG_KEY)
    if not dialog:
        return
    # Kept until the action is applied (run_action drops it): a conflict closes the dialog.
    st.session_state[_DRAFT_KEY] = {
        "alert_id": dialog["alert_id"],
        "action": dialog["action"],
        "values": {k: st.session_state.get(k) for k in _DIALOG_FIELDS[dialog["action"]]},
    }
    extra: dict[str, Any] = {"confirmed": True}
    if dialog["action"] == "close":
        outcome = st.session_state.get(_OUTCOME_KEY)
        note = (st.session_state.get(_NOTE_KEY) or "").strip()
        if outcome not in OUTCOMES:
            dialog["error"] = t("close.need_outcome")
            return
        if outcome in NOTE_REQUIRED_OUTCOMES and not note:
            dialog["error"] = t("close.need_note", outcome=t(f"outcome.{outcome}"))
            return
        extra |= {"outcome": outcome, "note": note or None}
    else:
        extra["note"] = (st.session_state.get(_NOTE_119_KEY) or "").strip() or None
    done = run_action(
        dialog["alert_id"], dialog["action"], dialog["version"], dialog["region_code"], **extra
    )
    if done:
        st.session_state.pop(_DIALOG_KEY, None)
    else:  # e.g. the domain refused the note: keep the dialog open with the reason
        dialog["error"] = st.session_state.pop(FLASH_KEY, ("error", ""))[1]


def _on_cancel() -> None:
    dialog = st.session_state.pop(_DIALOG_KEY, None)
    draft = st.session_state.get(_DRAFT_KEY)
    if (
        dialog
        and draft
        and (draft["alert_id"], draft["action"])
        == (
            dialog["alert_id"],
            dialog["action"],
        )
    ):
        st.session_state.pop(_DRAFT_KEY, None)  # the operator let this one go


def _dialog_body(alert: dict) -> None:
    dialog = st.session_state.get(_DIALOG_KEY)
    if not dialog:  # confirmed or cancelled inside the dialog: close it with a full rerun
        st.rerun()
        return
    action = dialog["action"]
    rule = rule_label(alert["rule"], current_lang())
    st.markdown(
        t(
            "dialog.alert",
            id=alert["id"],
            rule=rule,
            stage=state_label(alert["stage"], current_lang()),
        )
    )
    if action == "emergency_119":
        st.warning(t("dialog.119_call_yourself"))
        st.text_area(t("dialog.note_optional"), key=_NOTE_119_KEY, max_chars=1000)
        confirm = t("dialog.119_confirm")
    else:
        has_person = not _missing(alert.get("recipient_id"))
        st.selectbox(
            t("close.outcome"),
            options=list(close_outcomes(has_person=has_person)),
            index=None,
            format_func=lambda o: t(f"outcome.{o}"),
            placeholder=t("close.outcome_placeholder"),
            key=_OUTCOME_KEY,
        )
        st.text_area(t("close.note"), key=_NOTE_KEY, max_chars=2000, help=t("close.note_help"))
        confirm = t("close.confirm")
    if dialog.get("draft"):
        st.info(t("dialog.draft_kept"))
    if dialog.get("error"):
        st.error(dialog["error"])
    left, right = st.columns(2)
    left.button(confirm, type="primary", key="alerts_dialog_confirm", on_click=_on_confirm)
    right.button(t("dialog.cancel"), key="alerts_dialog_cancel", on_click=_on_cancel)


def _open_dialog(alert: dict) -> None:
    dialog = st.session_state.get(_DIALOG_KEY)
    if not dialog or dialog["alert_id"] != alert["id"]:
        st.session_state.pop(_DIALOG_KEY, None)  # a dialog belongs to the alert it came from
        return
    title = t("dialog.119_title") if dialog["action"] == "emergency_119" else t("close.title")
    st.dialog(title, width="medium", on_dismiss=_on_cancel)(_dialog_body)(alert)


def route_text(route: Route, lang: str) -> str:
    """The caption under the check-request button: target and why."""
    reason = _translate(f"act.route_reason.{route.reason}", lang)
    return _translate("act.route", lang, target=route.target, reason=reason)


def check_request_text(alert_id: int, now: datetime, lang: str) -> str:
    """Where a check request would go right now, as the domain will send it."""
    with get_engine().connect() as conn:
        return route_text(check_request_route(conn, alert_id, now), lang)


def render_actions(user: SessionUser, alert: dict, now: datetime) -> None:
    """The buttons this user may use on this alert in its current state, in ladder order."""
    region_code = alert.get("person_region_code") or alert.get("region_code")
    if not may_act(user, region_code):
        st.info(t("act.outside_districts"))
        return
    has_person = alert.get("recipient_id") is not None and not _missing(alert["recipient_id"])
    actions = [
        a for a in allowed_actions(alert["status"], has_person=has_person) if can(user.role, a)
    ]
    if not actions:
        st.caption(t("act.none", status=t(f"status.{alert['status']}")))
        return
    version = int(alert["version"])
    for action in actions:
        disabled, help_text = False, t(f"act.help.{action}")
        if action == "guardian_call" and not alert.get("has_guardian_phone"):
            disabled, help_text = True, t("act.reason.no_guardian_phone")
        if action == "ai_recall" and _missing(alert.get("device_id")):
            disabled, help_text = True, t("act.reason.no_device")
        st.button(
            action_label(action),
            key=f"alerts_act_{action}",
            type=_BUTTON_TYPE.get(action, "secondary"),
            icon=_ICONS[action],
            help=help_text,
            disabled=disabled,
            width="stretch",
            on_click=_on_click,
            args=(int(alert["id"]), action, version, region_code),
        )
        if action == "dong_center":
            st.caption(check_request_text(int(alert["id"]), now, current_lang()))
    st.caption(
        t("act.version", version=version, at=format_datetime(alert["updated_at"], current_lang()))
    )
    last = st.session_state.get(_LAST_KEY)
    if last and last.get("conflict") and last["alert_id"] == alert["id"]:
        last.setdefault("shown_at", time.monotonic())  # the new state is on screen from now
    _open_dialog(alert)


def _missing(value: object) -> bool:
    return value is None or value != value  # None or NaN
