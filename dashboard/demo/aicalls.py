"""Goyang AI check-in calls: one call a week per senior, answered / unanswered / concern."""

from __future__ import annotations

from datetime import date, timedelta

import numpy as np

from dashboard.demo.clock import DAY, HOUR
from dashboard.demo.cohort import make_cohort
from dashboard.demo.context import (
    Ctx,
    Episode,
    Part,
    daily_columns,
    event_columns,
    state_row,
    to_dt,
)
from dashboard.rules import Reading, aicall

PROGRAM = "goyang_ai_call"
VENDOR = "carevoice"
N = 2_962
N_FIRST = 1_959  # enrolled by 2024-06; the other 1,003 in 2024 H2
CONCERNS = ("pain", "low_mood", "missed_meals", "fall", "medication")
CONCERN_NOTES = {
    "pain": "통증 호소",
    "low_mood": "우울감 호소",
    "missed_meals": "식사 거름",
    "fall": "낙상 언급",
    "medication": "복약 어려움",
}


def generate(ctx: Ctx) -> Part:
    rng, grid = ctx.rng, ctx.grid
    part = Part()
    group = rng.choice(["dementia", "alone", "couple_75plus"], N, p=[0.2, 0.55, 0.25])
    ages = np.where(group == "alone", rng.integers(65, 96, N), rng.integers(75, 96, N))
    first = [date(2022, 7, 1) + timedelta(days=int(d)) for d in rng.integers(0, 730, N_FIRST)]
    second = [date(2024, 7, 1) + timedelta(days=int(d)) for d in rng.integers(0, 184, N - N_FIRST)]
    enrolled = [min(d, grid.day0 - timedelta(days=1)) for d in first + second]
    co = make_cohort(
        ctx,
        part,
        program=PROGRAM,
        type_code="ai_call_line",
        vendor=VENDOR,
        uid_prefix="AIC",
        n=N,
        dongs=ctx.dongs("4128500000"),
        ages=ages,
        female_share=0.66,
        household=np.where(group == "couple_75plus", "couple_75plus", "alone"),
        risk_group=np.where(group == "dementia", "dementia", ""),
        guardian_share=0.5,
        enrolled_from=date(2022, 7, 1),
        enrolled=enrolled,
    )
    pid = ctx.programs[PROGRAM]
    days = grid.days
    th = ctx.th
    # A fixed weekly slot per person (weekday 10:00–16:59 Seoul time).
    weekday = rng.integers(0, 5, N)
    slot = (rng.integers(10, 17, N) * HOUR + rng.integers(0, 3600, N)).astype(np.int64)
    p_answer = rng.beta(14, 1.6, N)
    first_day = (weekday - grid.day0.weekday()) % 7
    weeks = (days - 1 - first_day) // 7 + 1
    calls = np.zeros((N, days), dtype=int)
    answered_d = np.zeros((N, days), dtype=int)
    ev_dev, ev_ts, ev_val, ev_data, ev_uid = [], [], [], [], []
    for i in range(N):
        d_idx = first_day[i] + 7 * np.arange(max(weeks[i], 0))
        ts = grid.t0 + d_idx * DAY + slot[i]
        ts = ts[ts <= grid.end_s]
        d_idx = d_idx[: len(ts)]
        u = rng.random(len(ts))
        outcome = np.where(u < p_answer[i], "answered", "unanswered")
        outcome = np.where(
            (outcome == "answered") & (rng.random(len(ts)) < 0.008), "concern", outcome
        )
        calls[i, d_idx] = 1
        answered_d[i, d_idx] = outcome != "unanswered"
        place = co.places[i]
        line = dict(type_code="ai_call_line", device_id=co.device_ids[i])
        common = dict(
            kind="person",
            program_id=pid,
            region_id=place.id,
            recipient_id=int(co.recipient_ids[i]),
            device_id=int(co.device_ids[i]),
            dong_name=place.name_ko.split()[-1],
        )
        streak: list[int] = []  # unanswered calls in a row since the last follow-up
        for t, o in zip(ts.tolist(), outcome.tolist(), strict=True):
            data = {"outcome": o, "week_call": True}
            if o == "concern":
                c = str(rng.choice(CONCERNS))
                data["concern"] = c
                data["note"] = CONCERN_NOTES[c]
                follow = t + int(rng.integers(4, 48)) * HOUR
                if follow <= grid.end_s:  # staff followed up; one still pending is the rules' call
                    reading = Reading(to_dt(t), "ai_call_result", 120.0, data)
                    decision = ctx.judge(aicall.ai_call_concern, t, readings=[reading], **line)
                    part.episodes.append(
                        Episode(
                            rule="ai_call_concern",
                            stage=decision.stage,
                            opened_s=t,
                            resolved_s=follow,
                            evidence=decision.evidence,
                            self_clearing=False,
                            **common,
                        )
                    )
            streak = [*streak, t] if o == "unanswered" else []
            if len(streak) == th.ai_call.unanswered_in_a_row:
                # Staff follow up within a day or so (the next call is a week away) and close it;
                # one still pending at ``end`` is the rules' to open.
                follow = t + int(rng.integers(2, 30)) * HOUR
                if follow <= grid.end_s:
                    readings = [
                        Reading(to_dt(x), "ai_call_result", 0.0, {"outcome": "unanswered"})
                        for x in streak
                    ]
                    decision = ctx.judge(aicall.ai_call_unanswered, t, readings=readings, **line)
                    part.episodes.append(
                        Episode(
                            rule="ai_call_unanswered",
                            stage=decision.stage,
                            opened_s=t,
                            resolved_s=follow,
                            evidence=decision.evidence,
                            truth="crisis" if rng.random() < 0.01 else "routine",
                            self_clearing=False,
                            **common,
                        )
                    )
                streak = []  # an operator's close restarts the count
            ev_uid.append(f"{co.device_uids[i]}-a{t}")
            ev_data.append(data)
        ev_dev.append(np.full(len(ts), co.device_ids[i]))
        ev_ts.append(ts)
        ev_val.append(np.where(outcome == "unanswered", 0, rng.integers(45, 300, len(ts))))
        seen = int(ts[-1]) if len(ts) else None
        ans = ts[outcome != "unanswered"]
        part.states.append(
            state_row(
                co.device_ids[i],
                state_since=grid.t0,
                last_seen_at=seen,
                last_activity_at=int(ans[-1]) if len(ans) else None,
                last_event_type="ai_call_result" if seen else None,
            )
        )
    if ev_ts:
        part.events.append(
            event_columns(
                np.concatenate(ev_dev),
                ev_uid,
                VENDOR,
                np.concatenate(ev_ts),
                "ai_call_result",
                np.concatenate(ev_val),
                ev_data,
            )
        )
    part.daily.append(
        daily_columns(co.device_ids, days, events=calls, active_hours=answered_d, calls=calls)
    )
    return part
