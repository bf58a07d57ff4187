"""One sentence an operator trusts, from a plug or call alert's evidence, in Korean or English."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from dashboard.i18n import translate
from dashboard.settings import LOCAL_TZ


def _clock(value: str | None, reference: str | None = None) -> str:
    """``07:10`` for a time on the reference's day, else ``2026-12-01 07:10`` (local time)."""
    if not value:
        return "–"
    when = datetime.fromisoformat(value).astimezone(LOCAL_TZ)
    if reference:
        ref = datetime.fromisoformat(reference).astimezone(LOCAL_TZ)
        if ref.date() == when.date():
            return when.strftime("%H:%M")
    return when.strftime("%Y-%m-%d %H:%M")


def _duration(hours: float, lang: str) -> str:
    total = round(hours * 60)
    h, m = divmod(total, 60)
    if lang == "ko":
        return (f"{h}시간 {m}분" if m else f"{h}시간") if h else f"{m}분"
    return (f"{h} h {m} min" if m else f"{h} h") if h else f"{m} min"


def explain_plug(evidence: dict[str, Any], lang: str = "en") -> str:
    """The sentence for a ``plug_no_change`` alert (routine or ladder basis), and where the
    person was last seen on another of their plugs (``rules.household``), when; or that the
    spell counts from the return date of an away period."""
    sentence = _plug_sentence(evidence, lang)
    other, own = evidence.get("other_plug_at"), evidence.get("last_activity_at")
    if other and (not own or datetime.fromisoformat(other) > datetime.fromisoformat(own)):
        at = _clock(other, evidence.get("scored_at"))
        sentence += translate("detection.explain.other_plug", lang, at=at)
    back = evidence.get("back_on")
    if back:  # the spell counts from the return date of an away period (rules.plug)
        sentence += translate("detection.explain.back_on", lang, day=back)
    return sentence


def _plug_sentence(evidence: dict[str, Any], lang: str) -> str:
    at = evidence.get("scored_at")
    since = _clock(evidence.get("since"), at)
    quiet = _duration(float(evidence.get("no_change_hours") or 0), lang)
    if evidence.get("basis") == "routine":
        hours = float(evidence.get("no_change_hours") or 0)
        return translate(
            "detection.explain.routine" if hours < 20 else "detection.explain.routine_long",
            lang,
            since=since,
            quiet=quiet,
            active=evidence.get("routine_active_days", 0),
            days=evidence.get("routine_days", 0),
            start=_clock(evidence.get("since"), evidence.get("since")),
            end=_clock(at, at),
        )
    if evidence.get("basis") == "level":
        start, until = evidence.get("level_since"), evidence.get("level_until") or at
        hours = 0.0
        if start and until:
            span = datetime.fromisoformat(until) - datetime.fromisoformat(start)
            hours = span.total_seconds() / 3600
        kind = evidence.get("level_day_kind") or "day"
        return translate(
            "detection.explain.level",
            lang,
            since=_clock(start, at),
            quiet=_duration(hours, lang),
            above=evidence.get("level_above_days", 0),
            days=evidence.get("level_days", 0),
            kind=translate(f"detection.explain.level_{kind}", lang),
            start=_clock(start, start),
            end=_clock(until, until),
        )
    if evidence.get("basis") == "still":
        changed = evidence.get("change_since") or evidence.get("since")
        return translate(
            "detection.explain.still",
            lang,
            since=_clock(changed, at),
            quiet=_duration(float(evidence.get("still_run_h") or 0), lang),
            days=evidence.get("still_window_days") or 28,
            longest=_duration(float(evidence.get("still_longest_h") or 0), lang),
        )
    if evidence.get("basis") == "on":
        never = not float(evidence.get("on_longest_h") or 0)  # never above it in the window
        return translate(
            "detection.explain.on_never" if never else "detection.explain.on",
            lang,
            since=_clock(evidence.get("on_since"), at),
            run=_duration(float(evidence.get("on_run_h") or 0), lang),
            days=evidence.get("on_window_days") or 28,
            longest=_duration(float(evidence.get("on_longest_h") or 0), lang),
        )
    if evidence.get("basis") == "band":
        low, high = evidence.get("band_low_w"), evidence.get("band_high_w")
        apart, gaps = evidence.get("band_left_out_h"), float(evidence.get("band_gap_h") or 0)
        sentence = translate(
            "detection.explain.band_apart" if apart else "detection.explain.band",
            lang,
            since=_clock(evidence.get("band_since"), at),
            run=_duration(float(evidence.get("band_run_h") or 0), lang),
            width=f"{float(evidence.get('band_w') or 0):g}",
            low=f"{float(low or 0):.0f}",
            high=f"{float(high or 0):.0f}",
            days=evidence.get("band_window_days") or 28,
            longest=_duration(float(evidence.get("band_longest_h") or 0), lang),
            apart=_duration(float(apart or 0), lang),
        )
        if gaps:  # the band's time leaves out its hours without any report
            sentence += translate("detection.explain.band_gaps", lang, gaps=_duration(gaps, lang))
        return sentence
    if evidence.get("basis") == "steps":
        ladder = [float(evidence.get(k, d)) for k, d in _LADDER_KEYS]
        alerted = evidence.get("alerted_at")
        held = 0.0
        if alerted and at:
            span = datetime.fromisoformat(at) - datetime.fromisoformat(alerted)
            held = max(0.0, span.total_seconds() / 3600)
        return translate(
            "detection.explain.steps",
            lang,
            alerted=_clock(alerted, at),
            held=_duration(held, lang),
            risk_after=f"{ladder[1] - ladder[0]:g}",
            severe_after=f"{ladder[2] - ladder[0]:g}",
        )
    if evidence.get("basis") == "net":
        delay = float(evidence.get("net_delay_h") or 0)
        steps = _steps(evidence, delay)
        if evidence.get("net_gap_h"):  # waited for the home's own longest gap (rules.plug)
            gap = _duration(float(evidence["net_gap_h"]), lang)
            days = evidence.get("net_window_days") or 28
            return translate(
                "detection.explain.net_gap",
                lang,
                since=since,
                quiet=quiet,
                gap=gap,
                days=days,
                **steps,
            )
        return translate("detection.explain.net", lang, since=since, quiet=quiet, **steps)
    if evidence.get("ladder_clock") == "activity":  # the line moved, only the unattended load
        return translate(
            "detection.explain.ladder_unattended",
            lang,
            since=since,
            quiet=quiet,
            **_steps(evidence),
        )
    # The ladder runs on the last change beyond the margins (evidence before it existed: since).
    changed = evidence.get("change_since") or evidence.get("since")
    hours = evidence.get("change_hours", evidence.get("no_change_hours"))
    return translate(
        "detection.explain.ladder",
        lang,
        since=_clock(changed, at),
        quiet=_duration(float(hours or 0), lang),
        **_steps(evidence),
    )


_LADDER_KEYS = (("threshold_h", 24), ("risk_at_h", 36), ("severe_at_h", 48))


def _steps(evidence: dict[str, Any], delay: float = 0.0) -> dict[str, str]:
    """The ladder's three steps in hours as its sentences write them, ``delay`` later (the net)."""
    names = ("attention", "risk", "severe")
    return {
        name: f"{float(evidence.get(key, default)) + delay:g}"
        for name, (key, default) in zip(names, _LADDER_KEYS, strict=True)
    }


def explain_call(evidence: dict[str, Any], lang: str = "en") -> str:
    """The sentence for a ``call_no_activity`` alert (the line's habit or the fixed days)."""
    at = evidence.get("scored_at")
    since = _clock(evidence.get("since"), at)
    quiet = _duration(float(evidence.get("quiet_h") or 0), lang)
    if evidence.get("basis") == "routine":
        return translate(
            "detection.explain.call_routine",
            lang,
            since=since,
            quiet=quiet,
            call_days=evidence.get("call_days", 0),
            days=evidence.get("call_window_days", 28),
            gap=_duration(float(evidence.get("longest_gap_h") or 0), lang),
        )
    return translate(
        "detection.explain.call_ladder",
        lang,
        since=since,
        quiet=quiet,
        days_threshold=f"{evidence.get('threshold_days', 3):g}",
    )


def explain_alert(evidence: dict[str, Any], lang: str = "en") -> str:
    """The sentence for an alert whose evidence carries a ``basis`` (plug or call rule)."""
    if "threshold_days" in evidence:  # only the call rule's evidence has it
        return explain_call(evidence, lang)
    return explain_plug(evidence, lang)
