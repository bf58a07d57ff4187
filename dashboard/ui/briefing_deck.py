"""The 브리핑 deck on the page: one slide at a time, buttons and keys to move, downloads.

Streamlit has no key events, so a small script (``st.html`` with JavaScript, our own text
only) listens on the document and clicks the slide buttons: ← → as arrows, Page Up/Down as a
presenter's clicker sends them, Home/End for the first and last slide. Typing in a field is
left alone.
"""

from __future__ import annotations

import json

import pydeck as pdk
import streamlit as st

from dashboard.briefing import charts
from dashboard.briefing.slides import DongMap, Slide
from dashboard.formatting import format_number
from dashboard.ui.i18n import projector_on, t
from dashboard.ui.safe_text import html_escape

SLIDE_KEY = "deck_slide"
BUTTONS = {"first": "deck_first", "prev": "deck_prev", "next": "deck_next", "last": "deck_last"}
ICONS = {
    "first": ":material/first_page:",
    "prev": ":material/chevron_left:",
    "next": ":material/chevron_right:",
    "last": ":material/last_page:",
}
KEYS = {
    "ArrowRight": "deck_next",
    "PageDown": "deck_next",
    "ArrowLeft": "deck_prev",
    "PageUp": "deck_prev",
    "Home": "deck_first",
    "End": "deck_last",
}
_KEY_SCRIPT = """
<script>
(function () {
  const doc = (window.parent && window.parent.document) || document;
  if (doc.__anbuDeckKeys) { return; }
  doc.__anbuDeckKeys = true;
  const keys = %KEYS%;
  doc.addEventListener("keydown", function (e) {
    const el = e.target;
    if (el && (el.tagName === "INPUT" || el.tagName === "TEXTAREA" || el.isContentEditable)) {
      return;
    }
    const name = keys[e.key];
    if (!name || e.altKey || e.ctrlKey || e.metaKey) { return; }
    const button = doc.querySelector(".st-key-" + name + " button");
    if (!button || button.disabled) { return; }
    e.preventDefault();
    button.click();
  });
})();
</script>
"""
# Projector: the slide's own text large enough for the back of a council room.
DECK_CSS = """
<style>
.anbu-slide-title { font-size: 2.1rem; font-weight: 800; margin: .2rem 0 .2rem; }
.anbu-slide-message { font-size: 1.35rem; color: #C9D3DD; margin-bottom: .6rem; }
.anbu-slide-bullets { font-size: 1.2rem; line-height: 1.5; }
.anbu-slide-footer { font-size: 1rem; color: #AEB9C5; margin-top: .6rem; }
</style>
"""
# In px: projector mode enlarges the root font size (dashboard/ui/theme.py) for the tables.
PROJECTOR_DECK_CSS = """
<style>
.anbu-slide-title { font-size: 51px !important; }
.anbu-slide-message { font-size: 34px !important; }
.anbu-slide-bullets { font-size: 27px !important; }
.anbu-slide-footer { font-size: 22px !important; }
</style>
"""


def _go(n: int, to: str) -> None:
    i = st.session_state.get(SLIDE_KEY, 0)
    st.session_state[SLIDE_KEY] = {
        "first": 0,
        "prev": max(0, i - 1),
        "next": min(n - 1, i + 1),
        "last": n - 1,
    }[to]


def navigation(n: int) -> int:
    """Buttons and the key listener; returns the index of the slide to show."""
    i = min(max(0, int(st.session_state.get(SLIDE_KEY, 0))), n - 1)
    st.session_state[SLIDE_KEY] = i
    cols = st.columns([1, 1, 3, 1, 1], vertical_alignment="center")
    for col, (name, key) in zip((cols[0], cols[1], cols[3], cols[4]), BUTTONS.items(), strict=True):
        at_edge = (name in ("first", "prev") and i == 0) or (
            name in ("next", "last") and i == n - 1
        )
        col.button(
            t(f"deck.{name}"),
            icon=ICONS[name],
            key=key,
            on_click=_go,
            args=(n, name),
            disabled=at_edge,
            width="stretch",
        )
    cols[2].markdown(
        f"<div style='text-align:center' data-testid='deck-position'>"
        f"{html_escape(t('deck.position', i=i + 1, n=n))}</div>",
        unsafe_allow_html=True,
    )
    st.html(_KEY_SCRIPT.replace("%KEYS%", json.dumps(KEYS)), unsafe_allow_javascript=True)
    return i


def _deck_of(m: DongMap) -> pdk.Deck:
    """Dongs coloured by people enrolled and raised by alerts, offline (no base map)."""
    top = max([d.people or 0 for d in m.dongs] + [1])
    features = []
    for d in m.dongs:
        share = (d.people or 0) / top
        colour = [int(0 + 255 * share), int(32 + 200 * share), int(77 + 0 * share), 210]
        features.append(
            {
                "type": "Feature",
                "geometry": d.geometry,
                "properties": {
                    "name": d.name,
                    "people_text": m.hidden_label if d.people is None else format_number(d.people),
                    "alerts_text": m.hidden_label if d.alerts is None else format_number(d.alerts),
                    "height": d.alerts or 0,
                    "color": [60, 70, 82, 160] if d.people is None else colour,
                },
            }
        )
    lons = [c[0] for f in features for c in _ring(f["geometry"])]
    lats = [c[1] for f in features for c in _ring(f["geometry"])]
    tip = ["{name}", f"{m.people_title}: {{people_text}}", f"{m.alerts_title}: {{alerts_text}}"]
    layer = pdk.Layer(
        "GeoJsonLayer",
        {"type": "FeatureCollection", "features": features},
        filled=True,
        stroked=True,
        extruded=True,
        get_elevation="properties.height",
        elevation_scale=40,
        get_fill_color="properties.color",
        get_line_color=[200, 210, 220, 200],
        line_width_min_pixels=1,
        pickable=True,
    )
    return pdk.Deck(
        layers=[layer],
        initial_view_state=pdk.ViewState(
            latitude=(min(lats) + max(lats)) / 2,
            longitude=(min(lons) + max(lons)) / 2,
            zoom=10.3,
            pitch=35,
        ),
        map_provider=None,  # offline: no tiles, no outside request
        tooltip={"text": "\n".join(tip)},
    )


def _ring(geometry: dict) -> list:
    if geometry["type"] == "Polygon":
        return geometry["coordinates"][0]
    return [c for poly in geometry["coordinates"] for c in poly[0]]


def show_slide(slide: Slide) -> None:
    st.html(DECK_CSS + (PROJECTOR_DECK_CSS if projector_on() else ""))
    st.html(
        f"<div class='anbu-slide-title'>{html_escape(slide.title)}</div>"
        f"<div class='anbu-slide-message'>{html_escape(slide.message)}</div>"
    )
    if slide.figures:
        for col, fig in zip(st.columns(len(slide.figures)), slide.figures, strict=True):
            col.metric(fig.label, fig.value)
    if slide.map is not None:
        st.pydeck_chart(_deck_of(slide.map), height=520 if projector_on() else 440)
    if slide.chart is not None and slide.bullets:
        left, right = st.columns([3, 2], gap="large")
    else:
        left = right = st.container()
    if slide.chart is not None:
        rows = len(slide.chart.rows) if slide.chart.kind == "hbar" else 8
        height = max(260, 44 * rows)
        # The browser's own sans-serif has Hangul; the bundled TTF is for the exported images.
        chart = charts.chart_of(slide.chart, 600, height, font="sans-serif")
        left.altair_chart(chart, width="stretch", height=height + 110)
    if slide.bullets:
        right.html(
            "<ul class='anbu-slide-bullets'>"
            + "".join(f"<li>{html_escape(b)}</li>" for b in slide.bullets)
            + "</ul>"
        )
    st.html(
        f"<div class='anbu-slide-footer'>{html_escape(t('deck.source_label'))}: "
        f"{html_escape(slide.source)} · {html_escape(slide.as_of)}</div>"
    )


__all__ = ["navigation", "show_slide"]
