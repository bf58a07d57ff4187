"""업체 성과: per vendor and device type, faults, time to repair, devices silent over a day and
data delay, over a period, with the weekly trend: what a lead needs to hold a vendor to its
contract. Aggregates only (queries.vendor_performance reads no personal column)."""

from datetime import timedelta

import streamlit as st

from dashboard.formatting import format_date, format_datetime, format_number
from dashboard.settings import LOCAL_TZ
from dashboard.ui import charts
from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.response import period_bounds
from dashboard.ui.review_filters import program_district_filters
from dashboard.ui.url_filters import url_date_range
from dashboard.ui.vendors import (
    downloads,
    faults_chart,
    show,
    summary_frame,
    trend_chart,
    type_names,
    weekly_frame,
)
from queries.vendor_performance import DELAY_DEVICES, DELAY_EVENTS, device_types
from queries.vendor_performance import vendor_performance as performance

require_page("vendors")
page_header("page.vendors", "vendors.caption")
lang = current_lang()
now = live_now()
today = now.astimezone(LOCAL_TZ).date()

period = url_date_range(
    t("vendors.period"),
    today - timedelta(days=5 * 366),  # a review may look back a few years
    today,
    default=(today - timedelta(days=27), today),
    container=st.sidebar,
    key="vendors_period",
)
chosen_programs, chosen_districts = program_district_filters()
if period is None:
    st.info(t("response.period_incomplete"))
    st.stop()
first, last = period
from_to = {"start": format_date(first, lang), "end": format_date(last, lang)}
# [first 00:00, last + 1 day 00:00) in Seoul, cut at now (the same bounds as the response page).
begin, end = period_bounds(first, last, now)
figures = load(performance, begin, end, programs=chosen_programs, districts=chosen_districts)
summary, weekly = figures["summary"], figures["weekly"]
names = type_names(load(device_types), lang)
st.caption(t("vendors.source", **from_to, as_of=format_datetime(now, lang)))

if summary.empty:
    st.info(t("common.no_data"))
    st.stop()

cols = st.columns(4)
cols[0].metric(t("vendors.metric_vendors"), format_number(summary["vendor"].nunique()))
cols[1].metric(t("vendors.metric_devices"), format_number(summary["devices"].sum()))
cols[2].metric(t("vendors.metric_faults"), format_number(summary["faults"].sum()))
cols[3].metric(t("vendors.metric_unrepaired"), format_number(summary["unrepaired"].sum()))

st.subheader(t("vendors.table_title"))
table = summary_frame(summary, names, lang)
show(table)
st.caption(t("vendors.table_note", devices=DELAY_DEVICES, events=DELAY_EVENTS))
stem = f"anbu-vendors-{first:%Y%m%d}-{last:%Y%m%d}"
downloads(table, stem, "vendors_summary")

st.subheader(t("vendors.faults_title"))
charts.render(faults_chart(summary, names, lang))
st.caption(t("vendors.chart_source", **from_to, as_of=format_datetime(now, lang)))

st.subheader(t("vendors.trend_title"))
charts.render(trend_chart(weekly, lang))
st.caption(
    t("vendors.trend_note")
    + " "
    + t("vendors.chart_source", **from_to, as_of=format_datetime(now, lang))
)
trend = weekly_frame(weekly, lang)
show(trend)
downloads(trend, f"{stem}-weekly", "vendors_weekly")
