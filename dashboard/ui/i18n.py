"""The session's language (``?lang=en``, kept across page switches) and ``t()`` for pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.i18n import DEFAULT_LANG, LANGS, normalize_lang, translate

_LANG_KEY = "anbu_lang"
_LANG_WIDGET = "anbu_lang_widget"
_PROJECTOR_KEY = "anbu_projector"


def resolve_lang() -> str:
    """Language from the URL, else from this session; written back to the URL.

    Navigating with the sidebar drops query parameters, so the session remembers the choice
    and puts ``?lang=en`` back, which keeps links shared from any page in the same language.
    """
    raw = st.query_params.get("lang")
    lang = normalize_lang(raw) if raw is not None else st.session_state.get(_LANG_KEY, DEFAULT_LANG)
    st.session_state[_LANG_KEY] = lang
    if lang != DEFAULT_LANG:
        st.query_params["lang"] = lang
    elif "lang" in st.query_params:
        del st.query_params["lang"]
    return lang


def current_lang() -> str:
    return normalize_lang(st.session_state.get(_LANG_KEY, DEFAULT_LANG))


def t(key: str, **kwargs: Any) -> str:
    """Translate for the current session."""
    return translate(key, current_lang(), **kwargs)


def _on_lang_change() -> None:
    lang = normalize_lang(st.session_state.get(_LANG_WIDGET))
    st.session_state[_LANG_KEY] = lang
    if lang == DEFAULT_LANG:
        st.query_params.pop("lang", None)
    else:
        st.query_params["lang"] = lang


def language_switch() -> None:
    """Sidebar switch between 한국어 and English."""
    st.session_state[_LANG_WIDGET] = current_lang()
    st.sidebar.radio(
        t("app.language"),
        options=list(LANGS),
        format_func=lambda code: translate(f"lang.{code}", code),
        key=_LANG_WIDGET,
        horizontal=True,
        on_change=_on_lang_change,
    )


def resolve_projector() -> bool:
    """``?projector=1`` enlarges everything for a council room; kept like the language."""
    raw = st.query_params.get("projector")
    on = (
        raw in ("1", "true", "yes")
        if raw is not None
        else st.session_state.get(_PROJECTOR_KEY, False)
    )
    st.session_state[_PROJECTOR_KEY] = on
    if on:
        st.query_params["projector"] = "1"
    return bool(on)


def projector_on() -> bool:
    return bool(st.session_state.get(_PROJECTOR_KEY, False))
