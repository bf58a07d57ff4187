"""Goyang wandering detectors (Baekseok 1·2-dong): walks, battery, positions, leaving the zone."""

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
    state_row,
    to_dt,
)
from dashboard.demo.routines import walking
from dashboard.rules.device import device_silent, low_battery
from dashboard.rules.model import Reading
from dashboard.rules.wandering import wander_left_zone

PROGRAM = "goyang_wandering"
VENDOR = "safestep"
N = 200
STEP_S = 600  # a position every 10 minutes
RAW_H = 24


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
    th = ctx.th
    low = th.battery.low_pct
    timeout = ctx.timeout_s("wandering_detector")
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
        device_id = int(co.device_ids[i])
        common = dict(
            program_id=pid,
            region_id=place.id,
            device_id=device_id,
            dong_name=place.name_ko.split()[-1],
        )
        low_since = None
        for d in range(days):
            frac = last_frac if d == days - 1 else 1.0
            before = level[i]
            level[i] = max(level[i] - drain[i] * frac, 0)
            if before >= low > level[i]:
                low_since = grid.t0 + d * DAY + int((before - low) / drain[i] * DAY)
            if level[i] == 0 and dead_since[i] < 0:
                dead_since[i] = d + before / drain[i]
            if level[i] < charge_at[i] and d < days - 1:
                back = grid.t0 + (d + 1) * DAY - 3 * HOUR  # charged overnight
                dead_at = grid.t0 + int(dead_since[i] * DAY) if dead_since[i] >= 0 else None
                if low_since is not None:
                    seen = dead_at or back - STEP_S
                    decision = ctx.judge(
                        low_battery,
                        back - 60,
                        type_code="wandering_detector",
                        device_id=device_id,
                        battery_pct=float(np.floor(level[i])),
                        last_seen_at=seen,
                    )
                    part.episodes.append(
                        Episode(
                            rule="low_battery",
                            stage="attention",
                            kind="device_fault",
                            recipient_id=None,
                            opened_s=low_since,
                            resolved_s=back,
                            truth="fault",
                            evidence=decision.evidence,
                            **common,
                        )
                    )
                if dead_at is not None:
                    # A flat battery is a silent device to the rules (a fault ticket).
                    decision = ctx.judge(
                        device_silent,
                        back - 60,
                        type_code="wandering_detector",
                        device_id=device_id,
                        last_seen_at=dead_at,
                    )
                    if decision.stage is not None:
                        part.episodes.append(
                            Episode(
                                rule=decision.rule,
                                stage=decision.stage,
                                kind="device_fault",
                                recipient_id=None,
                                opened_s=dead_at + timeout,
                                resolved_s=back,
                                truth="fault",
                                evidence=decision.evidence,
                                **common,
                            )
                        )
                    dist[i, d] = dist[i, d] * min(dead_since[i] - d, 1) if dead_since[i] > d else 0
                level[i], low_since, dead_since[i] = 100.0, None, -1.0
        battery_end[i] = level[i]
        # Leaving the safe zone: about 0.3 times a person-year, found within hours.
        for _ in range(rng.poisson(0.3 * days / 365)):
            t = int(grid.t0 + rng.integers(0, max(grid.end_s - grid.t0 - 6 * HOUR, 1)))
            u = rng.random()
            truth = "routine" if u < 0.8 else "false_alarm" if u < 0.95 else "crisis"
            far = float(co.safe_zone[i] * rng.uniform(1.1, 3))
            out = {"lat": float(co.home_lat[i] + far / 111_000), "lon": float(co.home_lon[i])}
            # Two minutes of fixes out there: the geofence's dwell is over at ``t``.
            fixes = [Reading(to_dt(t - 120 + 30 * k), "position", None, out) for k in range(5)]
            decision = ctx.judge(
                wander_left_zone,
                t,
                type_code="wandering_detector",
                device_id=device_id,
                readings=fixes,
                last_lat=out["lat"],
                last_lon=out["lon"],
                home_lat=float(co.home_lat[i]),
                home_lon=float(co.home_lon[i]),
                safe_zone_m=float(co.safe_zone[i]),
            )
            part.episodes.append(
                Episode(
                    rule="wander_left_zone",
                    stage=decision.stage,
                    kind="person",
                    recipient_id=int(co.recipient_ids[i]),
                    opened_s=t,
                    resolved_s=t + int(rng.integers(20, 240)) * 60,
                    truth=truth,
                    evidence=decision.evidence,
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
    left = battery_end[ii] + drain[ii] * (alive_until[ii] - ts) / DAY  # counted back from the end
    batt = np.round(np.clip(left, 0, 100), 0)
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

    # Latest readings only; whether anyone is outside the zone, lost, silent or low on battery
    # at ``end`` is for the real rules to say (dashboard.demo.present).
    for i in range(N):
        mine = np.flatnonzero(ii == i)
        k = mine[np.argmax(ts[mine])]
        seen = int(ts[k])
        part.states.append(
            state_row(
                co.device_ids[i],
                state_since=grid.t0,
                last_seen_at=seen,
                last_activity_at=seen,
                battery_pct=float(batt[k]),
                last_lat=float(lat[k]),
                last_lon=float(lon[k]),
                last_event_type="position",
            )
        )
    return part
