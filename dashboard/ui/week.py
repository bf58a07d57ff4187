"""이번 주 page parts: the ranked changes as cards and a table, the five weeks as small bars.

Figures come from :mod:`queries.weekly_review`. Shares are shown in percent (and their changes
in percentage points); counts with Korean thousands separators. The tables keep numbers so the
downloads (``dashboard.ui.vendors.downloads``) carry numbers.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.formatting import format_date, format_number, format_percent
from dashboard.i18n import translate
from dashboard.ui.i18n import t
from dashboard.ui.theme import ACCENT, MUTED
from queries.weekly_review import METRICS

TOP = 4  # cards for the largest departures from the four-week range


def _is_share(metric: str) -> bool:
    return METRICS[metric][0] == "share"


def metric_label(metric: str, lang: str) -> str:
    return translate(f"week.metric.{metric}", lang)


def format_value(value: float | None, kind: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    return format_percent(value * 100) if kind == "share" else format_number(value)


def span_label(start: datetime, end: datetime, lang: str) -> str:
    """``12. 23. – 12. 29.``: the window's first and last Seoul day (its end is exclusive)."""
    last = (end - timedelta(microseconds=1)).date() if end.time() else (end.date() - timedelta(1))
    first = format_date(start.date(), lang).removesuffix(".")
    return f"{first} – {format_date(last, lang)}"


def _delta(row: dict) -> str:
    """Against the four-week mean: %p for shares, % for counts; a leading '-' below it."""
    diff = row["this_week"] - row["mean"]
    if row["kind"] == "share":
        text = f"{abs(diff) * 100:,.1f}%p"
    else:
        text = f"{abs(row['change']) * 100:,.0f}%"
    sign = "-" if diff < 0 else "+"
    return t("week.delta", sign=sign, change=text)


def change_cards(changes: pd.DataFrame, lang: str) -> None:
    """The metrics furthest outside their four-week range, as cards (none: a calm line)."""
    outside = changes[changes["side"].isin(["above", "below"])].head(TOP)
    if outside.empty:
        st.success(t("week.all_within"))
        return
    cols = st.columns(TOP)
    for col, row in zip(cols, outside.to_dict("records"), strict=False):
        col.metric(
            metric_label(row["metric"], lang),
            format_value(row["this_week"], row["kind"]),
            delta=_delta(row),
            # Green when the change is for the better: fewer alerts, more standards met.
            delta_color="inverse" if row["better"] == "down" else "normal",
            help=t(
                f"week.verdict.{row['verdict']}",
                low=format_value(row["low"], row["kind"]),
                high=format_value(row["high"], row["kind"]),
            ),
            border=True,
        )


def changes_frame(changes: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Every metric, ranked: this week, the four weeks' mean and range, the change, verdict.
    Shares in percent."""
    scale = changes["kind"].map({"share": 100.0, "count": 1.0})
    out = pd.DataFrame(
        {
            "metric": [metric_label(m, lang) for m in changes["metric"]],
            "this_week": (changes["this_week"].astype(float) * scale).round(1),
            "mean": (changes["mean"].astype(float) * scale).round(1),
            "low": (changes["low"].astype(float) * scale).round(1),
            "high": (changes["high"].astype(float) * scale).round(1),
            "change_pct": (changes["change"].astype(float) * 100).round(1),
            "verdict": [
                translate(f"week.side.{s}", lang) + (f" · {translate(f'week.is.{v}', lang)}"
                                                     if s in ("above", "below") else "")
                for s, v in zip(changes["side"], changes["verdict"], strict=True)
            ],
        }
    )  # fmt: skip
    return out.rename(columns={c: translate(f"week.col.{c}", lang) for c in out.columns})


def weeks_frame(figures: pd.DataFrame, lang: str) -> pd.DataFrame:
    """Metric × week (this week first), shares in percent, for the chart's table."""
    spans = figures.drop_duplicates("week").sort_values("week")
    labels = {
        r["week"]: (
            translate("week.this_week", lang)
            if r["week"] == 0
            else translate("week.weeks_ago", lang, n=r["week"])
        )
        + f" ({span_label(r['start'], r['end'], lang)})"
        for r in spans.to_dict("records")
    }
    df = figures.assign(
        label=figures["week"].map(labels),
        name=[metric_label(m, lang) for m in figures["metric"]],
        shown=[
            None
            if pd.isna(v)
            else round(v * 100, 1)
            if m.startswith(("severe_ack", "visits"))
            else v
            for m, v in zip(figures["metric"], figures["value"], strict=True)
        ],
    )
    order = list(dict.fromkeys(df["name"]))
    wide = df.pivot(index="name", columns="label", values="shown").reindex(order)
    wide = wide[[labels[w] for w in sorted(labels)]]
    return wide.reset_index().rename(columns={"name": translate("week.col.metric", lang)})


# A facet has a fixed width and the main area clips it: three 230-pixel charts (with their
# axes) fit a 1366-pixel laptop with the sidebar open; four of 250 hid the last column.
WEEKS_CHART_COLUMNS = 3
WEEKS_CHART_WIDTH = 230


def weeks_chart_height(figures: pd.DataFrame) -> int:
    """The facet's rows × (a chart with its title and axis labels): Streamlit needs it given."""
    rows = -(-figures["metric"].nunique() // WEEKS_CHART_COLUMNS)
    return rows * 165


def weeks_chart(figures: pd.DataFrame, lang: str) -> alt.FacetChart:
    """One small bar chart per metric: the four weeks before in grey, this week in blue."""
    shares = figures["metric"].map(_is_share).astype(bool)
    data = figures.assign(
        name=[metric_label(m, lang) for m in figures["metric"]],
        shown=figures["value"].astype(float).where(~shares, figures["value"].astype(float) * 100),
        when=[
            translate("week.this_week", lang)
            if w == 0
            else translate("week.weeks_ago_short", lang, n=w)
            for w in figures["week"]
        ],
        current=figures["week"] == 0,
    )
    order = [translate("week.weeks_ago_short", lang, n=w) for w in (4, 3, 2, 1)] + [
        translate("week.this_week", lang)
    ]
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=alt.X("when:N", sort=order, title=None, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("shown:Q", title=None, axis=alt.Axis(format=",.0f", tickMinStep=1)),
            color=alt.condition("datum.current", alt.value(ACCENT), alt.value(MUTED)),
            tooltip=[
                alt.Tooltip("name:N", title=translate("week.col.metric", lang)),
                alt.Tooltip("when:N", title=translate("week.col.week", lang)),
                alt.Tooltip("shown:Q", title=translate("week.col.value", lang), format=",.1f"),
            ],
        )
        .properties(width=WEEKS_CHART_WIDTH, height=120)
    )
    return (
        alt.layer(bars, data=data)
        .facet(
            facet=alt.Facet("name:N", title=None, sort=list(dict.fromkeys(data["name"]))),
            columns=WEEKS_CHART_COLUMNS,
        )
        .resolve_scale(y="independent")
    )
