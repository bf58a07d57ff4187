"""대응 지표: response times and standards met, per period, for the weekly review.

Aggregates only (queries.response_metrics reads no personal column). The CSV export is offered
only to roles with the ``export`` action (leads).
"""

from datetime import timedelta

import streamlit as st

from dashboard.formatting import format_datetime
from dashboard.ui import charts
from dashboard.ui.auth import require_page, user_can
from dashboard.ui.components import page_header
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.response import (
    default_dates,
    period_bounds,
    rule_summary,
    summary_csv,
    summary_display,
    target_metrics,
    time_metrics,
)
from dashboard.ui.response_charts import false_alarm_bars, outcome_by_rule, stage_by_rule
from dashboard.ui.review_filters import program_district_filters
from dashboard.ui.url_filters import url_date_range
from queries.response_metrics import alert_metrics, field_visits_within

require_page("response")
page_header("page.response", "response.caption")
lang = current_lang()
now = live_now()  # 10-second buckets: sessions opening together share the cached figures

today = default_dates(now)[1]
# Kept in the URL (?from=…&to=…&program=…&district=…) so a copied link reproduces the view.
dates = url_date_range(
    t("response.period"),
    today - timedelta(days=5 * 366),
    today,
    default=default_dates(now),
    container=st.sidebar,
    key="response_period",
)
chosen_programs, chosen_districts = program_district_filters()
if dates is None:  # the picker is between its two clicks
    st.info(t("response.period_incomplete"))
    st.stop()

start, end = period_bounds(dates[0], dates[1], now)
st.caption(
    t("response.period_shown", start=format_datetime(start, lang), end=format_datetime(end, lang))
)
filters = {"programs": chosen_programs, "districts": chosen_districts}

metrics = load(alert_metrics, start, end, **filters)  # one read of the period's alerts
st.subheader(t("response.kpi_title"))
target_metrics(metrics["severe_ack"], load(field_visits_within, start, end, **filters))
st.subheader(t("response.times_title"))
time_metrics(metrics["times"])
st.caption(t("response.times_note"))

counts = metrics["counts"]
if counts.empty:
    st.info(t("common.no_data"))
    st.stop()
rates = metrics["false_alarms"]

left, right = st.columns(2, gap="large")
with left:
    st.subheader(t("response.by_stage"))
    charts.render(stage_by_rule(counts, lang))
with right:
    st.subheader(t("response.by_outcome"))
    charts.render(outcome_by_rule(counts, lang))
st.subheader(t("response.false_alarm_title"))
if rates.empty:
    st.info(t("response.no_closed"))
else:
    charts.render(false_alarm_bars(rates, counts, lang), extra=50)

st.subheader(t("response.table_title"))
summary = rule_summary(counts, rates, lang)
summary_display(summary, lang)
if user_can("export"):
    st.download_button(
        t("response.download"),
        data=summary_csv(summary, lang),
        file_name=f"anbu-response-{dates[0]:%Y%m%d}-{dates[1]:%Y%m%d}.csv",
        mime="text/csv",
        help=t("response.download_help"),
        icon=":material/download:",
        key="response_download",
        on_click="ignore",  # a download needs no rerun
    )
else:
    st.caption(t("response.export_lead_only"))
