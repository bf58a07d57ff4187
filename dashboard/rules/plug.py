"""Seoul smart plugs: no change in power and light for the person's no-change period."""

from __future__ import annotations

from datetime import datetime

from dashboard.rules.clock import live_since, quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, Stage, hours_between, iso

RULE = "plug_no_change"


def plug_ladder(no_change_hours: float | None, th: Thresholds) -> tuple[float, float, float]:
    """(관심, 위험, 심각) hours for a person.

    The personal setting (24–50 h) moves the first signal; the later stages keep fixed steps
    after it (+12 h, +24 h by default) rather than scaling, so a person with a long setting is
    never left more than a day past their first signal before 심각.
    """
    cfg = th.plug_no_change
    first = cfg.default_hours if no_change_hours is None else float(no_change_hours)
    first = min(max(first, cfg.min_hours), cfg.max_hours)
    return first, first + cfg.risk_after_attention_h, first + cfg.severe_after_attention_h


def ladder_stage(hours: float, ladder: tuple[float, float, float]) -> Stage | None:
    attention, risk, severe = ladder
    if hours >= severe:
        return "severe"
    if hours >= risk:
        return "risk"
    if hours >= attention:
        return "attention"
    return None


def plug_no_change(facts: DeviceFacts, th: Thresholds, now: datetime) -> Decision | None:
    """관심/위험/심각 after the person's ladder without a change beyond the noise margins.

    ``last_activity_at`` is the last power or lux change beyond the margins (kept by ingestion).
    A plug that stopped reporting keeps its clock running: nobody is observing the person, and
    the device fault is raised separately by ``device_silent``. When the quiet time reaches into
    history received later (a back-fill), it can open 관심 at once but 위험 and 심각 count only
    the time Anbu has been observing the plug (``dashboard.rules.clock``).
    """
    if facts.type_code != "smart_plug":
        return None
    since = quiet_since(facts, RULE, facts.last_activity_at)
    if since is None:
        return None
    quiet_h = hours_between(since, now)
    ladder = plug_ladder(facts.no_change_hours, th)
    stage = ladder_stage(quiet_h, ladder)
    live = live_since(facts, RULE, facts.last_activity_at)
    if stage is not None and live is not None and live > since:
        stage = ladder_stage(hours_between(live, now), ladder) or "attention"
    evidence = {
        "no_change_hours": round(quiet_h, 1),
        "threshold_h": ladder[0],
        "risk_at_h": ladder[1],
        "severe_at_h": ladder[2],
        "last_activity_at": iso(facts.last_activity_at),
        "since": iso(since),
        "power_w": facts.last_power_w,
        "lux": facts.last_lux,
        "last_seen_at": iso(facts.last_seen_at),
    }
    if live is not None and live > since:
        evidence["observed_since"] = iso(live)
    return Decision(RULE, stage, evidence)
