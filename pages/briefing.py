"""브리핑: projector page for council briefings. Aggregates only: no names, phones, addresses
or coordinates of people are read by this page (queries.briefing selects no personal column)."""

import pandas as pd
import streamlit as st

from dashboard.formatting import format_duration, format_number
from dashboard.i18n import localized, translate_or
from dashboard.ui import charts
from dashboard.ui.components import page_header
from dashboard.ui.data import live_now, load
from dashboard.ui.deck import council_dong_map
from dashboard.ui.i18n import current_lang, t
from queries.briefing import alerts_by_day, devices_by_dong_state, devices_by_program_state, kpis
from queries.reference import published_figures

# Published results shown beside our own counts (figure keys in data/reference).
HEADLINE_FIGURES = (
    "goyang.ai_call.calls_cumulative",
    "goyang.ai_call.recipients_cumulative",
    "goyang.care_robot.services",
    "goyang.wandering.detectors",
)

page_header("page.briefing", "briefing.caption")
lang = current_lang()
now = live_now()
DAYS = 30

k = load(kpis, now, DAYS)
row1 = st.columns(4)
row1[0].metric(t("briefing.recipients"), format_number(k["recipients"]))
row1[1].metric(t("briefing.devices"), format_number(k["devices"]))
row1[2].metric(
    t("briefing.open_alerts"), format_number(k["open_alerts"]), help=t("briefing.open_alerts_help")
)
row1[3].metric(t("briefing.open_severe"), format_number(k["open_severe"]))
row2 = st.columns(4)
row2[0].metric(t("briefing.alerts_period", days=DAYS), format_number(k["alerts_period"]))
row2[1].metric(t("briefing.closed_period", days=DAYS), format_number(k["closed_period"]))
row2[2].metric(
    t("briefing.median_ack", days=DAYS),
    format_duration(pd.Timedelta(minutes=k["median_ack_min"]), lang)
    if k["median_ack_min"] is not None
    else "–",
)
row2[3].metric(t("briefing.participants"), format_number(k["participants"]))

left, right = st.columns(2, gap="large")
with left:
    st.subheader(t("briefing.alerts_chart", days=DAYS))
    daily = load(alerts_by_day, now, DAYS)
    if daily.empty:
        st.info(t("common.no_data"))
    else:
        charts.render(charts.stacked_stage_days(daily, lang, height=340))
with right:
    st.subheader(t("briefing.devices_chart"))
    states = load(devices_by_program_state)
    if states.empty:
        st.info(t("common.no_data"))
    else:
        states = states.assign(
            label=[localized(r, "name", lang) for r in states.to_dict("records")]
        )
        charts.render(charts.state_bars(states, "label", lang, t("chart.program")))

# Dong polygons and counts only; small counts hidden (dashboard.mapping.suppression).
council_dong_map(load(devices_by_dong_state))

st.subheader(t("briefing.published_title"))
figs = load(published_figures, keys=HEADLINE_FIGURES)
cols = st.columns(max(1, len(figs)))
for col, fig in zip(cols, figs.to_dict("records"), strict=False):
    unit = translate_or(f"unitname.{fig['unit']}", fig["unit"], lang)
    col.metric(
        localized(fig, "label", lang),
        f"{format_number(fig['value'])} {unit}",
        help=f"{fig['source_doc']} · {fig['period'] or ''}",
    )
st.caption(t("briefing.footer"))
