"""The one translation layer: ``translate("key", lang, **kwargs)`` over data/i18n/{ko,en}.toml.

Pure (no streamlit): pages use ``dashboard.ui.i18n.t`` which supplies the session's language.
A missing key is shown as ``⟦key⟧`` rather than crashing a wall screen; a unit test keeps every
key used in the code present in both files.
"""

from __future__ import annotations

import tomllib
from functools import lru_cache
from typing import Any

from dashboard.settings import DATA_DIR

LANGS = ("ko", "en")
DEFAULT_LANG = "ko"
I18N_DIR = DATA_DIR / "i18n"

# Device states (device_state.state) and alert stages in display order, mild to grave.
STATES = ("normal", "attention", "risk", "severe", "offline")
STAGES = ("attention", "risk", "severe")


def normalize_lang(value: object) -> str:
    """Any URL or session value to a supported language; unknown values fall back to Korean."""
    text = str(value or "").strip().lower()
    return text if text in LANGS else DEFAULT_LANG


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for key, value in table.items():
        full = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{full}."))
        else:
            flat[full] = str(value)
    return flat


@lru_cache(maxsize=len(LANGS))
def catalog(lang: str) -> dict[str, str]:
    """All strings of one language as flat dotted keys."""
    with (I18N_DIR / f"{normalize_lang(lang)}.toml").open("rb") as fh:
        return _flatten(tomllib.load(fh))


def translate(key: str, lang: str = DEFAULT_LANG, **kwargs: Any) -> str:
    text = catalog(normalize_lang(lang)).get(key)
    if text is None:
        return f"⟦{key}⟧"
    return text.format(**kwargs) if kwargs else text


def has_key(key: str, lang: str = DEFAULT_LANG) -> bool:
    return key in catalog(normalize_lang(lang))


def translate_or(key: str, fallback: str, lang: str = DEFAULT_LANG, **kwargs: Any) -> str:
    """Translate a key built from data (e.g. ``rule.<code>``), showing the code if unknown."""
    return translate(key, lang, **kwargs) if has_key(key, lang) else fallback


def state_label(state: str, lang: str = DEFAULT_LANG) -> str:
    """정상/관심/위험/심각/장애 ↔ normal/attention/risk/severe/offline."""
    return translate(f"state.{state}", lang)


def localized(row: Any, field: str, lang: str = DEFAULT_LANG) -> str:
    """Pick ``{field}_ko`` or ``{field}_en`` from a mapping or row (falling back to Korean)."""
    value = row.get(f"{field}_{lang}") if hasattr(row, "get") else getattr(row, f"{field}_{lang}")
    if value is None or value != value:  # None or NaN
        value = row.get(f"{field}_ko") if hasattr(row, "get") else getattr(row, f"{field}_ko")
    return str(value)
