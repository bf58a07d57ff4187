"""Shared colours and CSS. One stage scale for every chart; red is reserved for 심각."""

from __future__ import annotations

import altair as alt
import streamlit as st

from dashboard.i18n import STATES, state_label

# Calm on a dark wall: muted green for normal, amber and orange for the middle stages, one
# unmistakable red for severe only, grey for devices we cannot hear.
STATE_COLORS = {
    "normal": "#3E9E7C",
    "attention": "#D9B44A",
    "risk": "#E7813A",
    "severe": "#FF3344",
    "offline": "#7D8894",
}
ACCENT = "#5AA9E6"  # neutral series (totals, participants): never a stage colour
MUTED = "#8B98A5"
SERIES = ["#5AA9E6", "#9C8ADE", "#4FC1C6", "#C9A66B", "#A3B86C", "#D38AB8", "#7FA7C9"]
# Places on a chart beside an ACCENT total: the series without the total's blue, then two more
# neutral tones (taupe, pale grey-blue), none of them a stage colour.
SITE_COLORS = [*SERIES[1:], "#B0A18F", "#C9D3DE"]


def stage_scale(lang: str, states: tuple[str, ...] = STATES) -> alt.Scale:
    """Colour scale over translated state labels, in severity order."""
    return alt.Scale(
        domain=[state_label(s, lang) for s in states],
        range=[STATE_COLORS[s] for s in states],
    )


_BASE_CSS = """
<style>
[data-testid="stMetricValue"] { font-variant-numeric: tabular-nums; }
.anbu-banner { padding: .8rem 1rem; border-radius: .4rem; font-weight: 600; margin: .3rem 0 .8rem; }
.anbu-banner.stale { background: #3A2A10; border-left: .4rem solid #D9B44A; color: #F3DFA6; }
.anbu-banner.severe { background: #3A1016; border-left: .4rem solid #FF3344; color: #FFD3D7; }
.anbu-chip { display: inline-block; padding: .05rem .5rem; border-radius: .8rem;
             font-weight: 700; color: #0E1621; }
[data-testid="stElementToolbarButton"]:has(button[aria-label="Download as CSV"]) {
  display: none; }
</style>
"""
# The last rule hides st.dataframe's own "Download as CSV" (Streamlit 1.67 has no option for
# it): it writes cells as they are, so an imported "=HYPERLINK(…)" would run in Excel, and it
# hands files to roles without ``export``. Files go through dashboard.exports (leads' CSV and
# Excel buttons); tests/e2e checks the button stays hidden.

# The projector's root font size (html, below) against Streamlit's 16 px: table rows and headers
# grow by this much, so a table's height in px must too (components.table_height).
PROJECTOR_SCALE = 20 / 16

# Tables (st.dataframe) draw on a canvas whose font Streamlit sizes in rem from the root font
# size when the table renders: a larger root is the one way to enlarge every table, the alert
# queue's included (widgets grow with it). The sizes set here are in px so the root does not
# scale them again. The alert detail's facts wrap rather than end in "…".
_PROJECTOR_CSS = """
<style>
html { font-size: 20px; }
[data-testid="stMain"] { font-size: 22px; }
[data-testid="stMetricValue"], [data-testid="stMetricValue"] * {
  font-size: 61px !important; line-height: 1.15 !important; }
[data-testid="stMetricLabel"], [data-testid="stMetricLabel"] * {
  font-size: 22px !important; line-height: 1.3 !important; height: auto !important; }
[data-testid="stMain"] h1 { font-size: 51px !important; }
[data-testid="stMain"] h2 { font-size: 37px !important; }
[data-testid="stMain"] h3 { font-size: 30px !important; }
[data-testid="stCaptionContainer"] p { font-size: 18px !important; }
[data-testid^="stAlertContent"] p { font-size: 23px !important; line-height: 1.4 !important; }
.st-key-alert_facts [data-testid="stMetricValue"] [data-testid="stMarkdownContainer"],
.st-key-alert_facts [data-testid="stMetricValue"] p {
  white-space: normal !important; overflow: visible !important; overflow-wrap: anywhere; }
</style>
"""


def apply_css(projector: bool) -> None:
    st.html(_BASE_CSS + (_PROJECTOR_CSS if projector else ""))


def chip(state: str, lang: str) -> str:
    """A coloured stage label for markdown/HTML (text is ours, not user input)."""
    return (
        f'<span class="anbu-chip" style="background:{STATE_COLORS[state]}">'
        f"{state_label(state, lang)}</span>"
    )
