"""시스템 상태: the system's health for staff without Prometheus, read from the database.

One line per check with its status (ok / warning / critical, the thresholds of
``dashboard.ops.health``), then the figures behind them: events per vendor, open alerts per
stage, the outbox, the database's size and, on PostgreSQL, which process leads the workers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.formatting import format_age, format_datetime, format_duration, format_number
from dashboard.i18n import state_label
from dashboard.ops import health
from dashboard.ops.health import CRITICAL, OK, WARNING, Verdict
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.theme import STATE_COLORS
from queries.system import STAGES, Snapshot, system_snapshot

# A status is shown as a word and a mark, then coloured: never colour alone.
MARKS = {OK: "●", WARNING: "▲", CRITICAL: "■"}
COLORS = {OK: STATE_COLORS["normal"], WARNING: STATE_COLORS["attention"], CRITICAL: "#FF3344"}
STATUS_TEXT = "color: #0E1621; font-weight: 700"  # dark on the colour, legible on a projector
REFRESH_S = 30


def format_bytes(n: int | None, lang: str) -> str:
    if n is None:
        return "–"
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size:
            return f"{format_number(n / size, 1)} {unit}"
    return f"{format_number(n)} B"


def status_text(status: str) -> str:
    return f"{MARKS[status]} {t(f'system.level.{status}')}"


def _minutes(delta: timedelta) -> str:
    return format_number(delta.total_seconds() / 60)


def _tick_value(snap: Snapshot, lang: str) -> str:
    tick = snap.last_tick
    if tick is None:
        return t("system.tick_none")
    return t(
        "system.tick_value",
        age=format_age(tick.at, snap.now, lang),
        at=format_datetime(tick.at, lang),
        seconds=format_number(tick.seconds, 2),
        candidates=format_number(tick.candidates),
        host=tick.host or "?",
        pid=tick.pid or "?",
    )


def _outbox_value(snap: Snapshot, lang: str) -> str:
    box = snap.outbox
    oldest = (
        format_duration(timedelta(seconds=box.oldest_age_s(snap.now)), lang) if box.pending else "–"
    )
    return t(
        "system.outbox_value",
        pending=format_number(box.pending),
        oldest=oldest,
        failed=format_number(box.failed),
    )


def _ingest_value(snap: Snapshot) -> str:
    v = snap.vendors
    return t(
        "system.ingest_value",
        n5=format_number(int(v["events_5m"].sum()) if not v.empty else 0),
        n60=format_number(int(v["events_1h"].sum()) if not v.empty else 0),
        vendors=format_number(len(v)),
    )


def _database_value(snap: Snapshot, lang: str) -> str:
    size = snap.size
    if size.backend == "postgresql":
        return t("system.db_value_pg", size=format_bytes(size.total_bytes, lang))
    free = (
        format_number(100 * size.free_bytes / size.disk_bytes, 0)
        if size.free_bytes is not None and size.disk_bytes
        else "–"
    )
    return t(
        "system.db_value_sqlite",
        size=format_bytes(size.total_bytes, lang),
        wal=format_bytes(size.wal_bytes, lang),
        free=free,
    )


def _leader_value(snap: Snapshot) -> str:
    if snap.leaders is None:
        return t("system.leader_single_short")
    if snap.leaders.empty:
        return t("system.leader_none")
    first = snap.leaders.iloc[0]
    return t(
        "system.leader_value",
        app=first["application_name"] or "?",
        pid=first["pid"],
        addr=first["client_addr"] or t("system.local"),
    )


def summary_lines(snap: Snapshot, lang: str) -> pd.DataFrame:
    """The checks, one row each: status (word and mark), what, its value, the rule."""
    alerts = ", ".join(f"{state_label(s, lang)} {format_number(snap.alerts[s])}" for s in STAGES)
    lines: list[tuple[str, Verdict, str, str]] = [
        (
            "tick",
            health.tick_verdict(snap.last_tick, snap.now),
            _tick_value(snap, lang),
            t(
                "system.rule_tick",
                warn=_minutes(health.TICK_WARNING),
                crit=_minutes(health.TICK_CRITICAL),
            ),
        ),
        (
            "ingest",
            health.ingest_verdict(snap.vendors),
            _ingest_value(snap),
            t(
                "system.rule_ingest",
                warn=format_number(100 * health.VENDOR_REJECTED_WARNING),
                crit=format_number(100 * health.VENDOR_REJECTED_CRITICAL),
            ),
        ),
        (
            "dead_letters",
            health.dead_letters_verdict(snap.dead_letters_1h),
            t(
                "system.dead_value",
                hour=format_number(snap.dead_letters_1h),
                total=format_number(snap.dead_letters_total),
            ),
            t(
                "system.rule_dead",
                warn=format_number(health.DEAD_LETTERS_WARNING),
                crit=format_number(health.DEAD_LETTERS_CRITICAL),
            ),
        ),
        (
            "outbox",
            health.outbox_verdict(snap.outbox, snap.now),
            _outbox_value(snap, lang),
            t(
                "system.rule_outbox",
                warn=_minutes(health.OUTBOX_WARNING),
                crit=_minutes(health.OUTBOX_CRITICAL),
            ),
        ),
        ("alerts", health.alerts_verdict(snap.alerts), alerts, t("system.rule_alerts")),
        (
            "database",
            health.database_verdict(snap.size),
            _database_value(snap, lang),
            t(
                "system.rule_db",
                warn=format_number(100 * health.DISK_FREE_WARNING),
                crit=format_number(100 * health.DISK_FREE_CRITICAL),
                wal_warn=format_bytes(health.WAL_WARNING_BYTES, lang),
                wal_crit=format_bytes(health.WAL_CRITICAL_BYTES, lang),
            ),
        ),
        (
            "leader",
            health.leader_verdict(snap.leaders),
            _leader_value(snap),
            t("system.rule_leader"),
        ),
    ]
    return pd.DataFrame(
        [
            {
                "status": status_text(verdict.status),
                "check": t(f"system.check.{key}"),
                "value": value,
                "why": t(f"system.reason.{verdict.reason}"),
                "rule": rule,
                "level": verdict.status,
            }
            for key, verdict, value, rule in lines
        ]
    )


def _coloured(frame: pd.DataFrame, columns: dict[str, str]):
    """The frame under translated headers with its status cells coloured (Styler)."""
    levels = frame["level"].tolist()
    shown = frame[list(columns)].rename(columns=columns)
    status_header = columns["status"]

    def paint(column: pd.Series) -> list[str]:
        if column.name != status_header:
            return [""] * len(column)
        return [f"background-color: {COLORS[lv]}; {STATUS_TEXT}" for lv in levels]

    return shown.style.apply(paint, axis=0)


def vendor_lines(snap: Snapshot) -> pd.DataFrame:
    v = snap.vendors.copy()
    levels = health.vendor_statuses(v)
    v["level"] = levels
    v["status"] = [status_text(lv) for lv in levels]
    return v


def show_summary(snap: Snapshot, lang: str) -> None:
    lines = summary_lines(snap, lang)
    columns = {
        "status": t("system.col_status"),
        "check": t("system.col_check"),
        "value": t("system.col_value"),
        "why": t("system.col_why"),
    }
    st.dataframe(
        _coloured(lines, columns),
        hide_index=True,
        width="stretch",
        key="system_lines",
        column_config={columns["value"]: st.column_config.TextColumn(width="large")},
    )
    with st.expander(t("system.rules_title")):
        st.markdown("\n".join(f"- **{row.check}**: {row.rule}" for row in lines.itertuples()))


def show_figures(snap: Snapshot, lang: str) -> None:
    v = snap.vendors
    cols = st.columns(4)
    cols[0].metric(t("system.m_events_5m"), format_number(int(v["events_5m"].sum())))
    cols[1].metric(t("system.m_events_1h"), format_number(int(v["events_1h"].sum())))
    cols[2].metric(t("system.m_outbox"), format_number(snap.outbox.pending))
    cols[3].metric(
        t("system.m_oldest"),
        format_duration(timedelta(seconds=snap.outbox.oldest_age_s(snap.now)), lang)
        if snap.outbox.pending
        else "–",
    )
    st.subheader(t("system.vendors_title"))
    if v.empty:
        st.info(t("system.vendors_none"))
    else:
        columns = {
            "status": t("system.col_status"),
            "vendor": t("system.col_vendor"),
            "events_5m": t("system.col_events_5m"),
            "events_1h": t("system.col_events_1h"),
            "dead_letters_5m": t("system.col_dead_5m"),
            "dead_letters_1h": t("system.col_dead_1h"),
        }
        counts = st.column_config.NumberColumn(format="localized")
        st.dataframe(
            _coloured(vendor_lines(snap), columns),
            hide_index=True,
            width="stretch",
            key="system_vendors",
            column_config={columns[c]: counts for c in list(columns)[2:]},
        )
    st.subheader(t("system.alerts_title"))
    stage_cols = st.columns(len(STAGES))
    for col, stage in zip(stage_cols, STAGES, strict=True):
        col.metric(state_label(stage, lang), format_number(snap.alerts[stage]))
    st.subheader(t("system.db_title"))
    size = snap.size
    db_cols = st.columns(3)
    db_cols[0].metric(t("system.m_db_size"), format_bytes(size.total_bytes, lang))
    if size.backend == "sqlite":
        db_cols[1].metric(t("system.m_wal"), format_bytes(size.wal_bytes, lang))
        db_cols[2].metric(t("system.m_free"), format_bytes(size.free_bytes, lang))
    st.subheader(t("system.leader_title"))
    if snap.leaders is None:
        st.info(t("system.leader_single"))
    elif snap.leaders.empty:
        st.warning(t("system.leader_none"))
    else:
        leaders = snap.leaders.copy()
        leaders["backend_start"] = [format_datetime(x, lang) for x in leaders["backend_start"]]
        headers = {
            "pid": "PID",
            "application_name": t("system.col_app"),
            "client_addr": t("system.col_addr"),
            "backend_start": t("system.col_started"),
            "state": t("system.col_state"),
        }
        st.dataframe(
            leaders[list(headers)].rename(columns=headers), hide_index=True, width="stretch"
        )


def status_view(now: datetime | None = None) -> None:
    """The page's body; ``now`` defaults to the live clock in 10-second buckets."""
    lang = current_lang()
    now = now or live_now()
    snap = load(system_snapshot, now, live=True)
    st.caption(t("system.as_of", at=format_datetime(now, lang)))
    show_summary(snap, lang)
    show_figures(snap, lang)
