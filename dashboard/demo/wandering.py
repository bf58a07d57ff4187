"""Goyang wandering detectors (Baekseok 1·2-dong): walks, battery, positions, leaving the zone."""

from __future__ import annotations

from datetime import date

import numpy as np

from dashboard.demo.clock import DAY, HOUR
from dashboard.demo.cohort import make_cohort
from dashboard.demo.context import Ctx, Episode, Part, daily_columns, event_columns, iso, state_row
from dashboard.demo.routines import walking

PROGRAM = "goyang_wandering"
VENDOR = "safestep"
N = 200
TIMEOUT_S = 3600
STEP_S = 600  # a position every 10 minutes
RAW_H = 24
LOW = 15.0


def generate(ctx: Ctx) -> Part:
    rng, grid = ctx.rng, ctx.grid
    part = Part()
    dongs = [ctx.places["4128555100"], ctx.places["4128555200"]]
    co = make_cohort(
        ctx,
        part,
        program=PROGRAM,
        type_code="wandering_detector",
        vendor=VENDOR,
        uid_prefix="WND",
        n=N,
        dongs=dongs,
        ages=rng.integers(75, 96, N),
        female_share=0.62,
        household=rng.choice(["with_family", "alone", "couple_75plus"], N, p=[0.6, 0.25, 0.15]),
        risk_group=np.full(N, "dementia"),
        guardian_share=1.0,
        enrolled_from=date(2024, 7, 1),
        safe_zone=rng.choice([300, 500, 800, 1000], N, p=[0.2, 0.4, 0.3, 0.1]),
    )
    pid = ctx.programs[PROGRAM]
    days = grid.days
    dist, walk_h = walking(rng, grid, N)
    # Battery: drains 10–16 % a day; the family charges it when it gets low, some forget.
    drain = rng.uniform(10, 16, N)
    charge_at = np.where(rng.random(N) < 0.06, rng.uniform(3, 14, N), rng.uniform(30, 45, N))
    level = rng.uniform(40, 100, N)
    dead_since = np.full(N, -1.0)
    battery_end = np.zeros(N)
    last_frac = (grid.end_s - (grid.t0 + (days - 1) * DAY)) / DAY
    for i in range(N):
        place = co.places[i]
        common = dict(
            program_id=pid,
            region_id=place.id,
            device_id=int(co.device_ids[i]),
            dong_name=place.name_ko.split()[-1],
        )
        low_since = None
        for d in range(days):
            frac = last_frac if d == days - 1 else 1.0
            before = level[i]
            level[i] = max(level[i] - drain[i] * frac, 0)
            if before >= LOW > level[i]:
                low_since = grid.t0 + d * DAY + int((before - LOW) / drain[i] * DAY)
            if level[i] == 0 and dead_since[i] < 0:
                dead_since[i] = d + before / drain[i]
            if level[i] < charge_at[i] and d < days - 1:
                back = grid.t0 + (d + 1) * DAY - 3 * HOUR  # charged overnight
                if low_since is not None:
                    part.episodes.append(
                        Episode(
                            rule="low_battery",
                            stage="attention",
                            kind="device_fault",
                            recipient_id=None,
                            opened_s=low_since,
                            resolved_s=back,
                            truth="fault",
                            evidence={"battery_pct": LOW},
                            **common,
                        )
                    )
                if dead_since[i] >= 0:
                    t = grid.t0 + int(dead_since[i] * DAY)
                    part.episodes.append(
                        Episode(
                            rule="wander_no_position",
                            stage="attention",
                            kind="device_fault",
                            recipient_id=None,
                            opened_s=t + TIMEOUT_S,
                            resolved_s=back,
                            truth="fault",
                            evidence={"last_seen_at": iso(t), "cause": "battery_empty"},
                            **common,
                        )
                    )
                    dist[i, d] = dist[i, d] * min(dead_since[i] - d, 1) if dead_since[i] > d else 0
                level[i], low_since, dead_since[i] = 100.0, None, -1.0
        battery_end[i] = level[i]
        if low_since is not None:
            part.episodes.append(
                Episode(
                    rule="low_battery",
                    stage="attention",
                    kind="device_fault",
                    recipient_id=None,
                    opened_s=min(low_since, grid.end_s),
                    resolved_s=None,
                    truth="fault",
                    evidence={"battery_pct": round(float(battery_end[i]), 1)},
                    **common,
                )
            )
        # Leaving the safe zone: about 0.3 times a person-year, found within hours.
        for _ in range(rng.poisson(0.3 * days / 365)):
            t = int(grid.t0 + rng.integers(0, max(grid.end_s - grid.t0 - 6 * HOUR, 1)))
            u = rng.random()
            truth = "routine" if u < 0.8 else "false_alarm" if u < 0.95 else "crisis"
            part.episodes.append(
                Episode(
                    rule="wander_left_zone",
                    stage="severe",
                    kind="person",
                    recipient_id=int(co.recipient_ids[i]),
                    opened_s=t,
                    resolved_s=t + int(rng.integers(20, 240)) * 60,
                    truth=truth,
                    evidence={
                        "safe_zone_m": int(co.safe_zone[i]),
                        "distance_m": int(co.safe_zone[i] * rng.uniform(1.1, 3)),
                    },
                    **common,
                )
            )

    # One person is outside the safe zone right now (the wall screen's moving marker).
    online = dead_since < 0
    wanderer = int(np.flatnonzero(online)[0])
    out_since = grid.end_s - int(rng.integers(15, 45)) * 60

    # Positions for the last RAW_H hours, every STEP_S seconds, at home or on a walk.
    steps = np.arange(grid.end_s - RAW_H * HOUR + STEP_S, grid.end_s + 1, STEP_S, dtype=np.int64)
    steps -= steps % 60
    alive_until = np.where(online, grid.end_s, grid.t0 + (dead_since * DAY).astype(np.int64))
    ii, jj = np.nonzero(steps[None, :] <= alive_until[:, None])
    ts = np.minimum(steps[jj] + (co.device_ids[ii] % 7) * 5, grid.end_s)
    # A detector that died earlier still has its last position on record.
    extra = np.flatnonzero(~online & (alive_until < steps[0]))
    ii = np.concatenate([ii, extra])
    ts = np.concatenate([ts, alive_until[extra]])
    walk_start = rng.integers(9, 16, N) * HOUR + rng.integers(0, 3600, N)
    sod = (ts + 9 * HOUR) % DAY  # Seoul second of day
    walking_now = (sod >= walk_start[ii]) & (
        sod < walk_start[ii] + (walk_h[:, -1][ii] + 0.5) * HOUR
    )
    radius = np.where(walking_now, co.safe_zone[ii] * rng.uniform(0.2, 0.8, len(ii)), 8.0)
    theta = 2 * np.pi * ((sod - walk_start[ii]) / HOUR) + ii
    wz = (ii == wanderer) & (ts >= out_since)
    radius = np.where(wz, co.safe_zone[ii] * (1.1 + (ts - out_since) / 1800), radius)
    dlat = radius * np.sin(theta) / 111_000
    dlon = radius * np.cos(theta) / (111_000 * np.cos(np.radians(co.home_lat[ii])))
    lat = np.round(co.home_lat[ii] + dlat, 6)
    lon = np.round(co.home_lon[ii] + dlon, 6)
    batt = np.round(np.clip(battery_end[ii] + drain[ii] * (grid.end_s - ts) / DAY, 0, 100), 0)
    data = [
        {"lat": a, "lon": b, "battery_pct": c}
        for a, b, c in zip(lat.tolist(), lon.tolist(), batt.tolist(), strict=True)
    ]
    part.events.append(
        event_columns(
            co.device_ids[ii],
            [f"{co.device_uids[a]}-g{t}" for a, t in zip(ii.tolist(), ts.tolist(), strict=True)],
            VENDOR,
            ts,
            "position",
            np.round(radius, 0),
            data,
        )
    )
    per_day = np.full((N, days), DAY // STEP_S)
    part.daily.append(
        daily_columns(co.device_ids, days, events=per_day, active_hours=walk_h, distance_m=dist)
    )

    wplace = co.places[wanderer]
    part.episodes.append(
        Episode(
            rule="wander_left_zone",
            stage="severe",
            kind="person",
            program_id=pid,
            region_id=wplace.id,
            recipient_id=int(co.recipient_ids[wanderer]),
            device_id=int(co.device_ids[wanderer]),
            opened_s=out_since,
            resolved_s=None,
            evidence={
                "safe_zone_m": int(co.safe_zone[wanderer]),
                "distance_m": int(co.safe_zone[wanderer] * 1.1),
                "left_at": iso(out_since),
            },
            truth="routine",
            dong_name=wplace.name_ko.split()[-1],
        )
    )
    for i in range(N):
        mine = np.flatnonzero(ii == i)
        if len(mine):
            k = mine[np.argmax(ts[mine])]
            seen = int(ts[k])
            row = dict(
                last_seen_at=seen,
                last_activity_at=seen,
                battery_pct=float(batt[k]),
                last_lat=float(lat[k]),
                last_lon=float(lon[k]),
                last_event_type="position",
            )
        else:
            seen = int(alive_until[i])
            row = dict(last_seen_at=None, battery_pct=0.0)
        state, since = "normal", grid.t0
        if not online[i]:
            state, since = "offline", seen + TIMEOUT_S
            part.episodes.append(
                Episode(
                    rule="wander_no_position",
                    stage="attention",
                    kind="device_fault",
                    program_id=pid,
                    region_id=co.places[i].id,
                    recipient_id=None,
                    device_id=int(co.device_ids[i]),
                    opened_s=min(seen + TIMEOUT_S, grid.end_s),
                    resolved_s=None,
                    truth="fault",
                    evidence={"last_seen_at": iso(seen), "cause": "battery_empty"},
                    dong_name=co.places[i].name_ko.split()[-1],
                )
            )
        elif i == wanderer:
            state, since = "severe", out_since
        part.states.append(state_row(co.device_ids[i], state=state, state_since=since, **row))
    # A dead detector also has an open low-battery ticket: keep only the no-position one.
    part.episodes = [
        e
        for e in part.episodes
        if not (
            e.rule == "low_battery"
            and e.resolved_s is None
            and not online[e.device_id - int(co.device_ids[0])]
        )
    ]
    return part
