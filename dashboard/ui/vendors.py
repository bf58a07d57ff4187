"""업체 성과 page parts: the per-vendor table, its charts and their downloads.

Figures come from :mod:`queries.vendor_performance`; this module only labels and draws them.
Tables keep raw numbers (hours, seconds, percent) so the CSV and Excel downloads, made by
:mod:`dashboard.exports`, carry numbers a spreadsheet can sum; the screen formats them with
Korean thousands separators.
"""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from dashboard.formatting import format_date
from dashboard.i18n import translate
from dashboard.ui.auth import user_can
from dashboard.ui.budget_review import downloads as table_downloads
from dashboard.ui.i18n import t
from dashboard.ui.theme import SERIES

SUMMARY_HEADERS = {
    "vendor": "vendors.col.vendor",
    "type": "vendors.col.type",
    "devices": "vendors.col.devices",
    "faults": "vendors.col.faults",
    "silences": "vendors.col.silences",
    "faults_per_100": "vendors.col.faults_per_100",
    "repaired": "vendors.col.repaired",
    "unrepaired": "vendors.col.unrepaired",
    "repair_median_h": "vendors.col.repair_median_h",
    "repair_p90_h": "vendors.col.repair_p90_h",
    "silent_over_day": "vendors.col.silent_over_day",
    "silent_over_day_pct": "vendors.col.silent_over_day_pct",
    "delay_median_s": "vendors.col.delay_median_s",
    "delay_p90_s": "vendors.col.delay_p90_s",
    "delay_events": "vendors.col.delay_events",
}
WEEKLY_HEADERS = {
    "vendor": "vendors.col.vendor",
    "week": "vendors.col.week",
    "devices": "vendors.col.devices",
    "faults": "vendors.col.faults",
    "faults_per_100": "vendors.col.faults_per_100",
    "repair_median_h": "vendors.col.repair_median_h",
}


def type_names(types: pd.DataFrame, lang: str) -> dict[str, str]:
    column = "name_ko" if lang == "ko" else "name_en"
    return dict(zip(types["code"], types[column], strict=True))


def summary_frame(summary: pd.DataFrame, names: dict[str, str], lang: str) -> pd.DataFrame:
    """The per-vendor table under the page's headers; numbers stay numbers."""
    df = summary.assign(
        type=summary["type_code"].map(lambda c: names.get(c, c)),
        silent_over_day_pct=(summary["silent_over_day_share"].astype(float) * 100).round(2),
    )
    return df[list(SUMMARY_HEADERS)].rename(
        columns={c: translate(k, lang) for c, k in SUMMARY_HEADERS.items()}
    )


def weekly_frame(weekly: pd.DataFrame, lang: str) -> pd.DataFrame:
    df = weekly.assign(week=pd.to_datetime(weekly["week"]).dt.date)
    return df[list(WEEKLY_HEADERS)].rename(
        columns={c: translate(k, lang) for c, k in WEEKLY_HEADERS.items()}
    )


def _cell(value: object) -> object:
    """A number with Korean thousands separators and at most two decimals; "–" when missing
    (Streamlit would print "None")."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        return value
    if pd.isna(value):
        return "–"
    text = f"{float(value):,.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def show(frame: pd.DataFrame) -> None:
    """A table as a person reads it (the downloads keep the raw numbers)."""
    shown = frame.copy()
    for column in shown.columns:
        if pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = [_cell(v) for v in shown[column]]
    config = {
        c: st.column_config.TextColumn(alignment="right")
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
    }
    # Every row in view: a review table is read whole, also on a projector.
    height = 36 * (len(frame) + 1) + 12
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, height=height)


def downloads(frame: pd.DataFrame, stem: str, key: str) -> None:
    """The table behind a chart as CSV and Excel, both formula-safe (``dashboard.exports``);
    for the roles that may export (leads)."""
    if not user_can("export"):
        st.caption(t("response.export_lead_only"))
        return
    table_downloads(frame, stem, key)


def faults_chart(summary: pd.DataFrame, names: dict[str, str], lang: str) -> alt.Chart:
    """Faults per 100 devices per vendor and type, largest first."""
    tr = lambda key: translate(key, lang)  # noqa: E731
    data = summary.dropna(subset=["faults_per_100"]).assign(
        label=lambda d: d["vendor"] + " · " + d["type_code"].map(lambda c: names.get(c, c))
    )
    return (
        alt.Chart(data)
        .mark_bar(color=SERIES[0], size=26)
        .encode(
            y=alt.Y("label:N", title=None, sort="-x", axis=alt.Axis(labelLimit=320)),
            x=alt.X(
                "faults_per_100:Q",
                title=tr("vendors.col.faults_per_100"),
                axis=alt.Axis(tickCount=6),
            ),
            tooltip=[
                alt.Tooltip("label:N", title=tr("vendors.col.vendor")),
                alt.Tooltip("faults:Q", title=tr("vendors.col.faults"), format=","),
                alt.Tooltip("devices:Q", title=tr("vendors.col.devices"), format=","),
                alt.Tooltip("faults_per_100:Q", title=tr("vendors.col.faults_per_100")),
            ],
        )
        .properties(height=max(160, 44 * len(data)))
    )


def trend_chart(weekly: pd.DataFrame, lang: str) -> alt.Chart:
    """Faults per 100 devices per week, one line per vendor; one axis label per week (its
    Monday, ``11. 2.``)."""
    tr = lambda key: translate(key, lang)  # noqa: E731
    data = weekly.dropna(subset=["faults_per_100"])
    data = data.assign(
        label=[format_date(w, lang).removesuffix(".") for w in pd.to_datetime(data["week"]).dt.date]
    )
    order = list(dict.fromkeys(data.sort_values("week")["label"]))
    return (
        alt.Chart(data)
        .mark_line(point=True, strokeWidth=3)
        .encode(
            x=alt.X(
                "label:O", title=tr("vendors.col.week"), sort=order, axis=alt.Axis(labelAngle=0)
            ),
            y=alt.Y("faults_per_100:Q", title=tr("vendors.col.faults_per_100")),
            color=alt.Color(
                "vendor:N",
                title=tr("vendors.col.vendor"),
                scale=alt.Scale(range=SERIES),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("vendor:N", title=tr("vendors.col.vendor")),
                alt.Tooltip("label:O", title=tr("vendors.col.week")),
                alt.Tooltip("faults:Q", title=tr("vendors.col.faults")),
                alt.Tooltip("faults_per_100:Q", title=tr("vendors.col.faults_per_100")),
            ],
        )
        .properties(height=300)
    )
