"""명단 가져오기 on the people and devices pages: template, upload, dry-run preview, confirm.

The preview is the domain's own dry run (``dashboard.registry``): the same checks as the real
import, nothing stored. The confirm button's ``on_click`` imports for real (all or nothing,
audited by the domain, which checks ``manage_roster`` itself) from the same uploaded bytes.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import can
from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_number
from dashboard.registry import KINDS, RosterReport, import_roster, template_csv
from dashboard.ui.auth import session_user
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import t
from dashboard.ui.importing import MAX_UPLOAD_MB
from dashboard.ui.safe_text import md_escape

CHANGED_ROWS = 200  # changed rows listed in the preview table


def _key(kind: str, part: str) -> str:
    return f"roster_{kind}_{part}"


def _uploader_key(kind: str) -> str:
    # A new key empties the uploader after a stored import, so it cannot be sent twice by habit.
    return _key(kind, f"file_{st.session_state.get(_key(kind, 'counter'), 0)}")


def _run(kind: str, data: bytes, filename: str, dry_run: bool) -> RosterReport:
    user = session_user()
    assert user is not None  # callers checked
    return import_roster(
        get_engine(), KINDS[kind], data, filename, user, clock.now(), dry_run=dry_run
    )


def _on_confirm(kind: str) -> None:
    user = session_user()
    upload = st.session_state.get(_uploader_key(kind))
    # The page re-checks the right, and so does the domain: a callback is a second door.
    if user is None or not can(user.role, "manage_roster") or upload is None:
        return
    report = _run(kind, upload.getvalue(), upload.name, dry_run=False)
    st.session_state[_key(kind, "result")] = report
    if report.stored:
        counter = _key(kind, "counter")
        st.session_state[counter] = st.session_state.get(counter, 0) + 1


def error_frame(report: RosterReport) -> pd.DataFrame:
    """The refusal as a table: spreadsheet row (the header is row 1), column, reason."""
    return pd.DataFrame(
        {
            t("importing.row"): [
                e.row if e.row else t("importing.whole_file") for e in report.errors
            ],
            t("importing.column"): [e.column or "–" for e in report.errors],
            t("importing.reason"): [e.reason for e in report.errors],
        }
    ).astype(str)


def _errors(kind: str, report: RosterReport) -> None:
    st.error(
        t("roster.refused", filename=md_escape(report.filename), n=len(report.errors)),
        icon=":material/block:",
    )
    errors = error_frame(report)
    st.dataframe(errors, hide_index=True, width="stretch", height=min(38 + 35 * len(errors), 420))
    st.download_button(
        t("importing.errors_download"),
        data=to_csv_bytes(errors),
        file_name=f"{Path(report.filename).stem}-errors.csv",
        mime="text/csv",
        on_click="ignore",
        key=_key(kind, "errors_download"),
    )


def _counts(report: RosterReport) -> str:
    return t(
        "roster.counts",
        rows=format_number(report.rows),
        new=format_number(len(report.new)),
        changed=format_number(len(report.changed)),
        unchanged=format_number(report.unchanged),
    )


def changed_table(report: RosterReport, key_label: str | None = None) -> None:
    """The preview's changed rows (their key and which fields change), the first
    ``CHANGED_ROWS`` of them; shared by every import that previews changes."""
    if not report.changed:
        return
    shown = report.changed[:CHANGED_ROWS]
    st.dataframe(
        pd.DataFrame(
            {
                key_label or t("roster.key"): [key for key, _ in shown],
                t("roster.changed_fields"): [", ".join(fields) for _, fields in shown],
            }
        ),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 320),
    )
    if len(report.changed) > CHANGED_ROWS:
        st.caption(t("roster.more_changed", n=format_number(len(report.changed) - CHANGED_ROWS)))


def _result(kind: str) -> None:
    report: RosterReport | None = st.session_state.get(_key(kind, "result"))
    if report is None:
        return
    if not report.ok:
        _errors(kind, report)
    elif report.stored:
        st.success(
            t("roster.stored", filename=md_escape(report.filename), counts=_counts(report)),
            icon=":material/check_circle:",
        )
    else:
        st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))


def import_section(kind: str) -> None:
    """The whole section for ``kind`` ("people" or "devices"); only for ``manage_roster``."""
    user = session_user()
    if user is None or not can(user.role, "manage_roster"):
        return
    with st.expander(t(f"roster.title_{kind}"), icon=":material/upload_file:"):
        st.caption(t(f"roster.help_{kind}"))
        st.download_button(
            t("roster.template"),
            data=template_csv(KINDS[kind]),
            file_name=f"anbu-{kind}-template.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            key=_key(kind, "template"),
        )
        upload = st.file_uploader(
            t("importing.file", mb=MAX_UPLOAD_MB),
            type=["csv", "xlsx"],
            max_upload_size=MAX_UPLOAD_MB,
            key=_uploader_key(kind),
        )
        if upload is not None:
            # The dry run reads the file and the database: the preview is what would be stored.
            report = _run(kind, upload.getvalue(), upload.name, dry_run=True)
            if not report.ok:
                _errors(kind, report)
            elif not report.new and not report.changed:
                st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))
            else:
                st.markdown(t("roster.preview", counts=_counts(report)))
                changed_table(report)
                st.button(
                    t("roster.confirm"),
                    type="primary",
                    icon=":material/save:",
                    on_click=_on_confirm,
                    args=(kind,),
                    key=_key(kind, "confirm"),
                )
        _result(kind)
