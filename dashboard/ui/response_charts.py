"""Altair charts of the response-metrics page (per rule: stages, outcomes, false-alarm rate).

Labels arrive translated; stages use the shared stage scale, outcomes a neutral palette (red is
심각 only), and ``charts.render`` adds the Korean or English time locale and projector sizes.
"""

from __future__ import annotations

import altair as alt
import pandas as pd

from dashboard.i18n import STAGES, state_label, translate, translate_or
from dashboard.ui.response import rule_label
from dashboard.ui.theme import ACCENT, MUTED, SERIES, stage_scale

# Outcome order and colours: neutral series colours, open alerts grey.
OUTCOMES = (
    "safe",
    "hospitalized",
    "deceased",
    "no_contact",
    "false_alarm",
    "device_fault",
    "enrollment_ended",
)
OUTCOME_COLORS = [*(SERIES[i] for i in (0, 1, 5, 3, 2, 4)), "#B0A18F", SERIES[6], MUTED]
NO_OUTCOME = "none"  # closed without an outcome recorded
OPEN = "open"


def _rows_height(n: int) -> int:
    return max(120, 34 * n)


def _outcome_key(outcome: str) -> str:
    if outcome == "(open)":
        return OPEN
    return outcome or NO_OUTCOME


def outcome_label(outcome: str, lang: str) -> str:
    key = _outcome_key(outcome)
    return translate_or(f"response.outcome.{key}", key, lang)


def _rule_axis(lang: str, order: list[str]) -> alt.Y:
    # No axis title: the heading names the rules, and rotated Korean reads badly.
    return alt.Y(
        "rule_label:N",
        title=None,
        sort=order,
        axis=alt.Axis(labelLimit=260),
    )


def _rule_order(counts: pd.DataFrame, lang: str) -> list[str]:
    """Rules with the most alerts on top, the same order in every chart."""
    totals = counts.groupby("rule")["alerts"].sum().sort_values(ascending=False, kind="stable")
    return [rule_label(r, lang) for r in totals.index]


def stage_by_rule(counts: pd.DataFrame, lang: str) -> alt.Chart:
    """Alerts per rule stacked by stage (관심 → 위험 → 심각)."""
    data = counts.groupby(["rule", "stage"], as_index=False)["alerts"].sum()
    data["rule_label"] = [rule_label(r, lang) for r in data["rule"]]
    data["stage_label"] = [state_label(s, lang) for s in data["stage"]]
    data["rank"] = data["stage"].map({s: i for i, s in enumerate(STAGES)})
    order = _rule_order(counts, lang)
    title = translate("response.chart.alerts", lang)
    stage_title = translate("response.chart.stage", lang)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=_rule_axis(lang, order),
            x=alt.X("sum(alerts):Q", title=title),
            color=alt.Color(
                "stage_label:N",
                title=stage_title,
                scale=stage_scale(lang, STAGES),
                legend=alt.Legend(orient="top"),
            ),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip("rule_label:N", title=translate("response.chart.rule", lang)),
                alt.Tooltip("stage_label:N", title=stage_title),
                alt.Tooltip("alerts:Q", title=title, format=","),
            ],
        )
        .properties(height=_rows_height(len(order)))
    )


def outcome_by_rule(counts: pd.DataFrame, lang: str) -> alt.Chart:
    """Alerts per rule stacked by how they ended (or that they are still open)."""
    data = counts.assign(key=[_outcome_key(o) for o in counts["outcome"]])
    data = data.groupby(["rule", "key"], as_index=False)["alerts"].sum()
    keys = [*OUTCOMES, NO_OUTCOME, OPEN]
    data["rule_label"] = [rule_label(r, lang) for r in data["rule"]]
    data["outcome_label"] = [outcome_label(k, lang) for k in data["key"]]
    data["rank"] = data["key"].map({k: i for i, k in enumerate(keys)}).fillna(len(keys))
    present = [k for k in keys if k in set(data["key"])]
    order = _rule_order(counts, lang)
    title = translate("response.chart.alerts", lang)
    outcome_title = translate("response.chart.outcome", lang)
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            y=_rule_axis(lang, order),
            x=alt.X("sum(alerts):Q", title=title),
            color=alt.Color(
                "outcome_label:N",
                title=outcome_title,
                scale=alt.Scale(
                    domain=[outcome_label(k, lang) for k in present],
                    range=[OUTCOME_COLORS[keys.index(k)] for k in present],
                ),
                legend=alt.Legend(orient="top", columns=3, labelLimit=160),
            ),
            order=alt.Order("rank:Q"),
            tooltip=[
                alt.Tooltip("rule_label:N", title=translate("response.chart.rule", lang)),
                alt.Tooltip("outcome_label:N", title=outcome_title),
                alt.Tooltip("alerts:Q", title=title, format=","),
            ],
        )
        .properties(height=_rows_height(len(order)))
    )


def false_alarm_bars(rates: pd.DataFrame, counts: pd.DataFrame, lang: str) -> alt.LayerChart:
    """False alarms among closed alerts per rule, with "3 / 25" beside each bar."""
    data = rates.assign(
        rule_label=[rule_label(r, lang) for r in rates["rule"]],
        label=[
            f"{int(f)} / {int(c)}"
            for f, c in zip(rates["false_alarms"], rates["closed"], strict=True)
        ],
    )
    order = [r for r in _rule_order(counts, lang) if r in set(data["rule_label"])]
    rate_title = translate("response.chart.rate", lang)
    base = alt.Chart(data).encode(
        y=_rule_axis(lang, order),
        x=alt.X(
            "rate:Q",
            title=rate_title,
            axis=alt.Axis(format="%"),
            # Never past 100 % (ticks at 110 % read as nonsense).
            scale=alt.Scale(domain=[0, min(1.0, max(0.1, float(data["rate"].max() or 0) * 1.25))]),
        ),
        tooltip=[
            alt.Tooltip("rule_label:N", title=translate("response.chart.rule", lang)),
            alt.Tooltip("rate:Q", title=rate_title, format=".1%"),
            alt.Tooltip("false_alarms:Q", title=translate("response.chart.false_alarms", lang)),
            alt.Tooltip("closed:Q", title=translate("response.chart.closed", lang)),
        ],
    )
    bars = base.mark_bar(color=ACCENT)
    text = base.mark_text(align="left", dx=4, color=MUTED).encode(text="label:N")
    # Right padding keeps the "2 / 2" of a 100 % bar inside the chart.
    return alt.layer(bars, text).properties(
        height=_rows_height(len(order)), padding={"left": 5, "top": 5, "right": 44, "bottom": 5}
    )
