"""Altair charts. Every title comes in translated; every stage uses the shared colour scale."""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.i18n import STATES, state_label, translate
from dashboard.ui.i18n import current_lang, projector_on
from dashboard.ui.theme import ACCENT, MUTED, SERIES, SITE_COLORS, STATE_COLORS, stage_scale

MONTH_FORMAT = {"ko": "%Y. %-m.", "en": "%Y-%m"}
DAY_FORMAT = {"ko": "%-m. %-d.", "en": "%m-%d"}

# d3-time-format locales, applied to every chart in ``render``: month and weekday names, %x, %c.
_KO_MONTHS = [f"{m}월" for m in range(1, 13)]
TIME_LOCALES: dict[str, dict] = {
    "ko": {
        "dateTime": "%Y. %-m. %-d. (%a) %H:%M:%S",
        "date": "%Y. %-m. %-d.",
        "time": "%H:%M:%S",
        "periods": ["오전", "오후"],
        "days": ["일요일", "월요일", "화요일", "수요일", "목요일", "금요일", "토요일"],
        "shortDays": ["일", "월", "화", "수", "목", "금", "토"],
        "months": _KO_MONTHS,
        "shortMonths": _KO_MONTHS,
    },
    "en": {
        "dateTime": "%x, %X",
        "date": "%-m/%-d/%Y",
        "time": "%-I:%M:%S %p",
        "periods": ["AM", "PM"],
        "days": ["Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"],
        "shortDays": ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
        "months": [
            "January", "February", "March", "April", "May", "June",
            "July", "August", "September", "October", "November", "December",
        ],
        "shortMonths": [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun",
            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ],
    },
}  # fmt: skip
# Time axes without an explicit format pick one per tick interval; Vega's defaults are English
# patterns ("%b %d" → "11월 29"), so Korean gets its own: 2024년, 11월, 11. 29., 14시.
KO_TEMPORAL_AXIS_FORMAT = {
    "year": "%Y년",
    "quarter": "%-m월",
    "month": "%-m월",
    "week": "%-m. %-d.",
    "date": "%-m. %-d.",
    "hours": "%H시",
    "minutes": "%H:%M",
    "seconds": "%H:%M:%S",
    "milliseconds": "%H:%M:%S.%L",
}


def localize(chart: alt.TopLevelMixin, lang: str) -> alt.TopLevelMixin:
    """Korean or English date names and tick formats for one chart (per-view config, so pages
    in different languages never share a global Vega locale).

    Must come before any other ``configure_*``: altair's ``configure`` replaces the config.
    """
    time_locale = alt.TimeLocale(**TIME_LOCALES[lang])
    if lang == "ko":
        return chart.configure(
            locale=alt.Locale(time=time_locale),
            axisTemporal=alt.AxisConfig(format=KO_TEMPORAL_AXIS_FORMAT),
        )
    return chart.configure(locale=alt.Locale(time=time_locale))


def _state_order(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    df["rank"] = df["state"].map({s: i for i, s in enumerate(STATES)})
    return df


def state_bars(
    df: pd.DataFrame, label_col: str, lang: str, axis_title: str, height: int | None = None
) -> alt.Chart:
    """Horizontal stacked bars: one bar per program or dong, stacked by state."""
    df = _state_order(df)
    df["state_label"] = [state_label(s, lang) for s in df["state"]]
    t = lambda key: translate(key, lang)  # noqa: E731
    rows = max(1, df[label_col].nunique())
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y(f"{label_col}:N", title=axis_title, sort=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("sum(devices):Q", title=t("chart.devices")),
            color=alt.Color(
                "state_label:N",
                title=t("chart.state"),
                scale=stage_scale(lang),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip(f"{label_col}:N", title=axis_title),
                alt.Tooltip("state_label:N", title=t("chart.state")),
                alt.Tooltip("devices:Q", title=t("chart.devices"), format=","),
            ],
        )
        .properties(height=height or max(120, 34 * rows))
    )


def monthly_lines(df: pd.DataFrame, lang: str, golive: list[date]) -> alt.LayerChart:
    """Monthly complaints per site (thin lines) and their total (thick), go-live as rules.

    ``df`` columns: month (date), series (label), complaints, is_total (bool), and optionally
    comparison (bool: a site without detectors, drawn dashed).

    Every series gets a colour of its own in the scale: with more series than colours, Vega
    would cycle and give a site the total's blue or another site's colour. Detector sites and
    comparison sites each run through the site colours, told apart by the dash.
    """
    t = lambda key: translate(key, lang)  # noqa: E731
    data = df.assign(month=pd.to_datetime(df["month"]))
    if "comparison" not in data:
        data["comparison"] = False
    data["comparison"] = data["comparison"].fillna(False).astype(bool)
    x = alt.X(
        "month:T",
        title=t("chart.month"),
        axis=alt.Axis(format=MONTH_FORMAT[lang], labelAngle=0, tickCount="month"),
    )
    y = alt.Y("complaints:Q", title=t("chart.complaints"))
    sites = data[~data["is_total"]]
    others = sorted(sites.loc[sites["comparison"], "series"].unique().tolist())
    monitored = sorted(set(sites["series"]) - set(others))
    palette = SITE_COLORS
    total_label = t("complaints.total")
    color = alt.Color(
        "series:N",
        title=t("chart.site"),
        scale=alt.Scale(
            domain=[total_label, *monitored, *others],
            range=[
                ACCENT,
                *(palette[i % len(palette)] for i in range(len(monitored))),
                # from the palette's other end: up to its length, no two sites share a colour
                *(palette[-1 - i % len(palette)] for i in range(len(others))),
            ],
        ),
        legend=alt.Legend(labelLimit=280),
    )
    tooltip = [
        alt.Tooltip("series:N", title=t("chart.site")),
        alt.Tooltip("month:T", title=t("chart.month"), format=MONTH_FORMAT[lang]),
        alt.Tooltip("complaints:Q", title=t("chart.complaints"), format=","),
    ]
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=tooltip,
            strokeWidth=alt.condition("datum.is_total", alt.value(3.5), alt.value(1.4)),
            strokeDash=alt.condition("datum.comparison", alt.value([5, 3]), alt.value([1, 0])),
        )
    )
    layers: list[alt.Chart] = [lines]
    if golive:
        rules = pd.DataFrame(
            {"golive": pd.to_datetime(sorted(set(golive))), "label": t("complaints.golive")}
        )
        layers.append(
            alt.Chart(rules)
            .mark_rule(strokeDash=[6, 4], color=MUTED)
            .encode(
                x="golive:T",
                tooltip=[alt.Tooltip("golive:T", title=t("complaints.golive"), format="%Y-%m-%d")],
            )
        )
        layers.append(
            alt.Chart(rules.head(1))
            .mark_text(align="left", dx=4, dy=-6, color=MUTED, baseline="bottom")
            .encode(x="golive:T", y=alt.value(12), text="label:N")
        )
    return alt.layer(*layers).properties(height=340)


def effect_lines(fit: pd.DataFrame, lang: str, golive: date) -> alt.LayerChart:
    """Observed monthly complaints (points and line), the model's fit, and the counterfactual
    without detectors (dashed) from go-live on. ``fit``: month, observed, fitted, counterfactual."""
    t = lambda key: translate(key, lang)  # noqa: E731
    labels = {
        "observed": t("effects.chart.observed"),
        "fitted": t("effects.chart.fitted"),
        "counterfactual": t("effects.chart.counterfactual"),
    }
    long = (
        fit.assign(month=pd.to_datetime(fit["month"]))
        .melt(id_vars="month", value_vars=list(labels), var_name="kind", value_name="complaints")
        .dropna(subset=["complaints"])
    )
    long["series"] = long["kind"].map(labels)
    color = alt.Color(
        "series:N",
        title=None,
        scale=alt.Scale(domain=list(labels.values()), range=[ACCENT, SERIES[1], MUTED]),
        legend=alt.Legend(orient="top", labelLimit=360),
    )
    x = alt.X(
        "month:T",
        title=t("chart.month"),
        axis=alt.Axis(format=MONTH_FORMAT[lang], labelAngle=0, tickCount="month"),
    )
    y = alt.Y("complaints:Q", title=t("chart.complaints"))
    tooltip = [
        alt.Tooltip("series:N", title=t("chart.kind")),
        alt.Tooltip("month:T", title=t("chart.month"), format=MONTH_FORMAT[lang]),
        alt.Tooltip("complaints:Q", title=t("chart.complaints"), format=",.1f"),
    ]
    lines = (
        alt.Chart(long)
        .mark_line()
        .encode(
            x=x,
            y=y,
            color=color,
            tooltip=tooltip,
            strokeDash=alt.condition(
                alt.datum.kind == "counterfactual", alt.value([6, 4]), alt.value([1, 0])
            ),
        )
    )
    points = (
        alt.Chart(long[long["kind"] == "observed"])
        .mark_point(filled=True, size=40)
        .encode(x=x, y=y, color=color, tooltip=tooltip)
    )
    rule = (
        alt.Chart(pd.DataFrame({"golive": [pd.Timestamp(golive)]}))
        .mark_rule(strokeDash=[2, 3], color=MUTED)
        .encode(x="golive:T")
    )
    return alt.layer(lines, points, rule).properties(height=320)


def stacked_stage_days(df: pd.DataFrame, lang: str, height: int = 280) -> alt.Chart:
    """Alerts per day stacked by stage (columns: day, stage, alerts)."""
    t = lambda key: translate(key, lang)  # noqa: E731
    data = df.assign(
        day=pd.to_datetime(df["day"]), stage_label=[state_label(s, lang) for s in df["stage"]]
    )
    data["rank"] = data["stage"].map({s: i for i, s in enumerate(STATES)})
    stages = ("attention", "risk", "severe")
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("day:T", title=t("chart.day"), axis=alt.Axis(format=DAY_FORMAT[lang])),
            y=alt.Y("sum(alerts):Q", title=t("chart.alerts")),
            color=alt.Color(
                "stage_label:N",
                title=t("chart.stage"),
                scale=stage_scale(lang, stages),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip("day:T", title=t("chart.day"), format="%Y-%m-%d"),
                alt.Tooltip("stage_label:N", title=t("chart.stage")),
                alt.Tooltip("alerts:Q", title=t("chart.alerts")),
            ],
        )
        .properties(height=height)
    )


def monthly_bars(
    df: pd.DataFrame,
    lang: str,
    value_col: str,
    value_title: str,
    color_col: str | None = None,
    color_title: str = "",
    color_domain: list[str] | None = None,
) -> alt.Chart:
    """Bars per month, optionally split by a category column already translated; with
    ``color_domain`` each category keeps its colour from chart to chart."""
    t = lambda key: translate(key, lang)  # noqa: E731
    data = df.assign(month=pd.to_datetime(df["month"]))
    enc = {
        "x": alt.X(
            "yearmonth(month):O",
            title=t("chart.month"),
            axis=alt.Axis(format=MONTH_FORMAT[lang], labelAngle=0),
        ),
        "y": alt.Y(f"{value_col}:Q", title=value_title),
        "tooltip": [
            alt.Tooltip("month:T", title=t("chart.month"), format=MONTH_FORMAT[lang]),
            alt.Tooltip(f"{value_col}:Q", title=value_title, format=","),
        ],
    }
    if color_col:
        enc["color"] = alt.Color(
            f"{color_col}:N",
            title=color_title,
            scale=alt.Scale(domain=color_domain, range=SERIES[: len(color_domain)])
            if color_domain
            else alt.Scale(range=SERIES),
            legend=alt.Legend(orient="top"),
        )
        enc["xOffset"] = f"{color_col}:N"
        enc["tooltip"].append(alt.Tooltip(f"{color_col}:N", title=color_title))
    else:
        enc["color"] = alt.value(ACCENT)
    return alt.Chart(data).mark_bar().encode(**enc).properties(height=300)


def compare_bars(df: pd.DataFrame, lang: str, label_col: str, axis_title: str) -> alt.Chart:
    """Our value against the published figure per label (columns: label, source, value)."""
    t = lambda key: translate(key, lang)  # noqa: E731
    return (
        alt.Chart(df)
        .mark_bar()
        .encode(
            y=alt.Y(f"{label_col}:N", title=axis_title, sort=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("value:Q", title=t("chart.people")),
            yOffset="source:N",
            color=alt.Color(
                "source:N",
                title=t("chart.source"),
                scale=alt.Scale(range=[ACCENT, MUTED]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip(f"{label_col}:N", title=axis_title),
                alt.Tooltip("source:N", title=t("chart.source")),
                alt.Tooltip("value:Q", title=t("chart.people"), format=","),
            ],
        )
        .properties(height=max(160, 56 * df[label_col].nunique()))
    )


__all__ = [
    "STATE_COLORS",
    "compare_bars",
    "monthly_bars",
    "monthly_lines",
    "stacked_stage_days",
    "state_bars",
]


def render(chart: alt.TopLevelMixin, extra: int = 90, height: int | None = None) -> None:
    """Show a chart at its own height (``height`` for one without, a facet or a concat) plus
    room for legend and axes.

    Streamlit's default ``height="content"`` collapses charts with a top legend to a sliver
    (seen on 1.67), so the height is always given explicitly.
    """
    height = height if height is not None else getattr(chart, "height", None)
    height = height if isinstance(height, int) else 300
    chart = localize(chart, current_lang())
    if projector_on():  # legible from the back of a council room
        chart = chart.configure_axis(labelFontSize=17, titleFontSize=19).configure_legend(
            labelFontSize=17, titleFontSize=18
        )
        extra += 40
    st.altair_chart(chart, width="stretch", height=height + extra)
