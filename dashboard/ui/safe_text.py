"""User and vendor text shown as text: escaped for Streamlit markdown and for HTML.

Streamlit renders markdown in nearly every text element (markdown, caption, write, info, error,
toast, button/tab/expander/metric labels): a display name such as
``[Session expired](http://x) ![](http://x/px)`` would become a link and load an outside image.
Every user- or vendor-supplied string that meets markdown goes through ``md_escape``; text in
``unsafe_allow_html`` blocks and folium popups goes through ``html_escape``. Data tables
(``st.dataframe``) and widget values are not markdown and need neither.
"""

from __future__ import annotations

import html
import re
import string
import unicodedata

# CommonMark lets a backslash escape any ASCII punctuation, so escaping all of it covers links,
# images, emphasis, code, headings, lists, tables, HTML, and Streamlit's own additions
# ($ LaTeX, :material/icon: and :red[colour] directives, ~strikethrough~).
_MARKDOWN_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")


def md_escape(value: object) -> str:
    """``value`` as text that Streamlit markdown renders literally."""
    return _MARKDOWN_PUNCTUATION.sub(r"\\\1", str(value))


def html_escape(value: object) -> str:
    """``value`` safe inside HTML (also inside a JS template literal, as folium builds popups)."""
    return html.escape(str(value), quote=True).replace("$", "&#36;").replace("`", "&#96;")


LINK_VALUE_CHARS = 80  # a value quoted from a link is cut here (a pasted 10,000-character value)


def shown_link_value(value: object) -> str:
    """A value from the URL as a warning quotes it: an invisible or direction-changing character
    written as its code point (a right-to-left override would turn the rest of the sentence
    around), cut to ``LINK_VALUE_CHARS`` characters, and escaped for markdown."""
    text = "".join(
        f"\\u{ord(c):04x}" if unicodedata.category(c) in ("Cc", "Cf") else c for c in str(value)
    )
    if len(text) > LINK_VALUE_CHARS:
        text = text[:LINK_VALUE_CHARS] + "…"
    return md_escape(text)
