"""Phone numbers out of what the outbox keeps of a gateway's answer.

Guardian phones are looked up at delivery and never stored (``outbox._resolve_to``), but an
SMS gateway's error reply may repeat the number it was given ("invalid recipient
010-1234-5678"). Every error the outbox stores in ``last_error`` (and logs) goes through
:func:`mask_phones` first: the digits of anything shaped like a phone number become ``*``, the
rest of the reply stays readable for whoever fixes the gateway.
"""

from __future__ import annotations

import re

_SEP = r"[ .\-]?"
_PHONE = re.compile(
    r"(?<![\d+])(?:"
    # Korean, as stored (010-1234-5678, 02-123-4567), bare (01012345678), with +82 or 82 (the
    # trunk 0 dropped, kept or as "(0)"), or with the area code in parentheses.
    rf"(?:\+?82{_SEP}(?:\(0\){_SEP})?0?|\(?0)"
    r"(?:1[016789]|2|[3-6][1-5]|70|50[2-8]|80)\)?"
    rf"{_SEP}\d{{3,4}}{_SEP}\d{{4}}"
    # a mobile number that lost its leading 0 (a spreadsheet number): 1012345678
    r"|1[016789]\d{7,8}"
    # any other international number: +1 202 555 0100
    rf"|\+\d(?:{_SEP}\d){{7,14}}"
    r")(?!\d)"
)


def mask_phones(text: str) -> str:
    """``text`` with each digit of a phone-number-like run replaced by ``*`` (separators kept,
    so "010-****-****" still reads as a number). Idempotent: a masked run has no digits."""
    return _PHONE.sub(lambda m: re.sub(r"\d", "*", m.group()), text)
