"""기기 데이터 가져오기: a lead or admin imports a vendor's CSV/Excel export, all or nothing."""

import streamlit as st

from dashboard.ui.auth import require_page
from dashboard.ui.components import page_header
from dashboard.ui.data import load
from dashboard.ui.file_import import refusal_text
from dashboard.ui.i18n import t
from dashboard.ui.importing import (
    MAX_UPLOAD_MB,
    PREVIEW_ROWS,
    VENDOR_KEY,
    format_help,
    import_button,
    last_result,
    preview,
    uploader_key,
    vendor_error,
    vendor_labels,
)
from dashboard.ui.safe_text import md_escape
from queries.vendors import import_vendors

require_page("import")  # writes events: re-check the role, not just the menu
page_header("page.import", "importing.caption")

vendors = load(import_vendors)
labels = vendor_labels(vendors)
left, right = st.columns([1, 2], gap="large")
with left:
    vendor = st.selectbox(
        t("importing.vendor"),
        options=list(vendors["vendor"]),
        format_func=lambda v: labels.get(v, v),
        index=None,
        accept_new_options=True,  # a vendor without API key or devices yet: typed, then checked
        placeholder=t("importing.vendor_placeholder"),
        help=t("importing.vendor_help"),
        key=VENDOR_KEY,
    )
    problem = vendor_error(vendor)
    if problem:
        st.error(problem)
    elif vendor and vendor not in labels:
        st.warning(t("importing.vendor_unknown", vendor=md_escape(vendor)))
with right:
    upload = st.file_uploader(
        t("importing.file", mb=MAX_UPLOAD_MB),
        type=["csv", "xlsx"],
        max_upload_size=MAX_UPLOAD_MB,
        help=t("importing.file_help"),
        key=uploader_key(),
    )
format_help()

if upload is not None:
    st.subheader(t("importing.preview", n=PREVIEW_ROWS))
    try:
        st.dataframe(preview(upload.getvalue(), upload.name), hide_index=True, width="stretch")
    except ValueError as exc:  # refused by the importer's reader: say why (it may quote cells)
        st.warning(t("importing.preview_failed", reason=refusal_text(exc)))
    except Exception as exc:  # any other unreadable file: the import reports it exactly
        st.warning(t("importing.preview_failed", reason=exc.__class__.__name__))

import_button(ready=upload is not None and bool(vendor) and problem is None)
last_result()
st.caption(t("importing.audited"))
