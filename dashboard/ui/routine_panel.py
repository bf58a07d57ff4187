"""The routine part of an alert's detail: the one-sentence explanation in the user's language
(smart-plug and phone-line alerts), and for a plug the score in words, the home's routine
strip with today and the quiet spell, and the level chart (its power against its usual and
night levels). For a person with several plugs these follow the plug the evidence describes
(``evidence_plug``), not necessarily the one the alert opened on."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
import streamlit as st

from dashboard.detection.explain import explain_alert
from dashboard.detection.level_profile import READ_DAYS, REFERENCE_DAYS, level_profile
from dashboard.formatting import format_datetime, format_number
from dashboard.i18n import state_label, translate
from dashboard.rules.config import current_thresholds
from dashboard.rules.household import JUDGE_KEY
from dashboard.settings import LOCAL_TZ
from dashboard.ui.charts import render
from dashboard.ui.data import live_now, load
from dashboard.ui.i18n import current_lang, projector_on, t
from dashboard.ui.level_chart import HEIGHT, HEIGHT_PROJECTOR, level_chart
from dashboard.ui.routine_chart import ROW_PX, ROW_PX_PROJECTOR, day_label, routine_strip_chart
from dashboard.ui.safe_text import md_escape
from queries.alerts import PersonPlug, person_plug
from queries.levels import level_days
from queries.routine import routine_strip

RULE = "plug_no_change"
EXPLAINED = (RULE, "call_no_activity")  # rules whose evidence carries a sentence
PLUG = "smart_plug"


def has_explanation(alert: dict) -> bool:
    """A plug or call alert raised by the routine-aware rules (older alerts carry no
    ``basis``)."""
    evidence = alert.get("evidence")
    return alert.get("rule") in EXPLAINED and isinstance(evidence, dict) and "basis" in evidence


def has_strip(alert: dict) -> bool:
    """A plug alert with a sentence: its home's routine strip goes under the detail."""
    return has_explanation(alert) and alert.get("rule") == RULE


def evidence_plug(alert: dict) -> PersonPlug | None:
    """The plug the alert's evidence and sentence describe (``plug_device_id``) when it is not
    the plug the alert opened on: a person's gravest plug writes them (rules.household), and a
    chart of the other plug would contradict the sentence. None when it is the same plug, or
    when the id is not a smart plug of the alert's person now (the evidence is not trusted
    alone): the alert's own device is drawn then."""
    evidence = alert.get("evidence")
    judge = evidence.get(JUDGE_KEY) if isinstance(evidence, dict) else None
    rid, opened = alert.get("recipient_id"), alert.get("device_id")
    if type(judge) is not int or rid is None or rid != rid or judge == opened:
        return None
    return load(person_plug, judge, int(rid), live=True)


def other_plug_note(alert: dict, plug: PersonPlug) -> str:
    """One clause: the alert opened on one plug, what is drawn is the evidence's other plug."""
    return t(
        "readings.other_plug",
        opened=md_escape(alert.get("device_uid") or "–"),
        shown=md_escape(plug.device_uid),
    )


def sentence(evidence: dict, lang: str) -> str:
    return explain_alert(evidence, lang)


def score_words(evidence: dict, reference_days: int | None, region_code: str | None = None) -> str:
    """The score's numbers in words, or why the routine was not scored, with the thresholds of
    the alert's district (``region_code``: its dong or district; a district may override them)."""
    cfg = current_thresholds().for_region(region_code).plug_routine
    lang = current_lang()
    share = evidence.get("routine_share")
    if share is None:
        return t(
            "routine.not_scored",
            days=format_number(reference_days or 0),
            needed=format_number(cfg.min_days),
        )
    return t(
        "routine.score",
        active=format_number(evidence.get("routine_active_days") or 0),
        days=format_number(evidence.get("routine_days") or 0),
        share=format_number(float(share) * 100),
        min_share=format_number(cfg.min_share * 100),
        expected=format_number(float(evidence.get("routine_expected_slots") or 0), 1),
        attention=f"{state_label('attention', lang)} {cfg.attention_slots:g}",
        risk=f"{state_label('risk', lang)} {cfg.risk_slots:g}",
        severe=f"{state_label('severe', lang)} {cfg.severe_slots:g}",
    )


def render_sentence(alert: dict) -> None:
    """The explanation, at the top of the detail (``has_explanation`` alerts)."""
    text = md_escape(sentence(alert["evidence"], current_lang()))
    st.info(f"**{t('routine.why')}** {text}", icon=":material/schedule:")


def render_strip(alert: dict, now: datetime, plug: PersonPlug | None = None) -> None:
    """The score in words and the routine strip (``has_explanation`` alerts), of ``plug`` (the
    evidence's plug, from ``evidence_plug``) when given, else of the alert's device."""
    lang = current_lang()
    evidence = alert["evidence"]
    device_id = plug.id if plug is not None else alert.get("device_id")
    if device_id is None or device_id != device_id:
        return
    strip = load(routine_strip, int(device_id), live_now(), live=True)
    st.markdown(f"**{t('routine.strip_title', days=len(strip.days))}**")
    if plug is not None:
        st.caption(other_plug_note(alert, plug))
    st.caption(score_words(evidence, strip.reference_days, alert.get("region_code")))
    since = pd.Timestamp(evidence["since"]).to_pydatetime() if evidence.get("since") else None
    timeout = timedelta(seconds=current_thresholds().device_silent.timeout_s.get(PLUG, 7200))
    until, key = spell_end(alert, now, strip.last_seen_at, timeout)
    today = now.astimezone(LOCAL_TZ).date()
    row_px = ROW_PX_PROJECTOR if projector_on() else ROW_PX
    chart = routine_strip_chart(strip.days, today, lang, since, until, row_px)
    render(chart, extra=70)
    if since is not None:
        st.caption(t(key, since=format_datetime(since, lang), until=format_datetime(until, lang)))
    render_levels(alert, int(device_id), since, until)


def spell_end(
    alert: dict, now: datetime, seen: datetime | None, timeout: timedelta
) -> tuple[datetime, str]:
    """Where the drawn quiet spell ends, and the caption key that says so. A closed alert's
    spell ended when it closed (drawn to now, a home back to normal would look quiet still,
    and the level chart would show today instead of the alert's day); a plug that stopped
    reporting, at its last report (the rule scores only observed time; the silence itself is
    a device fault, raised apart); else now."""
    closed = alert.get("closed_at")
    end, key = now, "routine.window_caption"
    if closed is not None and not pd.isna(closed):
        end, key = min(pd.Timestamp(closed).to_pydatetime(), now), "level_chart.strip_closed"
    if seen is None or end - seen <= timeout:
        return end, key
    return seen, "routine.window_caption_seen"


def _when(value: object) -> datetime | None:
    return pd.Timestamp(value).to_pydatetime() if value else None


def render_levels(alert: dict, device_id: int, since: datetime | None, until: datetime) -> None:
    """The level chart under the strip: a level alert's spell (``level_since`` to
    ``level_until``) against the usual levels of its kind of day; any other plug alert's quiet
    spell to ``until``. A plug without stored levels gets a caption, not a chart."""
    lang = current_lang()
    evidence = alert["evidence"]
    kind = None
    if evidence.get("basis") == "level" and evidence.get("level_until"):
        since = _when(evidence.get("level_since")) or since
        until = _when(evidence["level_until"]) or until
        kind = evidence.get("level_day_kind")
    last_day = until.astimezone(LOCAL_TZ).date()
    stored = load(level_days, device_id, last_day, live=True)
    profile = level_profile(stored, since, until, LOCAL_TZ, kind)
    if profile is None:
        st.caption(t("level_chart.not_recorded", days=format_number(READ_DAYS)))
        return
    today = live_now().astimezone(LOCAL_TZ).date()
    days = " – ".join(day_label(d, today, lang) for d in profile.days)
    st.markdown(f"**{t('level_chart.title', days=days)}**")  # our own words and dates
    height = HEIGHT_PROJECTOR if projector_on() else HEIGHT
    render(level_chart(profile, today, lang, height), extra=70)
    kind_words = translate(f"detection.explain.level_{profile.day_kind}", lang)
    notes = [
        t(
            "level_chart.caption",
            days=format_number(profile.reference_days),
            kind=kind_words,
            window=format_number(REFERENCE_DAYS),
        )
    ]
    if profile.night_w is not None:
        notes.append(t("level_chart.caption_night", watts=format_number(profile.night_w)))
    else:
        notes.append(t("level_chart.caption_no_night"))
    if profile.spell is not None and since is not None:
        notes.append(
            t(
                "level_chart.caption_spell",
                since=format_datetime(since, lang),
                until=format_datetime(until, lang),
            )
        )
    # Escaped: "25~75 %" and "01:00~05:00" in one caption would strike through the text between.
    st.caption(md_escape(" ".join(notes)))
