"""민원 추이: monthly smoking complaints per site, the effect estimates after the detectors
(dashboard.analysis), the published changes, and (leads) the complaint system's import.

Aggregates only: no complaint text or place is selected (they are personal data). Filters
(period, district) live in the URL so a link reproduces the view.
"""

import calendar
from datetime import date

import pandas as pd
import streamlit as st

from dashboard.analysis.complaints import complaint_effects
from dashboard.analysis.effects import (
    MIN_COMPLAINTS,
    MIN_MONTHS,
    MIN_MONTHS_BEFORE_ITS,
    sentence,
)
from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_date, format_datetime, format_number, format_percent
from dashboard.i18n import localized
from dashboard.reference.documents import cite
from dashboard.ui import charts
from dashboard.ui.auth import user_can
from dashboard.ui.complaint_import import import_section
from dashboard.ui.components import page_header, table
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.url_filters import url_date_range, url_multiselect
from queries.complaints import (
    DOCUMENTED_FRAMINGS,
    districts,
    monthly,
    provenance,
    sites,
    year_on_year,
)
from queries.reference import published_figures

page_header("page.complaints", "complaints.caption")
lang = current_lang()


def month_label(value: date) -> str:
    return f"{value.year}. {value.month}." if lang == "ko" else f"{value:%Y-%m}"


def _month_end(value: date) -> date:
    return date(value.year, value.month, calendar.monthrange(value.year, value.month)[1])


district_df = load(districts)
codes = dict(zip(district_df["code"], district_df["id"], strict=True))
district_names = {r["code"]: localized(r, "name", lang) for r in district_df.to_dict("records")}
chosen = url_multiselect(
    t("filter.district"),
    list(codes),
    param="district",
    format_func=lambda code: district_names.get(code, code),
    placeholder=t("filter.all"),
    container=st.sidebar,
)
district_ids = tuple(int(codes[c]) for c in chosen) or None

site_df = load(sites, districts=district_ids)
month_df = load(monthly, districts=district_ids)
if month_df.empty:
    st.info(t("common.no_data"))
    import_section()
    st.stop()

data_months = (min(month_df["month"]), max(month_df["month"]))
period = url_date_range(t("complaints.period"), *data_months, container=st.sidebar)
if period is None:
    st.info(t("complaints.period_incomplete"))
    st.stop()
first, last = date(period[0].year, period[0].month, 1), period[1]
month_df = month_df[(month_df["month"] >= first) & (month_df["month"] <= last)]

# --- where the figures come from -----------------------------------------------------------------
sources = load(provenance)
as_of = sources["last"].max() if len(sources) else None
parts = []
for r in sources.to_dict("records"):
    span = f"{format_date(r['first'], lang)} – {format_date(r['last'], lang)}"
    if pd.isna(r["import_file"]):  # the demo's generated history (pandas: NaN, not None)
        parts.append(t("complaints.source_generated", span=span, n=format_number(r["complaints"])))
    else:
        parts.append(
            t(
                "complaints.source_file",
                file=r["import_file"],
                imported=format_date(r["imported_at"], lang),
                span=span,
                n=format_number(r["complaints"]),
            )
        )
source_line = t("complaints.sources", sources=" · ".join(parts), as_of=format_datetime(as_of, lang))

names = {r["site_id"]: localized(r, "name", lang) for r in site_df.to_dict("records")}
# The running month would look like a sudden fall: charted once it has ended.
as_of_day = as_of.tz_convert("Asia/Seoul").date() if as_of is not None else date.today()
running = date(as_of_day.year, as_of_day.month, 1)
chart_df = month_df[month_df["month"] < running]
comparison_sites = set(site_df.loc[site_df["measures_from"].isna(), "site_id"])
per_site = chart_df.assign(
    series=[names.get(s, t("complaints.no_site")) for s in chart_df["site_id"]],
    is_total=False,
    comparison=[s in comparison_sites for s in chart_df["site_id"]],
)
total = (
    chart_df.groupby("month", as_index=False)["complaints"]
    .sum()
    .assign(series=t("complaints.total"), is_total=True)
)
series = pd.concat([total, per_site[["month", "complaints", "series", "is_total", "comparison"]]])
golive = [d for d in site_df["measures_from"].dropna()]
charts.render(charts.monthly_lines(series, lang, golive))
st.caption(source_line)
if comparison_sites:
    shown_sites = ", ".join(names[s] for s in site_df["site_id"] if s in comparison_sites)
    st.caption(t("complaints.comparison_dashed", sites=shown_sites))
if tuple(period) != data_months and (period[0] != first or last != _month_end(last)):
    # The figures are monthly: say which whole months the chosen days stand for.
    st.caption(t("complaints.months_counted", first=month_label(first), last=month_label(last)))
if (month_df["month"] >= running).any():
    st.caption(t("complaints.running_month", month=month_label(running)))
if golive:
    st.caption(
        t("complaints.golive_note", dates=", ".join(sorted({format_date(d, lang) for d in golive})))
    )

# --- the documents' figures ----------------------------------------------------------------------
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
cited = changes.drop_duplicates(["source_doc", "source_table"])
st.caption(
    t(
        "complaints.yoy_sources",
        documents=" · ".join(
            f"{cite(r['source_doc'], lang)}: {r['source_table']}" for r in cited.to_dict("records")
        )
        or "–",
        data=source_line,
    )
)

# --- effect estimates ----------------------------------------------------------------------------
st.subheader(t("complaints.effects_title"))
effects = complaint_effects(
    month_df,
    site_df,
    as_of_day,
    first=first,
    last=last,
)
if effects.overall is None:
    st.info(t("complaints.no_estimate"))
else:
    n = effects.overall.units
    where = t("complaints.where_sites", n=n)
    for effect in (effects.overall, effects.did):
        box = st.success if effect.significant else st.info if effect.conclusive else st.warning
        box(sentence(effect, lang, where))
    st.caption(
        t(
            "complaints.effects_note",
            first=month_label(effects.first_month),
            last=month_label(effects.overall.last_month or effects.last_month),
            golive=format_date(effects.golive, lang),
            min_before=MIN_MONTHS_BEFORE_ITS,
            min_after=MIN_MONTHS,
            min_complaints=MIN_COMPLAINTS,
        )
    )
    if len(effects.golive_dates) > 1:
        st.caption(t("complaints.golive_differ", golive=format_date(effects.golive, lang)))
    fit = effects.overall.fit
    if fit is not None:
        charts.render(charts.effect_lines(fit, lang, effects.golive))
        st.caption(source_line)
        data = pd.DataFrame(
            {
                t("chart.month"): [m.isoformat()[:7] for m in fit["month"]],
                t("effects.chart.observed"): fit["observed"].astype(int),
                t("effects.chart.fitted"): fit["fitted"].round(1),
                t("effects.chart.counterfactual"): fit["counterfactual"].round(1),
            }
        )
        # Shown with Korean number formats and "–" where there is no counterfactual (before
        # go-live); the CSV keeps plain numbers.
        shown = data.copy()
        for column in data.columns[2:]:
            shown[column] = [format_number(v, 1) if pd.notna(v) else "–" for v in data[column]]
        with st.expander(t("complaints.effects_table")):
            st.dataframe(shown, hide_index=True, width="stretch")
            if user_can("export"):
                st.download_button(
                    t("complaints.download"),
                    data=to_csv_bytes(data),
                    file_name="complaints-effect.csv",
                    mime="text/csv",
                    icon=":material/download:",
                    on_click="ignore",
                    key="complaints_effect_csv",
                )
    rows = []
    for r in site_df.dropna(subset=["measures_from"]).to_dict("records"):
        effect = effects.per_site.get(r["site_id"])
        if effect is None:
            continue
        rows.append(
            {
                "site": names[r["site_id"]],
                "golive": format_date(r["measures_from"], lang),
                "estimate": format_percent(effect.change * 100, 0, signed=True)
                if effect.conclusive
                else "–",
                "ci": f"{effect.low * 100:+.0f}% ~ {effect.high * 100:+.0f}%"
                if effect.conclusive
                else "–",
                "note": t("complaints.significant")
                if effect.significant
                else t("complaints.not_significant")
                if effect.conclusive
                else t(f"complaints.short.{effect.warning}"),
            }
        )
    if rows:
        table(
            pd.DataFrame(rows),
            {
                "site": "col.site",
                "golive": "col.golive",
                "estimate": "col.effect",
                "ci": "col.ci95",
                "note": "col.note",
            },
        )

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

import_section()
