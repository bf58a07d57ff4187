"""Alert queue rendering: the sorted table with live timers, and the stage metrics."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.formatting import format_duration, format_duration_short, format_evidence
from dashboard.i18n import STAGES, localized, state_label, translate_or
from dashboard.ui.components import table_height
from dashboard.ui.i18n import current_lang, projector_on, t

REFRESH_S = 10  # timers tick in the browser; the data under them is the 10-second live cache
SELECTED_MARK = "▶"
QUEUE_MAX_ROWS = 10  # more scroll inside the table: the detail below stays in reach
_PICK_KEY = "alerts_last_pick"  # the table selection already acted on (see pick_from_table)


@dataclass(frozen=True)
class QueueFilters:
    programs: tuple = ()
    stages: tuple = ()
    districts: tuple = ()
    statuses: tuple = ()
    areas: tuple[str, ...] | None = None  # the operator's districts; None = every area


def rule_label(rule: str, lang: str) -> str:
    return translate_or(f"rule.{rule}", rule, lang)


def evidence_text(evidence: object, lang: str) -> str:
    return format_evidence(evidence, lang)


def _since(then: object, now: datetime, lang: str) -> str:
    if then is None or pd.isna(then):
        return "–"
    return format_duration(now - then, lang)


def _handler(name: object) -> str:
    return "–" if name is None or pd.isna(name) else str(name)


def queue_table(df: pd.DataFrame, now: datetime, selected_id: int | None = None) -> pd.DataFrame:
    """The rows shown in the queue, in the queue's order, with display strings and timers."""
    lang = current_lang()
    records = df.to_dict("records")
    return pd.DataFrame(
        {
            "mark": [SELECTED_MARK if i == selected_id else "" for i in df["id"]],
            "id": df["id"],
            "stage": [state_label(s, lang) for s in df["stage"]],
            "waiting": [_since(r["opened_at"], now, lang) for r in records],
            "since_ack": [_since(r["acknowledged_at"], now, lang) for r in records],
            "status": [t(f"status.{s}") for s in df["status"]],
            # Who owns it: the first to act on it (every action acknowledges), so two operators
            # at night see from the list which alerts the other has taken.
            "handler": [_handler(r["acknowledged_by"]) for r in records],
            "rule": [rule_label(r, lang) for r in df["rule"]],
            "program": [localized(r, "program", lang) for r in records],
            "dong": [localized(r, "region", lang) for r in records],
            "device": df["device_uid"].fillna("–"),
            "recipient": df["recipient_masked"],
        }
    )


QUEUE_COLUMNS = {
    "mark": "queue.mark",
    "id": "col.alert_id",
    "stage": "col.stage",
    "waiting": "col.waiting",
    "since_ack": "queue.since_ack",
    "status": "col.status",
    "handler": "queue.handler",
    "rule": "col.rule",
    "program": "col.program",
    "dong": "col.dong",
    "device": "col.device",
    "recipient": "col.recipient",
}


def stage_metrics(df: pd.DataFrame, now: datetime) -> None:
    lang = current_lang()
    # The last column holds a span ("24시간 1분"): at equal widths it was cut off at 1,400 px.
    cols = st.columns([1] * (len(STAGES) + 2) + [1.6])
    cols[0].metric(t("alerts.open_total"), f"{len(df):,}")
    for col, stage in zip(cols[1:], reversed(STAGES), strict=False):
        col.metric(state_label(stage, lang), f"{int((df['stage'] == stage).sum()):,}")
    unacked = int((df["status"] == "open").sum()) if len(df) else 0
    cols[-2].metric(t("queue.unacknowledged"), f"{unacked:,}")
    oldest = df["opened_at"].min() if len(df) else None
    value, help_text = oldest_wait(now - oldest if oldest else None, lang)
    cols[-1].metric(t("alerts.oldest"), value, help=help_text)


def oldest_wait(wait: timedelta | None, lang: str) -> tuple[str, str | None]:
    """The longest wait's (value, help). On a projector its 61 px figure is cut off past about
    six characters ("29시간 4…"): there it shows the hours ("29시간", what is read from across
    the room) and the help holds the minutes."""
    full = format_duration(wait, lang)
    short = format_duration_short(wait, lang) if projector_on() else full
    return short, (t("alerts.oldest_help", value=full) if short != full else None)


def show_queue(df: pd.DataFrame, now: datetime, selected_id: int | None) -> int | None:
    """Draw the queue; return an alert id newly picked in the table (None if nothing new).

    Row positions change as alerts come and go, so the table's key follows the ids shown
    (a changed list starts with no selection) and the selected alert is marked with ▶ from
    the session's choice rather than from the table's own highlight.
    """
    shown = queue_table(df, now, selected_id)
    ids = [int(i) for i in shown["id"]]
    key = f"alerts_queue_{zlib.crc32(','.join(map(str, ids)).encode())}"
    event = st.dataframe(
        shown.rename(columns={c: t(k) for c, k in QUEUE_COLUMNS.items()}),
        hide_index=True,
        width="stretch",
        on_select="rerun",
        selection_mode="single-row",
        key=key,
        height=table_height(len(shown), projector=projector_on(), max_rows=QUEUE_MAX_ROWS),
        column_config={t("queue.mark"): st.column_config.TextColumn(width=30)},
    )
    rows = list(event.selection.rows) if event is not None else []
    pick = (key, tuple(rows))
    if not rows or st.session_state.get(_PICK_KEY) == pick:
        return None  # nothing picked, or a pick already handled on an earlier run
    st.session_state[_PICK_KEY] = pick
    return ids[rows[0]]
