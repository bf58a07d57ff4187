"""민원 추이: monthly smoking complaints per site and in total, against the published changes."""

import pandas as pd
import streamlit as st

from dashboard.formatting import format_date, format_number, format_percent
from dashboard.i18n import localized
from dashboard.ui import charts
from dashboard.ui.components import page_header, table
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from queries.complaints import DOCUMENTED_FRAMINGS, monthly, sites, year_on_year
from queries.reference import published_figures

page_header("page.complaints", "complaints.caption")
lang = current_lang()

site_df = load(sites)
month_df = load(monthly)
if month_df.empty:
    st.info(t("common.no_data"))
    st.stop()

names = {r["site_id"]: localized(r, "name", lang) for r in site_df.to_dict("records")}
per_site = month_df.assign(
    series=[names.get(s, t("complaints.no_site")) for s in month_df["site_id"]], is_total=False
)
total = (
    month_df.groupby("month", as_index=False)["complaints"]
    .sum()
    .assign(series=t("complaints.total"), is_total=True)
)
series = pd.concat([total, per_site[["month", "complaints", "series", "is_total"]]])
golive = [d for d in site_df["measures_from"].dropna()]
charts.render(charts.monthly_lines(series, lang, golive))
if golive:
    st.caption(
        t("complaints.golive_note", dates=", ".join(sorted({format_date(d, lang) for d in golive})))
    )

st.subheader(t("complaints.yoy_title"))
yoy = load(year_on_year, DOCUMENTED_FRAMINGS)
figures = load(published_figures, program_codes=("goyang_smoking",))
changes = figures[figures["unit"] == "%"]
rows = []
for framing, row in zip(DOCUMENTED_FRAMINGS, yoy.to_dict("records"), strict=True):
    match = (
        changes[changes["value"].abs() == framing.published_abs]
        if framing.published_abs
        else changes.iloc[0:0]
    )
    published = match.iloc[0] if len(match) else None
    rows.append(
        {
            "framing": t(f"framing.{framing.key}"),
            "current": f"{format_date(row['current_start'], lang)} – "
            f"{format_date(row['current_end'] - pd.Timedelta(days=1), lang)}",
            "counts": f"{format_number(row['previous'])} → {format_number(row['current'])}",
            "change": format_percent(row["change_pct"], 1, signed=True),
            "published": format_percent(published["value"], 0, signed=True)
            if published is not None
            else "–",
            "published_label": localized(published, "label", lang) if published is not None else "",
        }
    )
table(
    pd.DataFrame(rows),
    {
        "framing": "col.framing",
        "current": "col.window",
        "counts": "col.prev_to_current",
        "change": "col.change_ours",
        "published": "col.change_published",
        "published_label": "col.published_label",
    },
)
st.caption(t("complaints.framing_note"))

st.subheader(t("complaints.sites_title"))
site_totals = month_df.groupby("site_id")["complaints"].sum()
table(
    pd.DataFrame(
        {
            "site": [names[s] for s in site_df["site_id"]],
            "golive": [
                format_date(d, lang) if pd.notna(d) else "–" for d in site_df["measures_from"]
            ],
            "complaints": [format_number(site_totals.get(s, 0)) for s in site_df["site_id"]],
        }
    ),
    {"site": "col.site", "golive": "col.golive", "complaints": "col.complaints_total"},
)
