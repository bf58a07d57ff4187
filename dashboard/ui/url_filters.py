"""Filters kept in the URL (``st.query_params``), so a copied link reproduces the view.

A widget starts from its query parameter and writes its value back on every run; the default
is left out of the URL so plain links stay short. A parameter that cannot be used (not one of
the options, not a date, outside the data's range, a reversed period) falls back to the
default, and the page says so, naming the parameter and the value: someone opening a shared
link must not believe a filter applied that did not. So does a parameter given twice
(``?stage=risk&stage=severe``): only the last value is used.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import streamlit as st

from dashboard.ui.i18n import t
from dashboard.ui.safe_text import shown_link_value

MAX_ROW_ID = 2**63 - 1  # a database integer key: anything larger cannot name a row


def parse_row_id(raw: str | None) -> int | None:
    """A row id from a link (``?alert=123``), or None when the text is not one: only ASCII
    digits count (``str.isdigit`` also accepts "¹" and other digits ``int`` refuses), and a
    number past the database's 64-bit keys names no row."""
    if not raw or not raw.isascii() or not raw.isdigit():
        return None
    value = int(raw)
    return value if 0 < value <= MAX_ROW_ID else None


def _encode(value: Any) -> str:
    return str(value)


def _refuse(key: str, **params: Any) -> None:
    """Say which link parameter was not used and why (values escaped and cut: they come from a
    URL)."""
    st.warning(t(key, **{k: shown_link_value(v) for k, v in params.items()}), icon="⚠️")


def link_param(param: str) -> str | None:
    """``?param=``'s value, None when absent. Given more than once (``?alert=1&alert=2``), the
    last value is used, as Streamlit reads it, and a warning says so: the link must not look as
    if every value applied."""
    values = st.query_params.get_all(param)
    if len(values) > 1:
        _refuse("url.repeated", param=param, n=len(values), value=values[-1])
    return values[-1] if values else None


def url_select(
    label: str,
    options: Sequence[Any],
    *,
    param: str,
    default: Any,
    format_func: Callable[[Any], str] = str,
    container: Any = None,
) -> Any:
    """A selectbox whose choice is ``?param=value``; returns the chosen option."""
    key = f"url_{param}"
    by_text = {_encode(o): o for o in options}
    if key not in st.session_state or st.session_state[key] not in options:
        raw = link_param(param)
        if raw is not None and raw not in by_text:
            _refuse("url.bad_choice", param=param, value=raw)
        st.session_state[key] = by_text.get(raw or "", default)
    value = (container or st).selectbox(label, list(options), key=key, format_func=format_func)
    if value == default:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = _encode(value)
    return value


def url_multiselect(
    label: str,
    options: Sequence[Any],
    *,
    param: str,
    format_func: Callable[[Any], str] = str,
    placeholder: str | None = None,
    container: Any = None,
) -> tuple:
    """A multiselect whose choices are ``?param=a,b``; empty (all) is left out of the URL."""
    key = f"url_{param}"
    by_text = {_encode(o): o for o in options}
    if key not in st.session_state:
        raw = link_param(param) or ""
        unknown = [p for p in raw.split(",") if p and p not in by_text]
        if unknown:
            _refuse("url.bad_choices", param=param, values=", ".join(unknown))
        st.session_state[key] = [by_text[p] for p in raw.split(",") if p in by_text]
    else:  # options change with other filters: keep only what is still offered
        st.session_state[key] = [v for v in st.session_state[key] if v in options]
    chosen = (container or st).multiselect(
        label, list(options), key=key, format_func=format_func, placeholder=placeholder
    )
    if chosen:
        st.query_params[param] = ",".join(_encode(c) for c in chosen)
    else:
        st.query_params.pop(param, None)
    return tuple(chosen)


def _parse(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _date_param(param: str, lo: date, hi: date) -> date | None:
    """``?param=`` as a day within [lo, hi], or None (absent, or refused with a warning: not a
    date, or outside the data's range)."""
    raw = link_param(param)
    if raw is None:
        return None
    day = _parse(raw)
    if day is None:
        _refuse("url.bad_date", param=param, value=raw)
    elif not lo <= day <= hi:
        _refuse("url.out_of_range", param=param, value=raw, lo=lo.isoformat(), hi=hi.isoformat())
        return None
    return day


def url_date_range(
    label: str,
    lo: date,
    hi: date,
    *,
    params: tuple[str, str] = ("from", "to"),
    container: Any = None,
    default: tuple[date, date] | None = None,
    key: str | None = None,
) -> tuple[date, date] | None:
    """A date range within [lo, hi] kept in ``?from=YYYY-MM-DD&to=YYYY-MM-DD``;
    None while the picker is between its two clicks. ``default`` (else the whole range) is
    what a link without the parameters shows, and is left out of the URL. ``key`` keeps pages
    that share the parameter names from sharing the widget (their ranges differ)."""
    key = key or f"url_{params[0]}_{params[1]}"
    first, last = default or (lo, hi)
    stored = st.session_state.get(key)
    # A range stored under the key by another page with other bounds starts afresh (one click
    # into a new range, a 1-tuple, is kept).
    whole_range = isinstance(stored, tuple) and len(stored) == 2
    stale = whole_range and not lo <= stored[0] <= stored[1] <= hi
    if key not in st.session_state or stale:
        start = _date_param(params[0], lo, hi) or first
        end = _date_param(params[1], lo, hi) or last
        if start > end:
            _refuse("url.reversed", start=start.isoformat(), end=end.isoformat())
        st.session_state[key] = (start, end) if start <= end else (first, last)
    picked = (container or st).date_input(
        label, min_value=lo, max_value=hi, format="YYYY-MM-DD", key=key
    )
    if not isinstance(picked, tuple) or len(picked) != 2:
        return None
    whole = picked == (first, last)  # the default needs no parameters
    for param, value in zip(params, picked, strict=True):
        if whole:
            st.query_params.pop(param, None)
        else:
            st.query_params[param] = value.isoformat()
    return picked[0], picked[1]


def url_date(
    label: str,
    lo: date,
    hi: date,
    *,
    param: str,
    default: date,
    container: Any = None,
) -> date:
    """One day within [lo, hi] kept in ``?param=YYYY-MM-DD`` (left out when it is ``default``);
    a day outside the range in a stale link falls back to ``default``."""
    key = f"url_{param}"
    stored = st.session_state.get(key)
    if not isinstance(stored, date) or not lo <= stored <= hi:
        picked = _date_param(param, lo, hi)
        st.session_state[key] = picked if picked is not None else default
    value = (container or st).date_input(
        label, min_value=lo, max_value=hi, format="YYYY-MM-DD", key=key
    )
    if value == default:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = value.isoformat()
    return value
