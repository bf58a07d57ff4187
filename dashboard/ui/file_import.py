"""What the page sections that import a file share (roster, finance, complaints, participation):
the session keys of one section, its uploader, who may use it, and the refusal table.

Each section previews with the domain's own dry run and stores from the confirm button's
``on_click`` with the same uploaded bytes; the domain checks the right again and audits.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import streamlit as st
from streamlit.runtime.uploaded_file_manager import UploadedFile

from dashboard.auth import SessionUser, can
from dashboard.exports import to_csv_bytes
from dashboard.formatting import format_number
from dashboard.i18n import translate_or
from dashboard.ingest.files import RowError
from dashboard.ingest.refusal import Refused
from dashboard.ui.auth import acting_user
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape

MAX_UPLOAD_MB = 20  # 100,000 rows (the importers' limit) of a typical export fit well within
CHANGED_ROWS = 200  # changed rows listed in a preview table


class ImportSlot:
    """The session state of one import section, under keys ``{prefix}_{part}``.

    The uploader's key carries a counter that a stored import raises: the uploader comes back
    empty, so the same file cannot be sent twice by habit.
    """

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def key(self, part: str) -> str:
        return f"{self.prefix}_{part}"

    def uploader_key(self) -> str:
        return self.key(f"file_{st.session_state.get(self.key('counter'), 0)}")

    def uploader(self) -> UploadedFile | None:
        """The CSV/XLSX uploader, bounded to ``MAX_UPLOAD_MB``."""
        return st.file_uploader(
            t("importing.file", mb=MAX_UPLOAD_MB),
            type=["csv", "xlsx"],
            max_upload_size=MAX_UPLOAD_MB,
            key=self.uploader_key(),
        )

    def upload(self) -> UploadedFile | None:
        """The file in the uploader, read from a callback (before the widget renders again)."""
        return st.session_state.get(self.uploader_key())

    def done(self, report: Any) -> None:
        """Keep ``report`` for the next run; after a stored import, empty the uploader."""
        st.session_state[self.key("result")] = report
        if getattr(report, "stored", False):
            counter = self.key("counter")
            st.session_state[counter] = st.session_state.get(counter, 0) + 1

    def result(self) -> Any:
        return st.session_state.get(self.key("result"))

    def opened(self) -> bool:
        """Whether the section's expander starts open: with a file in it or an outcome to
        show. A stored import changes what the page lists above the section, so Streamlit
        draws the expander anew, closed by default, with the success message hidden inside."""
        return self.result() is not None or self.upload() is not None


def permitted(action: str) -> SessionUser | None:
    """The logged-in account as it is now if its role has ``action`` (the page's check; the
    domain's is the second door), else None. Read afresh: the import callbacks run before the
    page's gate, and a disabled account must not import on its way out."""
    user = acting_user()
    return user if user is not None and can(user.role, action) else None


def row_reason(error: RowError) -> str:
    """The problem in the session's language, as plain text for a table cell (the English
    reason when it has no key: the importers' contract text)."""
    if not error.key:
        return error.reason
    return translate_or(f"import_error.{error.key}", error.reason, current_lang(), **error.params)


def refusal_text(exc: Exception) -> str:
    """A reader's refusal for a notice (markdown): translated, every value escaped (a file
    name or a cell may be quoted)."""
    if not isinstance(exc, Refused):
        return md_escape(exc)
    params = {k: md_escape(v) for k, v in exc.params.items()}
    return translate_or(f"import_error.{exc.key}", md_escape(exc), current_lang(), **params)


def error_frame(errors: list[RowError]) -> pd.DataFrame:
    """Problems as a table: spreadsheet row (the header is row 1), column, reason."""
    return pd.DataFrame(
        {
            t("importing.row"): [e.row if e.row else t("importing.whole_file") for e in errors],
            t("importing.column"): [e.column or "–" for e in errors],
            t("importing.reason"): [row_reason(e) for e in errors],
        }
    ).astype(str)


def show_errors(message: str, errors: list[RowError], filename: str, download_key: str) -> None:
    """The refusal: ``message``, every problem in a table, and the table as a (formula-safe)
    CSV to fix the file from."""
    st.error(message, icon=":material/block:")
    frame = error_frame(errors)
    st.dataframe(frame, hide_index=True, width="stretch", height=min(38 + 35 * len(frame), 420))
    st.download_button(
        t("importing.errors_download"),
        data=to_csv_bytes(frame),
        file_name=f"{Path(filename).stem}-errors.csv",
        mime="text/csv",
        on_click="ignore",
        key=download_key,
    )


def changed_table(report: Any, key_label: str | None = None) -> None:
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
