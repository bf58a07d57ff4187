"""The session's language (``?lang=en``, kept across page switches) and ``t()`` for pages."""

from __future__ import annotations

from typing import Any

import streamlit as st

from dashboard.i18n import DEFAULT_LANG, LANGS, normalize_lang, translate
from dashboard.ui.safe_text import shown_link_value

_LANG_KEY = "anbu_lang"
_LANG_WIDGET = "anbu_lang_widget"
_PROJECTOR_KEY = "anbu_projector"
_NOTES_KEY = "anbu_link_notes"  # (i18n key, params) of display parameters not used, this run
_ON = ("1", "true", "yes")
_OFF = ("0", "false", "no", "")


def resolve_lang() -> str:
    """Language from the URL, else from this session; written back to the URL.

    Navigating with the sidebar drops query parameters, so the session remembers the choice
    and puts ``?lang=en`` back, which keeps links shared from any page in the same language.
    A value that is no language here (``?lang=fr``) keeps the session's language, a repeated
    ``lang`` takes its last value; either stays in the URL as given, for :func:`link_warnings`
    to name on every run.
    """
    st.session_state[_NOTES_KEY] = []  # this run's; resolve_lang runs first
    raw, named = _display_param("lang")
    wanted = None if raw is None else raw.strip().lower()
    lang = normalize_lang(st.session_state.get(_LANG_KEY, DEFAULT_LANG))
    if wanted is not None and (not wanted or wanted in LANGS):
        lang = wanted or DEFAULT_LANG
    elif wanted is not None:
        _note("url.bad_choice", param="lang", value=raw)
        named = True
    st.session_state[_LANG_KEY] = lang
    if named:  # the link stays as given while a warning names it
        return lang
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
    """``?projector=1`` enlarges everything for a council room; kept like the language
    (``0``, ``false`` or ``no`` turns it off; any other value is named by :func:`link_warnings`
    and leaves the session's mode)."""
    raw, named = _display_param("projector")
    wanted = None if raw is None else raw.strip().lower()
    on = st.session_state.get(_PROJECTOR_KEY, False)
    if wanted in _ON or wanted in _OFF:
        on = wanted in _ON
    elif wanted is not None:
        _note("url.bad_choice", param="projector", value=raw)
        named = True
    st.session_state[_PROJECTOR_KEY] = on
    if on and not named:  # the link stays as given while a warning names it
        st.query_params["projector"] = "1"
    return bool(on)


def _display_param(param: str) -> tuple[str | None, bool]:
    """(``?param=``, whether a warning names it): the last value when given more than once,
    which is noted for :func:`link_warnings`."""
    values = st.query_params.get_all(param)
    if len(values) > 1:
        _note("url.repeated", param=param, n=len(values), value=values[-1])
    return (values[-1] if values else None), len(values) > 1


def _note(key: str, **params: Any) -> None:
    st.session_state.setdefault(_NOTES_KEY, []).append((key, params))


def link_warnings() -> None:
    """Name the ``?lang=`` and ``?projector=`` values not used, in the page's language (called
    once the page is configured). The values stay in the URL, so every run names them again."""
    for key, params in st.session_state.pop(_NOTES_KEY, []):
        st.warning(t(key, **{k: shown_link_value(v) for k, v in params.items()}), icon="⚠️")


def projector_on() -> bool:
    return bool(st.session_state.get(_PROJECTOR_KEY, False))
