"""A plug's reach as bars (data: ``detection.reach``): for a last sign of life at each hour of a
weekday (top row) and of a weekend day (bottom row), the hours until the routine's score
reaches 관심 if nothing follows. An hour the routine does not reach 관심 within the horizon is
a grey bar to the top of the axis, so it reads as "at least that long", never as a short reach.

Sky blue (weekdays) and bluish green (weekends) are Okabe–Ito colours, and the rows are
labelled, so the two kinds of day stay apart without colour; the grey is the routine strip's
"no data" grey. Dashed rules mark the verdict's 6 h and 12 h. The hours axis is a square root:
the reaches that tell plugs apart, under a day, get most of the height, and the horizon's bars
still fit.
"""

from __future__ import annotations

import statistics

import altair as alt
import pandas as pd

from dashboard.detection.reach import FAST_H, HORIZON_H, HOURS, SLOW_H, PlugReach
from dashboard.formatting import format_duration
from dashboard.i18n import translate
from dashboard.ui.routine_chart import NO_DATA
from dashboard.ui.theme import MUTED

WEEKDAY = "#56B4E9"  # Okabe–Ito sky blue
WEEKEND = "#009E73"  # Okabe–Ito bluish green
NOT_WITHIN = NO_DATA  # mid grey: no 관심 within HORIZON_H
HEIGHT = 170  # each row (weekday, weekend)
HEIGHT_PROJECTOR = 240  # the projector's 17 px axis labels need the room
STEP = 28  # px per hour: a facet cannot stretch to the page, so its width is set
STEP_PROJECTOR = 36
TICKS_H = (0, 6, 12, 24, 48, 72)  # far enough apart on the square root for every label
KINDS = ("weekday", "weekend")


def hours_text(hours: float | None, lang: str) -> str:
    """``8시간 30분`` / ``8 h 30 min``, ``9시간`` / ``9 h`` on the hour; ``72시간 안에 없음`` for
    no reach."""
    if hours is None:
        return translate("reach.not_within", lang, h=f"{HORIZON_H:g}")
    if hours == int(hours):
        return translate("reach.hours", lang, h=f"{hours:g}")
    return format_duration(pd.Timedelta(hours=hours).to_pytimedelta(), lang)


def median_h(per_hour: tuple[float | None, ...]) -> float | None:
    """The median over the hours, an hour without reach counting as the longest (as
    ``PlugReach.median_h``); None when most hours have none. For a person's combined reach."""
    ranked = [h if h is not None else float("inf") for h in per_hour]
    middle = statistics.median_low(ranked) if ranked else float("inf")
    return None if middle == float("inf") else middle


def reach_frame(reach: PlugReach, lang: str) -> pd.DataFrame:
    """One row per kind of day × hour: the day's label, the hour, the reach (None: not within
    the horizon), the bar's height and series, and the tooltip's texts."""
    t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    rows = []
    for kind, values in zip(KINDS, (reach.weekday, reach.weekend), strict=True):
        for hour, hours in zip(HOURS, values, strict=True):
            rows.append(
                {
                    "kind": kind,
                    "day": t(f"reach.{kind}"),
                    "hour": hour,
                    "hours": hours,
                    "shown": HORIZON_H if hours is None else hours,
                    "series": t("reach.not_within", h=f"{HORIZON_H:g}")
                    if hours is None
                    else t(f"reach.{kind}"),
                    "at": f"{hour:02d}:00",
                    "reach": hours_text(hours, lang),
                }
            )
    return pd.DataFrame(rows)


def reach_chart(
    reach: PlugReach, lang: str, height: int = HEIGHT, step: int = STEP
) -> alt.FacetChart:
    """The bars of one :class:`PlugReach`, a row per kind of day (``height``: each row's;
    ``step``: each hour's width)."""
    t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    data = reach_frame(reach, lang)
    days = [t(f"reach.{kind}") for kind in KINDS]
    hour = "datum.value + '시'" if lang == "ko" else "datum.value + ':00'"
    x = alt.X(
        "hour:O",
        title=t("reach.axis_hour"),
        sort=list(HOURS),
        axis=alt.Axis(values=list(range(0, 24, 3)), labelExpr=hour, labelAngle=0),
    )
    y = alt.Y(
        "shown:Q",
        title=t("reach.axis_hours"),
        scale=alt.Scale(type="sqrt", domain=[0, HORIZON_H], nice=False),
        # tickCount: Vega thins given values down to its default count (height / 40).
        axis=alt.Axis(values=list(TICKS_H), tickCount=len(TICKS_H), labelOverlap=False),
    )
    bars = (
        alt.Chart()
        .mark_bar()
        .encode(
            x=x,
            y=y,
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(
                    domain=[*days, t("reach.not_within", h=f"{HORIZON_H:g}")],
                    range=[WEEKDAY, WEEKEND, NOT_WITHIN],
                ),
                legend=alt.Legend(orient="top", labelLimit=320),
            ),
            tooltip=[
                alt.Tooltip("day:N", title=t("reach.tooltip_day")),
                alt.Tooltip("at:N", title=t("reach.tooltip_at")),
                alt.Tooltip("reach:N", title=t("reach.tooltip_reach")),
            ],
        )
    )
    # The verdict's bounds, on every row (a datum on the facet's data: drawn once per row).
    marks = [
        alt.Chart().mark_rule(color=MUTED, strokeDash=[4, 3], opacity=0.8).encode(y=alt.datum(h))
        for h in (FAST_H, SLOW_H)
    ]
    return (
        alt.layer(bars, *marks, data=data)
        .properties(height=height, width=alt.Step(step))
        .facet(
            row=alt.Row(
                "day:N",
                sort=days,
                title=None,
                header=alt.Header(
                    labelOrient="top",
                    labelAngle=0,
                    labelAnchor="start",
                    labelFontWeight="bold",
                    labelPadding=4,
                ),
            )
        )
        .resolve_scale(x="shared", y="shared")
    )


def chart_height(height: int) -> int:
    """The facet's own height (its two rows, their headers and the shared axis's labels), for
    ``charts.render``."""
    return len(KINDS) * (height + 30) + 40
