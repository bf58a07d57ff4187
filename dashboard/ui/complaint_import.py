"""민원 가져오기 on the complaints page: upload, dry-run preview, confirm (``import_data``).

The preview is the domain's own dry run (``dashboard.complaints``): the same checks as the real
import, nothing stored. The confirm button's ``on_click`` imports for real from the same bytes;
the domain checks the right again and writes the audit row. No complaint text is shown: the
preview lists counts, sites and the rows recognised as repeats.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import can
from dashboard.complaints import ComplaintReport, import_complaints
from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_number
from dashboard.ui.auth import session_user
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import t
from dashboard.ui.importing import MAX_UPLOAD_MB
from dashboard.ui.safe_text import md_escape

ACTION = "import_data"
LISTED = 200


def _key(part: str) -> str:
    return f"complaint_import_{part}"


def _uploader_key() -> str:
    # A new key empties the uploader after a stored import, so it cannot be sent twice by habit.
    return _key(f"file_{st.session_state.get(_key('counter'), 0)}")


def _on_confirm() -> None:
    user, upload = session_user(), st.session_state.get(_uploader_key())
    if user is None or not can(user.role, ACTION) or upload is None:  # a callback is a door too
        return
    report = import_complaints(get_engine(), upload.getvalue(), upload.name, user, clock.now())
    st.session_state[_key("result")] = report
    if report.stored:
        st.session_state[_key("counter")] = st.session_state.get(_key("counter"), 0) + 1
        st.cache_data.clear()  # the page's counts and estimates include the new complaints


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
    st.error(
        t("complaint_import.refused", filename=md_escape(report.filename), n=len(report.errors)),
        icon=":material/block:",
    )
    errors = pd.DataFrame(
        {
            t("importing.row"): [
                e.row if e.row else t("importing.whole_file") for e in report.errors
            ],
            t("importing.column"): [e.column or "–" for e in report.errors],
            t("importing.reason"): [e.reason for e in report.errors],
        }
    ).astype(str)
    st.dataframe(errors, hide_index=True, width="stretch", height=min(38 + 35 * len(errors), 420))
    st.download_button(
        t("importing.errors_download"),
        data=to_csv_bytes(errors),
        file_name=f"{Path(report.filename).stem}-errors.csv",
        mime="text/csv",
        on_click="ignore",
        key=_key("errors_download"),
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
    user = session_user()
    if user is None or not can(user.role, ACTION):
        return
    with st.expander(t("complaint_import.title"), icon=":material/upload_file:"):
        st.caption(t("complaint_import.help"))
        upload = st.file_uploader(
            t("importing.file", mb=MAX_UPLOAD_MB),
            type=["csv", "xlsx"],
            max_upload_size=MAX_UPLOAD_MB,
            key=_uploader_key(),
        )
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
                    key=_key("confirm"),
                )
        result: ComplaintReport | None = st.session_state.get(_key("result"))
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
