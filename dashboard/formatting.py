"""Korean number, amount, date and age formats. Pure functions: no streamlit, no database.

Times are stored as UTC and always shown in Asia/Seoul. Amounts keep the unit of the source
document (천원 or 백만원) so a figure on screen can be checked against the printed table.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timedelta
from decimal import Decimal

from dashboard.clock import as_utc
from dashboard.i18n import DEFAULT_LANG, translate
from dashboard.settings import LOCAL_TZ

Number = int | float | Decimal

_UNIT_KEYS = {"천원": "unit.thousand_won", "백만원": "unit.million_won", "원": "unit.won"}


def _is_missing(value: object) -> bool:
    if value is None:
        return True
    try:
        return bool(math.isnan(value))  # type: ignore[arg-type]
    except TypeError:
        return False


def format_number(value: Number | None, decimals: int = 0) -> str:
    """Thousands separators, fixed decimals: 26204 → "26,204"; 1731.6, 1 → "1,731.6"."""
    if _is_missing(value):
        return "–"
    return f"{float(value):,.{decimals}f}" if decimals else f"{round(float(value)):,}"


def format_percent(value: Number | None, decimals: int = 1, signed: bool = False) -> str:
    """A percentage given in percent units: 57.4 → "57.4%"; signed: -35 → "-35.0%"."""
    if _is_missing(value):
        return "–"
    sign = "+" if signed and float(value) > 0 else ""
    return f"{sign}{float(value):,.{decimals}f}%"


def format_amount(
    value: Number | None, unit: str, lang: str = DEFAULT_LANG, decimals: int | None = None
) -> str:
    """An amount in the document's unit: (1731.6, "백만원") → "1,731.6 백만원".

    Without ``decimals``, 백만원 shows one decimal only when the value has one (documents print
    251 and 361.9 side by side) and 천원/원 show whole numbers.
    """
    if _is_missing(value):
        return "–"
    if decimals is None:
        decimals = 1 if unit == "백만원" and float(value) != round(float(value)) else 0
    unit_label = translate(_UNIT_KEYS[unit], lang) if unit in _UNIT_KEYS else unit
    return f"{format_number(value, decimals)} {unit_label}"


def to_local(moment: datetime) -> datetime:
    """A stored UTC time in Asia/Seoul. Naive values are taken as UTC (SQLite reads them so)."""
    return as_utc(moment).astimezone(LOCAL_TZ)


def format_date(value: date | datetime | None, lang: str = DEFAULT_LANG) -> str:
    """Korean style ``2024. 11. 29.``; English ISO ``2024-11-29``. Datetimes in Asia/Seoul."""
    if value is None or _is_missing(value):
        return "–"
    if isinstance(value, datetime):
        value = to_local(value).date()
    if lang == "ko":
        return f"{value.year}. {value.month}. {value.day}."
    return value.isoformat()


def format_datetime(value: datetime | None, lang: str = DEFAULT_LANG) -> str:
    """Date and 24-hour time in Asia/Seoul: ``2024. 11. 29. 14:05``."""
    if value is None or _is_missing(value):
        return "–"
    local = to_local(value)
    return f"{format_date(local.date(), lang)} {local:%H:%M}"


def format_age(then: datetime | None, now: datetime, lang: str = DEFAULT_LANG) -> str:
    """Time since ``then``: 방금 / 3분 전 / 2시간 전 / 4일 전 (just now / 3 min ago / …)."""
    if then is None or _is_missing(then):
        return translate("age.never", lang)
    return format_duration_ago(to_local(now) - to_local(then), lang)


def format_duration_ago(delta: timedelta, lang: str = DEFAULT_LANG) -> str:
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return translate("age.just_now", lang)
    if seconds < 3600:
        return translate("age.minutes", lang, n=seconds // 60)
    if seconds < 86400:
        return translate("age.hours", lang, n=seconds // 3600)
    return translate("age.days", lang, n=seconds // 86400)


def format_duration(delta: timedelta | None, lang: str = DEFAULT_LANG) -> str:
    """A span without "ago": 1시간 5분 / 1 h 5 min; under a minute in seconds."""
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return translate("duration.seconds", lang, n=seconds)
    hours, minutes = divmod(seconds // 60, 60)
    if hours == 0:
        return translate("duration.minutes", lang, m=minutes)
    if hours < 48:
        return translate("duration.hours_minutes", lang, h=hours, m=minutes)
    return translate("duration.days", lang, d=hours // 24)


def format_duration_short(delta: timedelta | None, lang: str = DEFAULT_LANG) -> str:
    """:func:`format_duration` to its largest unit, rounded down: 29시간 4분 → 29시간 (a
    projector's big figure must fit its column; the minutes do not change what is done)."""
    if delta is None:
        return "–"
    seconds = max(0, int(delta.total_seconds()))
    if 3600 <= seconds < 48 * 3600:
        return translate("duration.hours", lang, h=seconds // 3600)
    return format_duration(delta, lang)


def mask_name(name: str | None) -> str:
    """Keep the first and last character: 김영수 → 김*수, 이수 → 이*, 남궁민수 → 남**수."""
    if not isinstance(name, str) or not name.strip():
        return "–"
    name = name.strip()
    if len(name) <= 1:
        return "*"
    if len(name) == 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


# Evidence whose true/false reads as yes/no (other booleans are a call's answered flag).
YES_NO_EVIDENCE = frozenset({"steps_apply", "clock_corrected"})


def evidence_value(key: str, value: object, lang: str) -> str:
    """One evidence field's value as shown: times in Asia/Seoul, numbers, yes/no."""
    if isinstance(value, bool) and key in YES_NO_EVIDENCE:
        return translate("evidence.yes" if value else "evidence.no", lang)
    return _evidence_value(value, lang)


def _evidence_value(value: object, lang: str) -> str:
    if isinstance(value, bool):
        return translate("evidence.answered" if value else "evidence.not_answered", lang)
    if isinstance(value, int | float):
        return format_number(value, 0 if float(value).is_integer() else 1)
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return format_datetime(moment, lang) if "T" in value else value
    if isinstance(value, list):
        return ", ".join(_evidence_value(v, lang) for v in value)
    if isinstance(value, dict):
        return " ".join(_evidence_value(v, lang) for v in value.values())
    return str(value)


def format_evidence(evidence: object, lang: str = DEFAULT_LANG) -> str:
    """An alert's evidence JSON as ``label: value`` pairs, times in Asia/Seoul."""
    if evidence is None or _is_missing(evidence):
        return "–"
    if isinstance(evidence, str):
        try:
            import json

            evidence = json.loads(evidence)
        except ValueError:
            return evidence
    if not isinstance(evidence, dict):
        return _evidence_value(evidence, lang)
    parts = []
    for key, value in evidence.items():
        if key == "explanation" and evidence.get("basis"):
            from dashboard.detection.explain import explain_alert  # the sentence in ``lang``

            value = explain_alert(evidence, lang)
        label = translate(f"evidence.{key}", lang)
        label = key if label.startswith("⟦") else label
        parts.append(f"{label}: {evidence_value(key, value, lang)}")
    return " · ".join(parts)
