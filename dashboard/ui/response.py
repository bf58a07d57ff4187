"""Response-metrics page parts: the review period, KPI metrics against the standards, the
per-rule summary table and its CSV. Aggregates only: nothing here reads a person."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta

import pandas as pd
import streamlit as st

from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_number, format_percent
from dashboard.i18n import STAGES, state_label, translate, translate_or
from dashboard.settings import LOCAL_TZ
from dashboard.ui.i18n import current_lang, t

DEFAULT_DAYS = 7
MEASURES = ("acknowledge", "dispatch", "close")


def default_dates(now: datetime, days: int = DEFAULT_DAYS) -> tuple[date, date]:
    """The last ``days`` Seoul calendar days, today included."""
    today = now.astimezone(LOCAL_TZ).date()
    return today - timedelta(days=days - 1), today


def period_bounds(first: date, last: date, now: datetime) -> tuple[datetime, datetime]:
    """``[first 00:00, last + 1 day 00:00)`` in Asia/Seoul, cut at ``now`` (a week ends now)."""
    start = datetime.combine(first, time(), LOCAL_TZ)
    end = datetime.combine(last + timedelta(days=1), time(), LOCAL_TZ)
    return start, min(end, now.astimezone(LOCAL_TZ))


def format_seconds(seconds: float | None, lang: str) -> str:
    """Response times to the second under an hour (60 s and 119 s must not both read 1분)."""
    if seconds is None or pd.isna(seconds):
        return "–"
    s = round(float(seconds))
    if s < 60:
        return translate("duration.seconds", lang, n=s)
    if s < 3600:
        return translate("response.min_sec", lang, m=s // 60, s=s % 60)
    hours, minutes = divmod(s // 60, 60)
    if hours < 48:
        return translate("duration.hours_minutes", lang, h=hours, m=minutes)
    return translate("duration.days", lang, d=hours // 24)


def _target_metric(col, label: str, share: float | None, target: float, help_text: str) -> None:
    """A share against its target: green arrow up when met, red arrow down when missed."""
    if share is None:
        col.metric(label, "–", help=help_text, border=True)
        return
    diff = (share - target) * 100
    goal = format_percent(target * 100, 1)
    verdict = t("response.met" if share >= target else "response.not_met", target=goal)
    # Streamlit colours a delta by its leading "-": a miss by 0.01 %p still starts with "-".
    sign = "+" if share >= target else "-"
    col.metric(
        label,
        format_percent(share * 100, 1),
        delta=f"{sign}{abs(diff):.1f}%p · {verdict}",
        delta_color="normal",
        help=help_text,
        border=True,
    )


def target_metrics(shares: pd.DataFrame, visits: pd.DataFrame) -> None:
    """심각 acknowledged within 60 s and 180 s, field visits within 45 min, against targets."""
    cols = st.columns(len(shares) + len(visits))
    for col, row in zip(cols, shares.to_dict("records"), strict=False):
        share = row["share"] if row["severe_alerts"] else None
        _target_metric(
            col,
            t("response.ack_within", s=row["within_s"]),
            None if share is None or pd.isna(share) else float(share),
            float(row["target"]),
            t(
                "response.ack_help",
                n=format_number(row["severe_alerts"]),
                within=format_number(row["acknowledged_within"]),
            ),
        )
    for col, row in zip(cols[len(shares) :], visits.to_dict("records"), strict=False):
        share = row["share"] if row["visits"] else None
        _target_metric(
            col,
            t("response.visit_within", m=row["within_min"]),
            None if share is None or pd.isna(share) else float(share),
            float(row["target"]),
            t(
                "response.visit_help",
                n=format_number(row["visits"]),
                within=format_number(row["arrived_within"]),
                arrived=format_number(row["arrived"]),
                m=row["within_min"],
            ),
        )


def time_metrics(times: pd.DataFrame) -> None:
    """Median and 90th percentile per step, one column per step."""
    lang = current_lang()
    by_measure = {r["measure"]: r for r in times.to_dict("records")}
    for col, measure in zip(st.columns(len(MEASURES)), MEASURES, strict=True):
        row = by_measure.get(measure, {"n": 0, "median_s": None, "p90_s": None})
        name = t(f"response.measure.{measure}")
        help_text = t("response.times_help", n=format_number(row["n"]))
        col.metric(
            t("response.median", measure=name),
            format_seconds(row["median_s"], lang),
            help=help_text,
            border=True,
        )
        col.metric(
            t("response.p90", measure=name),
            format_seconds(row["p90_s"], lang),
            help=help_text,
            border=True,
        )


def rule_label(rule: str, lang: str) -> str:
    return translate_or(f"rule.{rule}", rule, lang)


# Summary columns in order, with their header keys.
SUMMARY_COLUMNS = {
    "rule": "response.col.rule",
    "alerts": "response.col.alerts",
    **{stage: f"state.{stage}" for stage in STAGES},
    "open": "response.col.open",
    "closed": "response.col.closed",
    "false_alarms": "response.col.false_alarms",
    "false_alarm_pct": "response.col.false_alarm_pct",
}


def rule_summary(counts: pd.DataFrame, false_alarms: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per rule: alerts by stage, open and closed, false alarms and their rate (%).

    Numbers stay numbers (the CSV is for Excel); only the rule name is translated.
    """
    if counts.empty:
        return pd.DataFrame(columns=list(SUMMARY_COLUMNS))
    by_stage = counts.pivot_table(
        index="rule", columns="stage", values="alerts", aggfunc="sum", fill_value=0
    ).reindex(columns=list(STAGES), fill_value=0)
    is_open = counts["outcome"] == "(open)"
    out = by_stage.assign(
        alerts=by_stage.sum(axis=1),
        open=counts[is_open].groupby("rule")["alerts"].sum(),
        closed=counts[~is_open].groupby("rule")["alerts"].sum(),
    ).fillna({"open": 0, "closed": 0})
    fa = false_alarms.set_index("rule") if not false_alarms.empty else None
    out["false_alarms"] = fa["false_alarms"].reindex(out.index).fillna(0) if fa is not None else 0
    out["false_alarm_pct"] = (
        (fa["rate"].reindex(out.index) * 100).round(1) if fa is not None else float("nan")
    )
    out = out.astype({c: "int64" for c in (*STAGES, "alerts", "open", "closed", "false_alarms")})
    out = out.reset_index().sort_values(["alerts", "rule"], ascending=[False, True])
    out["rule"] = [rule_label(r, lang) for r in out["rule"]]
    return out[list(SUMMARY_COLUMNS)].reset_index(drop=True)


def summary_headers(lang: str) -> dict[str, str]:
    return {
        c: state_label(c, lang) if c in STAGES else translate(k, lang)
        for c, k in SUMMARY_COLUMNS.items()
    }


def summary_display(summary: pd.DataFrame, lang: str) -> None:
    """The table on screen: translated headers, rates to one decimal and "–" for rules without
    closed alerts (a number column would print NaN as "None")."""
    headers = summary_headers(lang)
    shown = summary.assign(
        false_alarm_pct=[format_number(v, 1) for v in summary["false_alarm_pct"]]
    )
    st.dataframe(
        shown.rename(columns=headers),
        hide_index=True,
        width="stretch",
        column_config={headers["false_alarm_pct"]: st.column_config.TextColumn(alignment="right")},
    )


def summary_csv(summary: pd.DataFrame, lang: str) -> bytes:
    """The table as a formula-safe CSV (rule names and headers are text a user may have typed)."""
    return to_csv_bytes(summary.rename(columns=summary_headers(lang)))
