"""Budget tables shown as printed, with translated headers and the document's units."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.formatting import format_number, format_percent
from dashboard.i18n import translate_or
from dashboard.ui.components import table
from dashboard.ui.i18n import current_lang, t
from queries.budget import printed_table


def _amount(value: float) -> str:
    if pd.isna(value):
        return ""
    return format_number(value, 1 if value != round(value) else 0)


def period_label(period: str, lang: str) -> str:
    return translate_or(f"period.{period}", period, lang)


def printed(lines: pd.DataFrame, source_table: str) -> None:
    """A document table cell for cell; the unit is the document's and named in the caption."""
    lang = current_lang()
    tab = printed_table(lines, source_table)
    if tab.empty:
        st.info(t("common.no_data"))
        return
    unit = lines.loc[lines["source_table"] == source_table, "unit"].iloc[0]
    periods = [
        c
        for c in tab.columns
        if c not in ("unit_project", "category", "line_item", "funding_source", "measure")
    ]
    shown = pd.DataFrame(
        {
            "project": tab["unit_project"],
            "item": [
                " / ".join(p for p in (c, li) if p)
                for c, li in zip(tab["category"], tab["line_item"], strict=True)
            ],
            "source": [
                translate_or(f"fund.{s}", s, lang) if s else "" for s in tab["funding_source"]
            ],
            "measure": [t(f"measure.{m}") for m in tab["measure"]],
        }
    )
    for p in periods:
        shown[period_label(p, lang)] = [_amount(v) for v in tab[p]]
    # Drop descriptive columns the table does not use (e.g. no line items in Goyang's tables).
    keep = {
        c: k
        for c, k in {
            "project": "col.unit_project",
            "item": "col.line_item",
            "source": "col.funding_source",
            "measure": "col.measure",
        }.items()
        if (shown[c] != "").any()
    }
    st.caption(t("budget.unit_note", unit=translate_or(f"unitname.{unit}", unit, lang)))
    renamed = shown.rename(columns={c: t(k) for c, k in keep.items()})
    cols = [t(k) for k in keep.values()] + [period_label(p, lang) for p in periods]
    st.dataframe(renamed[cols], hide_index=True, width="stretch")


def rates_table(execution: pd.DataFrame) -> None:
    lang = current_lang()
    if execution.empty:
        st.info(t("common.no_data"))
        return
    shown = pd.DataFrame(
        {
            "project": execution["unit_project"],
            "source": [translate_or(f"fund.{s}", s, lang) for s in execution["funding_source"]],
            "period": [period_label(p, lang) for p in execution["period"]],
            "plan": [_amount(v) for v in execution["plan"]],
            "secured": [_amount(v) for v in execution["secured"]],
            "executed": [_amount(v) for v in execution["executed"]],
            "rate": [format_percent(v) for v in execution["execution_rate"]],
        }
    )
    st.caption(t("budget.unit_note", unit=translate_or("unitname.백만원", "백만원", lang)))
    table(
        shown,
        {
            "project": "col.unit_project",
            "source": "col.funding_source",
            "period": "col.period",
            "plan": "measure.plan",
            "secured": "measure.secured",
            "executed": "measure.executed",
            "rate": "col.execution_rate",
        },
    )
