"""Goyang AI check-in calls: unanswered in a row, or answered with a health concern."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, Reading, iso


def _results(facts: DeviceFacts, readings: Sequence[Reading], rule: str) -> list[Reading]:
    closed = facts.human_closed_at.get(rule)
    return sorted(
        (r for r in readings if r.type == "ai_call_result" and (closed is None or r.ts > closed)),
        key=lambda r: r.ts,
    )


def ai_call_unanswered(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """The latest ``unanswered_in_a_row`` results all unanswered → 관심; ``risk_in_a_row`` → 위험.

    An answered call (or one answered with a concern) ends the run and clears the alert.
    ``readings`` must hold at least the latest ``risk_in_a_row`` results of the line.
    """
    if facts.type_code != "ai_call_line":
        return None
    results = _results(facts, readings, "ai_call_unanswered")
    if not results:
        return None
    run = 0
    for r in reversed(results):
        if (r.data or {}).get("outcome") != "unanswered":
            break
        run += 1
    cfg = th.ai_call
    evidence = {"unanswered_in_a_row": run, "unanswered_at": [iso(r.ts) for r in results[-run:]]}
    if run == 0:
        evidence = {"answered_at": iso(results[-1].ts)}
        return Decision("ai_call_unanswered", None, evidence)
    if run >= cfg.risk_in_a_row:
        return Decision("ai_call_unanswered", "risk", evidence)
    if run >= cfg.unanswered_in_a_row:
        return Decision("ai_call_unanswered", "attention", evidence)
    return None


def ai_call_concern(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """A call answered with a health concern → a follow-up alert (stays until staff close it).

    Only a concern newer than the one behind this person's previous concern alert counts, so
    re-evaluating the same results never alerts twice.
    """
    if facts.type_code != "ai_call_line":
        return None
    handled = (facts.last_evidence.get("ai_call_concern") or {}).get("result_at")
    oldest = now - timedelta(hours=th.ai_call.concern_max_age_h)
    fresh = [
        r
        for r in _results(facts, readings, "ai_call_concern")
        if (r.data or {}).get("outcome") == "concern"
        and r.ts >= oldest
        and (handled is None or r.ts > datetime.fromisoformat(handled))
    ]
    if not fresh:
        return None
    latest = fresh[-1]
    evidence = {"result_at": iso(latest.ts), "note": (latest.data or {}).get("note")}
    return Decision("ai_call_concern", th.ai_call.concern_stage, evidence)
