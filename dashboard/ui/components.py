"""Small building blocks used by several pages."""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.auth.regions import region_in_any
from dashboard.formatting import format_age, format_datetime
from dashboard.i18n import localized, state_label
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.theme import PROJECTOR_SCALE


def page_header(title_key: str, caption_key: str | None = None) -> None:
    st.title(t(title_key))
    if caption_key:
        st.caption(t(caption_key))


def banner(text: str, kind: str = "stale") -> None:
    """A coloured banner; text is escaped (it may carry data)."""
    st.html(f'<div class="anbu-banner {kind}" role="alert">{html.escape(text)}</div>')


def stale_banner(newest: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Warn when the newest signal is older than expected; returns True when shown."""
    lang = current_lang()
    if newest is None:
        banner(t("live.no_signal"))
        return True
    if now - newest > max_age:
        banner(t("live.stale", age=format_age(newest, now, lang), at=format_datetime(newest, lang)))
        return True
    return False


def multiselect_filter(
    label_key: str,
    options: Sequence,
    labels: Mapping,
    key: str,
    container=st.sidebar,
) -> tuple:
    """A sidebar multiselect over codes with translated labels; empty means all."""
    chosen = container.multiselect(
        t(label_key),
        options=list(options),
        format_func=lambda o: labels.get(o, str(o)),
        key=key,
        placeholder=t("filter.all"),
    )
    return tuple(chosen)


def program_labels(programs: pd.DataFrame) -> dict[str, str]:
    lang = current_lang()
    return {
        r["program_code"] if "program_code" in r else r["code"]: localized(r, "name", lang)
        for r in programs.to_dict("records")
    }


def districts_in_scope(districts: pd.DataFrame, scope: Sequence[str] | None) -> pd.DataFrame:
    """The districts (rows with a ``code``) inside an operator's areas; all when ``scope`` is
    None (leads): the filters offer only districts whose people the user may see."""
    if scope is None:
        return districts
    return districts[[region_in_any(c, list(scope)) for c in districts["code"]]]


def region_labels(regions: pd.DataFrame, key: str = "id") -> dict:
    lang = current_lang()
    return {r[key]: localized(r, "name", lang) for r in regions.to_dict("records")}


def state_labels(states: Iterable[str]) -> dict[str, str]:
    lang = current_lang()
    return {s: state_label(s, lang) for s in states}


PICK_MAX_ROWS = 11  # a picking list's rows in sight; more scroll, the picked row's page below
TABLE_HEADER_PX = 38  # at the usual 16 px root: the header row and the borders
TABLE_ROW_PX = 35


def table_height(rows: int, *, projector: bool, max_rows: int | None = None) -> int:
    """A table's height in px showing ``rows`` rows (at most ``max_rows``, the rest scroll)
    without inner scrolling. On a projector the rows are larger (the root font size): a height
    fixed for the usual rows showed two or three of them there."""
    shown = rows if max_rows is None else min(rows, max_rows)
    px = TABLE_HEADER_PX + TABLE_ROW_PX * max(shown, 1)
    return round(px * (PROJECTOR_SCALE if projector else 1))


def table(
    df: pd.DataFrame,
    columns: Mapping[str, str],
    height: int | None = None,
    column_config: Mapping | None = None,
) -> None:
    """Show selected columns under translated headers (``columns``: name → i18n key)."""
    shown = df[list(columns)].rename(columns={c: t(k) for c, k in columns.items()})
    config = {t(columns[c]): v for c, v in (column_config or {}).items()}
    kwargs = {"height": height} if height else {}
    st.dataframe(shown, hide_index=True, width="stretch", column_config=config, **kwargs)


def pick_table(
    shown: pd.DataFrame, columns: Mapping[str, str], *, key: str, link: str, id_column: str
) -> str | None:
    """A list the user picks one row of: the row's ``id_column`` becomes the page's ``?link=``
    deep link (so a picked person or device survives a reload and can be shared). ``columns``
    maps the frame's columns to their shown headers. Returns the linked id, if any."""
    event = st.dataframe(
        shown[list(columns)].rename(columns=dict(columns)),
        hide_index=True,
        width="stretch",
        height=table_height(len(shown), projector=projector_on(), max_rows=PICK_MAX_ROWS),
        on_select="rerun",
        selection_mode="single-row",
        key=key,
    )
    picked = event.selection.rows if event is not None else []
    current = st.query_params.get(link)
    if picked:
        chosen = str(shown.iloc[picked[0]][id_column])
        if chosen != current:
            st.query_params[link] = chosen
        return chosen
    return current
