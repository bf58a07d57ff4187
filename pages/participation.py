"""참여·인센티브: the 24-week cohort (filters in the URL), participants per program against the
published figures, incentive points per source, and the participation import."""

import pandas as pd
import streamlit as st

from dashboard.formatting import format_number, format_percent
from dashboard.i18n import localized, translate_or
from dashboard.mapping.suppression import enough, suppress_small_counts, suppressed_text
from dashboard.reference.documents import cite
from dashboard.ui import charts
from dashboard.ui.budget_review import downloads
from dashboard.ui.components import page_header, table
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.participation import cohort_section, filters, incentives_section
from dashboard.ui.participation_import import import_section
from queries.participation import headline_comparison, participants, period_totals
from queries.reference import published_figures

page_header("page.participation", "participation.caption")
lang = current_lang()

chosen = filters()
if chosen is None:
    st.info(t("cohort.none"))
else:
    cohort_section(*chosen)

people = load(participants)
periods = load(period_totals)
figures = load(published_figures)
headlines = load(headline_comparison).set_index("program_code")

st.subheader(t("participation.programs_title"))
# A program of 1–4 enrolments shows none of its counts (they are those people's), and with one
# such program the next smallest is hidden too: the deck shows the enrolments in total.
safe = suppress_small_counts(people, "enrolled", complementary=True)
rows = []
for prog in safe.to_dict("records"):
    head = headlines.loc[prog["program_code"]]
    has_published = pd.notna(head["published"])
    hidden = bool(prog["suppressed"])
    ours_hidden = hidden and head["source"] == "enrolments"
    rows.append(
        {
            "program": localized(prog, "name", lang),
            "ours": suppressed_text() if ours_hidden else format_number(head["ours"]),
            "enrolled": prog["enrolled_text"],
            "active": suppressed_text() if hidden else format_number(prog["active"]),
            "completed": suppressed_text() if hidden else format_number(prog["completed"]),
            "improved": format_percent(prog["improved"] / prog["measured"] * 100)
            if not hidden and enough(prog["measured"])
            else "–",
            "published": format_number(head["published"]) if has_published else "–",
            "published_label": f"{localized(head, 'label', lang)} ({head['period']})"
            if has_published
            else "",
            "_ours": None if ours_hidden else head["ours"],
            "_published": head["published"],
        }
    )
table(
    pd.DataFrame(rows),
    {
        "program": "col.program",
        "ours": "col.participants_data",
        "published": "col.published",
        "enrolled": "col.enrolled",
        "active": "col.active",
        "completed": "col.completed",
        "improved": "col.improved",
        "published_label": "col.published_label",
    },
)
st.caption(t("participation.compare_note"))
downloads(
    pd.DataFrame(
        {
            t("col.program"): [r["program"] for r in rows],
            t("col.participants_data"): [r["_ours"] for r in rows],
            t("col.published"): [r["_published"] for r in rows],
            t("col.published_label"): [r["published_label"] for r in rows],
        }
    ),
    "participation-programs",
    "participation_programs",
)

compare = pd.DataFrame(
    [
        {"program": r["program"], "source": src, "value": float(v)}
        for r in rows
        for src, v in (
            (t("participation.ours"), r["_ours"]),
            (t("participation.published"), r["_published"]),
        )
        if pd.notna(v)
    ]
)
if not compare.empty:
    charts.render(charts.compare_bars(compare, lang, "program", t("chart.program")))

st.subheader(t("participation.periods_title"))
if periods.empty:
    st.info(t("common.no_data"))
else:
    table(
        pd.DataFrame(
            {
                "program": [localized(r, "name", lang) for r in periods.to_dict("records")],
                "metric": [translate_or(f"metric.{m}", m, lang) for m in periods["metric"]],
                "total": [format_number(v) for v in periods["total"]],
                "span": [
                    f"{a} – {b}"
                    for a, b in zip(periods["first_start"], periods["last_end"], strict=True)
                ],
            }
        ),
        {
            "program": "col.program",
            "metric": "col.metric",
            "total": "col.total",
            "span": "col.span",
        },
    )

with st.expander(t("participation.figures_title")):
    part_figs = figures[figures["program_code"].isin(people["program_code"])]
    table(
        pd.DataFrame(
            {
                "label": [localized(r, "label", lang) for r in part_figs.to_dict("records")],
                "value": [format_number(v, 1 if v != round(v) else 0) for v in part_figs["value"]],
                "unit": part_figs["unit"],
                "period": part_figs["period"].fillna(""),
                "source": [cite(d, lang) for d in part_figs["source_doc"]],
            }
        ),
        {
            "label": "col.figure",
            "value": "col.value",
            "unit": "col.unit",
            "period": "col.period",
            "source": "col.source",
        },
    )

incentives_section()
import_section()
