"""수신 오류 (ingest dead letters) tab of the 사용자 관리 page, for administrators.

Everything shown came from a vendor and is untrusted: it is rendered as plain text only
(``st.dataframe`` cells and ``st.code``), never as markdown or HTML.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.auth import SessionUser, can
from dashboard.formatting import format_datetime
from dashboard.ui.data import get_engine
from dashboard.ui.i18n import current_lang, t
from queries.dead_letters import dead_letter_count, recent_dead_letters

SHOWN = 200
PICK = "dead_letters_pick"  # widget key (tests use it)


def dead_letter_frame(rows: pd.DataFrame, lang: str) -> pd.DataFrame:
    """The table as shown: Seoul time, translated headers, one-line payload preview."""
    return pd.DataFrame(
        {
            t("dead_letters.col_received"): [format_datetime(v, lang) for v in rows["received_at"]],
            t("dead_letters.col_source"): [s.upper() for s in rows["source"]],
            t("dead_letters.col_vendor"): rows["vendor"].fillna("–").tolist(),  # None: bad topic
            t("dead_letters.col_event"): [
                "–" if pd.isna(i) else f"#{int(i)}" for i in rows["event_index"]
            ],
            t("dead_letters.col_reason"): rows["reason"].tolist(),
            t("dead_letters.col_size"): [f"{int(n):,} B" for n in rows["payload_bytes"]],
            t("dead_letters.col_preview"): [" ".join(p[:200].split()) for p in rows["preview"]],
        }
    )


def dead_letters_tab(user: SessionUser) -> None:
    if not can(user.role, "manage_api_keys"):  # the same administrators who manage vendor keys
        st.error(t("dead_letters.denied"))
        return
    with get_engine().connect() as conn:
        total = dead_letter_count(conn)
        rows = recent_dead_letters(conn, limit=SHOWN)
    st.caption(t("dead_letters.caption"))
    st.metric(t("dead_letters.count"), f"{total:,}")
    if rows.empty:
        st.info(t("dead_letters.none"))
        return
    if total > len(rows):
        st.caption(t("dead_letters.latest", shown=len(rows), total=f"{total:,}"))
    lang = current_lang()
    st.dataframe(dead_letter_frame(rows, lang), hide_index=True, width="stretch")
    vendors = rows["vendor"].fillna("–")
    labels = {
        int(r.id): f"{format_datetime(r.received_at, lang)} · {v} · {r.reason[:60]}"
        for r, v in zip(rows.itertuples(), vendors, strict=True)
    }
    picked = st.selectbox(
        t("dead_letters.pick"), options=list(labels), format_func=labels.get, key=PICK
    )
    if picked is not None:
        row = rows[rows["id"] == picked].iloc[0]
        st.caption(t("dead_letters.payload", size=f"{int(row['payload_bytes']):,}"))
        st.code(row["preview"], language=None)  # plain text, never markdown
