"""명단 가져오기 on the people and devices pages: template, upload, dry-run preview, confirm.

The preview is the domain's own dry run (``dashboard.registry``): the same checks as the real
import, nothing stored. The confirm button's ``on_click`` imports for real (all or nothing,
audited by the domain, which checks ``manage_roster`` itself) from the same uploaded bytes.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.formatting import format_number
from dashboard.registry import KINDS, RosterReport, import_roster, template_csv
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.duplicates import key_names
from dashboard.ui.file_import import ImportSlot, changed_table, permitted, show_errors
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape

ACTION = "manage_roster"
DUPLICATES_SHOWN = 200  # warning rows listed; more says how many


def _slot(kind: str) -> ImportSlot:
    return ImportSlot(f"roster_{kind}")


def _run(kind: str, data: bytes, filename: str, dry_run: bool) -> RosterReport:
    user = permitted(ACTION)
    assert user is not None  # callers checked
    return import_roster(
        get_engine(), KINDS[kind], data, filename, user, clock.now(), dry_run=dry_run
    )


def _on_confirm(kind: str) -> None:
    slot = _slot(kind)
    upload = slot.upload()
    # The page re-checks the right, and so does the domain: a callback is a second door.
    if permitted(ACTION) is None or upload is None:
        return
    report = _run(kind, upload.getvalue(), upload.name, dry_run=False)
    if report.stored:
        clear_loads()  # the lists (their dongs, the 동일인 의심 pairs) show the new rows at once
    slot.done(report)


def _errors(kind: str, report: RosterReport) -> None:
    show_errors(
        t("roster.refused", filename=md_escape(report.filename), n=len(report.errors)),
        report.errors,
        report.filename,
        _slot(kind).key("errors_download"),
    )


def _counts(report: RosterReport) -> str:
    return t(
        "roster.counts",
        rows=format_number(report.rows),
        new=format_number(len(report.new)),
        changed=format_number(len(report.changed)),
        unchanged=format_number(report.unchanged),
    )


def _no_zone(report: RosterReport) -> None:
    """Wanderers the file leaves without a zone: stored all the same, but watched by nothing."""
    if report.no_zone:
        refs = ", ".join(report.no_zone[:5]) + (", …" if len(report.no_zone) > 5 else "")
        st.warning(
            t("roster.no_zone", n=format_number(len(report.no_zone)), refs=md_escape(refs)),
            icon=":material/fence:",
        )


def _duplicates(report: RosterReport) -> None:
    """Rows that may be a person enrolled under another 대상자번호: imported all the same
    (staff may know better), named with the other 대상자번호 and the keys that matched."""
    if not report.duplicates:
        return
    st.warning(
        t("roster.duplicates", n=format_number(report.duplicate_rows)), icon=":material/group:"
    )
    shown = report.duplicates[:DUPLICATES_SHOWN]
    st.dataframe(
        pd.DataFrame(
            {
                t("importing.row"): [w.row for w in shown],
                t("card.ref"): [w.ref for w in shown],
                t("roster.duplicate_other"): [
                    w.other_ref
                    if w.other_row is None
                    else t("roster.duplicate_other_row", ref=w.other_ref, row=w.other_row)
                    for w in shown
                ],
                t("duplicate.col_keys"): [key_names(w.keys) for w in shown],
            }
        ),
        hide_index=True,
        width="stretch",
        height=min(38 + 35 * len(shown), 320),
    )
    if len(report.duplicates) > DUPLICATES_SHOWN:
        st.caption(
            t("roster.duplicates_more", n=format_number(len(report.duplicates) - DUPLICATES_SHOWN))
        )


def _result(kind: str) -> None:
    report: RosterReport | None = _slot(kind).result()
    if report is None:
        return
    if not report.ok:
        _errors(kind, report)
    elif report.stored:
        st.success(
            t("roster.stored", filename=md_escape(report.filename), counts=_counts(report)),
            icon=":material/check_circle:",
        )
        _no_zone(report)
        _duplicates(report)
    else:
        st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))
        _duplicates(report)


def import_section(kind: str) -> None:
    """The whole section for ``kind`` ("people" or "devices"); only for ``manage_roster``."""
    if permitted(ACTION) is None:
        return
    slot = _slot(kind)
    with st.expander(
        t(f"roster.title_{kind}"), expanded=slot.opened(), icon=":material/upload_file:"
    ):
        st.caption(t(f"roster.help_{kind}"))
        st.download_button(
            t("roster.template"),
            data=template_csv(KINDS[kind]),
            file_name=f"anbu-{kind}-template.csv",
            mime="text/csv",
            icon=":material/download:",
            on_click="ignore",
            key=slot.key("template"),
        )
        upload = slot.uploader()
        if upload is not None:
            # The dry run reads the file and the database: the preview is what would be stored.
            report = _run(kind, upload.getvalue(), upload.name, dry_run=True)
            if not report.ok:
                _errors(kind, report)
            elif not report.new and not report.changed:
                st.info(t("roster.nothing_to_change", filename=md_escape(report.filename)))
                _duplicates(report)
            else:
                st.markdown(t("roster.preview", counts=_counts(report)))
                _no_zone(report)
                _duplicates(report)
                changed_table(report)
                st.button(
                    t("roster.confirm"),
                    type="primary",
                    icon=":material/save:",
                    on_click=_on_confirm,
                    args=(kind,),
                    key=slot.key("confirm"),
                )
        _result(kind)
