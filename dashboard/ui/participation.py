"""참여 page parts: the filters (in the URL), the 24-week cohort (retention, drop-out by week
and area, outcomes against the national benchmark) and the incentive points per source.

Every chart has its table and CSV/Excel downloads (``dashboard.exports`` through
``budget_review.downloads``) and a caption naming its source (imported file and time, the
demo's generated records, or the document) and as-of date. The statistics are
:mod:`dashboard.analysis.cohort`; definitions in docs/analysis.md.
"""

from __future__ import annotations

from datetime import date, timedelta

import altair as alt
import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.analysis import cohort
from dashboard.formatting import format_date, format_datetime, format_number, format_percent
from dashboard.i18n import localized
from dashboard.mapping.suppression import SUPPRESS_BELOW, enough
from dashboard.reference.documents import publisher
from dashboard.settings import LOCAL_TZ
from dashboard.ui import charts
from dashboard.ui.budget_review import downloads, show
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from dashboard.ui.theme import ACCENT, MUTED, SERIES, STATE_COLORS
from dashboard.ui.url_filters import url_date_range, url_multiselect, url_select
from queries.budget import imports
from queries.participation import (
    COHORT_PROGRAM,
    OUTCOMES,
    WRIST_DOCTOR,
    cohort_activity,
    cohort_imports,
    cohort_people,
    cohort_programs,
    demo_generated_at,
    incentives_by_source,
)
from queries.reference import published_figures

WEEKS = list(range(cohort.WEEKS + 1))


def _today() -> date:
    return clock.now().astimezone(LOCAL_TZ).date()


def filters() -> tuple[str, tuple[date, date] | None, tuple[str, ...]] | None:
    """Program, enrolment period and districts of the cohort, each kept in the URL
    (``?program=…&from=…&to=…&district=…``); None when no program has weekly records."""
    lang = current_lang()
    programs = load(cohort_programs)
    if programs.empty:
        return None
    names = {r["program_code"]: localized(r, "name", lang) for r in programs.to_dict("records")}
    codes = list(names)
    cols = st.columns(3)
    program = url_select(
        t("filter.program"),
        codes,
        param="program",
        default=COHORT_PROGRAM if COHORT_PROGRAM in codes else codes[0],
        format_func=lambda c: names.get(c, c),
        container=cols[0],
    )
    everyone = load(cohort_people, program)
    if everyone.empty:
        return program, None, ()
    period = url_date_range(
        t("cohort.period"),
        min(everyone["enrolled_on"]),
        max(everyone["enrolled_on"]),
        container=cols[1],
    )
    districts = everyone.drop_duplicates("district_code")
    labels = {
        r["district_code"]: r["district_ko"] if lang == "ko" else r["district_en"]
        for r in districts.to_dict("records")
    }
    chosen = url_multiselect(
        t("filter.district"),
        sorted(labels),
        param="district",
        format_func=lambda c: labels.get(c, c),
        placeholder=t("filter.all"),
        container=cols[2],
    )
    return program, period, chosen


def _source_line(program: str, weeks: pd.DataFrame, today: date, lang: str) -> str:
    """Where the cohort's records come from, and the last day they cover."""
    files = load(cohort_imports, program)
    if not files.empty:
        source = ", ".join(
            t(
                "review.file_source",
                filename=md_escape(r["filename"]),
                at=format_datetime(r["imported_at"], lang),
            )
            for r in files.to_dict("records")
        )
    elif load(demo_generated_at):
        source = t("cohort.source_demo")
    else:
        source = t("cohort.source_database")
    covered = [
        min(today, e + timedelta(weeks=int(o) + 1, days=-1))
        for e, o in zip(weeks["enrolled_on"], weeks["observed_to"], strict=True)
    ]
    return t("cohort.source", source=source, as_of=format_date(max(covered), lang))


def cohort_section(
    program: str, period: tuple[date, date] | None, districts: tuple[str, ...]
) -> None:
    """The cohort of ``program`` enrolled in ``period`` in ``districts`` (all if empty)."""
    lang = current_lang()
    st.subheader(t("cohort.title"))
    if period is None:
        st.info(t("common.no_data"))
        return
    people = load(cohort_people, program, districts or None, period[0], period[1])
    if people.empty:
        st.info(t("common.no_data"))
        return
    if not enough(len(people)):
        # A cohort of one or two (a day's enrolments in one district) is those people: their
        # completion, their drop-out week and their health outcomes. Not on an aggregate page.
        st.info(t("cohort.too_few", n=SUPPRESS_BELOW))
        return
    activity = load(cohort_activity, program)
    activity = activity[activity["enrolment_id"].isin(people["enrolment_id"])]
    today = _today()
    weeks = cohort.participant_weeks(people, activity, today)
    st.caption(_source_line(program, weeks, today, lang))

    curve = cohort.shown_retention(cohort.retention(weeks))
    drops = cohort.dropouts_by_week(weeks)
    dropped = int(cohort.dropped_mask(weeks).sum())
    finished = int(weeks["status"].isin(cohort.FINISHED).sum())
    m = st.columns(4)
    m[0].metric(t("cohort.participants"), format_number(len(weeks)))
    m[1].metric(t("cohort.completed"), format_number(int((weeks["status"] == "completed").sum())))
    m[2].metric(
        t("cohort.dropped"),
        format_number(dropped),
        help=t(
            "cohort.dropped_help",
            share=format_percent(dropped / finished * 100) if enough(finished) else "–",
        ),
    )
    m[3].metric(
        t("cohort.retention_24"),
        format_percent(curve["share"].iloc[-1]),
        help=t("cohort.retention_help"),
    )

    st.markdown(f"#### {t('cohort.curve_title')}")
    charts.render(_retention_chart(curve))
    charts.render(_dropout_chart(drops), extra=60)
    by_week = pd.DataFrame(
        {
            t("cohort.week"): curve["week"],
            t("cohort.observed"): curve["observed"],
            t("cohort.still_active"): curve["active"],
            t("cohort.retention_pct"): curve["share"].round(1),
            t("cohort.dropped_week"): drops["dropped"],
            t("cohort.dropped_cum"): drops["cumulative"],
        }
    )
    show(by_week)
    downloads(by_week, f"cohort-{program}-weeks", "cohort_weeks")

    st.markdown(f"#### {t('cohort.area_title')}")
    _areas(weeks, program, lang)

    outcomes = OUTCOMES.get(program, ())
    if outcomes:
        st.markdown(f"#### {t('cohort.outcomes_title')}")
        _outcomes(people, outcomes, program, lang)


def _retention_chart(curve: pd.DataFrame) -> alt.Chart:
    week, share = t("cohort.week"), t("cohort.retention_pct")
    return (
        alt.Chart(curve.dropna(subset=["share"]))
        .mark_line(point=True, color=ACCENT)
        .encode(
            x=alt.X(
                "week:Q",
                title=week,
                scale=alt.Scale(domain=[0, cohort.WEEKS]),
                axis=alt.Axis(values=WEEKS[::2], format="d"),
            ),
            y=alt.Y("share:Q", title=share, scale=alt.Scale(domain=[0, 100])),
            tooltip=[
                alt.Tooltip("week:Q", title=week),
                alt.Tooltip("share:Q", title=share, format=".1f"),
                alt.Tooltip("active:Q", title=t("cohort.still_active"), format=","),
                alt.Tooltip("observed:Q", title=t("cohort.observed"), format=","),
            ],
        )
        .properties(height=300)
    )


def _dropout_chart(drops: pd.DataFrame) -> alt.Chart:
    week, n = t("cohort.week"), t("cohort.dropped_week")
    return (
        alt.Chart(drops)
        .mark_bar(color=STATE_COLORS["risk"])
        .encode(
            x=alt.X("week:O", title=week, axis=alt.Axis(labelAngle=0)),
            y=alt.Y("dropped:Q", title=n),
            tooltip=[alt.Tooltip("week:O", title=week), alt.Tooltip("dropped:Q", title=n)],
        )
        .properties(height=200)
    )


def _areas(weeks: pd.DataFrame, program: str, lang: str) -> None:
    district = weeks["district_ko" if lang == "ko" else "district_en"].fillna("–")
    dong = weeks["dong_ko" if lang == "ko" else "dong_en"].fillna("")
    area = (district + " " + dong).str.strip()
    other = t("cohort.other_areas", n=SUPPRESS_BELOW)
    frame = cohort.shown_dropouts_by_area(weeks.assign(area=area), "area", other)
    if frame.empty:
        some = bool(weeks["status"].isin(cohort.FINISHED).any())
        st.info(t("cohort.areas_too_few", n=SUPPRESS_BELOW) if some else t("cohort.no_finished"))
        return
    shown = pd.DataFrame(
        {
            t("cohort.area"): frame["area"],
            t("cohort.finished"): frame["finished"],
            t("cohort.dropped"): frame["dropped"],
            t("cohort.dropout_pct"): frame["share"].round(1),
            t("cohort.median_week"): frame["median_week"],
        }
    )
    label, pct = t("cohort.area"), t("cohort.dropout_pct")
    chart = (
        alt.Chart(frame)
        .mark_bar(color=STATE_COLORS["risk"])
        .encode(
            y=alt.Y("area:N", title=None, sort=None, axis=alt.Axis(labelLimit=320)),
            x=alt.X("share:Q", title=pct),
            tooltip=[
                alt.Tooltip("area:N", title=label),
                alt.Tooltip("share:Q", title=pct, format=".1f"),
                alt.Tooltip("dropped:Q", title=t("cohort.dropped")),
                alt.Tooltip("finished:Q", title=t("cohort.finished")),
            ],
        )
        .properties(height=max(160, 34 * len(frame)))
    )
    charts.render(chart, extra=50)
    show(shown)
    downloads(shown, f"cohort-{program}-areas", "cohort_areas")


def _outcomes(
    people: pd.DataFrame, outcomes: tuple[tuple[str, str, str], ...], program: str, lang: str
) -> None:
    figures = load(published_figures).set_index("figure_key")
    ours, city, national = t("cohort.series_ours"), None, None
    rows, long = [], []
    for column, city_key, national_key in outcomes:
        hits, measured, rate = cohort.outcome_rate(people[column])
        if not enough(measured):  # one person's outcome is their health, not a rate
            hits, measured, rate = None, None, float("nan")
        doc_city, doc_national = figures.loc[city_key], figures.loc[national_key]
        city = t(
            "cohort.series_city", doc=publisher(doc_city["source_doc"]), period=doc_city["period"]
        )
        national = t(
            "cohort.series_national",
            doc=publisher(doc_national["source_doc"]),
            period=doc_national["period"],
        )
        label = t(f"cohort.outcome_{column}")
        rows.append(
            {
                t("cohort.outcome"): label,
                t("cohort.measured"): measured,
                t("cohort.achieved"): hits,
                ours: round(rate, 1) if measured else None,
                city: float(doc_city["value"]),
                national: float(doc_national["value"]),
                t("cohort.gap"): round(rate - float(doc_national["value"]), 1)
                if measured
                else None,
            }
        )
        for series, value in (
            (ours, rate),
            (city, doc_city["value"]),
            (national, doc_national["value"]),
        ):
            if pd.notna(value):
                long.append({"outcome": label, "series": series, "rate": float(value)})
    chart = (
        alt.Chart(pd.DataFrame(long))
        .mark_bar()
        .encode(
            y=alt.Y("outcome:N", title=None, sort=None, axis=alt.Axis(labelLimit=260)),
            x=alt.X("rate:Q", title=t("cohort.rate_axis"), scale=alt.Scale(domain=[0, 100])),
            yOffset=alt.YOffset("series:N", sort=[ours, city, national]),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=[ours, city, national], range=[ACCENT, MUTED, SERIES[3]]),
                legend=alt.Legend(orient="top", labelLimit=400),
            ),
            tooltip=[
                alt.Tooltip("outcome:N", title=t("cohort.outcome")),
                alt.Tooltip("series:N", title=t("chart.source")),
                alt.Tooltip("rate:Q", title=t("cohort.rate_axis"), format=".1f"),
            ],
        )
        .properties(height=90 * len(outcomes) + 40)
    )
    charts.render(chart)
    shown = pd.DataFrame(rows)
    show(shown)
    st.caption(t("cohort.outcomes_note"))
    downloads(shown, f"cohort-{program}-outcomes", "cohort_outcomes")


# --- incentives: one series per source, never summed ---------------------------------------------


def incentives_section() -> None:
    """손목닥터 9988 points, each source on its own: the imported monthly statements (aggregate,
    per district) and the per-person ledger of a sample of participants."""
    lang = current_lang()
    st.subheader(t("participation.incentives_title"))
    points = load(incentives_by_source, WRIST_DOCTOR)
    if points.empty:
        st.info(t("common.no_data"))
        return
    st.caption(t("participation.incentives_separate"))
    for source in ("statement", "sample"):
        rows = points[points["source"] == source]
        if rows.empty:
            continue
        first, last = rows["month"].min(), rows["month"].max()
        span = f"{charts_month(first, lang)} – {charts_month(last, lang)}"
        st.markdown(f"##### {t(f'participation.source_{source}')} · {span}")
        if source == "statement":
            files = load(imports, "incentive_ledger")
            origin = ", ".join(
                t(
                    "review.file_source",
                    filename=md_escape(r["filename"]),
                    at=format_datetime(r["imported_at"], lang),
                )
                for r in files.to_dict("records")
            )
        else:
            origin = t("participation.origin_sample")
        st.caption(t("participation.points_source", origin=origin, span=span))
        earned = rows.loc[rows["kind"] == "earn", "points"].sum()
        redeemed = -rows.loc[rows["kind"] == "redeem", "points"].sum()  # stored negative
        c1, c2 = st.columns(2)
        c1.metric(t("participation.points_earned"), format_number(earned))
        c2.metric(t("participation.points_redeemed"), format_number(redeemed))
        shown = rows.assign(
            points=rows["points"].abs(), kind_label=[t(f"points.{k}") for k in rows["kind"]]
        )
        charts.render(
            charts.monthly_bars(
                shown,
                lang,
                "points",
                t("chart.points"),
                "kind_label",
                t("chart.kind"),
                color_domain=[t(f"points.{k}") for k in ("earn", "redeem", "expire")],
            )
        )
        wide = (
            rows.pivot_table(index="month", columns="kind", values="points", aggfunc="sum")
            .reindex(columns=["earn", "redeem", "expire"])
            .fillna(0.0)
            .reset_index()
        )
        table = pd.DataFrame(
            {
                t("col.month"): [charts_month(m, lang) for m in wide["month"]],
                t("review.earned_pts"): wide["earn"].astype("int64"),
                t("review.redeemed_pts"): (-wide["redeem"]).astype("int64"),
                t("review.expired_pts"): (-wide["expire"]).astype("int64"),
            }
        )
        show(table)
        downloads(table, f"points-{source}-{first:%Y%m}-{last:%Y%m}", f"points_{source}")
    st.caption(t("participation.points_note"))


def charts_month(value: date, lang: str) -> str:
    return f"{value.year}년 {value.month}월" if lang == "ko" else f"{value:%Y-%m}"
