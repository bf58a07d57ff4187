"""One alert: what fired and on what evidence, whom (masked until an audited reveal), the
device's recent readings (a person's plug alert: the plug its evidence describes), the person's
earlier alerts and dispatches, notification delivery, and the action buttons."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.audit import REDACTED_NOTE
from dashboard.auth import SessionUser, can
from dashboard.auth.permissions import NotPermitted
from dashboard.auth.reveal import (
    Pseudonymised,
    RecipientNotFound,
    check_reveal,
    reveal_personal_data,
)
from dashboard.enrollment import duplicate_open_alerts
from dashboard.enrollment.duplicates import HANDLE_ACTION
from dashboard.formatting import (
    evidence_value,
    format_age,
    format_datetime,
    format_duration,
    format_number,
)
from dashboard.i18n import localized, state_label, translate_or
from dashboard.notify import delivery_status
from dashboard.ui import alert_charts as charts_
from dashboard.ui.alert_actions import render_actions, show_flash
from dashboard.ui.alerts import rule_label
from dashboard.ui.away import away_badge, away_section
from dashboard.ui.charts import render
from dashboard.ui.components import table
from dashboard.ui.data import get_engine, live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.routine_panel import (
    evidence_plug,
    has_explanation,
    has_strip,
    other_plug_note,
    render_sentence,
    render_strip,
)
from dashboard.ui.safe_text import md_escape
from dashboard.ui.theme import chip
from queries.alerts import (
    READING_TYPES,
    PersonPlug,
    alert_trail,
    device_readings,
    dispatches_for,
    earlier_alerts,
)
from queries.recipients import RecipientCard, personal_data, recipient_card

T = TypeVar("T")
REVEAL_KEY = "alerts_revealed"  # {"alert_id", "recipient_id", "at"}: one alert per session


def fresh(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Read without the shared cache: what an operator acts on, and personal data."""
    with get_engine().connect() as conn:
        return fn(conn, *args, **kwargs)


def _missing(value: object) -> bool:
    return value is None or value != value


def _int(value: object) -> int | None:
    return None if _missing(value) else int(value)


# --- reveal -------------------------------------------------------------------------------------


def _user() -> SessionUser | None:
    """Who reveals: the account as it is now, not the session's copy (a callback is a door)."""
    from dashboard.ui.auth import acting_user

    return acting_user()


def _on_reveal(alert_id: int, recipient_id: int) -> None:
    user = _user()
    if user is None:
        return
    now = clock.now()
    try:
        with get_engine().begin() as conn:  # the audit row and the disclosure, together
            reveal_personal_data(conn, user, recipient_id, now, alert_id=alert_id)
    except (NotPermitted, RecipientNotFound, Pseudonymised) as err:
        st.session_state.pop(REVEAL_KEY, None)
        reason = "pseudonymized" if isinstance(err, Pseudonymised) else None
        st.session_state["alerts_reveal_error"] = reason or getattr(err, "reason", str(err))
        return
    st.session_state[REVEAL_KEY] = {"alert_id": alert_id, "recipient_id": recipient_id, "at": now}


def _on_hide() -> None:
    st.session_state.pop(REVEAL_KEY, None)


# Why a reveal was refused, as the domain says it (NotPermitted.reason, Pseudonymised,
# RevealPurposeMissing).
REFUSAL_REASONS = ("role", "district", "ended_enrollment", "pseudonymized", "purpose")


def refusal_text(reason: str) -> str:
    """The translated refusal; an unexpected message is shown as text, never as markdown."""
    return t(f"card.refused.{reason}") if reason in REFUSAL_REASONS else md_escape(reason)


def revealed_for(alert_id: int, recipient_id: int | None) -> bool:
    """Is this alert's person revealed in this session? A reveal ends when the alert changes."""
    state = st.session_state.get(REVEAL_KEY)
    if not state:
        return False
    if state["alert_id"] != alert_id or state["recipient_id"] != recipient_id:
        st.session_state.pop(REVEAL_KEY, None)
        return False
    return True


def _card(user: SessionUser, alert_id: int, card: RecipientCard) -> None:
    lang = current_lang()
    st.subheader(t("card.title"))
    refused = check_reveal(user, card.region_code, ended=card.ended)
    if refused is None and card.pseudonymized:
        refused = "pseudonymized"
    shown = card.masked
    revealed = refused is None and revealed_for(alert_id, card.id)
    if revealed:
        shown = fresh(personal_data, card.id)
    age = clock.now().year - card.birth_year
    rows = {
        "card.name": shown["name"],
        "card.phone": shown["phone"],
        "card.address": shown["address"],
        "card.guardian_name": shown["guardian_name"],
        "card.guardian_phone": shown["guardian_phone"],
        "card.ref": card.external_ref,
        "card.age_sex": t("card.age_sex_value", age=age, sex=t(f"card.sex.{card.sex}")),
        "card.household": t(f"card.household_kind.{card.household}")
        if card.household in ("alone", "couple_75plus", "with_family")
        else card.household,
        "card.dong": localized({"r_ko": card.region_ko, "r_en": card.region_en}, "r", lang),
    }
    table(
        pd.DataFrame({"field": [t(k) for k in rows], "value": list(rows.values())}),
        {"field": "col.field", "value": "col.value"},
    )
    reason = st.session_state.pop("alerts_reveal_error", None)
    if reason:
        st.error(refusal_text(reason))
    if revealed:
        at = st.session_state[REVEAL_KEY]["at"]
        st.caption(t("card.revealed", at=format_datetime(at, lang)))
        st.button(
            t("card.hide"), key="alerts_hide", icon=":material/visibility_off:", on_click=_on_hide
        )
    elif refused:
        st.caption(t(f"card.refused.{refused}"))
    else:
        st.button(
            t("card.reveal"),
            key="alerts_reveal",
            icon=":material/visibility:",
            help=t("card.reveal_help"),
            on_click=_on_reveal,
            args=(alert_id, card.id),
        )


# --- facts, readings, history, delivery -------------------------------------------------------


def _facts(alert: dict, now: datetime, plug: PersonPlug | None) -> None:
    lang = current_lang()
    device = f"{alert.get('device_uid') or '–'}"
    if alert.get("device_type_ko"):
        device += f" ({localized(alert, 'device_type', lang)})"
    fields = {
        "col.program": localized(alert, "program", lang),
        "col.dong": localized(alert, "region", lang),
        "col.device": device,  # the device the alert opened on
    }
    if plug is not None:  # the person's other plug, whose tests the evidence describes
        fields["detail.evidence_plug"] = (
            f"{plug.device_uid} ({localized(plug, 'device_type', lang)})"
        )
    fields |= {
        "col.recipient": alert["recipient_masked"],
        "col.opened_at": f"{format_datetime(alert['opened_at'], lang)} "
        f"({format_age(alert['opened_at'], now, lang)})",
        "col.status": t(f"status.{alert['status']}"),
    }
    if not _missing(alert.get("acknowledged_at")):
        fields["detail.acknowledged"] = t(
            "detail.by_at",
            by=alert.get("acknowledged_by") or "–",
            at=format_datetime(alert["acknowledged_at"], lang),
        )
    if not _missing(alert.get("dispatched_at")):
        fields["detail.dispatched"] = format_datetime(alert["dispatched_at"], lang)
    if not _missing(alert.get("closed_at")):
        outcome = alert.get("outcome")
        fields["detail.closed"] = t(
            "detail.by_at",
            by=alert.get("closed_by") or "–",
            at=format_datetime(alert["closed_at"], lang),
        ) + (f" · {t(f'outcome.{outcome}')}" if isinstance(outcome, str) else "")
    table(
        pd.DataFrame({"field": [t(k) for k in fields], "value": list(fields.values())}),
        {"field": "col.field", "value": "col.value"},
    )


# A position is shown as the distance from home, not as coordinates; a plug alert's stored
# sentence (English) is shown above the table in the user's language instead; the internal id
# of the plug whose tests the evidence records is for the rules (rules.household).
_HIDDEN_EVIDENCE = {"lat", "lon", "explanation", "plug_device_id"}


def _evidence(alert: dict) -> None:
    """The rule's evidence, one translated line per field (times in Asia/Seoul)."""
    lang = current_lang()
    evidence = alert.get("evidence")
    if not isinstance(evidence, dict) or not evidence:
        return
    labels, values = [], []
    for key, value in evidence.items():
        if key in _HIDDEN_EVIDENCE or value is None:
            continue  # a test that did not judge writes None: a row of "None" says nothing
        labels.append(translate_or(f"evidence.{key}", key, lang))
        if isinstance(value, str):
            value = translate_or(f"evidence.value.{value}", value, lang)
            value = value if value != evidence[key] else evidence_value(key, value, lang)
        else:
            value = evidence_value(key, value, lang)
        values.append(value)
    st.markdown(f"**{t('col.evidence')}**")
    table(
        pd.DataFrame({"field": labels, "value": values}),
        {"field": "col.field", "value": "col.value"},
    )


def _readings(alert: dict, now: datetime, plug: PersonPlug | None) -> None:
    lang = current_lang()
    device_id, device_type = _int(alert.get("device_id")), alert.get("device_type")
    uid = alert.get("device_uid")
    if plug is not None:  # the plug the evidence and the sentence describe
        device_id, device_type, uid = plug.id, "smart_plug", plug.device_uid
    types = READING_TYPES.get(device_type or "")
    if device_id is None or not types:
        st.caption(t("readings.none_for_device"))
        return
    until = live_now()
    # The last 48 h, or from 12 h before the alert (or its evidence) began when that is
    # earlier, never more than a week: one device, with a LIMIT.
    # A silent device's last readings come from its evidence's times.
    evidence = alert.get("evidence") if isinstance(alert.get("evidence"), dict) else {}
    starts = [pd.Timestamp(alert["opened_at"])] + [
        pd.Timestamp(evidence[k]) for k in ("since", "last_seen_at") if evidence.get(k)
    ]
    earliest = min(starts).to_pydatetime() - charts_.LEAD
    since = max(min(until - charts_.WINDOW, earliest), until - charts_.MAX_WINDOW)
    df = load(
        device_readings,
        device_id,
        since,
        until,
        types,
        recipient_id=_int(alert.get("recipient_id")),
        live=True,
    )
    since_text = format_datetime(since, lang)
    caption = t("readings.caption", device=md_escape(uid or "–"), since=since_text)
    st.caption(caption if plug is None else f"{caption} {other_plug_note(alert, plug)}")
    if df.empty:
        st.info(t("readings.empty"))
        return
    if device_type == "smart_plug":
        render(charts_.plug_chart(df, evidence, lang, (since, until)))
    elif device_type == "wandering_detector":
        radius = (
            evidence.get("safe_zone_m") or alert.get("safe_zone_m") or charts_.default_safe_zone_m()
        )
        render(charts_.distance_chart(df, radius, lang, (since, until)))
    elif device_type in ("ai_call_line", "phone_line"):
        render(charts_.calls_chart(df, lang, (since, until)), extra=60)
    else:
        render(charts_.events_chart(df, lang, (since, until)), extra=60)


def _history(alert: dict) -> None:
    lang = current_lang()
    rid, did = _int(alert.get("recipient_id")), _int(alert.get("device_id"))
    earlier = load(earlier_alerts, int(alert["id"]), rid, did, live=True)
    st.markdown(f"**{t('history.alerts')}**")
    if earlier.empty:
        st.caption(t("history.none"))
    else:
        shown = earlier.assign(
            stage=[state_label(s, lang) for s in earlier["stage"]],
            rule=[rule_label(r, lang) for r in earlier["rule"]],
            status=[t(f"status.{s}") for s in earlier["status"]],
            outcome=[t(f"outcome.{o}") if isinstance(o, str) else "–" for o in earlier["outcome"]],
            opened=[format_datetime(x, lang) for x in earlier["opened_at"]],
        )
        table(
            shown,
            {
                "id": "col.alert_id",
                "opened": "col.opened_at",
                "rule": "col.rule",
                "stage": "col.stage",
                "status": "col.status",
                "outcome": "history.outcome",
                "dispatches": "history.dispatch_count",
            },
        )
    dispatches = load(dispatches_for, rid, did, live=True)
    st.markdown(f"**{t('history.dispatches')}**")
    if dispatches.empty:
        st.caption(t("history.none"))
        return
    shown = dispatches.assign(
        kind=[t(f"act.{k}") for k in dispatches["kind"]],
        requested=[format_datetime(x, lang) for x in dispatches["requested_at"]],
        target=dispatches["target"].fillna("–"),
        result=dispatches["result"].fillna("–"),
    )
    table(
        shown,
        {
            "alert_id": "col.alert_id",
            "requested": "history.requested_at",
            "kind": "history.kind",
            "target": "history.target",
            "requested_by": "history.requested_by",
            "result": "history.result",
        },
    )


# --- the alert's trail: who did what, with the notes -------------------------------------------


def note_access(user: SessionUser, alert: dict, card: RecipientCard | None) -> str | None:
    """Whether the trail shows the staff notes: ``shown``, ``hidden`` (that a note exists, not
    its text) or None (not even that: a role that may never reveal). A note is free text that
    may name or describe the person, so it follows the card: shown once this alert's person was
    revealed (the audited reveal). A device ticket has no person to reveal: its notes show to
    whoever could reveal in its district."""
    if card is None:
        refused = check_reveal(user, alert.get("region_code"))
        return "shown" if refused is None else None if refused == "role" else "hidden"
    refused = check_reveal(user, card.region_code, ended=card.ended)
    if refused == "role":
        return None
    if refused is None and not card.pseudonymized and revealed_for(int(alert["id"]), card.id):
        return "shown"
    return "hidden"


def _action_label(action: str, lang: str) -> str:
    return md_escape(translate_or(f"act.{action}", action, lang))


def _trail(alert: dict, access: str | None) -> None:
    lang = current_lang()
    df = fresh(alert_trail, int(alert["id"]))
    if df.empty:
        st.caption(t("history.none"))
        return
    # The privacy purge left the marker where a note was: nothing to reveal, nothing to read.
    redacted = df["note"].eq(REDACTED_NOTE)
    has_note = df["note"].notna() & ~redacted
    marker = {"shown": "↓", "hidden": t("detail.note_hidden")}.get(access or "", "")
    gone = t("detail.note_redacted")
    shown = df.assign(
        at=[format_datetime(x, lang) for x in df["at"]],
        action=[translate_or(f"act.{a}", a, lang) for a in df["action"]],
        note=[marker if n else gone if r else "–" for n, r in zip(has_note, redacted, strict=True)],
    )
    columns = {"at": "detail.trail_at", "actor": "detail.trail_by", "action": "history.kind"}
    if access is not None:  # a role that may not reveal learns not even that notes exist
        columns["note"] = "detail.trail_note"
    table(shown, columns)
    if access == "hidden" and has_note.any():
        st.caption(t("detail.notes_after_reveal"))
    if access != "shown":
        return
    for row in df[has_note].itertuples(index=False):
        with st.container(border=True):
            st.caption(
                f"{format_datetime(row.at, lang)} · {md_escape(row.actor)} · "
                f"{_action_label(row.action, lang)}"
            )
            # Free text as text: no markdown or HTML parsing at all, line breaks kept.
            st.text(row.note, width="stretch")


def _delivery(alert: dict) -> None:
    lang = current_lang()
    now = clock.now()
    df = fresh(delivery_status, int(alert["id"]), now)
    if df.empty:
        st.caption(t("delivery.none"))
        return
    counts = df["state"].value_counts()
    if counts.get("failed", 0) or counts.get("delayed", 0):
        st.warning(
            t(
                "delivery.problem",
                failed=int(counts.get("failed", 0)),
                delayed=int(counts.get("delayed", 0)),
            )
        )
    shown = df.assign(
        channel=[t(f"delivery.channel.{c}") for c in df["channel"]],
        state=[t(f"delivery.state.{s}") for s in df["state"]],
        created=[format_datetime(x, lang) for x in df["created_at"]],
        sent=[format_datetime(x, lang) if not pd.isna(x) else "–" for x in df["sent_at"]],
        next_try=[
            format_datetime(x, lang) if not pd.isna(x) else "–" for x in df["next_attempt_at"]
        ],
        error=df["last_error"].fillna(""),
    )
    table(
        shown,
        {
            "created": "delivery.created_at",
            "channel": "delivery.channel_col",
            "recipient": "delivery.recipient",
            "state": "delivery.state_col",
            "attempts": "delivery.attempts",
            "sent": "delivery.sent_at",
            "next_try": "delivery.next_attempt_at",
            "error": "delivery.last_error",
        },
    )


# --- 동일인 의심: an open alert on the person's other record ----------------------------------

DUPLICATE_LINKS = 5  # alert links per other record; more is counted, not linked


def _duplicate_alerts(user: SessionUser, recipient_id: int) -> None:
    """A warning when a record suspected to be this person (not marked different) has an open
    alert: linked inside the user's districts, else only that one exists (ask the lead). One
    person's check through the 10-second live cache: the detail redraws often."""
    if not can(user.role, HANDLE_ACTION):  # the domain refuses it too; say nothing instead
        return
    others = load(duplicate_open_alerts, user, recipient_id, live=True)
    if not others:
        return
    suffix = "&lang=en" if current_lang() == "en" else ""
    for other in (o for o in others if o.in_scope):
        links = ", ".join(
            f"[{t('detail.duplicate_alert_link', id=i)}](alerts?alert={i}{suffix})"
            for i in other.alert_ids[:DUPLICATE_LINKS]
        )
        st.warning(
            t(
                "detail.duplicate_alerts",
                ref=md_escape(other.external_ref or ""),
                n=format_number(len(other.alert_ids)),
                links=links,
            ),
            icon=":material/group:",
        )
    if any(not o.in_scope for o in others):  # once, however many: nothing to tell them apart
        st.warning(t("detail.duplicate_alerts_elsewhere"), icon=":material/group:")


# --- the whole detail ---------------------------------------------------------------------------


def render_detail(user: SessionUser, alert: dict, now: datetime) -> None:
    lang = current_lang()
    with st.container(border=True):
        st.markdown(
            f"### {t('alerts.detail_title', id=alert['id'])} {chip(alert['stage'], lang)} "
            f"{md_escape(rule_label(alert['rule'], lang))}",
            unsafe_allow_html=True,
        )
        show_flash()
        # Two by two on a projector: four values a row are cut off there (a device id, 44시간 24분).
        facts = st.container(key="alert_facts")
        c = facts.columns(2) + facts.columns(2) if projector_on() else facts.columns(4)
        c[0].metric(t("col.status"), t(f"status.{alert['status']}"))
        c[1].metric(t("col.waiting"), format_duration(now - alert["opened_at"], lang))
        ack = alert.get("acknowledged_at")
        c[2].metric(
            t("queue.since_ack"), "–" if _missing(ack) else format_duration(now - ack, lang)
        )
        c[3].metric(t("col.device"), md_escape(alert.get("device_uid") or "–"))
        if has_explanation(alert):
            render_sentence(alert)
        rid = _int(alert.get("recipient_id"))
        card = fresh(recipient_card, rid) if rid is not None else None
        if card is not None:  # the domain scopes actions by the person's own region
            alert = {**alert, "person_region_code": card.region_code}
            _duplicate_alerts(user, card.id)
        plug = evidence_plug(alert)
        left, right = st.columns([3, 2], gap="large")
        with right:
            st.subheader(t("act.title"))
            render_actions(user, alert, now)
            if card is not None and not card.ended:
                away_badge(card.id)
                revealed = note_access(user, alert, card) == "shown"  # as the trail's notes
                away_section(user, card.id, card.region_code, "alerts", revealed=revealed)
        with left:
            _facts(alert, now, plug)
            _evidence(alert)
            if card is not None:
                _card(user, int(alert["id"]), card)
            else:
                st.caption(t("card.device_ticket"))
        if has_strip(alert):
            render_strip(alert, now, plug)
    from dashboard.ui.alert_trail import render_search, with_search_tab

    names = [t("readings.title"), t("detail.trail_title"), t("history.title"), t("delivery.title")]
    search = with_search_tab(alert)
    tabs = st.tabs(([t("trail.title")] if search else []) + names)
    if search:  # a wandering alert: where the person went and who is near, first
        with tabs[0]:
            render_search(user, alert, now)
    readings, trail, history, delivery = tabs[-4:]
    with readings:
        _readings(alert, now, plug)
    with trail:
        _trail(alert, note_access(user, alert, card))
    with history:
        _history(alert)
    with delivery:
        _delivery(alert)
