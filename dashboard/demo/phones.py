"""Daedeok-gu call-history monitoring: calls in and out, quiet spells, automatic check-in calls."""

from __future__ import annotations

import zlib
from datetime import date

import numpy as np

from dashboard.demo.clock import DAY, HOUR
from dashboard.demo.cohort import make_cohort
from dashboard.demo.context import (
    Ctx,
    Episode,
    Part,
    daily_columns,
    event_columns,
    last_index,
    state_row,
    times_in_days,
    to_dt,
)
from dashboard.demo.routines import daily_calls
from dashboard.rules import Reading
from dashboard.rules import calls as call_rules

PROGRAM = "daedeok_call_monitor"
VENDOR = "callsafe"
N = 948
RAW_DAYS = 7
CALL_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0.5, 1.5, 3, 5, 6, 6, 5, 5, 5, 5, 5, 6, 7, 6, 4, 2.5, 1, 0.3]
)


def generate(ctx: Ctx) -> Part:
    rng, grid = ctx.rng, ctx.grid
    part = Part()
    # Priority group: low-income people aged 50–64 living alone; the rest are older.
    middle = rng.random(N) < 0.7
    ages = np.where(middle, rng.integers(50, 65, N), rng.integers(65, 86, N))
    co = make_cohort(
        ctx,
        part,
        program=PROGRAM,
        type_code="phone_line",
        vendor=VENDOR,
        uid_prefix="CAL",
        n=N,
        dongs=ctx.dongs("3023000000"),
        ages=ages,
        female_share=0.45,
        household=np.full(N, "alone"),
        risk_group=np.where(middle, "middle_aged_alone", "low_income"),
        guardian_share=0.2,
        enrolled_from=date(2022, 11, 8),
    )
    pid = ctx.programs[PROGRAM]
    calls = daily_calls(rng, grid, N)
    days = grid.days
    last_day_frac = (grid.end_s - (grid.t0 + (days - 1) * DAY)) / DAY
    offline_from = np.full(N, days + 1.0)  # fractional day index when the feed stopped

    th = ctx.th
    attempts = th.call_auto_unanswered.attempts
    auto: list[tuple[int, int, bool]] = []  # automatic check-in calls: (row, ts, answered)

    # Now: a few people quiet for 2–5 days, and a few lines whose feed stopped.
    order = rng.permutation(N)
    quiet_now, feed_lost = order[:8], order[8:13]
    now_set = set(order[:13].tolist())
    # Quiet spells in the past (hospital, trip, phone lost): 3–6 days without a call.
    for i in range(N):
        if i in now_set:
            continue  # their present spell must not overlap a past one
        for _ in range(rng.poisson(0.25 * days / 90)):
            length = int(rng.integers(3, 7))
            if days - length - 3 <= 1:
                continue
            a = int(rng.integers(1, days - length - 2))
            calls[i, a : a + length] = 0
            calls[i, a - 1] = max(calls[i, a - 1], 1)
            last_call = grid.t0 + (a - 1) * DAY + int(rng.integers(9, 20)) * HOUR
            back = grid.t0 + (a + length) * DAY + 10 * HOUR
            misses = attempts if rng.random() < 0.3 else 0
            auto += _quiet_spell(ctx, part, co, i, pid, last_call, misses, back, grid.end_s)
    for i in quiet_now.tolist():
        q = float(rng.uniform(2.0, 5.0))
        a = max(int(np.ceil(days - 1 + last_day_frac - q)), 0)
        calls[i, a:] = 0
    for i in feed_lost.tolist():
        offline_from[i] = days - 1 + last_day_frac - float(rng.uniform(0.5, 4))
        calls[i, max(int(np.ceil(offline_from[i])), 0) :] = 0

    # Raw window: explicit call times for the last RAW_DAYS days; the daily counts follow them.
    w0 = max(days - RAW_DAYS, 0)
    rows, ts = times_in_days(rng, grid, calls[:, w0:], w0, CALL_HOURS)
    keep = (ts <= grid.end_s) & (ts < grid.t0 + (offline_from[rows] * DAY).astype(np.int64))
    rows, ts = rows[keep], ts[keep]
    order_ts = np.lexsort((ts, rows))
    rows, ts = rows[order_ts], ts[order_ts]
    win_counts = np.zeros((N, days - w0), dtype=int)
    np.add.at(win_counts, (rows, (ts - grid.t0) // DAY - w0), 1)
    calls[:, w0:] = win_counts
    direction = np.where(rng.random(len(ts)) < 0.45, "out", "in")
    answered = rng.random(len(ts)) < 0.9
    dur = np.where(answered, rng.lognormal(np.log(95), 0.8, len(ts)).round(), 0)
    uids = [f"{co.device_uids[r]}-c{t}" for r, t in zip(rows.tolist(), ts.tolist(), strict=True)]
    data = [{"direction": d, "answered": bool(a)} for d, a in zip(direction, answered, strict=True)]
    part.events.append(event_columns(co.device_ids[rows], uids, VENDOR, ts, "call", dur, data))
    # A sign of life, as ingestion counts it: an outgoing call or one answered long enough.
    lively = (direction == "out") | (dur >= th.call_no_activity.min_answered_s)
    last_call = np.full(N, -1, dtype=np.int64)
    last_call[rows] = ts  # rows sorted by (row, ts): the last write wins
    last_lively = np.full(N, -1, dtype=np.int64)
    last_lively[rows[lively]] = ts[lively]
    # Before the raw window only daily counts exist. Someone with no lively call inside the
    # window last spoke on the last earlier day with calls, not "never": without this the rules
    # would count their silence from enrolment, years back.
    for i in np.flatnonzero(last_lively < 0).tolist():
        earlier = np.flatnonzero(calls[i, :w0] > 0)
        if len(earlier):
            last_lively[i] = grid.t0 + int(earlier[-1]) * DAY + 18 * HOUR

    # The automatic check-in call ladder of the people quiet right now, as the vendor's adapter
    # would have run it on the rules' outbox requests (first at the quiet threshold, the next
    # ``min_gap_h`` after an unanswered one). What it adds up to is for the rules to say.
    for i in quiet_now.tolist():
        lc = int(last_lively[i])
        if lc >= 0:
            misses = int(min(rng.geometric(0.3) - 1, attempts))  # each call picked up at 30 %
            auto += _quiet_spell(ctx, part, co, i, pid, lc, misses, None, grid.end_s - 60)
    if auto:
        ar = np.array([a[0] for a in auto])
        at = np.array([a[1] for a in auto], dtype=np.int64)
        ok = [a[2] for a in auto]
        part.events.append(
            event_columns(
                co.device_ids[ar],
                [
                    f"{co.device_uids[x]}-a{t}"
                    for x, t in zip(ar.tolist(), at.tolist(), strict=True)
                ],
                VENDOR,
                at,
                "ai_call_result",
                np.where(ok, rng.integers(15, 90, len(at)), 0),
                [{"outcome": "answered" if o else "unanswered", "auto_call": True} for o in ok],
            )
        )
    # The carrier syncs each line once a day at 04:00 Seoul time.
    hb_day = np.arange(w0, days)
    hb_ts = grid.t0 + hb_day * DAY + 4 * HOUR  # t0 is Seoul midnight
    hb_mask = (hb_ts[None, :] <= grid.end_s) & (
        hb_ts[None, :] < grid.t0 + (offline_from[:, None] * DAY).astype(np.int64)
    )
    hr, hc = np.nonzero(hb_mask)
    hts = hb_ts[hc]
    part.events.append(
        event_columns(
            co.device_ids[hr],
            [f"{co.device_uids[r]}-h{t}" for r, t in zip(hr.tolist(), hts.tolist(), strict=True)],
            VENDOR,
            hts,
            "heartbeat",
            np.full(len(hts), np.nan),
            [{"source": "carrier_sync"}] * len(hts),
        )
    )
    hb_daily = np.zeros((N, days), dtype=int)
    hb_daily[:, :w0] = 1
    hb_daily[:, w0:] = hb_mask
    auto_daily = np.zeros((N, days), dtype=int)
    for r, t, _ok in auto:
        auto_daily[r, (t - grid.t0) // DAY] += 1
    active = np.minimum(calls, calls - rng.binomial(np.maximum(calls - 1, 0), 0.15))
    part.daily.append(
        daily_columns(
            co.device_ids,
            days,
            events=calls + hb_daily + auto_daily,
            active_hours=active,
            calls=calls,
            activity_slots=_activity_slots(grid, active, w0, rows[lively], ts[lively]),
        )
    )

    # Latest readings only; device_state.state is set by the rules (dashboard.demo.present).
    li = last_index(hb_mask)
    hb_last = np.where(li >= 0, hb_ts[np.maximum(li, 0)], -1)
    last_auto = {r: (t, ok) for r, t, ok in sorted(auto, key=lambda a: a[1])}
    for i in range(N):
        seen_by = [(int(last_call[i]), "call"), (int(hb_last[i]), "heartbeat")]
        lively_at = int(last_lively[i])
        if i in last_auto:
            t, ok = last_auto[i]
            seen_by.append((t, "ai_call_result"))
            lively_at = max(lively_at, t if ok else -1)
        seen, kind = max(seen_by)
        part.states.append(
            state_row(
                co.device_ids[i],
                state_since=grid.t0,
                last_seen_at=seen if seen > 0 else None,
                last_activity_at=lively_at if lively_at > 0 else None,
                last_event_type=kind if seen > 0 else None,
            )
        )
    return part


def _activity_slots(
    grid, active: np.ndarray, w0: int, rows: np.ndarray, ts: np.ndarray
) -> np.ndarray:
    """Per line and day, the half hours with a lively call, as ingestion sets them in
    ``device_daily.activity_slots`` (the call habit learns from them). Inside the raw window
    they are the calls themselves; before it, each day's lively calls at the program's usual
    hours, drawn from a generator of their own so the rest of the city stays as it was."""
    slot_rng = np.random.default_rng(zlib.crc32(b"demo phone activity slots"))
    early_rows, early_ts = times_in_days(slot_rng, grid, active[:, :w0], 0, CALL_HOURS)
    all_rows = np.concatenate([early_rows, rows])
    offset = np.concatenate([early_ts, ts]) - grid.t0  # t0 is Seoul midnight
    slots = np.zeros(active.shape, dtype=np.int64)
    bits = np.left_shift(np.int64(1), (offset % DAY) // (HOUR // 2))
    np.bitwise_or.at(slots, (all_rows, offset // DAY), bits)
    return slots


def _quiet_spell(
    ctx, part, co, i, pid, last_call: int, misses: int, back: int | None, until: int
) -> list[tuple[int, int, bool]]:
    """A quiet spell as the rules see it: ``days`` without a call → 관심 and an automatic call
    (the vendor's adapter runs the rules' outbox request a minute later); ``misses`` unanswered
    ones, ``min_gap_h`` apart, then one answered, which clears it at once. ``attempts``
    unanswered → 위험 and the dong center, until calls resume at ``back``.

    Records the closed episodes (spells still holding at ``end`` are left to the rules) and
    returns the automatic-call results (row, ts, answered) up to ``until``.
    """
    th, place = ctx.th, co.places[i]
    opened = last_call + int(th.call_no_activity.days * DAY)
    gap = int(th.call_auto_unanswered.min_gap_h * HOUR)
    attempts = th.call_auto_unanswered.attempts
    results = [(opened + 90 + k * gap, k >= misses) for k in range(min(misses + 1, attempts))]
    results = [r for r in results if r[0] <= until and (back is None or r[0] < back)]
    facts = dict(
        type_code="phone_line",
        device_id=co.device_ids[i],
        last_activity_at=last_call,
        dong_name=place.name_ko.split()[-1],
    )
    common = dict(
        kind="person",
        program_id=pid,
        region_id=place.id,
        recipient_id=int(co.recipient_ids[i]),
        device_id=int(co.device_ids[i]),
        dong_name=place.name_ko.split()[-1],
    )
    missed = [
        Reading(to_dt(t), "ai_call_result", 0.0, {"outcome": "unanswered"})
        for t, ok in results
        if not ok
    ]
    answered = [t for t, ok in results if ok]
    if answered:  # picked up: a sign of life, the rules close the alert themselves
        decision = ctx.judge(
            call_rules.call_no_activity, answered[0] - 30, readings=missed, **facts
        )
        part.episodes.append(
            Episode(
                rule="call_no_activity",
                stage="attention",
                opened_s=opened,
                resolved_s=answered[0],
                evidence=decision.evidence,
                **common,
            )
        )
    elif back is not None and len(missed) >= attempts:
        for rule in (call_rules.call_no_activity, call_rules.call_auto_unanswered):
            decision = ctx.judge(rule, back - 60, readings=missed, **facts)
            part.episodes.append(
                Episode(
                    rule=decision.rule,
                    stage=decision.stage,
                    opened_s=opened
                    if rule is call_rules.call_no_activity
                    else int(missed[-1].ts.timestamp()),
                    resolved_s=back,
                    evidence=decision.evidence,
                    truth="crisis" if ctx.rng.random() < 0.01 else "routine",
                    **common,
                )
            )
    return [(i, t, ok) for t, ok in results]
