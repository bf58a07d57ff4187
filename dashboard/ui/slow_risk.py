"""The slow-risk flag on 대상자 관리: a notice on the person panel and the list of flagged people.

A case worker's flag (``detection.slow_risk``), not an alert: it says the home's own activity has
been well under its usual level for weeks, for someone to check on at the next contact."""

from __future__ import annotations

import streamlit as st

from dashboard.auth import SessionUser, can_see_personal_data, personal_data_scope
from dashboard.formatting import format_date, format_number
from dashboard.i18n import localized
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from dashboard.ui.safe_text import md_escape
from queries.slow_risk import PEOPLE_SHOWN, people_slow_risk, slow_risk_of


def _pct(ratio: object) -> str:
    return "–" if not isinstance(ratio, (int, float)) else format_number(round(ratio * 100))


def slow_risk_badge(user: SessionUser, recipient_id: int, region_code: str | None) -> None:
    """The notice on the person panel while the flag is set (read fresh), for care staff who
    may see this person (leads, operators in their districts; never admins)."""
    if not can_see_personal_data(user, region_code):
        return
    with get_engine().connect() as conn:
        flag = slow_risk_of(conn, recipient_id)
    if flag is None:
        return
    since, detail = flag
    st.info(
        t(
            "slow_risk.badge",
            date=format_date(since, current_lang()),
            above=_pct(detail.get("above_ratio")),
            watts=_pct(detail.get("watts_ratio")),
        ),
        icon=":material/trending_down:",
    )


def slow_risk_list(user: SessionUser) -> None:
    """Flagged people in the user's districts (leads: all), longest flagged first, each linked
    to their panel. Names masked; nothing for roles without personal data (admins)."""
    areas = personal_data_scope(user)
    if areas == ():
        return
    with get_engine().connect() as conn:
        people = people_slow_risk(conn, areas)
    lang = current_lang()
    with st.expander(
        t("slow_risk.title", n=format_number(min(len(people), PEOPLE_SHOWN))),
        icon=":material/trending_down:",
        expanded=False,
    ):
        st.caption(t("slow_risk.help"))
        if people.empty:
            st.caption(t("slow_risk.none"))
            return
        suffix = "&lang=en" if lang == "en" else ""
        lines = []
        for row in people.head(PEOPLE_SHOWN).to_dict("records"):
            ref = md_escape(row["external_ref"])
            lines.append(
                f"- **{md_escape(localized(row, 'region', lang))}** · "
                f"[{ref}](people?person={row['external_ref']}{suffix}) · "
                f"{md_escape(row['recipient_masked'])} · "
                + t(
                    "slow_risk.row",
                    date=format_date(row["since"], lang),
                    above=_pct(row["above_ratio"]),
                    watts=_pct(row["watts_ratio"]),
                )
            )
        st.markdown("\n".join(lines))
        if len(people) > PEOPLE_SHOWN:
            st.caption(t("slow_risk.more", n=format_number(PEOPLE_SHOWN)))
