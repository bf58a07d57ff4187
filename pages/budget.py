"""예산 집행: imported monthly execution against its schedule (불용 risk), incentive points
against their budget, and the documents' tables with their findings."""

import pandas as pd
import streamlit as st

from dashboard.formatting import format_amount, format_number, format_percent
from dashboard.reference.documents import cite_message
from dashboard.ui.budget import printed, rates_table
from dashboard.ui.budget_review import execution_tab, incentives_tab
from dashboard.ui.components import page_header, table
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, t
from queries.budget import budget_lines, execution_table, findings, formula_check

page_header("page.budget", "budget.caption")
lang = current_lang()

execution, incentives, documents = st.tabs(
    [t("review.tab_execution"), t("review.tab_incentives"), t("review.tab_documents")]
)
with execution:
    execution_tab()
with incentives:
    incentives_tab()
with documents:
    found = load(findings)
    st.subheader(t("budget.findings", n=len(found)))
    if found.empty:
        st.success(t("budget.no_findings"))
    else:
        for row in found.to_dict("records"):
            message = row["message_ko"] if lang == "ko" else row["message_en"]
            st.warning(cite_message(message, row["source_doc"], lang), icon="⚠️")
    goyang_tab, seoul_tab, daedeok_tab = st.tabs(
        [t("budget.tab_goyang"), t("budget.tab_seoul"), t("budget.tab_daedeok")]
    )

with goyang_tab:
    lines = load(budget_lines, "goyang")
    totals = lines[
        lines["is_total"] & (lines["unit_project"] == "계") & (lines["period"] == "total")
    ]
    amount = {
        m: totals.loc[totals["measure"] == m, "amount"].sum()
        for m in ("plan", "secured", "executed")
    }
    c1, c2, c3, c4 = st.columns(4)
    c1.metric(t("budget.plan_total"), format_amount(amount["plan"], "백만원", lang))
    c2.metric(t("budget.secured_total"), format_amount(amount["secured"], "백만원", lang))
    c3.metric(t("budget.executed_total"), format_amount(amount["executed"], "백만원", lang))
    c4.metric(
        t("budget.execution_rate"),
        format_percent(amount["executed"] / amount["secured"] * 100 if amount["secured"] else None),
    )
    st.markdown(f"#### {t('budget.rates_title')}")
    rates_table(execution_table(lines))
    for source_table in dict.fromkeys(lines["source_table"]):
        st.markdown(f"#### {t('budget.printed_title', table=source_table)}")
        printed(lines, source_table)

with seoul_tab:
    lines = load(budget_lines, "seoul")
    grand = lines[(lines["source_table"] == "예산 총괄") & lines["is_total"]]
    cols = st.columns(max(1, len(grand)))
    for col, row in zip(cols, grand.to_dict("records"), strict=False):
        col.metric(
            t("budget.seoul_total", period=row["period"]),
            format_amount(row["amount"], row["unit"], lang),
        )
    st.markdown(f"#### {t('budget.formulas_title')}")
    items = formula_check(lines)
    shown = pd.DataFrame(
        {
            "category": items["category"].fillna(""),
            "item": items["line_item"].fillna(""),
            "formula": items["formula"].fillna(""),
            "computed": [format_number(v, 1 if v != round(v) else 0) for v in items["computed"]],
            "printed": [format_number(v) for v in items["amount"]],
            "check": [t("budget.ok") if ok else t("budget.mismatch") for ok in items["matches"]],
        }
    )
    table(
        shown,
        {
            "category": "col.category",
            "item": "col.line_item",
            "formula": "col.formula",
            "computed": "col.computed_k",
            "printed": "col.printed_k",
            "check": "col.check",
        },
    )
    for source_table in dict.fromkeys(lines["source_table"]):
        st.markdown(f"#### {t('budget.printed_title', table=source_table)}")
        printed(lines, source_table)

with daedeok_tab:
    lines = load(budget_lines, "daedeok")
    for source_table in dict.fromkeys(lines["source_table"]):
        st.markdown(f"#### {t('budget.printed_title', table=source_table)}")
        printed(lines, source_table)
