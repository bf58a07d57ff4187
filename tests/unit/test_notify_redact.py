"""What the outbox keeps of a gateway's error reply: phone-number-like digit runs masked, the
rest as the gateway wrote it (``dashboard.notify.redact.mask_phones``)."""

from __future__ import annotations

import pytest

from dashboard.notify.redact import mask_phones


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ('{"to": "010-1111-2222"}', '{"to": "***-****-****"}'),  # as the roster stores it
        ("01011112222", "***********"),
        ("010 1111 2222 / 010.1111.2222", "*** **** **** / ***.****.****"),
        ("+821011112222", "+************"),  # E.164
        ("82-10-1111-2222", "**-**-****-****"),
        ("+82 (0)10 1111 2222", "+** (*)** **** ****"),
        ("(010)1111-2222", "(***)****-****"),
        ("02-123-4567 and (02) 1234-5678", "**-***-**** and (**) ****-****"),
        ("031-123-4567, 0311234567", "***-***-****, **********"),
        ("070-1234-5678, 0505-123-4567", "***-****-****, ****-***-****"),
        ("1011112222", "**********"),  # a mobile number that lost its 0 in a spreadsheet
        ("수신번호01011112222오류", "수신번호***********오류"),  # Korean text around it
        ("tel:+1 202 555 0100.", "tel:+* *** *** ****."),  # any international number
    ],
)
def test_phone_numbers_in_any_usual_shape_are_masked(text: str, masked: str) -> None:
    assert mask_phones(text) == masked
    assert mask_phones(masked) == masked  # idempotent: stored text masked again is the same


@pytest.mark.parametrize(
    "text",
    [
        "HTTP 503: Service Unavailable",
        "HTTP 429: retry after 120 s",
        "timeout: ReadTimeout",
        "unreachable: [Errno 111] Connection refused",
        "at 2024-12-01T10:00:00+09:00",
        "requestId=20241201100000123",
        "epoch 1733011200000",
        "alert 12345 v3 attempt 2",
        "id 550e8400-e29b-41d4-a716-446655440000",
        "대표번호 1588-1234",  # a business's number, not a person's
    ],
)
def test_what_is_not_a_phone_number_stays_readable(text: str) -> None:
    assert mask_phones(text) == text
