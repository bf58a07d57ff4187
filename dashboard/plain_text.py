"""Whether staff free text can be stored as it is: no control codes.

PostgreSQL text refuses NUL outright (the write would fail mid-transaction), and other C0
controls, DEL and unpaired surrogates in a name or a note are a damaged paste, never meant.
Tabs and line breaks are text.
"""

from __future__ import annotations

import re

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


def has_control_codes(text: str) -> bool:
    """True when ``text`` holds a character the database or a reader should not get."""
    return _CONTROL.search(text) is not None


def visible(text: str) -> str:
    """``text`` with each control code replaced by U+FFFD: storable, and still telling apart
    what was typed (a login name is audited as typed, and never matches an account)."""
    return _CONTROL.sub("\ufffd", text)
