"""A home's routine as a strip: recent days (rows, newest at top) × 48 half-hours (columns).

Filled cells are half-hours with a sign of life (``device_daily.activity_slots``); today's row
is outlined, and the current quiet spell (``since`` → the plug's last report or now) is shaded
and outlined. Blue against dark grey differ in lightness, and the quiet spell is orange: the
pair stays distinct for every common colour-vision deficiency (Okabe–Ito palette).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import altair as alt
import pandas as pd

from dashboard.detection.routine import SLOTS_PER_DAY
from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ

ACTIVE = "#56B4E9"  # Okabe–Ito sky blue
QUIET = "#2B3644"  # a reported half-hour without a sign of life
NO_DATA = "#66717E"  # a day the plug sent nothing: mid grey, unlike a quiet (dark) day
WINDOW = "#E69F00"  # Okabe–Ito orange: the quiet spell
TODAY = "#FFFFFF"
ROW_PX = 17
ROW_PX_PROJECTOR = 24  # the projector's 17 px axis labels need the room
_WEEKDAYS = {"ko": "월화수목금토일", "en": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]}


def day_label(day: date, today: date, lang: str) -> str:
    """``11. 28. (목)`` / ``Thu 11-28``; today's row says so (오늘 / today)."""
    weekday = _WEEKDAYS[lang][day.weekday()]
    text = f"{day.month}. {day.day}. ({weekday})" if lang == "ko" else f"{weekday} {day:%m-%d}"
    if day == today:
        text = f"{translate('routine.today', lang)} {text}"
    return text


def cells(days: pd.DataFrame, today: date, lang: str) -> pd.DataFrame:
    """One row per day × half-hour: day label, slot, and its state (active, quiet, no data)."""
    labels = {
        "active": translate("routine.cell.active", lang),
        "quiet": translate("routine.cell.quiet", lang),
        "no_data": translate("routine.cell.no_data", lang),
    }
    rows = []
    for day, bits, reported in days[["day", "bits", "reported"]].itertuples(index=False):
        label = day_label(day, today, lang)
        for slot in range(SLOTS_PER_DAY):
            state = "active" if bits >> slot & 1 else ("quiet" if reported else "no_data")
            rows.append(
                {
                    "day": label,
                    "slot": slot,
                    "slot_end": slot + 1,
                    "time": f"{slot // 2:02d}:{slot % 2 * 30:02d}",
                    "state": labels[state],
                }
            )
    return pd.DataFrame(rows)


def window_segments(
    since: datetime, until: datetime, days: list[date], today: date, lang: str
) -> pd.DataFrame:
    """The quiet spell cut into one segment per day row it crosses (fractional slots)."""
    start, end = since.astimezone(LOCAL_TZ), until.astimezone(LOCAL_TZ)
    rows = []
    for day in days:
        midnight = datetime.combine(day, datetime.min.time(), LOCAL_TZ)
        lo, hi = max(start, midnight), min(end, midnight + timedelta(days=1))
        if lo >= hi:
            continue
        to_slot = lambda t, m=midnight: (t - m).total_seconds() / 1800  # noqa: E731
        rows.append({"day": day_label(day, today, lang), "x": to_slot(lo), "x2": to_slot(hi)})
    return pd.DataFrame(rows, columns=["day", "x", "x2"])


def routine_strip_chart(
    days: pd.DataFrame,
    today: date,
    lang: str,
    since: datetime | None = None,
    until: datetime | None = None,
    row_px: int = ROW_PX,
) -> alt.LayerChart:
    """The strip (``days``: :class:`queries.routine.RoutineStrip` days, newest first; the
    newest row is outlined, and labelled 오늘 when it is ``today``)."""
    t = lambda key: translate(key, lang)  # noqa: E731
    data = cells(days, today, lang)
    order = [day_label(d, today, lang) for d in days["day"]]
    states = [t("routine.cell.active"), t("routine.cell.quiet"), t("routine.cell.no_data")]
    hour = "datum.value / 2 + '시'" if lang == "ko" else "datum.value / 2 + ':00'"
    scale = alt.Scale(domain=[0, SLOTS_PER_DAY], nice=False, zero=False)
    x_axis = alt.Axis(values=list(range(0, SLOTS_PER_DAY + 1, 6)), labelExpr=hour, grid=False)
    y_axis = alt.Axis(labelLimit=200, ticks=False, labelOverlap=False, labelBaseline="middle")
    x = alt.X("slot:Q", title=t("routine.axis_time"), scale=scale, axis=x_axis)
    y = alt.Y("day:N", title=None, sort=order, axis=y_axis)
    base = (
        alt.Chart(data)
        .mark_rect(stroke="#0E1621", strokeWidth=0.6)
        .encode(
            x=x,
            x2="slot_end:Q",
            y=y,
            color=alt.Color(
                "state:N",
                title=None,
                scale=alt.Scale(domain=states, range=[ACTIVE, QUIET, NO_DATA]),
                legend=alt.Legend(orient="top"),
            ),
            tooltip=[
                alt.Tooltip("day:N", title=t("routine.tooltip_day")),
                alt.Tooltip("time:N", title=t("routine.tooltip_time")),
                alt.Tooltip("state:N", title=t("routine.tooltip_state")),
            ],
        )
    )
    layers: list = [base]
    # The overlays use the base layer's fields and scales, so the layers share one pair of axes
    # (an overlay with an axis of its own, or none, would change or drop the merged axis).
    over_x = alt.X("slot:Q", title=t("routine.axis_time"), scale=scale, axis=x_axis)
    over_y = alt.Y("day:N", title=None, sort=order, axis=y_axis)
    newest = pd.DataFrame({"day": [order[0]], "slot": [0], "slot_end": [SLOTS_PER_DAY]})
    layers.append(
        alt.Chart(newest)
        .mark_rect(fill=None, stroke=TODAY, strokeWidth=2.5)
        .encode(x=over_x, x2="slot_end:Q", y=over_y)
    )
    if since is not None and until is not None and until > since:
        segments = window_segments(since, until, list(days["day"]), today, lang)
        if not segments.empty:
            layers.append(
                alt.Chart(segments.rename(columns={"x": "slot", "x2": "slot_end"}))
                .mark_rect(
                    fill=WINDOW, fillOpacity=0.35, stroke=WINDOW, strokeWidth=2.5, strokeDash=[5, 3]
                )
                .encode(x=over_x, x2="slot_end:Q", y=over_y)
            )
    return alt.layer(*layers).properties(height=row_px * len(order))
