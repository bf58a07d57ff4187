"""멈춤을 늦게 알아챌 기기 on 기기 관리: from the reaches the worker stored (``plug_reaches``),
the shares of fast, fair, slow and cannot-judge plugs by district in the user's districts, how
many active plugs are judged so far, and the slow and cannot-judge plugs, slowest first, each
linked to its device detail (which computes its reach anew) with the reach panel's suggestion.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import quote

import pandas as pd
import streamlit as st

from dashboard.formatting import format_date, format_datetime, format_number, format_percent
from dashboard.i18n import localized
from dashboard.ui.components import table_height
from dashboard.ui.data import load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.reach_panel import hours_cell, suggest
from queries.reach_list import VERDICTS, reach_shares, slow_plugs
from queries.roster import LIST_LIMIT

COUNTS = ("plugs", "judged", *VERDICTS)
SHARES_MAX_PX = 400  # about ten districts; more scroll, the slow list stays in sight


def _height(rows: int, cap: int | None = None) -> int:
    """A table's height showing ``rows`` rows without inner scrolling (up to ``cap`` px)."""
    px = table_height(rows, projector=projector_on())
    return px if cap is None else min(px, cap)


def share_text(n: int, judged: int) -> str:
    """``12 (34%)``: the count and its share of the judged plugs (``0`` alone); ``<1%`` and
    ``>99%`` where a whole percent would round a few plugs away or all but a few in."""
    if not judged or not n:
        return format_number(n)
    pct = 100 * n / judged
    text = "<1%" if pct < 1 else ">99%" if 99 < pct < 100 else format_percent(pct, 0)
    return f"{format_number(n)} ({text})"


def shares_frame(shares: pd.DataFrame, lang: str) -> pd.DataFrame:
    """One row per district, after the total first when there are several (a city's 25 구
    scroll): name, plugs, judged and each verdict as ``n (p%)`` of the judged plugs."""
    rows = [
        {"district": localized(r, "district", lang), **{c: int(r[c]) for c in COUNTS}}
        for r in shares.to_dict("records")
    ]
    if len(rows) > 1:
        total = {"district": t("filter.all"), **{c: sum(r[c] for r in rows) for c in COUNTS}}
        rows.insert(0, total)
    return pd.DataFrame(
        [
            {
                "district": r["district"],
                "plugs": format_number(r["plugs"]),
                "judged": format_number(r["judged"]),
                **{v: share_text(r[v], r["judged"]) for v in VERDICTS},
            }
            for r in rows
        ]
    )


def _totals(shares: pd.DataFrame) -> dict[str, int]:
    """The shares' counts (``COUNTS``) over every district (0 with none)."""
    return {c: int(shares[c].sum()) for c in COUNTS}


def _coverage(shares: pd.DataFrame, lang: str) -> str:
    total = _totals(shares)
    plugs, judged = total["plugs"], total["judged"]
    if judged == 0:
        return t("reach.list_coverage_none", plugs=format_number(plugs))
    oldest = format_datetime(shares["oldest_at"].min(), lang)
    key = "reach.list_coverage_all" if judged == plugs else "reach.list_coverage_part"
    return t(key, plugs=format_number(plugs), judged=format_number(judged), oldest=oldest)


def device_link(device_uid: str, lang: str) -> str:
    """The device detail's address, relative to the page (``devices?device=ID``)."""
    suffix = "&lang=en" if lang == "en" else ""
    return f"devices?device={quote(device_uid, safe=':')}{suffix}"


def slow_frame(plugs: pd.DataFrame, lang: str, with_names: bool) -> pd.DataFrame:
    """The list's cells: link, 관리번호, masked name (``with_names``), district, verdict in
    words, weekday median and latest hour as the person panel shows them, day learned, and the
    best verdict of the person's other plugs (fast or fair: the person is covered)."""
    records = plugs.to_dict("records")
    out = {
        "link": [device_link(r["device_uid"], lang) for r in records],
        "ref": [r["external_ref"] or "–" for r in records],
    }
    if with_names:
        out["name"] = [r["recipient_masked"] for r in records]
    usable = [r["verdict"] != "none" for r in records]
    out |= {
        "district": [localized(r, "district", lang) for r in records],
        "verdict": [t(f"reach.verdict_{r['verdict']}") for r in records],
        "median": [
            hours_cell(None if pd.isna(r["median_h"]) else r["median_h"], u)
            for r, u in zip(records, usable, strict=True)
        ],
        "worst": [
            hours_cell(None if pd.isna(r["worst_h"]) else r["worst_h"], u)
            for r, u in zip(records, usable, strict=True)
        ],
        "learned": [format_date(r["learned_on"], lang) for r in records],
        # the person's stop is noticed in time by this other plug (the person panel's median)
        "other": [
            t(f"reach.verdict_{r['other_verdict']}") if r["other_verdict"] else "–" for r in records
        ],
    }
    return pd.DataFrame(out)


def _slow_list(scope: Sequence[str] | None, with_names: bool, lang: str) -> None:
    st.markdown(f"**{t('reach.list_slow_title')}**")
    plugs = load(slow_plugs, districts=scope, with_names=with_names, limit=LIST_LIMIT + 1)
    if plugs.empty:
        st.caption(t("reach.list_slow_none"))
        return
    shown = slow_frame(plugs.head(LIST_LIMIT), lang, with_names)
    headers = {
        "link": t("devices.device_id"),
        "ref": t("card.ref"),
        "name": t("col.recipient"),
        "district": t("filter.district"),
        "verdict": t("reach.col_verdict"),
        "median": t("reach.col_median"),
        "worst": t("reach.col_worst"),
        "learned": t("reach.list_col_learned"),
        "other": t("reach.list_col_other"),
    }
    st.dataframe(
        shown.rename(columns=headers),
        hide_index=True,
        width="stretch",
        height=_height(len(shown), cap=420),
        column_config={
            headers["link"]: st.column_config.LinkColumn(
                display_text=r"devices\?device=([^&]+)",
                help=t("reach.list_link_help"),
            )
        },
    )
    if len(plugs) > LIST_LIMIT:
        st.caption(t("reach.list_more", n=format_number(LIST_LIMIT)))
    suggest()


def reach_list(scope: Sequence[str] | None, with_names: bool) -> None:
    """The section (an expander, closed, above the device list) for ``scope``: the user's
    districts (None: all); names masked, and only ``with_names``."""
    lang = current_lang()
    scope = None if scope is None else tuple(scope)
    shares = load(reach_shares, districts=scope)
    total = _totals(shares)
    title = t(
        "reach.list_title", slow=format_number(total["slow"]), none=format_number(total["none"])
    )
    if total["judged"] < total["plugs"]:  # "0 slow" before any is judged reads as "none slow"
        title += t(
            "reach.list_title_part",
            judged=format_number(total["judged"]),
            plugs=format_number(total["plugs"]),
        )
    with st.expander(title, icon=":material/hourglass_bottom:", expanded=False):
        st.caption(t("reach.list_help"))
        if shares.empty:
            st.caption(t("reach.list_no_plugs"))
            return
        frame = shares_frame(shares, lang)
        st.dataframe(
            frame.rename(
                columns={
                    "district": t("filter.district"),
                    "plugs": t("reach.list_col_plugs"),
                    "judged": t("reach.list_col_judged"),
                    **{v: t(f"reach.verdict_{v}") for v in VERDICTS},
                }
            ),
            hide_index=True,
            width="stretch",
            height=_height(len(frame), cap=SHARES_MAX_PX),
        )
        st.caption(_coverage(shares, lang))
        _slow_list(scope, with_names, lang)


def week_reach_summary(programs: Sequence[str] | None, districts: Sequence[str] | None) -> None:
    """The weekly review's line on how soon the plugs would notice a stop, as the worker last
    stored it (a snapshot, not a week's figure): the verdicts' counts and shares of the
    judged plugs of the chosen ``programs`` (codes) and ``districts`` (codes; None: all),
    and where the list is. Nothing where the choice holds no active plug. Aggregates only."""
    shares = load(
        reach_shares,
        districts=None if districts is None else tuple(districts),
        programs=None if programs is None else tuple(programs),
    )
    total = _totals(shares)
    if total["plugs"] == 0:
        return
    lang = current_lang()
    judged = total["judged"]
    st.subheader(t("reach.week_title"))
    if judged == 0:
        st.caption(_coverage(shares, lang))
        return
    st.markdown(
        t(
            "reach.week_line",
            judged=format_number(judged),
            **{v: share_text(total[v], judged) for v in VERDICTS},
        )
    )
    st.caption(_coverage(shares, lang) + " " + t("reach.week_where"))
