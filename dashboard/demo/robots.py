"""Goyang AI care robots: reminders and conversation, hourly heartbeats, rare SOS presses."""

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
    times_in_days,
    to_dt,
)
from dashboard.demo.rates import faults_in_window
from dashboard.demo.routines import robot_services
from dashboard.rules import Reading
from dashboard.rules import robot as robot_rules
from dashboard.rules.device import device_silent

PROGRAM = "goyang_care_robot"
VENDOR = "hyobot"
N = 100
RAW_DAYS = 7
SERVICE_HOURS = np.array(
    [0, 0, 0, 0, 0, 0, 0.2, 1, 4, 5, 3, 2, 4, 2, 3, 3, 2, 1.5, 4, 2, 1.5, 3, 0.5, 0]
)
SERVICES = (
    "medication_reminder",
    "meal_reminder",
    "conversation",
    "cognitive_training",
    "health_education",
)


def generate(ctx: Ctx) -> Part:
    rng, grid = ctx.rng, ctx.grid
    part = Part()
    co = make_cohort(
        ctx,
        part,
        program=PROGRAM,
        type_code="care_robot",
        vendor=VENDOR,
        uid_prefix="ROB",
        n=N,
        dongs=ctx.dongs("4128500000"),
        ages=rng.integers(70, 96, N),
        female_share=0.7,
        household=np.full(N, "alone"),
        risk_group=np.where(rng.random(N) < 0.3, "dementia", ""),
        guardian_share=0.6,
        enrolled_from=date(2024, 7, 1),
    )
    pid = ctx.programs[PROGRAM]
    days = grid.days
    services = robot_services(rng, grid, N)
    # Robots switched off at the wall right now: the device fault rate every demo device
    # shares (dashboard.demo.rates), counting only faults still going on at the end.
    cut = np.full(N, grid.end_s + 1, dtype=np.int64)
    w0 = max(days - RAW_DAYS, 0)
    past: list[tuple[int, int, int]] = []  # (robot, start hour, hours) of faults over by now
    for i in range(N):
        faults = faults_in_window(rng, grid.hours, VENDOR)
        now = [s for s, d in faults if s + d >= grid.hours]
        if now:
            cut[i] = grid.t0 + max(now[-1], 0) * HOUR + int(rng.integers(0, HOUR))
        # Faults that ended before the raw-event window: closed device-fault tickets (later
        # ones would need their interactions and heartbeats taken out of the raw events).
        past += [(i, s, d) for s, d in faults if s >= 1 and s + d <= w0 * 24]
    rows, ts = times_in_days(rng, grid, services[:, w0:], w0, SERVICE_HOURS)
    keep = ts < np.minimum(cut[rows], grid.end_s + 1)
    rows, ts = rows[keep], ts[keep]
    counts = np.zeros((N, days - w0), dtype=int)
    np.add.at(counts, (rows, (ts - grid.t0) // DAY - w0), 1)
    services[:, w0:] = counts
    kinds = rng.choice(SERVICES, len(ts), p=[0.3, 0.25, 0.25, 0.12, 0.08])
    part.events.append(
        event_columns(
            co.device_ids[rows],
            [f"{co.device_uids[r]}-i{t}" for r, t in zip(rows.tolist(), ts.tolist(), strict=True)],
            VENDOR,
            ts,
            "interaction",
            rng.integers(20, 600, len(ts)),
            [{"service": str(k)} for k in kinds],
        )
    )
    # Hourly heartbeats for the last 24 hours.
    hb = grid.end_s - (grid.end_s % HOUR) - np.arange(24)[::-1] * HOUR
    hb_dev = hb[None, :] + (co.device_ids[:, None] % 60)  # spread a little within the minute
    hr, hc = np.nonzero((hb_dev < cut[:, None]) & (hb_dev <= grid.end_s))
    hts = hb_dev[hr, hc]
    part.events.append(
        event_columns(
            co.device_ids[hr],
            [f"{co.device_uids[r]}-h{t}" for r, t in zip(hr.tolist(), hts.tolist(), strict=True)],
            VENDOR,
            hts,
            "heartbeat",
            np.full(len(hts), np.nan),
        )
    )
    part.daily.append(
        daily_columns(
            co.device_ids,
            days,
            events=services + 24,
            active_hours=np.minimum(services, 12),
            interactions=services,
        )
    )

    for i, start, hours in past:
        place = co.places[i]
        last_seen = grid.t0 + start * HOUR
        back = grid.t0 + (start + hours) * HOUR
        decision = ctx.judge(
            device_silent,
            back - 60,
            type_code="care_robot",
            device_id=co.device_ids[i],
            last_seen_at=last_seen,
        )
        if decision is None or decision.stage is None:
            continue
        part.episodes.append(
            Episode(
                rule=decision.rule,
                stage=decision.stage,
                kind="device_fault",
                program_id=pid,
                region_id=place.id,
                recipient_id=None,
                device_id=int(co.device_ids[i]),
                opened_s=last_seen + ctx.timeout_s("care_robot"),
                resolved_s=back,
                evidence=decision.evidence,
                truth="fault",
                dong_name=place.name_ko.split()[-1],
            )
        )

    last_int = np.full(N, -1, dtype=np.int64)
    order = np.lexsort((ts, rows))
    last_int[rows[order]] = ts[order]
    # 48 h without any interaction → 관심 (past spells; the present is the rules' to judge).
    th = ctx.th
    quiet_h = th.robot.no_interaction_h
    for i in range(N):
        place = co.places[i]
        common = dict(
            kind="person",
            program_id=pid,
            region_id=place.id,
            recipient_id=int(co.recipient_ids[i]),
            device_id=int(co.device_ids[i]),
            dong_name=place.name_ko.split()[-1],
        )
        zero = services[i] == 0
        run = 0
        for d in range(days):
            run = run + 1 if zero[d] else 0
            if run == 2 and d + 1 < days and services[i, d + 1] > 0 and d + 1 < w0:
                last = grid.t0 + (d - 1) * DAY - 3 * HOUR  # 21:00 the evening before
                back = grid.t0 + (d + 1) * DAY + 9 * HOUR
                decision = ctx.judge(
                    robot_rules.robot_no_interaction,
                    back - 60,
                    type_code="care_robot",
                    device_id=co.device_ids[i],
                    last_activity_at=last,
                )
                if decision.stage is None:
                    continue
                part.episodes.append(
                    Episode(
                        rule=decision.rule,
                        stage=decision.stage,
                        opened_s=last + int(quiet_h * HOUR),
                        resolved_s=back,
                        evidence=decision.evidence,
                        **common,
                    )
                )
    # SOS presses: about two per 90 days across the fleet, mostly by mistake; each one is
    # followed up and closed by staff (an SOS never closes itself).
    sos_ts = []
    for _ in range(rng.poisson(2 * days / 90)):
        i = int(rng.integers(0, N))
        t = int(grid.t0 + rng.integers(0, max(grid.end_s - grid.t0 - 2 * HOUR, 1)))
        if t >= cut[i]:
            continue
        u = rng.random()
        truth = "false_alarm" if u < 0.55 else "routine" if u < 0.85 else "crisis"
        place = co.places[i]
        decision = ctx.judge(
            robot_rules.robot_sos,
            t,
            type_code="care_robot",
            device_id=co.device_ids[i],
            readings=[Reading(to_dt(t), "sos", 1.0)],
        )
        part.episodes.append(
            Episode(
                rule=decision.rule,
                stage=decision.stage,
                kind="person",
                program_id=pid,
                region_id=place.id,
                recipient_id=int(co.recipient_ids[i]),
                device_id=int(co.device_ids[i]),
                opened_s=t,
                resolved_s=t + int(rng.integers(10, 90)) * 60,
                evidence=decision.evidence,
                truth=truth,
                dong_name=place.name_ko.split()[-1],
                self_clearing=False,
            )
        )
        sos_ts.append((i, t))
    if sos_ts:
        si = np.array([s[0] for s in sos_ts])
        st = np.array([s[1] for s in sos_ts], dtype=np.int64)
        part.events.append(
            event_columns(
                co.device_ids[si],
                [f"{co.device_uids[i]}-s{t}" for i, t in sos_ts],
                VENDOR,
                st,
                "sos",
                np.ones(len(st)),
            )
        )
    # Latest readings only; device_state.state is set by the rules (dashboard.demo.present).
    for i in range(N):
        mine_hb = hts[hr == i]
        mine_sos = [t for j, t in sos_ts if j == i]
        cand = [(int(last_int[i]), "interaction")] if last_int[i] > 0 else []
        if len(mine_hb):
            cand.append((int(mine_hb.max()), "heartbeat"))
        cand += [(t, "sos") for t in mine_sos]
        seen, kind = max(cand) if cand else (None, None)
        acts = [c[0] for c in cand if c[1] != "heartbeat"]
        part.states.append(
            state_row(
                co.device_ids[i],
                state_since=grid.t0,
                last_seen_at=seen,
                last_activity_at=max(acts) if acts else None,
                last_event_type=kind,
            )
        )
    return part
