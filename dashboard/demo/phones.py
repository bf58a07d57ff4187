"""Daedeok-gu call-history monitoring: calls in and out, quiet spells, automatic check-in calls."""

from __future__ import annotations

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
    iso,
    last_index,
    state_row,
    times_in_days,
)
from dashboard.demo.routines import daily_calls

PROGRAM = "daedeok_call_monitor"
VENDOR = "callsafe"
N = 948
TIMEOUT_S = 93_600
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

    # Quiet spells in the past (hospital, trip, phone lost): 3–6 days without a call.
    for i in range(N):
        for _ in range(rng.poisson(0.25 * days / 90)):
            length = int(rng.integers(3, 7))
            if days - length - 3 <= 1:
                continue
            a = int(rng.integers(1, days - length - 2))
            calls[i, a : a + length] = 0
            calls[i, a - 1] = max(calls[i, a - 1], 1)
            last_call = grid.t0 + (a - 1) * DAY + int(rng.integers(9, 20)) * HOUR
            _quiet_episodes(
                ctx,
                part,
                co,
                i,
                pid,
                last_call,
                grid.t0 + (a + length) * DAY + 10 * HOUR,
                rng.random() < 0.3,
            )
    # Now: a few people quiet for 2–5 days, and a few lines whose feed stopped.
    order = rng.permutation(N)
    quiet_now, feed_lost = order[:12], order[12:17]
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
    active = np.minimum(calls, calls - rng.binomial(np.maximum(calls - 1, 0), 0.15))
    part.daily.append(
        daily_columns(
            co.device_ids, days, events=calls + hb_daily, active_hours=active, calls=calls
        )
    )

    # Latest state from the raw window.
    last_call = np.full(N, -1, dtype=np.int64)
    last_call[rows] = ts  # rows sorted by (row, ts): the last write wins
    li = last_index(hb_mask)
    hb_last = np.where(li >= 0, hb_ts[np.maximum(li, 0)], -1)
    for i in range(N):
        lc, lh = int(last_call[i]), int(hb_last[i])
        seen = max(lc, lh)
        state, since = "normal", grid.t0
        if i in set(feed_lost.tolist()) and seen > 0 and grid.end_s - seen > TIMEOUT_S:
            state, since = "offline", seen + TIMEOUT_S
            part.episodes.append(
                Episode(
                    rule="device_silent",
                    stage="attention",
                    kind="device_fault",
                    program_id=pid,
                    region_id=co.places[i].id,
                    recipient_id=None,
                    device_id=int(co.device_ids[i]),
                    opened_s=seen + TIMEOUT_S,
                    resolved_s=None,
                    evidence={
                        "last_seen_at": iso(seen),
                        "timeout_s": TIMEOUT_S,
                        "cause": "no_data",
                    },
                    truth="fault",
                    dong_name=co.places[i].name_ko.split()[-1],
                )
            )
        elif i in set(quiet_now.tolist()) and lc > 0 and grid.end_s - lc >= 3 * DAY:
            ep = _quiet_episodes(ctx, part, co, i, pid, lc, None, rng.random() < 0.4)
            state, since = ep.stage, ep.opened_s
        kind = "call" if lc >= lh else "heartbeat"
        part.states.append(
            state_row(
                co.device_ids[i],
                state=state,
                state_since=since,
                last_seen_at=seen if seen > 0 else None,
                last_activity_at=lc if lc > 0 else None,
                last_event_type=kind if seen > 0 else None,
            )
        )
    return part


def _quiet_episodes(ctx, part, co, i, pid, last_call, back, unanswered) -> Episode:
    """3 days without calls → automatic call; 2 unanswered automatic calls → dong center."""
    opened = last_call + 3 * DAY
    if opened > ctx.grid.end_s:
        opened = ctx.grid.end_s
    place = co.places[i]
    common = dict(
        kind="person",
        program_id=pid,
        region_id=place.id,
        recipient_id=int(co.recipient_ids[i]),
        device_id=int(co.device_ids[i]),
        dong_name=place.name_ko.split()[-1],
    )
    first = Episode(
        rule="call_no_activity",
        stage="attention",
        opened_s=opened,
        resolved_s=back if not unanswered else opened + 2 * HOUR,
        evidence={"last_call_at": iso(last_call), "quiet_days": 3},
        truth="routine",
        **common,
    )
    if not unanswered:
        part.episodes.append(first)
        return first
    esc_at = opened + 2 * HOUR
    if esc_at > ctx.grid.end_s:
        first.resolved_s = None
        part.episodes.append(first)
        return first
    part.episodes.append(first)
    second = Episode(
        rule="call_auto_unanswered",
        stage="risk",
        opened_s=esc_at,
        resolved_s=back,
        evidence={
            "last_call_at": iso(last_call),
            "auto_calls": [
                {"at": iso(opened), "answered": False},
                {"at": iso(opened + HOUR), "answered": False},
            ],
        },
        truth="crisis" if ctx.rng.random() < 0.01 else "routine",
        **common,
    )
    part.episodes.append(second)
    return second
