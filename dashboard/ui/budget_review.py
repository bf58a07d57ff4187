"""The budget page's review tabs: imported execution against its schedule (S-curve, pace,
불용 risk) and the incentive points against their budget (spend per month, run-out date).

Every figure names its source (the import's file and time, or the document) and its as-of
month; amounts are shown in the unit of the file or document they came from. The projections
are :mod:`dashboard.finance.projections`; the filters live in the URL (``url_filters``).
"""

from __future__ import annotations

from datetime import date

import altair as alt
import pandas as pd
import streamlit as st

from dashboard.exports import XLSX_MIME, to_csv_bytes, to_xlsx_bytes
from dashboard.finance import projections
from dashboard.finance.sheet import UNITS
from dashboard.formatting import format_amount, format_date, format_datetime, format_percent
from dashboard.i18n import translate_or
from dashboard.reference.documents import cite
from dashboard.ui import charts
from dashboard.ui.auth import user_can
from dashboard.ui.data import load
from dashboard.ui.finance_import import import_section
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from dashboard.ui.theme import ACCENT, MUTED, STATE_COLORS
from dashboard.ui.url_filters import url_multiselect, url_select
from queries.budget import (
    execution_formula_flags,
    execution_options,
    execution_rows,
    execution_years,
    imports,
    incentive_budgets,
    incentive_months,
    incentive_years,
)

FUND_ORDER = ("national", "provincial", "city", "district", "private", "other")
INCENTIVE_PROGRAM = "seoul_wrist_doctor"
MONTHS = range(1, 13)


def month_label(year: int, month: int, lang: str) -> str:
    return t("review.month_of", year=year, month=month) if lang == "ko" else f"{year}-{month:02d}"


def downloads(frame: pd.DataFrame, stem: str, key: str) -> None:
    """The table behind a chart as CSV and Excel, both through ``dashboard.exports``; only for
    roles with ``export`` (leads): the pages are shared with operators and the council, who
    read the tables on screen."""
    if not user_can("export"):
        return
    left, right, _ = st.columns([1, 1, 4])
    left.download_button(
        t("review.csv"),
        data=to_csv_bytes(frame),
        file_name=f"{stem}.csv",
        mime="text/csv",
        icon=":material/download:",
        on_click="ignore",
        key=f"{key}_csv",
    )
    right.download_button(
        t("review.xlsx"),
        data=to_xlsx_bytes(frame),
        file_name=f"{stem}.xlsx",
        mime=XLSX_MIME,
        icon=":material/download:",
        on_click="ignore",
        key=f"{key}_xlsx",
    )


def show(frame: pd.DataFrame) -> None:
    """A table with Korean thousands separators on its numbers (the downloads keep raw values)."""
    config = {
        c: st.column_config.NumberColumn(format="localized")
        for c in frame.columns
        if pd.api.types.is_numeric_dtype(frame[c])
    }
    st.dataframe(frame, hide_index=True, width="stretch", column_config=config)


def _sources(files: pd.DataFrame, lang: str) -> str:
    return ", ".join(
        t(
            "review.file_source",
            filename=md_escape(r["filename"]),
            at=format_datetime(r["imported_at"], lang),
        )
        for r in files.to_dict("records")
    )


def _number(value: float, unit: str) -> str:
    """An amount without its unit, with the decimals ``format_amount`` would give it."""
    return format_amount(value, unit, "ko").rsplit(" ", 1)[0]


def _display_unit(rows: pd.DataFrame) -> str:
    units = set(rows["unit"])
    return units.pop() if len(units) == 1 else "천원"


def execution_tab() -> None:
    """Filters, source line, headline metrics, S-curve with its table, lines with 불용 risk."""
    lang = current_lang()
    years = load(execution_years)
    if not years:
        st.info(t("review.no_execution"))
        import_section("budget")
        return
    cols = st.columns(4)
    year = url_select(
        t("review.year"),
        years,
        param="year",
        default=years[0],
        format_func=lambda y: t("review.year_option", year=y),
        container=cols[0],
    )
    everything = load(execution_rows, year)
    last = int(everything["month"].max())
    as_of = url_select(
        t("review.as_of"),
        list(range(1, last + 1)),
        param="asof",
        default=last,
        format_func=lambda m: month_label(year, m, lang),
        container=cols[1],
    )
    options = load(execution_options, year)
    districts = options.drop_duplicates("code")
    names = {
        r["code"]: r["name_ko"] if lang == "ko" else r["name_en"]
        for r in districts.to_dict("records")
    }
    chosen = url_multiselect(
        t("filter.district"),
        list(districts["code"]),
        param="district",
        format_func=lambda c: names.get(c, c),
        placeholder=t("filter.all"),
        container=cols[2],
    )
    funds = [f for f in FUND_ORDER if f in set(options["funding_source"])]
    fund_pick = url_multiselect(
        t("col.funding_source"),
        funds,
        param="fund",
        format_func=lambda f: translate_or(f"fund.{f}", f, lang),
        placeholder=t("filter.all"),
        container=cols[3],
    )
    ids = tuple(int(i) for i in districts[districts["code"].isin(chosen)]["region_id"])
    rows = load(execution_rows, year, ids or None, fund_pick or None)
    rows = rows[rows["month"] <= as_of]
    if rows.empty:
        st.info(t("common.no_data"))
        import_section("budget")
        return
    files = rows.drop_duplicates("filename")[["filename", "imported_at"]]
    st.caption(
        t(
            "review.execution_source",
            files=_sources(files, lang),
            as_of=month_label(year, as_of, lang),
        )
    )
    unit = _display_unit(rows)
    lines = projections.line_status(rows, as_of)
    curve = projections.s_curve(rows, unit)
    now = curve.iloc[-1]
    plan, executed = float(now["plan"]), float(now["executed"])
    # Each line at its own pace: a district's file may not have reached the as-of month yet.
    projected = projections.projected_total(lines, unit)
    risky = lines[lines["at_risk"]]
    first, second = st.columns(3), st.columns(3)
    # The unit goes in the label: three amounts a row stay legible on a projector.
    unit_label = translate_or(f"unitname.{unit}", unit, lang)
    first[0].metric(t("review.plan_in", unit=unit_label), _number(plan, unit))
    first[1].metric(t("review.executed_in", unit=unit_label), _number(executed, unit))
    first[2].metric(t("review.execution_rate"), format_percent(now["executed_rate"]))
    second[0].metric(
        t("review.schedule_rate"),
        format_percent(now["schedule_rate"]),
        help=t("review.schedule_help"),
    )
    second[1].metric(
        t("review.projected_rate"),
        format_percent(projected / plan * 100 if plan else None),
        help=t("review.projected_help"),
    )
    second[2].metric(t("review.lines_at_risk"), f"{len(risky)} / {len(lines)}")
    if unit != "천원" or len(set(rows["unit"])) == 1:
        st.caption(t("budget.unit_note", unit=translate_or(f"unitname.{unit}", unit, lang)))
    else:
        st.caption(t("review.mixed_units"))

    behind = lines[lines["months"] < as_of]
    if not behind.empty:
        st.warning(
            t(
                "review.lines_behind",
                n=len(behind),
                as_of=month_label(year, as_of, lang),
                first=month_label(year, int(behind["months"].min()), lang),
            ),
            icon=":material/schedule:",
        )

    st.markdown(f"#### {t('review.curve_title')}")
    charts.render(_curve_chart(curve, as_of, projected / plan * 100 if plan else None, lang))
    shown = pd.DataFrame(
        {
            t("col.month"): [month_label(year, int(mo), lang) for mo in curve["month"]],
            t("review.cum_executed", unit=unit): curve["executed"].round(1),
            t("review.cum_schedule", unit=unit): curve["schedule"].round(1),
            t("review.plan_col", unit=unit): curve["plan"].round(1),
            t("review.execution_rate"): curve["executed_rate"].round(1),
            t("review.schedule_rate"): curve["schedule_rate"].round(1),
        }
    )
    show(shown)
    downloads(shown, f"budget-execution-{year}-{as_of:02d}", "review_curve")

    st.markdown(f"#### {t('review.lines_title')}")
    rule = t(
        "review.risk_rule", share=int(projections.RISK_SHARE * 100), months=projections.MIN_MONTHS
    )
    if risky.empty:
        st.success(t("review.no_risk", rule=rule), icon=":material/check_circle:")
    else:
        st.warning(t("review.risk", n=len(risky), rule=rule), icon=":material/report:")
    region_names = rows.drop_duplicates("region_id").set_index("region_id")
    line_table = _lines_table(lines, region_names, year, lang)
    show(line_table)
    downloads(line_table, f"budget-lines-{year}-{as_of:02d}", "review_lines")

    flags = execution_formula_flags(rows)
    if not flags.empty:
        st.markdown(f"#### {t('review.formula_title')}")
        st.dataframe(_flags_table(flags, lang), hide_index=True, width="stretch")
    import_section("budget")


def _curve_chart(
    curve: pd.DataFrame, as_of: int, year_end: float | None, lang: str
) -> alt.LayerChart:
    executed, schedule = t("review.series_executed"), t("review.series_schedule")
    projected = t("review.series_projected")
    long = pd.concat(
        [
            pd.DataFrame(
                {"month": curve["month"], "rate": curve["executed_rate"], "series": executed}
            ),
            pd.DataFrame(
                {"month": list(MONTHS), "rate": _full_schedule(curve), "series": schedule}
            ),
        ]
    )
    at = float(curve["executed_rate"].iloc[-1])
    end = at * 12 / as_of if year_end is None else year_end  # the headline's projection
    pace = pd.DataFrame(
        {
            "month": list(range(as_of, 13)),
            "rate": [at + (end - at) * (m - as_of) / max(12 - as_of, 1) for m in range(as_of, 13)],
            "series": projected,
        }
    )
    data = pd.concat([long, pace]).dropna()
    colors = alt.Scale(
        domain=[executed, schedule, projected], range=[ACCENT, MUTED, STATE_COLORS["risk"]]
    )
    x = alt.X(
        "month:O",
        title=t("col.month"),
        axis=alt.Axis(
            labelExpr="datum.value + '" + ("월" if lang == "ko" else "") + "'", labelAngle=0
        ),
        scale=alt.Scale(domain=list(MONTHS)),
    )
    y = alt.Y("rate:Q", title=t("review.rate_axis"), scale=alt.Scale(domain=[0, 110]))
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=x,
            y=y,
            color=alt.Color("series:N", title=None, scale=colors, legend=alt.Legend(orient="top")),
            strokeDash=alt.condition(
                alt.datum.series == projected, alt.value([6, 4]), alt.value([1, 0])
            ),
            tooltip=[
                alt.Tooltip("series:N", title=" "),
                alt.Tooltip("month:O", title=t("col.month")),
                alt.Tooltip("rate:Q", title=t("review.rate_axis"), format=".1f"),
            ],
        )
    )
    threshold = (
        alt.Chart(pd.DataFrame({"rate": [projections.RISK_SHARE * 100]}))
        .mark_rule(strokeDash=[2, 2], color=STATE_COLORS["severe"])
        .encode(y="rate:Q")
    )
    return alt.layer(lines, threshold).properties(height=320)


def _full_schedule(curve: pd.DataFrame) -> list[float]:
    """The schedule for all twelve months: as computed to date, then a straight line to 100 %."""
    known = dict(zip(curve["month"], curve["schedule_rate"], strict=True))
    last = max(known)
    start = known[last]
    return [
        known[m] if m in known else start + (100 - start) * (m - last) / (12 - last) for m in MONTHS
    ]


def _lines_table(lines: pd.DataFrame, regions: pd.DataFrame, year: int, lang: str) -> pd.DataFrame:
    name = "region_ko" if lang == "ko" else "region_en"
    return pd.DataFrame(
        {
            t("filter.district"): [regions.loc[r, name] for r in lines["region_id"]],
            t("col.unit_project"): lines["unit_project"],
            t("col.funding_source"): [
                translate_or(f"fund.{f}", f, lang) for f in lines["funding_source"]
            ],
            t("col.unit"): [translate_or(f"unitname.{u}", u, lang) for u in lines["unit"]],
            t("review.data_month"): [month_label(year, int(m), lang) for m in lines["months"]],
            t("measure.plan"): lines["plan"],
            t("review.executed_to_date"): lines["executed"],
            t("review.execution_rate"): lines["rate"].round(1),
            t("review.schedule_rate"): (lines["schedule"] / lines["plan"] * 100).round(1),
            t("review.projected_rate"): lines["projected_rate"].round(1),
            t("review.status"): [
                t("review.at_risk") if r else t("review.on_track") for r in lines["at_risk"]
            ],
        }
    )


def _flags_table(flags: pd.DataFrame, lang: str) -> pd.DataFrame:
    name = "region_ko" if lang == "ko" else "region_en"
    return pd.DataFrame(
        {
            t("filter.district"): flags[name],
            t("col.unit_project"): flags["unit_project"],
            t("col.funding_source"): [
                translate_or(f"fund.{f}", f, lang) for f in flags["funding_source"]
            ],
            t("review.formula"): [
                f"{p:,.0f}원 × {q:,.0f}"
                for p, q in zip(flags["unit_price_won"], flags["quantity"], strict=True)
            ],
            t("col.computed_k"): [
                format_amount(c, u, lang)
                for c, u in zip(flags["computed"], flags["unit"], strict=True)
            ],
            t("measure.plan"): [
                format_amount(p, u, lang) for p, u in zip(flags["plan"], flags["unit"], strict=True)
            ],
            t("review.source"): flags["filename"],
        }
    )


# --- incentives --------------------------------------------------------------------------------


def incentives_tab() -> None:
    """The incentive budget (document) against the operator's imported points statements, per
    month, and the run-out. The per-person sample ledger is never set against the budget
    (``queries.budget.incentive_months``): it has its own section on the participation page."""
    lang = current_lang()
    budgets = load(incentive_budgets)
    ledger_years = load(incentive_years, INCENTIVE_PROGRAM)
    both = sorted(set(budgets["year"]) & set(ledger_years), reverse=True)
    years = sorted(set(budgets["year"]) | set(ledger_years), reverse=True)
    if not years:
        st.info(t("common.no_data"))
        import_section("incentives")
        return
    cols = st.columns(4)
    year = url_select(
        t("review.year"),
        years,
        param="iyear",
        default=both[0] if both else years[0],
        format_func=lambda y: t("review.year_option", year=y),
        container=cols[0],
    )
    months = load(incentive_months, INCENTIVE_PROGRAM, year)
    budget_row = budgets[budgets["year"] == year]
    if months.empty:
        st.info(t("review.no_ledger", year=year))
        import_section("incentives")
        return
    wide = (
        months.pivot_table(index="month", columns="kind", values="points", aggfunc="sum")
        .reindex(columns=["earn", "redeem", "expire"])
        .fillna(0.0)
        .reset_index()
    )
    last = max(d.month for d in wide["month"])
    as_of = url_select(
        t("review.as_of"),
        list(range(1, last + 1)),
        param="iasof",
        default=last,
        format_func=lambda m: month_label(year, m, lang),
        container=cols[1],
    )
    wide = wide[[d.month <= as_of for d in wide["month"]]]
    wide["granted"] = wide["earn"] + wide["expire"]  # expired points return to the budget
    wide["cumulative"] = wide["granted"].cumsum()
    files = load(imports, "incentive_ledger", year)
    ledger_source = _sources(files, lang)  # statements only: never the sample ledger
    unit = budget_row["unit"].iloc[0] if not budget_row.empty else "천원"
    per = UNITS[unit]
    budget_source = (
        f"{cite(budget_row['source_doc'].iloc[0], lang)} {budget_row['source_table'].iloc[0]}"
        if not budget_row.empty
        else "–"
    )
    st.caption(
        t(
            "review.incentive_source",
            budget=md_escape(budget_source),
            ledger=ledger_source,
            as_of=month_label(year, as_of, lang),
        )
    )
    m = st.columns(2) + st.columns(2)
    granted = float(wide["granted"].sum())
    if budget_row.empty:
        m[0].metric(t("review.incentive_budget"), "–")
        st.info(t("review.no_incentive_budget", year=year))
        outcome = None
    else:
        doc = budget_row.iloc[0]
        budget_won = float(doc["amount"]) * per
        m[0].metric(
            t("review.incentive_budget"),
            format_amount(doc["amount"], unit, lang),
            help=t(
                "review.budget_source",
                doc=md_escape(cite(doc["source_doc"], lang)),
                table=doc["source_table"],
            ),
        )
        outcome = projections.run_out(
            budget_won, [(d, float(g)) for d, g in zip(wide["month"], wide["granted"], strict=True)]
        )
    m[1].metric(t("review.granted"), format_amount(granted / per, unit, lang))
    m[2].metric(t("review.redeemed"), format_amount(-float(wide["redeem"].sum()) / per, unit, lang))
    if outcome is not None:
        m[3].metric(t("review.run_out"), _run_out_text(outcome, year, lang))
        _run_out_message(outcome, year, lang)
    st.caption(t("review.points_note"))

    if outcome is not None:
        charts.render(_incentive_chart(wide, outcome, per, unit, year, lang))
    shown = pd.DataFrame(
        {
            t("col.month"): [month_label(d.year, d.month, lang) for d in wide["month"]],
            t("review.earned_pts"): wide["earn"].astype("int64"),
            t("review.redeemed_pts"): (-wide["redeem"]).astype("int64"),
            t("review.expired_pts"): (-wide["expire"]).astype("int64"),
            t("review.granted_pts"): wide["granted"].astype("int64"),
            t("review.cumulative_pts"): wide["cumulative"].astype("int64"),
        }
    )
    show(shown)
    downloads(shown, f"incentives-{year}-{as_of:02d}", "review_incentives")
    import_section("incentives")


def _run_out_text(outcome: projections.RunOut, year: int, lang: str) -> str:
    if outcome.on is None:
        return t("review.run_out_never")
    return format_date(outcome.on, lang)


def _run_out_message(outcome: projections.RunOut, year: int, lang: str) -> None:
    when = format_date(outcome.on, lang) if outcome.on else ""
    if outcome.already:
        st.warning(t("review.ran_out", date=when), icon=":material/report:")
    elif outcome.on is not None and outcome.on <= date(year, 12, 31):
        st.warning(t("review.runs_out", date=when), icon=":material/report:")
    else:
        st.success(t("review.lasts", date=when or "–"), icon=":material/check_circle:")


def _incentive_chart(
    wide: pd.DataFrame, outcome: projections.RunOut, per: int, unit: str, year: int, lang: str
) -> alt.LayerChart:
    actual, pace = t("review.series_granted"), t("review.series_projected")
    data = pd.DataFrame(
        {
            "day": [projections._month_end(d) for d in wide["month"]],
            "amount": wide["cumulative"] / per,
            "series": actual,
        }
    )
    end = date(year, 12, 31)
    last_day = data["day"].iloc[-1]
    if outcome.per_day > 0 and last_day < end:
        days = (end - last_day).days
        proj = pd.DataFrame(
            {
                "day": [last_day, end],
                "amount": [
                    data["amount"].iloc[-1],
                    data["amount"].iloc[-1] + outcome.per_day * days / per,
                ],
                "series": pace,
            }
        )
        data = pd.concat([data, proj])
    data["day"] = pd.to_datetime(data["day"])
    y_title = t("review.cumulative_axis", unit=translate_or(f"unitname.{unit}", unit, lang))
    lines = (
        alt.Chart(data)
        .mark_line(point=True)
        .encode(
            x=alt.X("day:T", title=t("col.month"), axis=alt.Axis(format=charts.MONTH_FORMAT[lang])),
            y=alt.Y("amount:Q", title=y_title),
            color=alt.Color(
                "series:N",
                title=None,
                scale=alt.Scale(domain=[actual, pace], range=[ACCENT, STATE_COLORS["risk"]]),
                legend=alt.Legend(orient="top"),
            ),
            strokeDash=alt.condition(
                alt.datum.series == pace, alt.value([6, 4]), alt.value([1, 0])
            ),
            tooltip=[
                alt.Tooltip("series:N", title=" "),
                alt.Tooltip("day:T", title=t("col.month"), format="%Y-%m-%d"),
                alt.Tooltip("amount:Q", title=y_title, format=",.0f"),
            ],
        )
    )
    budget = (
        alt.Chart(
            pd.DataFrame({"amount": [outcome.budget / per], "label": [t("review.budget_line")]})
        )
        .mark_rule(color=STATE_COLORS["severe"], strokeDash=[4, 3])
        .encode(
            y="amount:Q",
            tooltip=[alt.Tooltip("amount:Q", title=t("review.incentive_budget"), format=",.0f")],
        )
    )
    return alt.layer(lines, budget).properties(height=320)
