"""Import page parts: vendor choice, upload preview, the import callback and its report.

The write happens in the button's ``on_click`` (never while rendering) through
``dashboard.ingest.imports.import_and_audit``: one transaction, all rows or none, audited.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.auth import can_open
from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_number
from dashboard.ingest.apikeys import check_vendor
from dashboard.ingest.files import ImportReport, read_head
from dashboard.ingest.imports import import_and_audit
from dashboard.ui.auth import acting_user
from dashboard.ui.data import get_engine
from dashboard.ui.file_import import MAX_UPLOAD_MB as MAX_UPLOAD_MB  # the events page
from dashboard.ui.file_import import error_frame as _error_rows
from dashboard.ui.i18n import t
from dashboard.ui.safe_text import md_escape

PREVIEW_ROWS = 10
VENDOR_KEY = "import_vendor"
_UPLOAD_COUNTER = "import_upload_counter"
_RESULT_KEY = "import_result"  # (vendor, ImportReport) of the last import in this session
EXAMPLE_CSV = """event_id,device_id,ts,type,watts,lux,battery_pct
p-000123,PLUG-0042,2024-12-01T09:00:00+09:00,power,61.5,,
p-000124,PLUG-0042,2024-12-01T09:00:00+09:00,lux,,310,
p-000125,PLUG-0042,2024-12-01T09:05:00+09:00,heartbeat,,,88
"""


def uploader_key() -> str:
    # A new key empties the uploader after a stored import, so it cannot be sent twice by habit.
    return f"import_file_{st.session_state.get(_UPLOAD_COUNTER, 0)}"


def vendor_error(vendor: str | None) -> str | None:
    """Why ``vendor`` cannot be used, or None (free text is checked like API-key vendors)."""
    if not vendor:
        return None
    try:
        check_vendor(vendor)
    except ValueError:
        return t("importing.vendor_invalid", vendor=md_escape(vendor))
    return None


def vendor_labels(vendors: pd.DataFrame) -> dict[str, str]:
    return {
        r["vendor"]: t(
            "importing.vendor_option",
            vendor=r["vendor"],
            devices=format_number(r["devices"]),
            api=t("importing.vendor_key") if r["api_key"] else "",
        )
        for r in vendors.to_dict("records")
    }


def preview(data: bytes, filename: str, rows: int = PREVIEW_ROWS) -> pd.DataFrame:
    """The first rows as text, read by the importer's own bounded reader (so a file it refuses,
    such as a zip bomb or an oversized sheet, is refused here too, before any big parse)."""
    header, cells = read_head(data, filename, rows)
    width = len(header)
    return pd.DataFrame(
        [[_cell_text(c) for c in (row + [None] * width)[:width]] for row in cells],
        columns=_unique(header),  # a repeated column is an import error, not a preview crash
        dtype=str,
    )


def _cell_text(value: object) -> str:
    return "" if value is None else str(value)


def _unique(names: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    unique = []
    for name in names:
        seen[name] = seen.get(name, -1) + 1
        unique.append(f"{name}.{seen[name]}" if seen[name] else name)
    return unique


def format_help() -> None:
    with st.expander(t("importing.format_title"), icon=":material/help:"):
        st.code(EXAMPLE_CSV, language="csv")
        st.caption(t("importing.format_note"))


def _on_import() -> None:
    user = acting_user()  # the account as it is now: the callback runs before the gate
    upload = st.session_state.get(uploader_key())
    vendor = st.session_state.get(VENDOR_KEY)
    # The page re-checks the role, and so does the write: a callback is a second door.
    if user is None or not can_open(user.role, "import"):
        return
    if upload is None or not vendor or vendor_error(vendor):
        return
    report = import_and_audit(
        get_engine(), upload.getvalue(), upload.name, vendor, user, clock.now()
    )
    st.session_state[_RESULT_KEY] = (vendor, report)
    if report.ok:
        st.session_state[_UPLOAD_COUNTER] = st.session_state.get(_UPLOAD_COUNTER, 0) + 1


def import_button(ready: bool) -> None:
    st.button(
        t("importing.button"),
        type="primary",
        icon=":material/upload:",
        disabled=not ready,
        on_click=_on_import,
        key="import_run",
    )


def error_frame(report: ImportReport) -> pd.DataFrame:
    """The refusal as a table: spreadsheet row (the header is row 1), column, reason."""
    return _error_rows(report.errors)


def last_result() -> None:
    """The outcome of this session's last import: counts, or every problem and "nothing stored"."""
    result = st.session_state.get(_RESULT_KEY)
    if result is None:
        return
    vendor, report = result
    if report.ok:
        st.success(
            t(
                "importing.success",
                filename=md_escape(report.filename),
                vendor=md_escape(vendor),
                rows=format_number(report.rows),
                accepted=format_number(report.accepted),
                duplicates=format_number(report.duplicates),
            ),
            icon=":material/check_circle:",
        )
        return
    st.error(
        t(
            "importing.refused",
            filename=md_escape(report.filename),
            vendor=md_escape(vendor),
            n=len(report.errors),
        ),
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
        key="import_errors_download",
    )
