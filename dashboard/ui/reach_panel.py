"""How soon a stop would be noticed (``detection.reach``: the sooner of the routine's score and
the level test): on a smart plug's device detail the reach chart with its verdict in words, and
on the person panel a small table of the person's plugs. A plug that is slow or cannot judge
gets a suggestion: a plug on an appliance used every day, or a second plug, notices sooner."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.detection.reach import HORIZON_H, PlugReach, person_reach
from dashboard.formatting import format_date, format_number
from dashboard.i18n import state_label
from dashboard.rules.config import current_thresholds
from dashboard.rules.plug import plug_ladder
from dashboard.ui.charts import render
from dashboard.ui.components import table
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.reach_chart import (
    HEIGHT,
    HEIGHT_PROJECTOR,
    STEP,
    STEP_PROJECTOR,
    chart_height,
    hours_text,
    median_h,
    reach_chart,
)
from queries.reach import PlugReachRow, plug_reaches

PLUG = "smart_plug"
SUGGEST = ("slow", "none")  # verdicts that get the suggestion


def ladder_text(no_change_hours: float | None, region_code: str | None) -> str:
    """The fixed ladder of the person (their own first hours, the district's steps):
    ``관심 24시간 · 위험 36시간 · 심각 48시간``."""
    lang = current_lang()
    hours = plug_ladder(no_change_hours, current_thresholds().for_region(region_code))
    stages = ("attention", "risk", "severe")
    return " · ".join(
        f"{state_label(s, lang)} {t('reach.hours', h=f'{h:g}')}"
        for s, h in zip(stages, hours, strict=True)
    )


def verdict_label(row: PlugReachRow) -> str:
    """빠름 / 보통 / 느림 / 판단 불가, or why there is no reach (not learned yet, routine off)."""
    if not row.enabled:
        return t("reach.verdict_off")
    if row.reach is None:
        return t("reach.verdict_young")
    return t(f"reach.verdict_{row.reach.verdict}")


def suggest() -> None:
    st.info(t("reach.suggest"), icon=":material/lightbulb:")


def _by(reach: PlugReach, min_days: int) -> str:
    """Which tests the reach is of: the routine's score, the level test, or the sooner."""
    routine = reach.reference_days >= min_days
    if reach.level and routine:
        return t("reach.by_both")
    if reach.level:
        return t("reach.by_level", needed=format_number(min_days))
    return t("reach.by_routine")


def _caption(reach: PlugReach, ladder: str, min_days: int) -> str:
    lang = current_lang()
    words = t(
        "reach.caption",
        verdict=t(f"reach.verdict_{reach.verdict}"),
        by=_by(reach, min_days),
        median=hours_text(reach.median_h, lang),
        worst=hours_text(reach.worst_h, lang),
        days=format_number(reach.reference_days),
        learned=format_date(reach.learned_on, lang),
    )
    return f"{words} {t('reach.caption_tests', ladder=ladder)}"


def device_reach(device_id: int) -> None:
    """The section on a smart plug's detail, with its person's district and ladder as the
    rule judges them (read by ``plug_reaches`` with the reach)."""
    rows = load(plug_reaches, device_id=device_id)
    if not rows:
        return
    [row] = rows
    lang = current_lang()
    region_code = row.region_code
    ladder = ladder_text(row.no_change_hours, region_code)
    st.markdown(f"**{t('reach.title')}**")
    if not row.enabled:
        st.caption(t("reach.off", ladder=ladder))
        return
    reach = row.reach
    if reach is None:
        st.caption(t("reach.young", ladder=ladder))
        return
    min_days = current_thresholds().for_region(region_code).plug_routine.min_days
    if not reach.usable:
        st.caption(
            t(
                "reach.not_usable",
                days=format_number(reach.reference_days),
                needed=format_number(min_days),
                ladder=ladder,
            )
        )
        suggest()
        return
    big = projector_on()
    height = HEIGHT_PROJECTOR if big else HEIGHT
    chart = reach_chart(reach, lang, height, STEP_PROJECTOR if big else STEP)
    render(chart, extra=90, height=chart_height(height))
    st.caption(_caption(reach, ladder, min_days))  # our own words and figures
    if reach.verdict in SUGGEST:
        suggest()


def hours_cell(hours: float | None, usable: bool) -> str:
    """Hours with one decimal; ``> 72`` for a routine that does not reach 관심 within the
    horizon, ``–`` where there is no routine to judge by (not ``usable``)."""
    if not usable:
        return "–"
    return f"> {HORIZON_H:g}" if hours is None else format_number(hours, 1)


def person_reach_table(recipient_id: int) -> None:
    """The person's plugs and how soon each would notice a stop; with two or more usable plugs
    also the person's combined weekday median (each plug judges, the soonest raises it)."""
    rows = load(plug_reaches, recipient_id=recipient_id)
    if not rows:
        return
    lang = current_lang()
    st.markdown(f"**{t('reach.title')}**")
    frame = pd.DataFrame(
        {
            "uid": [
                r.device_uid
                if r.status == "active"
                else f"{r.device_uid} ({t(f'device_status.{r.status}')})"
                for r in rows
            ],
            "verdict": [verdict_label(r) for r in rows],
            "median": [
                hours_cell(r.reach.median_h, r.reach.usable) if r.reach else "–" for r in rows
            ],
            "worst": [
                hours_cell(r.reach.worst_h, r.reach.usable) if r.reach else "–" for r in rows
            ],
        }
    )
    table(
        frame,
        {
            "uid": "devices.device_id",
            "verdict": "reach.col_verdict",
            "median": "reach.col_median",
            "worst": "reach.col_worst",
        },
    )  # the table's own height: a fixed one scrolls on a projector's larger rows
    usable = [
        r.reach
        for r in rows
        if r.enabled and r.status == "active" and r.reach is not None and r.reach.usable
    ]
    if len(usable) >= 2:
        combined = hours_text(median_h(person_reach(usable)), lang)
        st.caption(t("reach.person_median", n=format_number(len(usable)), median=combined))
