"""브리핑: the council briefing as a deck of slides from live data, one message each, with
PDF and PowerPoint downloads of the same slides. Aggregates only: no names, phones, addresses
or home positions are read (dashboard.briefing.slides; dong counts under 5 are suppressed)."""

import streamlit as st

from dashboard.briefing import export
from dashboard.briefing.period import DEFAULT_PERIOD, PeriodError, parse_period
from dashboard.briefing.slides import live_deck
from dashboard.ui.briefing_deck import navigation, show_slide
from dashboard.ui.components import page_header
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t

if not projector_on():
    page_header("page.briefing")
lang = current_lang()
now = live_now().replace(second=0)  # one cached deck per minute

# On a projector the controls fold away: the room sees the slide; keys still move it.
controls = st.expander(t("deck.controls")) if projector_on() else st.container()
top = controls.columns([2, 1, 1], vertical_alignment="bottom")
period_text = top[0].text_input(
    t("deck.period"), value=DEFAULT_PERIOD, help=t("deck.period_help"), key="deck_period"
)
try:
    period = parse_period(period_text, now)
except PeriodError as exc:
    st.error(t("deck.period_error", error=str(exc)))
    st.stop()

slides = load(live_deck, period, lang, now)
stamp = f"{period.first_day:%Y%m%d}-{period.last_day:%Y%m%d}"
for col, fmt, mime in (
    (top[1], "pdf", "application/pdf"),
    (top[2], "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
):
    col.download_button(
        t(f"deck.download_{fmt}"),
        # Made when clicked, not on every run: an export renders every chart.
        data=lambda fmt=fmt: export.render(slides, fmt, t("deck.source_label")),
        file_name=f"anbu-briefing-{lang}-{stamp}.{fmt}",
        mime=mime,
        on_click="ignore",
        key=f"deck_download_{fmt}",
        width="stretch",
    )

index = navigation(len(slides))
show_slide(slides[index])
st.caption(t("deck.keys_hint"))
