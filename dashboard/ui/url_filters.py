"""Filters kept in the URL (``st.query_params``), so a copied link reproduces the view.

A widget starts from its query parameter (ignored when it is not one of the options: a stale
link falls back to the default instead of failing) and writes its value back on every run;
the default is left out of the URL so plain links stay short.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

import streamlit as st


def _encode(value: Any) -> str:
    return str(value)


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
        st.session_state[key] = by_text.get(st.query_params.get(param, ""), default)
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
        raw = st.query_params.get(param, "")
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
        start = _parse(st.query_params.get(params[0])) or first
        end = _parse(st.query_params.get(params[1])) or last
        start, end = min(max(start, lo), hi), min(max(end, lo), hi)
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
        picked = _parse(st.query_params.get(param))
        st.session_state[key] = picked if picked is not None and lo <= picked <= hi else default
    value = (container or st).date_input(
        label, min_value=lo, max_value=hi, format="YYYY-MM-DD", key=key
    )
    if value == default:
        st.query_params.pop(param, None)
    else:
        st.query_params[param] = value.isoformat()
    return value
