"""Filters kept in the URL (``?district=…&from=…&to=…``), so a link reproduces the view.

A widget starts from the URL's value the first time a session renders it; afterwards the
widget's value is written back, so the address bar always describes what is shown. A value in
the URL that is not an option (a stale or edited link) is dropped rather than breaking the page.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import date

import streamlit as st

from dashboard.ui.i18n import t


def _write(param: str, value: str | None) -> None:
    if value:
        if st.query_params.get(param) != value:
            st.query_params[param] = value
    elif param in st.query_params:
        del st.query_params[param]


def url_multiselect(
    label_key: str,
    options: Sequence[str],
    labels: Mapping[str, str],
    *,
    key: str,
    param: str,
) -> tuple[str, ...]:
    """A sidebar multiselect over string codes, kept in ``?param=a,b``; empty means all."""
    if key not in st.session_state:
        wanted = (st.query_params.get(param) or "").split(",")
        st.session_state[key] = [o for o in options if o in wanted]
    chosen = st.sidebar.multiselect(
        t(label_key),
        options=list(options),
        format_func=lambda o: labels.get(o, o),
        key=key,
        placeholder=t("filter.all"),
    )
    _write(param, ",".join(chosen))
    return tuple(chosen)


def _parse(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def url_date_range(
    label_key: str, lo: date, hi: date, *, key: str, params: tuple[str, str] = ("from", "to")
) -> tuple[date, date] | None:
    """A sidebar date range within [lo, hi] kept in ``?from=YYYY-MM-DD&to=YYYY-MM-DD``;
    None while the picker is between its two clicks."""
    if key not in st.session_state:
        start = _parse(st.query_params.get(params[0])) or lo
        end = _parse(st.query_params.get(params[1])) or hi
        start, end = min(max(start, lo), hi), min(max(end, lo), hi)
        st.session_state[key] = (start, end) if start <= end else (lo, hi)
    picked = st.sidebar.date_input(
        t(label_key), min_value=lo, max_value=hi, format="YYYY-MM-DD", key=key
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        return None
    whole = picked == (lo, hi)  # the default needs no parameters
    _write(params[0], None if whole else picked[0].isoformat())
    _write(params[1], None if whole else picked[1].isoformat())
    return picked[0], picked[1]
