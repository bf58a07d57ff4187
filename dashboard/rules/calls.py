"""Call-history monitoring (Daedeok-gu ladder): quiet line → automatic call → dong center."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from dashboard.detection.calls import CallHabit, call_habit
from dashboard.detection.explain import explain_call
from dashboard.rules.clock import quiet_since
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Decision, DeviceFacts, Reading, hours_between, iso


def unanswered_auto_calls(
    facts: DeviceFacts, readings: Sequence[Reading], since: datetime | None
) -> list[Reading]:
    """Unanswered automatic-call results on the line after ``since``, oldest first."""
    return sorted(
        (
            r
            for r in readings
            if r.type == "ai_call_result"
            and (r.data or {}).get("outcome") == "unanswered"
            and (since is None or r.ts > since)
        ),
        key=lambda r: r.ts,
    )


def first_call_signal_h(th: Thresholds) -> float:
    """The fewest hours without a call at which ``call_no_activity`` can fire on any line."""
    days_h = th.call_no_activity.days * 24
    return min(days_h, th.call_routine.min_quiet_h) if th.call_routine.enabled else days_h


def call_threshold_h(facts: DeviceFacts, th: Thresholds) -> tuple[float, CallHabit | None]:
    """Hours of silence before 관심 on this line, and the habit that set them (if any)."""
    ladder_h = th.call_no_activity.days * 24
    cfg = th.call_routine
    if not cfg.enabled or facts.routine is None:
        return ladder_h, None
    habit = call_habit(facts.routine)
    if habit is None or habit.call_days < cfg.min_days:
        return ladder_h, None
    return min(ladder_h, habit.threshold_h(cfg.gap_factor, cfg.min_quiet_h)), habit


def call_no_activity(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """No call in or out for ``days`` → 관심 and an automatic check-in call request.

    A regular caller (``[call_routine]``, ``detection.calls``) reaches 관심 earlier: after
    ``gap_factor`` × its longest silence of the last 28 days, never before ``min_quiet_h``;
    the fixed days stay the latest. The request is an outbox row (channel ``auto_call``) for
    the vendor's auto-call adapter; after each unanswered result another attempt is queued
    ``min_gap_h`` later, up to ``attempts``. Any call or an answered automatic call (a sign
    of life) clears it.
    """
    if facts.type_code != "phone_line":
        return None
    since = quiet_since(facts, "call_no_activity", facts.last_activity_at)
    if since is None:
        return None
    quiet_h = hours_between(since, now)
    evidence = {
        "quiet_h": round(quiet_h, 1),
        "threshold_days": th.call_no_activity.days,
        "last_call_at": iso(facts.last_activity_at),
        "since": iso(since),
    }
    first_h, habit = call_threshold_h(facts, th)
    # One evidence shape whether or not the line has a habit (None: no habit).
    evidence |= {
        "call_days": habit.call_days if habit else None,
        "call_window_days": habit.window_days if habit else None,
        "longest_gap_h": round(habit.longest_gap_h, 1) if habit else None,
        "threshold_h": round(first_h, 1),
    }
    if quiet_h < first_h:
        return Decision("call_no_activity", None, evidence)
    evidence["basis"] = "routine" if first_h < th.call_no_activity.days * 24 else "ladder"
    evidence["scored_at"] = iso(now)
    evidence["explanation"] = explain_call(evidence, "en")
    missed = unanswered_auto_calls(facts, readings, since)
    cfg = th.call_auto_unanswered
    outbox: tuple[dict, ...] = ()
    if len(missed) < cfg.attempts:
        attempt = len(missed) + 1
        due = now if not missed else max(now, missed[-1].ts + timedelta(hours=cfg.min_gap_h))
        outbox = (
            {
                "channel": "auto_call",
                "key": f"auto_call:{attempt}",
                "due": due,
                "payload": {"attempt": attempt, "device_id": facts.device_id, "since": iso(since)},
            },
        )
    evidence["auto_calls_unanswered"] = len(missed)
    return Decision("call_no_activity", "attention", evidence, outbox)


def call_auto_unanswered(
    facts: DeviceFacts, th: Thresholds, now: datetime, readings: Sequence[Reading] = ()
) -> Decision | None:
    """``attempts`` unanswered automatic calls, first and last at least ``min_gap_h`` apart →
    위험 and a real-time check request to the person's dong welfare center."""
    if facts.type_code != "phone_line":
        return None
    since = quiet_since(facts, "call_auto_unanswered", facts.last_activity_at)
    missed = unanswered_auto_calls(facts, readings, since)
    cfg = th.call_auto_unanswered
    if not missed:
        return Decision("call_auto_unanswered", None, {"since": iso(since)})
    gap_h = hours_between(missed[0].ts, missed[-1].ts)
    if len(missed) < cfg.attempts or gap_h < cfg.min_gap_h:
        return None  # the ladder is still running: not yet, and nothing to clear
    center = f"{facts.dong_name} 행정복지센터" if facts.dong_name else "동 행정복지센터"
    evidence = {
        "unanswered_at": [iso(r.ts) for r in missed],
        "gap_h": round(gap_h, 2),
        "last_call_at": iso(facts.last_activity_at),
        "dong_center": center,
        "request": "real_time_check",
    }
    outbox = (
        {
            "channel": "dong_center",
            "key": "dong_center",
            "due": now,
            "payload": {"target": center, "request": "real_time_check", "region": facts.region_id},
        },
    )
    return Decision("call_auto_unanswered", "risk", evidence, outbox)
