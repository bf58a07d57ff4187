"""Alert queue rendering: the sorted table and one alert's detail."""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard.formatting import format_age, format_datetime, format_duration, format_evidence
from dashboard.i18n import STAGES, localized, state_label, translate_or
from dashboard.ui.components import table
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.theme import chip


def rule_label(rule: str, lang: str) -> str:
    return translate_or(f"rule.{rule}", rule, lang)


def evidence_text(evidence: object, lang: str) -> str:
    return format_evidence(evidence, lang)


def queue_table(df: pd.DataFrame, now: datetime) -> pd.DataFrame:
    """The rows shown in the queue, in the queue's order, with display strings."""
    lang = current_lang()
    records = df.to_dict("records")
    return pd.DataFrame(
        {
            "id": df["id"],
            "stage": [state_label(s, lang) for s in df["stage"]],
            "waiting": [format_duration(now - r["opened_at"], lang) for r in records],
            "rule": [rule_label(r, lang) for r in df["rule"]],
            "program": [localized(r, "program", lang) for r in records],
            "dong": [localized(r, "region", lang) for r in records],
            "device": df["device_uid"].fillna("–"),
            "recipient": df["recipient_masked"],
            "status": [t(f"status.{s}") for s in df["status"]],
        }
    )


QUEUE_COLUMNS = {
    "id": "col.alert_id",
    "stage": "col.stage",
    "waiting": "col.waiting",
    "rule": "col.rule",
    "program": "col.program",
    "dong": "col.dong",
    "device": "col.device",
    "recipient": "col.recipient",
    "status": "col.status",
}


def stage_metrics(df: pd.DataFrame, now: datetime) -> None:
    lang = current_lang()
    cols = st.columns(len(STAGES) + 2)
    cols[0].metric(t("alerts.open_total"), f"{len(df):,}")
    for col, stage in zip(cols[1:], reversed(STAGES), strict=False):
        col.metric(state_label(stage, lang), f"{int((df['stage'] == stage).sum()):,}")
    oldest = df["opened_at"].min() if len(df) else None
    cols[-1].metric(t("alerts.oldest"), format_duration(now - oldest, lang) if oldest else "–")


def detail(alert: dict, now: datetime) -> None:
    """One alert: what fired, how grave, on what evidence, where, which device, whom (masked)."""
    lang = current_lang()
    with st.container(border=True):
        st.markdown(
            f"### {t('alerts.detail_title', id=alert['id'])} {chip(alert['stage'], lang)}",
            unsafe_allow_html=True,
        )
        c1, c2, c3 = st.columns(3)
        c1.metric(t("col.rule"), rule_label(alert["rule"], lang))
        c2.metric(t("col.stage"), state_label(alert["stage"], lang))
        c3.metric(t("col.waiting"), format_duration(now - alert["opened_at"], lang))
        fields = {
            "col.evidence": evidence_text(alert.get("evidence"), lang),
            "col.program": localized(alert, "program", lang),
            "col.dong": localized(alert, "region", lang),
            "col.device": f"{alert.get('device_uid') or '–'}"
            + (
                f" ({localized(alert, 'device_type', lang)})" if alert.get("device_type_ko") else ""
            ),
            "col.recipient": alert["recipient_masked"],
            "col.opened_at": f"{format_datetime(alert['opened_at'], lang)} "
            f"({format_age(alert['opened_at'], now, lang)})",
            "col.status": t(f"status.{alert['status']}"),
        }
        table(
            pd.DataFrame({"field": [t(k) for k in fields], "value": list(fields.values())}),
            {"field": "col.field", "value": "col.value"},
        )
        st.caption(t("alerts.pii_note"))
