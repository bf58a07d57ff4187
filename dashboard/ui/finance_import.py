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
from dashboard.auth import can
from dashboard.finance import FileReport, import_budget, import_incentives
from dashboard.formatting import format_number
from dashboard.ui.auth import session_user
from dashboard.ui.data import clear_loads, get_engine
from dashboard.ui.i18n import t
from dashboard.ui.importing import MAX_UPLOAD_MB
from dashboard.ui.roster_import import changed_table, error_frame
from dashboard.ui.safe_text import md_escape

IMPORTERS: dict[str, Callable[..., FileReport]] = {
    "budget": import_budget,
    "incentives": import_incentives,
}


def _key(kind: str, part: str) -> str:
    return f"finimport_{kind}_{part}"


def _uploader_key(kind: str) -> str:
    # A new key empties the uploader after a stored import, so it cannot be sent twice by habit.
    return _key(kind, f"file_{st.session_state.get(_key(kind, 'counter'), 0)}")


def may_import() -> bool:
    user = session_user()
    return user is not None and can(user.role, "import_data")


def _on_confirm(kind: str) -> None:
    user = session_user()
    upload = st.session_state.get(_uploader_key(kind))
    # The page re-checks the right, and so does the domain: a callback is a second door.
    if user is None or not can(user.role, "import_data") or upload is None:
        return
    report = IMPORTERS[kind](get_engine(), upload.getvalue(), upload.name, user, clock.now())
    st.session_state[_key(kind, "result")] = report
    if report.stored:
        clear_loads()  # the page's figures come from the cache: show the new rows at once
        counter = _key(kind, "counter")
        st.session_state[counter] = st.session_state.get(counter, 0) + 1


def _counts(report: FileReport) -> str:
    return t(
        "finimport.counts",
        rows=format_number(report.rows),
        new=format_number(len(report.new)),
        changed=format_number(len(report.changed)),
        unchanged=format_number(report.unchanged),
        unit=report.unit or "–",
    )


def _errors(report: FileReport) -> None:
    st.error(
        t("finimport.refused", filename=md_escape(report.filename), n=len(report.errors)),
        icon=":material/block:",
    )
    errors = error_frame(report)
    st.dataframe(errors, hide_index=True, width="stretch", height=min(38 + 35 * len(errors), 420))


def _flags(report: FileReport) -> None:
    if not report.flags:
        return
    st.info(t("finimport.flags", n=len(report.flags)), icon=":material/calculate:")
    st.dataframe(error_frame(FileReport("", "", 0, errors=report.flags)), hide_index=True)


def _result(kind: str) -> None:
    report: FileReport | None = st.session_state.get(_key(kind, "result"))
    if report is None:
        return
    if not report.ok:
        _errors(report)
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
    user = session_user()
    if user is None or not can(user.role, "import_data"):
        return
    with st.expander(t(f"finimport.title_{kind}"), icon=":material/upload_file:"):
        st.caption(t(f"finimport.help_{kind}"))
        upload = st.file_uploader(
            t("importing.file", mb=MAX_UPLOAD_MB),
            type=["csv", "xlsx"],
            max_upload_size=MAX_UPLOAD_MB,
            key=_uploader_key(kind),
        )
        if upload is not None:
            report = IMPORTERS[kind](
                get_engine(), upload.getvalue(), upload.name, user, clock.now(), dry_run=True
            )
            if not report.ok:
                _errors(report)
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
                    key=_key(kind, "confirm"),
                )
        _result(kind)
