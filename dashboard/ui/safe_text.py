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
