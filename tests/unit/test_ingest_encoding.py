"""Bodies are UTF-8: ``json.loads(bytes)`` guessed UTF-16 and UTF-32 (from a byte order mark or
the zero bytes) and accepted them, although docs/ingest-api.md promises UTF-8. The envelope is
now decoded strictly, for HTTP and MQTT alike (both go through ``decode_batch``)."""

from __future__ import annotations

import codecs
import json

import pytest

from dashboard.ingest.payload import PayloadError, decode_batch

TEXT = json.dumps({"events": [{"note": "무릎 통증", "event_id": "e1"}]}, ensure_ascii=False)
# The same JSON in every encoding json.loads would have guessed: (name, bytes, guess named).
FOREIGN = [
    ("utf-16-le", TEXT.encode("utf-16-le"), "UTF-16-LE"),
    ("utf-16-be", TEXT.encode("utf-16-be"), "UTF-16-BE"),
    ("utf-16-le+bom", codecs.BOM_UTF16_LE + TEXT.encode("utf-16-le"), "UTF-16"),
    ("utf-16-be+bom", codecs.BOM_UTF16_BE + TEXT.encode("utf-16-be"), "UTF-16"),
    ("utf-32-le", TEXT.encode("utf-32-le"), "UTF-32-LE"),
    ("utf-32-be", TEXT.encode("utf-32-be"), "UTF-32-BE"),
    ("utf-32-le+bom", codecs.BOM_UTF32_LE + TEXT.encode("utf-32-le"), "UTF-32"),
    ("utf-32-be+bom", codecs.BOM_UTF32_BE + TEXT.encode("utf-32-be"), "UTF-32"),
]
# Not UTF-8 at all, or bytes UTF-8 forbids (json.loads decoded with surrogatepass).
INVALID = [
    ("truncated", b'{"events": ["\xc3\x28"]}', "invalid continuation byte (0xc3) at byte 13"),
    ("CP949 Korean", '{"events": ["무릎"]}'.encode("cp949"), "(0xb9) at byte 13"),
    ("Latin-1", '{"events": ["é"]}'.encode("latin-1"), "(0xe9) at byte 13"),
    ("encoded surrogate", b'{"events": ["\xed\xa0\x80"]}', "(0xed) at byte 13"),
    ("overlong slash", b'{"events": ["\xc0\xaf"]}', "invalid start byte (0xc0) at byte 13"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "body", "guess"), FOREIGN, ids=[f[0] for f in FOREIGN])
def test_utf16_and_utf32_bodies_are_refused_naming_the_encoding(name, body, guess) -> None:
    assert json.loads(body)["events"]  # what the old decode_batch accepted
    with pytest.raises(PayloadError) as refused:
        decode_batch(body)
    message = str(refused.value)
    assert message.startswith("body is not UTF-8 JSON: ")
    assert f"it looks like {guess};" in message and "encoded as UTF-8" in message
    assert not refused.value.too_large  # a 422, not a 413


@pytest.mark.parametrize(("name", "body", "where"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_utf8_is_refused_saying_where(name, body, where) -> None:
    with pytest.raises(PayloadError, match=r"^body is not UTF-8 JSON: ") as refused:
        decode_batch(body)
    assert where in str(refused.value)


def test_utf8_with_korean_text_is_accepted_with_or_without_a_byte_order_mark() -> None:
    """A UTF-8 BOM was ignored before (json.loads read it as utf-8-sig) and still is: RFC 8259
    lets a parser ignore it, and some Windows tools write one."""
    expected = [{"note": "무릎 통증", "event_id": "e1"}]
    assert decode_batch(TEXT.encode("utf-8")) == expected
    assert decode_batch(codecs.BOM_UTF8 + TEXT.encode("utf-8")) == expected
    escaped = json.dumps(json.loads(TEXT)).encode("ascii")  # \uXXXX escapes: plain ASCII
    assert decode_batch(escaped) == expected


def test_only_one_leading_bom_is_ignored_and_valid_utf8_is_still_judged_as_json() -> None:
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_batch(codecs.BOM_UTF8 * 2 + TEXT.encode())
    with pytest.raises(PayloadError, match="not valid JSON"):  # NUL is UTF-8, never JSON
        decode_batch(b'{"events": []}\x00')
    with pytest.raises(PayloadError, match="not valid JSON"):
        decode_batch(b"")


CSV = "event_id,device_id,ts,type,note\ne1,aicall-1,2024-12-01T09:00:00+09:00,sos,무릎\n"


@pytest.mark.parametrize(
    "encoding", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"]
)
def test_the_file_importer_refuses_utf16_and_utf32_too(encoding) -> None:
    """The CSV path decodes on its own (UTF-8 with or without BOM, else CP949, as Korean Excel
    saves) and already refused these: with a BOM as neither UTF-8 nor CP949, without one by its
    NUL characters. Kept so, and pinned here beside the API's rule."""
    from dashboard.ingest.files import Refused, read_head

    for body in (CSV.encode(encoding), codecs.BOM_UTF16_BE + CSV.encode("utf-16-be")):
        with pytest.raises(Refused, match=r"save (it|the file again) as CSV UTF-8"):
            read_head(body, "events.csv", 5)
    header, rows = read_head(codecs.BOM_UTF8 + CSV.encode("utf-8"), "events.csv", 5)
    assert header[-1] == "note" and rows[0][-1] == "무릎"


@pytest.mark.parametrize("inner", ["[1, 2]", '{"a": 1, "b": "x"}', "[]"])
def test_the_depth_limit_counts_a_container_of_scalars_too(inner) -> None:
    """The depth walk skips the children of containers holding only scalars, not the
    containers themselves: 32 levels pass, the 33rd is refused with its path."""

    def body(levels: int) -> bytes:
        # {"events": [ {"f": [[…inner…]]} ]}: the envelope, the list, the event, then lists
        nested = inner
        for _ in range(levels - 4):
            nested = f"[{nested}]"
        return f'{{"events": [{{"f": {nested}}}]}}'.encode()

    assert len(decode_batch(body(32))) == 1
    with pytest.raises(
        PayloadError, match=r"nested more than 32 levels deep \(at events\[0\]\.f\)"
    ):
        decode_batch(body(33))
