"""The live page's watch list (homes drifting from their routine, no alert yet) and the people
marked away, in the user's districts.

Scoring the candidates costs more than the live fragment's 0.1 s budget (docs/detection.md,
"In the product"), so this part is its own fragment on a slower timer with its own one-minute
cache shared by every screen showing the same filters and districts.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import streamlit as st

from dashboard import clock
from dashboard.detection.explain import explain_plug
from dashboard.formatting import format_date, format_datetime, format_number
from dashboard.i18n import localized
from dashboard.settings import LOCAL_TZ
from dashboard.ui.components import table
from dashboard.ui.data import database_url, get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from queries.away import PEOPLE_SHOWN, people_away
from queries.live import LiveFilters
from queries.watch import WatchList, drifting_homes

REFRESH_S = 60
CACHE_TTL_S = 60


def _bucket() -> datetime:
    """Now to the minute: screens refreshing within the same minute share one computation."""
    return clock.now().replace(microsecond=0, second=0)


@st.cache_data(ttl=CACHE_TTL_S, max_entries=64, show_spinner=False)
def _watch(
    url: str, now: datetime, filters: LiveFilters, areas: tuple[str, ...] | None
) -> tuple[WatchList, pd.DataFrame]:
    with get_engine().connect() as conn:
        today = now.astimezone(LOCAL_TZ).date()
        return drifting_homes(conn, now, filters, areas), people_away(conn, today, areas)


def clear_watch() -> None:
    """Forget the cached watch lists (after marking someone away or back)."""
    _watch.clear()


def fetch_watch(
    filters: LiveFilters, areas: tuple[str, ...] | None
) -> tuple[WatchList, pd.DataFrame]:
    """The watch list and the people away, cached for a minute per filters and districts."""
    return _watch(database_url(), _bucket(), filters, areas)


def render_watch(watch: WatchList, away: pd.DataFrame) -> None:
    lang = current_lang()
    st.subheader(t("watch.title"))
    st.caption(t("watch.caption"))
    if watch.rows.empty:
        st.info(t("watch.none", n=format_number(watch.candidates)))
    else:
        suffix = "&lang=en" if lang == "en" else ""
        lines = []
        for row in watch.rows.to_dict("records"):
            ref = md_escape(row["external_ref"])
            lines.append(
                f"**{md_escape(localized(row, 'region', lang))}** · "
                f"[{ref}](people?person={row['external_ref']}{suffix}) · "
                f"{md_escape(row['recipient_masked'])} · "
                f"{t('watch.since', since=format_datetime(row['since'], lang))}  \n"
                f"{md_escape(explain_plug(row['evidence'], lang))}"
            )
        st.markdown("\n\n".join(lines))
    if watch.truncated:
        st.caption(t("watch.truncated", n=format_number(watch.candidates)))
    st.subheader(t("watch.away_title"))
    if away.empty:
        st.caption(t("watch.away_none"))
        return
    shown = away.head(PEOPLE_SHOWN)
    table(
        pd.DataFrame(
            {
                "dong": [localized(r, "region", lang) for r in shown.to_dict("records")],
                "ref": shown["external_ref"],
                "recipient": shown["recipient_masked"],
                "until": [
                    t("watch.away_until", date=format_date(d, lang)) for d in shown["ends_on"]
                ],
            }
        ),
        {
            "dong": "col.dong",
            "ref": "card.ref",
            "recipient": "col.recipient",
            "until": "away.ends_on",
        },
    )
    if len(away) > PEOPLE_SHOWN:
        st.caption(t("watch.away_more", n=PEOPLE_SHOWN))
