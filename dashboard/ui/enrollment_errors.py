"""Refusals of the enrollment domain in the session's language.

``EnrollmentError`` carries an i18n key (``enrollment_error.<key>``) and its parameters; the
English message is the fallback for a refusal without a translation. Parameters come from what
the user typed, so they are escaped for Markdown.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from dashboard.auth.permissions import NotPermitted
from dashboard.enrollment import EnrollmentError, NotFound
from dashboard.formatting import format_date
from dashboard.i18n import translate_or
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape


def _param(name: str, value: Any, lang: str) -> str:
    if name == "status":
        return translate_or(f"device_status.{value}", str(value), lang)
    if isinstance(value, date):
        return format_date(value, lang)
    return md_escape(value)


def error_text(err: Exception) -> str:
    """What to show for a refusal of the enrollment domain (or of the permission check)."""
    lang = current_lang()
    if isinstance(err, EnrollmentError):
        message = str(err).split(": ", 1)[-1]
        if not err.key:
            return md_escape(message)
        params = {k: _param(k, v, lang) for k, v in err.params.items()}
        return translate_or(f"enrollment_error.{err.key}", md_escape(message), lang, **params)
    if isinstance(err, NotFound):
        return t("enrollment_error.not_found")
    if isinstance(err, NotPermitted):
        return t("enrollment_error.not_permitted")
    return md_escape(err)
