"""이번 주: this week against the four before it, and what changed most, so the weekly review
starts from what matters. Aggregates only (queries.weekly_review reads no personal column)."""

from datetime import timedelta

import streamlit as st

from dashboard.formatting import format_datetime
from dashboard.settings import LOCAL_TZ
from dashboard.ui import charts
from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.reach_list import week_reach_summary
from dashboard.ui.review_filters import program_district_filters
from dashboard.ui.url_filters import url_date
from dashboard.ui.vendors import downloads, show
from dashboard.ui.week import (
    change_cards,
    changes_frame,
    span_label,
    weeks_chart,
    weeks_chart_height,
    weeks_frame,
)
from queries.filters import districts_with_devices
from queries.weekly_review import weekly_review

require_page("week")
page_header("page.week", "week.caption")
lang = current_lang()
now = live_now()
today = now.astimezone(LOCAL_TZ).date()

# The last complete day by default: five full weeks compare like with like.
last_day = url_date(
    t("week.last_day"),
    today - timedelta(days=5 * 366),  # a review may look back a few years
    today,
    param="week",
    default=today - timedelta(days=1),
    container=st.sidebar,
)
chosen_programs, chosen_districts = program_district_filters()
review = load(weekly_review, last_day, now, programs=chosen_programs, districts=chosen_districts)
figures, changes = review["figures"], review["changes"]
spans = figures.drop_duplicates("week").set_index("week")
this = span_label(spans.loc[0, "start"], spans.loc[0, "end"], lang)
before = span_label(spans.loc[4, "start"], spans.loc[1, "end"], lang)
st.caption(t("week.source", this=this, before=before, as_of=format_datetime(now, lang)))
if last_day == today:
    st.info(t("week.partial"))

st.subheader(t("week.changed_title"))
change_cards(changes, lang)

st.subheader(t("week.table_title"))
ranked = changes_frame(changes, lang)
show(ranked)
st.caption(t("week.table_note"))
stem = f"anbu-week-{last_day:%Y%m%d}"
downloads(ranked, f"{stem}-changes", "week_changes")

st.subheader(t("week.weeks_title"))
charts.render(weeks_chart(figures, lang), extra=40, height=weeks_chart_height(figures))
st.caption(t("week.source", this=this, before=before, as_of=format_datetime(now, lang)))
weeks = weeks_frame(figures, lang)
show(weeks)
downloads(weeks, f"{stem}-weeks", "week_weeks")

# How soon the plugs would notice a stop, as the worker last stored it (a snapshot).
district_rows = load(districts_with_devices)
codes = dict(zip(district_rows["id"], district_rows["code"], strict=True))
week_reach_summary(
    chosen_programs,
    None if chosen_districts is None else [codes[i] for i in chosen_districts],
)
