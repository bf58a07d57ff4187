"""The alerted device's recent readings, drawn against the rule's threshold."""

from __future__ import annotations

from datetime import datetime, timedelta

import altair as alt
import pandas as pd

from dashboard.rules.config import current_thresholds
from dashboard.settings import LOCAL_TZ
from dashboard.ui.i18n import t
from dashboard.ui.theme import SERIES, STATE_COLORS

WINDOW = timedelta(hours=48)
LEAD = timedelta(hours=12)
MAX_WINDOW = timedelta(days=7)
_HEIGHT = 220
_X_FORMAT = {"ko": "%-m. %-d. %H시", "en": "%m-%d %H:%M"}


def _local(ts: pd.Series) -> pd.Series:
    # Naive Seoul time: Vega-Lite then shows it as written, whatever the browser's zone.
    return ts.dt.tz_convert(LOCAL_TZ).dt.tz_localize(None)


Window = tuple[datetime, datetime]


def _x(lang: str, window: Window) -> alt.X:
    # The whole window, not just the span of the data: a quiet stretch is the point.
    bounds = _local(pd.Series([pd.Timestamp(w) for w in window])).dt.strftime("%Y-%m-%dT%H:%M:%S")
    return alt.X(
        "at:T",
        title=None,
        axis=alt.Axis(format=_X_FORMAT[lang], labelAngle=0),
        scale=alt.Scale(domain=list(bounds)),
    )


def _rule_line(value: float, label: str, color: str) -> alt.LayerChart:
    df = pd.DataFrame({"y": [value], "label": [label]})
    line = alt.Chart(df).mark_rule(color=color, strokeDash=[6, 4], strokeWidth=2).encode(y="y:Q")
    text = (
        alt.Chart(df)
        .mark_text(align="left", dx=4, dy=-6, color=color, fontSize=12)
        .encode(y="y:Q", text="label:N", x=alt.value(0))
    )
    return line + text


def _time_rule(at: datetime, label: str, color: str) -> alt.LayerChart:
    df = pd.DataFrame({"at": _local(pd.Series([pd.Timestamp(at)])), "label": [label]})
    line = alt.Chart(df).mark_rule(color=color, strokeDash=[6, 4], strokeWidth=2).encode(x="at:T")
    text = (
        alt.Chart(df)
        .mark_text(align="left", dx=4, color=color, fontSize=12, baseline="top")
        .encode(x="at:T", text="label:N", y=alt.value(2))
    )
    return line + text


def plug_chart(df: pd.DataFrame, evidence: dict, lang: str, window: Window) -> alt.LayerChart:
    """Power and light; the threshold is a time: no change since ``since`` for threshold_h."""
    data = df.assign(at=_local(df["ts"]), series=[t(f"readings.{x}") for x in df["type"]])
    lines = (
        alt.Chart(data)
        .mark_line(interpolate="step-after", point=alt.OverlayMarkDef(size=18))
        .encode(
            x=_x(lang, window),
            y=alt.Y("value:Q", title=t("readings.value")),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(range=[SERIES[0], SERIES[3]]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("at:T", title=t("readings.time"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("series:N", title=t("readings.series")),
                alt.Tooltip("value:Q", title=t("readings.value"), format=".1f"),
            ],
        )
    )
    layers: list = [lines]
    since = evidence.get("since") or evidence.get("last_activity_at")
    if since:
        start = pd.Timestamp(since)
        layers.append(_time_rule(start, t("readings.last_change"), "#9AA5B1"))
        # Each stage's threshold, counted from the last change: 관심 24 h → 위험 → 심각; or
        # the ladder's steps after the spell's first alert, where they come first
        # (rules.plug.steps_stage), only while they apply: not once the power has left its
        # band since the first alert (``steps_apply`` False; an alert written before the key
        # existed draws them as before).
        first, alerted = evidence.get("threshold_h"), evidence.get("alerted_at")
        if evidence.get("steps_apply") is False:
            alerted = None
        for key, stage in (
            ("threshold_h", "attention"),
            ("risk_at_h", "risk"),
            ("severe_at_h", "severe"),
        ):
            hours = evidence.get(key)
            if hours:
                label = t("readings.threshold_hours", h=f"{float(hours):g}")
                at = start + timedelta(hours=float(hours))
                if alerted and first:
                    step = float(hours) - float(first)
                    stepped = pd.Timestamp(alerted) + timedelta(hours=step)
                    if stepped < at:
                        at = stepped
                        label = t("readings.first_alert")
                        if step:
                            label = t("readings.after_first_alert", h=f"{step:g}")
                layers.append(_time_rule(at, label, STATE_COLORS[stage]))
    return alt.layer(*layers).properties(height=_HEIGHT)


def distance_chart(
    df: pd.DataFrame, radius_m: float | None, lang: str, window: Window
) -> alt.LayerChart:
    """Distance from home against the safe-zone radius."""
    data = df.dropna(subset=["distance_m"]).assign(at=lambda d: _local(d["ts"]))
    points = (
        alt.Chart(data)
        .mark_line(point=alt.OverlayMarkDef(size=14))
        .encode(
            x=_x(lang, window),
            y=alt.Y("distance_m:Q", title=t("readings.distance_m")),
            tooltip=[
                alt.Tooltip("at:T", title=t("readings.time"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("distance_m:Q", title=t("readings.distance_m"), format=",.0f"),
            ],
        )
    )
    layers: list = [points]
    if radius_m:
        label = t("readings.safe_zone", m=f"{float(radius_m):,.0f}")
        layers.append(_rule_line(float(radius_m), label, STATE_COLORS["risk"]))
    return alt.layer(*layers).properties(height=_HEIGHT)


_OUTCOME_ORDER = ["answered", "concern", "unanswered"]
_OUTCOME_COLORS = ["#3E9E7C", STATE_COLORS["attention"], STATE_COLORS["risk"]]


def calls_chart(df: pd.DataFrame, lang: str, window: Window) -> alt.Chart:
    """AI / automatic call results (and incoming calls on a phone line) as a timeline."""
    data = df.assign(
        at=_local(df["ts"]),
        result=[
            o if isinstance(o, str) else ("answered" if v and v > 0 else "unanswered")
            for o, v in zip(df["outcome"], df["value"], strict=True)
        ],
        kind=[t(f"readings.{x}") for x in df["type"]],
    )
    data["result_label"] = [t(f"readings.outcome.{r}") for r in data["result"]]
    labels = [t(f"readings.outcome.{r}") for r in _OUTCOME_ORDER]
    return (
        alt.Chart(data)
        .mark_tick(thickness=3, size=22)
        .encode(
            x=_x(lang, window),
            y=alt.Y("kind:N", title=None),
            color=alt.Color(
                "result_label:N",
                title=None,
                scale=alt.Scale(domain=labels, range=_OUTCOME_COLORS),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("at:T", title=t("readings.time"), format="%Y-%m-%d %H:%M"),
                alt.Tooltip("result_label:N", title=t("readings.result")),
            ],
        )
        .properties(height=110)
    )


def events_chart(df: pd.DataFrame, lang: str, window: Window) -> alt.Chart:
    """Any other device: when it reported what (robots' interactions, SOS)."""
    data = df.assign(at=_local(df["ts"]), kind=[t(f"readings.{x}") for x in df["type"]])
    return (
        alt.Chart(data)
        .mark_tick(thickness=2, size=22)
        .encode(
            x=_x(lang, window),
            y=alt.Y("kind:N", title=None),
            tooltip=[alt.Tooltip("at:T", title=t("readings.time"), format="%Y-%m-%d %H:%M")],
        )
        .properties(height=110)
    )


def default_safe_zone_m() -> float:
    return float(current_thresholds().wandering.default_safe_zone_m)
