"""User and vendor text stays text: markdown and HTML escaping."""

from __future__ import annotations

import html

import pytest
from markdown_it import MarkdownIt

from dashboard.ui.safe_text import LINK_VALUE_CHARS, html_escape, md_escape, shown_link_value

# CommonMark plus tables and strikethrough, as Streamlit's markdown renders it.
MARKDOWN = MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"])
HOSTILE = [
    "[Session expired](http://x) ![](http://x/px)",
    "<img src=x onerror=alert(1)>",
    "<http://x>",
    "김*수 _under_ **bold** `code` ~~gone~~",
    "# heading\n- item\n1. item\n> quote\n---",
    "| a | b |\n|---|---|\n| c | d |",
    "[link][ref]\n\n[ref]: http://x",
    "&lt;b&gt; &amp; $x^2$ :material/home: :red[alarm]",
    "a\\[b](http://x)",  # a backslash before the bracket must not undo the escape
]


def _inline_text(html: str) -> str:
    """The rendered HTML with its single paragraph wrapper removed."""
    return html.removeprefix("<p>").removesuffix("</p>\n")


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_markdown_renders_as_the_literal_text(text: str) -> None:
    rendered = MARKDOWN.render(md_escape(text))
    for tag in ("<a ", "<img", "<em>", "<strong>", "<code>", "<h1>", "<ul>", "<ol>", "<table"):
        assert tag not in rendered, (text, rendered)
    assert "<blockquote>" not in rendered and "<hr" not in rendered and "<s>" not in rendered
    if "\n" not in text:  # every character comes back as text
        assert html.unescape(_inline_text(rendered)) == text


def test_the_session_expired_display_name() -> None:
    escaped = md_escape("[Session expired](http://x) ![](http://x/px)")
    assert escaped == r"\[Session expired\]\(http\:\/\/x\) \!\[\]\(http\:\/\/x\/px\)"
    assert MARKDOWN.render(escaped) == "<p>[Session expired](http://x) ![](http://x/px)</p>\n"


def test_plain_text_and_korean_are_untouched() -> None:
    assert md_escape("김민수 관리자") == "김민수 관리자"
    assert md_escape(12) == "12"


def test_html_escape_covers_tags_attributes_and_js_templates() -> None:
    out = html_escape('<img src=x onerror="alert(1)">${alert(2)}`x`\'')
    assert out == ("&lt;img src=x onerror=&quot;alert(1)&quot;&gt;&#36;{alert(2)}&#96;x&#96;&#x27;")


def test_a_link_value_is_cut_shown_without_invisible_characters_and_escaped() -> None:
    assert shown_link_value("x" * 10_000) == "x" * LINK_VALUE_CHARS + "…"
    assert shown_link_value("\u202eab\u200bc\n") == "\\\\u202eab\\\\u200bc\\\\u000a"
    assert shown_link_value("<b>'1'</b>") == md_escape("<b>'1'</b>")
    assert shown_link_value("고양시 \u05d0") == "고양시 \u05d0"  # letters of any script stay


def test_the_bad_link_messages_state_the_formats_the_code_accepts():
    """The people and devices pages' bad-link messages quote the length limits of the patterns
    they check links with (registry.columns)."""
    from dashboard.i18n import translate
    from dashboard.registry.columns import REF_PATTERN, UID_PATTERN

    def longest(pattern) -> int:
        return 1 + int(pattern.pattern.rsplit(",", 1)[1].rstrip("}"))

    for lang in ("ko", "en"):
        assert str(longest(REF_PATTERN)) in translate("people.bad_link", lang, value="x")
        assert str(longest(UID_PATTERN)) in translate("devices.bad_link", lang, value="x")
