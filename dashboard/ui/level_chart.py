"""A plug's power level per half-hour over the alert's day (or the last two days of its spell),
against the home's usual level (median and 25–75 % band) and its night (unattended) level, with
the spell shaded: what the level test judged (data: ``detection.level_profile``).

The power axis is symlog with constant 10 W, i.e. ``log(1 + W / 10)``: the level test's own
``log(W + 10)`` scale, so 0 W sits at the bottom and a standby's few watts stay small. Sky blue
(the readings), grey (usual) and reddish purple (night) with the orange spell are Okabe–Ito
colours, and each line has its own dash, so the lines stay apart without colour.
"""

from __future__ import annotations

from datetime import date

import altair as alt
import numpy as np
import pandas as pd

from dashboard.detection.level_profile import LevelProfile
from dashboard.detection.levels import SLOTS
from dashboard.i18n import translate
from dashboard.ui.routine_chart import WINDOW, day_label

NOW = "#56B4E9"  # Okabe–Ito sky blue, as the strip's active half-hours
USUAL = "#C9D1DA"  # light grey: the usual median and, fainter, its band
NIGHT = "#CC79A7"  # Okabe–Ito reddish purple
HEIGHT = 220
HEIGHT_PROJECTOR = 320  # the projector's 17 px axis labels need the room
TICKS_W = (0, 10, 30, 100, 300, 1000, 3000, 10000, 20000)
GAP = 2  # readings further apart than this many half-hours are not joined (``MAX_COVER``)


def _segments(shown: pd.DataFrame) -> pd.DataFrame:
    """The half-hours with a reading, numbered into runs: an hourly plug's every other
    half-hour is joined, a longer silence breaks the line."""
    rows = shown.dropna(subset=["watts"]).copy()
    rows["segment"] = (rows["x"].diff().fillna(0) > GAP).cumsum()
    return rows


def _hour_expr(days: tuple[date, ...], lang: str) -> str:
    """Tick labels: the hour (24 at the chart's end), and at the midnight between two days the
    new day's date (the full day names are in the title)."""
    end = len(days) * SLOTS
    hour = "datum.value / 2 % 24" if lang == "ko" else "datum.value / 2 % 24 + ':00'"
    last = "'24시'" if lang == "ko" else "'24:00'"
    expr = f"datum.value == {end} ? {last} : {hour}" + (" + '시'" if lang == "ko" else "")
    for i, day in enumerate(days[1:], start=1):
        label = f"{day.month}. {day.day}." if lang == "ko" else f"{day:%m-%d}"
        expr = f"datum.value == {i * SLOTS} ? '{label}' : {expr}"
    return expr


def level_chart(
    profile: LevelProfile, today: date, lang: str, height: int = HEIGHT
) -> alt.LayerChart:
    """The chart of one :class:`LevelProfile` (``today``: labels the day 오늘/today)."""
    t = lambda key, **kw: translate(key, lang, **kw)  # noqa: E731
    names = [t("level_chart.series_now"), t("level_chart.series_usual")]
    dashes = [[1, 0], [4, 3]]
    colors = [NOW, USUAL]
    if profile.night_w is not None:
        names.append(t("level_chart.series_night"))
        dashes.append([8, 4])
        colors.append(NIGHT)
    end = len(profile.days) * SLOTS
    readings = _segments(profile.shown)
    readings["series"] = names[0]
    readings["time"] = [f"{day_label(s.date(), today, lang)} {s:%H:%M}" for s in readings["start"]]
    usual = profile.usual.dropna(subset=["median_w"])
    lines = [
        readings[["x", "watts", "series", "segment"]].rename(columns={"watts": "w"}),
        pd.DataFrame({"x": usual["x"], "w": usual["median_w"], "series": names[1], "segment": -1}),
    ]
    if profile.night_w is not None:
        lines.append(
            pd.DataFrame({"x": [0, end], "w": profile.night_w, "series": names[2], "segment": -2})
        )
    line_data = pd.concat(lines, ignore_index=True)
    top = max(float(np.nanmax(line_data["w"])) if len(line_data) else 0.0, 30.0)
    if len(usual):
        top = max(top, float(usual["high_w"].max()))
    ticks = [w for w in TICKS_W if w <= top * 1.05]
    y_scale = alt.Scale(type="symlog", constant=10, domain=[0, top * 1.15], nice=False)
    y_axis = alt.Axis(values=ticks, format=",.0f", title=t("level_chart.axis_power"))
    x_axis = alt.Axis(
        values=list(range(0, end + 1, 6 * len(profile.days))),
        labelExpr=_hour_expr(profile.days, lang),
        grid=False,
        labelOverlap=False,
    )
    x_scale = alt.Scale(domain=[0, end], nice=False, zero=False)
    # Every layer uses the same x and y fields and definitions, so they share one pair of axes.
    x = alt.X("x:Q", title=t("level_chart.axis_time"), scale=x_scale, axis=x_axis)
    y = alt.Y("w:Q", scale=y_scale, axis=y_axis)
    layers: list = []
    if profile.spell is not None:
        lo, hi = profile.spell
        layers.append(
            alt.Chart(pd.DataFrame({"x": [lo], "x2": [hi]}))
            .mark_rect(fill=WINDOW, fillOpacity=0.15, stroke=WINDOW, strokeDash=[5, 3])
            .encode(x=x, x2="x2:Q")
        )
    if len(profile.days) > 1:  # the midnight between the two days
        midnights = pd.DataFrame({"x": [i * SLOTS for i in range(1, len(profile.days))]})
        layers.append(alt.Chart(midnights).mark_rule(color=USUAL, opacity=0.6).encode(x=x))
    if len(usual):
        band = usual.rename(columns={"low_w": "w", "high_w": "w2"})[["x", "w", "w2"]]
        layers.append(
            alt.Chart(band).mark_area(color=USUAL, opacity=0.25).encode(x=x, y=y, y2="w2:Q")
        )
    layers.append(
        alt.Chart(line_data)
        .mark_line(strokeWidth=2.2)
        .encode(
            x=x,
            y=y,
            detail="segment:N",
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=names, range=colors),
                legend=alt.Legend(orient="top", symbolType="stroke"),
            ),
            strokeDash=alt.StrokeDash(
                "series:N", scale=alt.Scale(domain=names, range=dashes), legend=None
            ),
        )
    )
    if len(readings):
        layers.append(
            alt.Chart(readings[["x", "watts", "time", "readings"]].rename(columns={"watts": "w"}))
            .mark_circle(color=NOW, size=28, opacity=1)
            .encode(
                x=x,
                y=y,
                tooltip=[
                    alt.Tooltip("time:N", title=t("level_chart.tooltip_time")),
                    alt.Tooltip("w:Q", title=t("level_chart.tooltip_power"), format=",.0f"),
                    alt.Tooltip("readings:Q", title=t("level_chart.tooltip_readings")),
                ],
            )
        )
    return alt.layer(*layers).properties(height=height)
