"""가져오기 on the budget page: the finance system's execution export and the incentive
statement; upload, dry-run preview (new / changed / unchanged), confirm.

As the roster's section (``dashboard.ui.roster_import``): the preview is the domain's own dry
run, nothing stored; the confirm button's ``on_click`` imports for real from the same bytes
(all or nothing, audited by the domain, which checks ``import_data`` itself).
"""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from dashboard import clock
from dashboard.finance import FileReport, import_budget, import_incentives
from dashboard.formatting import format_number
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.file_import import (
    ImportSlot,
    changed_table,
    error_frame,
    permitted,
    show_errors,
)
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape

ACTION = "import_data"
IMPORTERS: dict[str, Callable[..., FileReport]] = {
    "budget": import_budget,
    "incentives": import_incentives,
}


def _slot(kind: str) -> ImportSlot:
    return ImportSlot(f"finimport_{kind}")


def may_import() -> bool:
    return permitted(ACTION) is not None


def _on_confirm(kind: str) -> None:
    slot = _slot(kind)
    user, upload = permitted(ACTION), slot.upload()
    # The page re-checks the right, and so does the domain: a callback is a second door.
    if user is None or upload is None:
        return
    report = IMPORTERS[kind](get_engine(), upload.getvalue(), upload.name, user, clock.now())
    if report.stored:
        clear_loads()  # the page's figures come from the cache: show the new rows at once
    slot.done(report)


def _counts(report: FileReport) -> str:
    return t(
        "finimport.counts",
        rows=format_number(report.rows),
        new=format_number(len(report.new)),
        changed=format_number(len(report.changed)),
        unchanged=format_number(report.unchanged),
        unit=report.unit or "–",
    )


def _errors(kind: str, report: FileReport) -> None:
    show_errors(
        t("finimport.refused", filename=md_escape(report.filename), n=len(report.errors)),
        report.errors,
        report.filename,
        _slot(kind).key("errors_download"),
    )


def _flags(report: FileReport) -> None:
    if not report.flags:
        return
    st.info(t("finimport.flags", n=len(report.flags)), icon=":material/calculate:")
    st.dataframe(error_frame(report.flags), hide_index=True)


def _result(kind: str) -> None:
    report: FileReport | None = _slot(kind).result()
    if report is None:
        return
    if not report.ok:
        _errors(kind, report)
    elif report.stored:
        st.success(
            t("finimport.stored", filename=md_escape(report.filename), counts=_counts(report)),
            icon=":material/check_circle:",
        )
    else:
        st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))


def import_section(kind: str) -> None:
    """Upload, preview and confirm for ``kind`` ("budget" or "incentives"); only shown to
    accounts with ``import_data`` (leads; admins)."""
    user = permitted(ACTION)
    if user is None:
        return
    slot = _slot(kind)
    with st.expander(
        t(f"finimport.title_{kind}"), expanded=slot.opened(), icon=":material/upload_file:"
    ):
        st.caption(t(f"finimport.help_{kind}"))
        upload = slot.uploader()
        if upload is not None:
            report = IMPORTERS[kind](
                get_engine(), upload.getvalue(), upload.name, user, clock.now(), dry_run=True
            )
            if not report.ok:
                _errors(kind, report)
            elif not report.new and not report.changed:
                st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))
            else:
                st.markdown(t("finimport.preview", counts=_counts(report)))
                changed_table(report, t("finimport.line"))
                _flags(report)
                st.button(
                    t("roster.confirm"),
                    type="primary",
                    icon=":material/save:",
                    on_click=_on_confirm,
                    args=(kind,),
                    key=slot.key("confirm"),
                )
        _result(kind)
