"""The live wall-screen panel: its data function (tested directly) and its rendering."""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import streamlit as st

from dashboard.formatting import format_age, format_number
from dashboard.i18n import STATES, localized, state_label, translate_or
from dashboard.ui import charts
from dashboard.ui.components import banner, stale_banner, table
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.safe_text import md_escape
from dashboard.ui.theme import chip
from queries.live import LiveFilters, LiveSnapshot, live_snapshot

REFRESH_S = 30
# The busiest feeds report every few minutes; a quarter of an hour of silence from all of them
# means the pipeline, not the people, has stopped.
STALE_AFTER = timedelta(minutes=15)
DONGS_SHOWN = 15

DONG_MAP_HEIGHT = 360


def fetch_live(filters: LiveFilters) -> LiveSnapshot:
    """What the fragment shows on each tick (cached briefly and shared between screens)."""
    return load(live_snapshot, live_now(), filters, live=True)


def render_snapshot(snap: LiveSnapshot) -> None:
    lang = current_lang()
    stale_banner(snap.newest_signal, snap.taken_at, STALE_AFTER)

    totals = snap.by_program.groupby("state")["devices"].sum()
    # On a projector a 61 px "12,345" (167 px) is cut off in one of six columns at 1,280 px
    # (163 px): the two counts that reach five digits, all devices and 정상, get the room.
    wide = [1.3, 1.3] if projector_on() else [1, 1]
    cols = st.columns(wide + [1] * (len(STATES) - 1))
    cols[0].metric(t("live.total_devices"), format_number(int(totals.sum())))
    for col, state in zip(cols[1:], STATES, strict=True):
        col.metric(state_label(state, lang), format_number(int(totals.get(state, 0))))
    # Counted over every open alert: the ticker shows only the newest few.
    severe_open = snap.open_by_stage.get("severe", 0)
    if severe_open:
        banner(t("live.severe_open", n=severe_open), kind="severe")

    left, right = st.columns([3, 2], gap="large")
    with left:
        st.subheader(t("live.by_program"))
        if snap.by_program.empty:
            st.info(t("common.no_data"))
        else:
            df = snap.by_program.assign(
                label=[localized(r, "name", lang) for r in snap.by_program.to_dict("records")]
            )
            charts.render(charts.state_bars(df, "label", lang, t("chart.program")))
            pivot = (
                df.pivot_table(
                    index="label", columns="state", values="devices", aggfunc="sum", fill_value=0
                )
                .reindex(columns=list(STATES), fill_value=0)
                .reset_index()
            )
            pivot = pivot.rename(columns={"label": "program", **{s: s for s in STATES}})
            table(pivot, {"program": "col.program", **{s: f"state.{s}" for s in STATES}})

        st.subheader(t("live.by_dong"))
        _render_dongs(snap.by_dong, lang)
    with right:
        st.subheader(t("live.ticker"))
        _render_ticker(snap, lang)
        st.subheader(t("live.silent"))
        _render_silent(snap, lang)
    st.caption(
        t("live.updated", age=format_age(snap.taken_at, snap.taken_at, lang), every=REFRESH_S)
    )


def _render_dong_map(by_dong: pd.DataFrame) -> None:
    """The city at a glance: every dong in the colour of its worst device state (pydeck, no
    base map: the wall screen must not depend on an outside tile service)."""
    from dashboard.ui.deck import dong_state_deck
    from dashboard.ui.wandering import dong_boundaries

    codes = tuple(sorted({str(c) for c in by_dong["region_code"]}))
    deck = dong_state_deck(by_dong, dong_boundaries(codes), offline=True)
    if deck is not None:
        st.pydeck_chart(deck, height=DONG_MAP_HEIGHT)


def _render_dongs(by_dong: pd.DataFrame, lang: str) -> None:
    if by_dong.empty:
        st.info(t("common.no_data"))
        return
    _render_dong_map(by_dong)
    df = by_dong.assign(label=[localized(r, "name", lang) for r in by_dong.to_dict("records")])
    # Dongs with the most people not in 정상 first: that is where staff go.
    weight = df.assign(w=df["devices"].where(df["state"] != "normal", 0))
    order = weight.groupby("label")["w"].sum().sort_values(ascending=False)
    top = order.head(DONGS_SHOWN).index.tolist()
    st.altair_chart(
        charts.state_bars(
            df[df["label"].isin(top)].set_index("label").loc[top].reset_index(),
            "label",
            lang,
            t("chart.dong"),
        ),
        width="stretch",
    )
    if len(order) > DONGS_SHOWN:
        st.caption(t("live.dongs_more", shown=DONGS_SHOWN, total=len(order)))


def _render_ticker(snap: LiveSnapshot, lang: str) -> None:
    if snap.alerts.empty:
        st.success(t("live.no_open_alerts"))
        return
    lines = []
    suffix = "&lang=en" if lang == "en" else ""
    for a in snap.alerts.to_dict("records"):
        # Data goes through md_escape: a masked name like 김*수 would start italics.
        rule = md_escape(translate_or(f"rule.{a['rule']}", a["rule"], lang))
        age = md_escape(format_age(a["opened_at"], snap.taken_at, lang))
        lines.append(
            f"{chip(a['stage'], lang)} [**{age}**](alerts?alert={int(a['id'])}{suffix}) · "
            f"{md_escape(localized(a, 'region', lang))} · {rule} · "
            f"{md_escape(a['recipient_masked'])}"
        )
    st.markdown("  \n".join(lines), unsafe_allow_html=True)


def _render_silent(snap: LiveSnapshot, lang: str) -> None:
    df = snap.silent
    if df.empty:
        st.info(t("common.no_data"))
        return
    shown = pd.DataFrame(
        {
            "device": df["device_uid"],
            "type": [localized(r, "type", lang) for r in df.to_dict("records")],
            "dong": [localized(r, "region", lang) for r in df.to_dict("records")],
            "state": [state_label(s, lang) for s in df["state"]],
            "last_seen": [
                format_age(ts if pd.notna(ts) else None, snap.taken_at, lang)
                for ts in df["last_seen_at"]
            ],
            "recipient": df["recipient_masked"],
        }
    )
    table(
        shown,
        {
            "device": "col.device",
            "type": "col.device_type",
            "dong": "col.dong",
            "state": "col.state",
            "last_seen": "col.last_seen",
            "recipient": "col.recipient",
        },
    )
