"""민원 가져오기 on the complaints page: upload, dry-run preview, confirm (``import_data``).

The preview is the domain's own dry run (``dashboard.complaints``): the same checks as the real
import, nothing stored. The confirm button's ``on_click`` imports for real from the same bytes;
the domain checks the right again and writes the audit row. No complaint text is shown: the
preview lists counts, sites and the rows recognised as repeats.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.complaints import ComplaintReport, import_complaints
from dashboard.formatting import format_number
from dashboard.ui.data import get_engine
from dashboard.ui.file_import import ImportSlot, permitted, show_errors
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape

ACTION = "import_data"
LISTED = 200
SLOT = ImportSlot("complaint_import")


def _on_confirm() -> None:
    user, upload = permitted(ACTION), SLOT.upload()
    if user is None or upload is None:  # a callback is a door too
        return
    report = import_complaints(get_engine(), upload.getvalue(), upload.name, user, clock.now())
    if report.stored:
        st.cache_data.clear()  # the page's counts and estimates include the new complaints
    SLOT.done(report)


def _counts(report: ComplaintReport) -> str:
    return t(
        "complaint_import.counts",
        rows=format_number(report.rows),
        new=format_number(report.new),
        already=format_number(report.already),
        duplicates=format_number(len(report.duplicates)),
        matched=format_number(sum(report.matched.values())),
        unmatched=format_number(report.unmatched),
        radius=format_number(report.radius_m),
    )


def _errors(report: ComplaintReport) -> None:
    show_errors(
        t("complaint_import.refused", filename=md_escape(report.filename), n=len(report.errors)),
        report.errors,
        report.filename,
        SLOT.key("errors_download"),
    )


def _details(report: ComplaintReport) -> None:
    if report.ignored:  # the file's own header names: escaped
        columns = ", ".join(md_escape(name) for name in report.ignored)
        st.caption(t("complaint_import.ignored", columns=columns))
    if report.matched:
        st.dataframe(
            pd.DataFrame(
                {
                    t("col.site"): list(report.matched),
                    t("complaint_import.new_complaints"): list(report.matched.values()),
                }
            ),
            hide_index=True,
            width="stretch",
        )
    if report.duplicates:
        shown = report.duplicates[:LISTED]
        st.caption(t("complaint_import.duplicates_note"))
        st.dataframe(
            pd.DataFrame(
                {
                    t("importing.row"): [row for row, _ in shown],
                    t("complaint_import.repeats"): [what for _, what in shown],
                }
            ),
            hide_index=True,
            width="stretch",
            height=min(38 + 35 * len(shown), 320),
        )


def import_section() -> None:
    """The whole section; only for users with ``import_data`` (leads, administrators)."""
    user = permitted(ACTION)
    if user is None:
        return
    with st.expander(
        t("complaint_import.title"), expanded=SLOT.opened(), icon=":material/upload_file:"
    ):
        st.caption(t("complaint_import.help"))
        upload = SLOT.uploader()
        if upload is not None:
            report = import_complaints(
                get_engine(), upload.getvalue(), upload.name, user, clock.now(), dry_run=True
            )
            if not report.ok:
                _errors(report)
            elif not report.new:
                st.info(t("complaint_import.nothing", filename=md_escape(report.filename)))
            else:
                st.markdown(t("complaint_import.preview", counts=_counts(report)))
                _details(report)
                st.button(
                    t("complaint_import.confirm"),
                    type="primary",
                    icon=":material/save:",
                    on_click=_on_confirm,
                    key=SLOT.key("confirm"),
                )
        result: ComplaintReport | None = SLOT.result()
        if result is not None:
            if not result.ok:
                _errors(result)
            elif result.stored:
                st.success(
                    t(
                        "complaint_import.stored",
                        filename=md_escape(result.filename),
                        counts=_counts(result),
                    ),
                    icon=":material/check_circle:",
                )
