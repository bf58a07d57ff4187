"""참여 기록 가져오기 on the 참여 page: a program system's enrolment or weekly activity export;
upload, dry-run preview (new / changed / unchanged), confirm (``import_data``).

As the other import sections (``dashboard.ui.file_import``): the preview is the domain's own
dry run, nothing stored; the confirm button's ``on_click`` imports for real from the same
bytes (all or nothing, audited by the domain, which checks ``import_data`` itself).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard import clock
from dashboard.exports import csv_file_bytes
from dashboard.finance import FileReport
from dashboard.formatting import format_number
from dashboard.participation import import_participation
from dashboard.settings import PROJECT_ROOT
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.file_import import ImportSlot, changed_table, permitted, show_errors
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape

ACTION = "import_data"
SLOT = ImportSlot("partimport")
SAMPLES = {
    "enrolments": PROJECT_ROOT / "data" / "samples" / "participation-enrolments-sample.csv",
    "activity": PROJECT_ROOT / "data" / "samples" / "participation-activity-sample.csv",
}


def _on_confirm() -> None:
    user, upload = permitted(ACTION), SLOT.upload()
    # The page re-checks the right, and so does the domain: a callback is a second door.
    if user is None or upload is None:
        return
    report = import_participation(get_engine(), upload.getvalue(), upload.name, user, clock.now())
    if report.stored:
        clear_loads()  # the cohort and the tables come from the cache: show the new rows at once
    SLOT.done(report)


def _counts(report: FileReport) -> str:
    return t(
        "partimport.counts",
        kind=t(f"partimport.kind_{'activity' if 'activity' in report.kind else 'enrolments'}"),
        rows=format_number(report.rows),
        new=format_number(len(report.new)),
        changed=format_number(len(report.changed)),
        unchanged=format_number(report.unchanged),
    )


def _errors(report: FileReport) -> None:
    show_errors(
        t("partimport.refused", filename=md_escape(report.filename), n=len(report.errors)),
        report.errors,
        report.filename,
        SLOT.key("errors_download"),
    )


def sample_bytes(path: Path) -> bytes:
    """A sample file as handed out: UTF-8 with a BOM, so Excel on Korean Windows reads it."""
    return csv_file_bytes(path.read_bytes())


def import_section() -> None:
    """Upload, preview and confirm; only for accounts with ``import_data`` (leads; admins)."""
    user = permitted(ACTION)
    if user is None:
        return
    with st.expander(t("partimport.title"), expanded=SLOT.opened(), icon=":material/upload_file:"):
        st.caption(t("partimport.help"))
        cols = st.columns(2)
        for col, (name, path) in zip(cols, SAMPLES.items(), strict=True):
            col.download_button(
                t(f"partimport.sample_{name}"),
                data=sample_bytes(path),
                file_name=path.name,
                mime="text/csv",
                icon=":material/download:",
                on_click="ignore",
                key=SLOT.key(f"sample_{name}"),
            )
        upload = SLOT.uploader()
        if upload is not None:
            report = import_participation(
                get_engine(), upload.getvalue(), upload.name, user, clock.now(), dry_run=True
            )
            if not report.ok:
                _errors(report)
            elif not report.new and not report.changed:
                st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))
            else:
                st.markdown(t("partimport.preview", counts=_counts(report)))
                changed_table(report, t("partimport.key"))
                st.button(
                    t("roster.confirm"),
                    type="primary",
                    icon=":material/save:",
                    on_click=_on_confirm,
                    key=SLOT.key("confirm"),
                )
        result: FileReport | None = SLOT.result()
        if result is None:
            return
        if not result.ok:
            _errors(result)
        elif result.stored:
            st.success(
                t("partimport.stored", filename=md_escape(result.filename), counts=_counts(result)),
                icon=":material/check_circle:",
            )
