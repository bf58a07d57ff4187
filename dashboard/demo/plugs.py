"""Seoul smart plugs: TV power and room light per household, no-change and silence episodes."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from datetime import UTC, date, datetime

import numpy as np

from dashboard.demo.clock import HOUR
from dashboard.demo.cohort import make_cohort
from dashboard.demo.context import Ctx, Episode, Part, daily_columns, event_columns, last_index
from dashboard.demo.plug_spells import Away, plug_spell_episodes
from dashboard.demo.rates import (
    PLUG_AWAY_PER_DAY,
    away_hours,
    faults_in_window,
    spells_in_window,
)
from dashboard.demo.routines import changed, tv_household
from dashboard.detection import band, levels, light
from dashboard.detection.background import Background, ceiling
from dashboard.rules.device import device_silent
from dashboard.rules.plug import plug_ladder

PROGRAM = "seoul_smart_plug"
VENDOR = "plugco"
RAW_WINDOW_H = 48
CHUNK = 2000
COUNTS = {"small": 3_200, "seoul": 32_000}
# A few people doing less week by week (the case workers' slow-risk flag): over the last
# DECLINE_DAYS the TV's on-hours are dropped with a chance growing to DECLINE_TO, as the
# evaluation's injected declines (docs/detection.md). Drawn from a generator of their own, so the
# rest of the city is the same with or without them.
DECLINE_SHARE = 0.004
DECLINE_DAYS = 42
DECLINE_TO = 0.8
NIGHT_HOURS = slice(1, 5)  # 01:00–05:00 Seoul, as ingest keeps the night (detection.background)


def generate(ctx: Ctx, progress: Callable[[float], None] | None = None) -> Part:
    rng = ctx.rng
    n = COUNTS[ctx.scale]
    part = Part()
    ages = np.where(rng.random(n) < 0.72, rng.integers(65, 93, n), rng.integers(40, 65, n))
    thresholds = rng.choice([24, 36, 48, 30, 42, 50], n, p=[0.45, 0.25, 0.2, 0.04, 0.03, 0.03])
    cohort = make_cohort(
        ctx,
        part,
        program=PROGRAM,
        type_code="smart_plug",
        vendor=VENDOR,
        uid_prefix="PLG",
        n=n,
        dongs=ctx.dongs("1100000000"),
        ages=ages,
        female_share=0.58,
        household=np.full(n, "alone"),
        risk_group=np.where(ages >= 65, "isolated_senior", "isolated_middle_aged"),
        guardian_share=0.35,
        enrolled_from=date(2022, 10, 1),
        thresholds=thresholds,
    )
    for a in range(0, n, CHUNK):
        _chunk(ctx, part, cohort, slice(a, min(a + CHUNK, n)))
        if progress:
            progress(min(a + CHUNK, n) / n)
    return part


def _chunk(ctx: Ctx, part: Part, cohort, sl: slice) -> None:
    rng, grid = ctx.rng, ctx.grid
    ids = cohort.device_ids[sl]
    uids = cohort.device_uids[sl]
    places = cohort.places[sl]
    thr = cohort.thresholds[sl]
    m = len(ids)
    hours = grid.hours
    power, lux = tv_household(rng, grid, m)
    offline = np.zeros(power.shape, dtype=bool)
    offline[:, hours:] = True
    slot_start = grid.slot_start()
    off = rng.integers(0, HOUR, m)
    ts = slot_start[None, :] + off[:, None]
    offline |= ts > grid.end_s
    program_id = ctx.programs[PROGRAM]

    def still(i: int, a: int, b: int) -> None:
        power[i, a:b] = power[i].min()
        lux[i, a:b] = lux[i, a] + rng.normal(0, 0.8, b - a).round(1)

    # Who is in a silence right now, and every plug's faults: the same fault process for the
    # past and the present (dashboard.demo.rates), so the last day is an ordinary day. Whether
    # that is an alert, and at which stage, is for the real rules to say at ``end``
    # (dashboard.demo.present).
    busy_until = np.full(m, hours)  # history episodes must end before current ones start
    silent_set: set[int] = set()
    for i in range(m):
        for start, dur in spells_in_window(rng, hours, PLUG_AWAY_PER_DAY, away_hours):
            if start + dur >= hours:  # away right now
                still(i, max(start, 0), hours)
                busy_until[i] = max(start, 0)
                silent_set.add(i)
                break
    past_faults: list[list[tuple[int, int]]] = [[] for _ in range(m)]
    for i in range(m):
        for start, dur in faults_in_window(rng, hours):
            if start + dur < hours:  # over by now: a closed device-fault ticket, if it alerted
                if start >= 1:
                    past_faults[i].append((start, dur))
            elif i not in silent_set and busy_until[i] == hours:  # still dark at ``end``
                offline[i, max(start, 0) :] = True
                busy_until[i] = max(start, 0)

    th = ctx.th
    retired: set[int] = set()
    aways: list[list[Away]] = [[] for _ in range(m)]
    cut: dict[int, int] = {}  # a plug taken back after its person died: history ends here
    # Away from home (trips, hospital stays, staying with family): the plug sees no change.
    # Whether and when that raised an alert is judged below with the rest of the plug's quiet
    # spells (dashboard.demo.plug_spells); here only what it turned out to be.
    for i in range(m):
        k = rng.poisson(PLUG_AWAY_PER_DAY * grid.days)
        for _ in range(k):
            dur = away_hours(rng)
            if busy_until[i] - dur - 2 <= 0:
                continue
            start = int(rng.integers(0, busy_until[i] - dur - 1))
            end = start + dur
            still(i, start, end)
            ladder = plug_ladder(float(thr[i]), th)
            if dur < ladder[0]:
                aways[i].append(Away(start, end, "routine"))
                continue
            u = rng.random()
            truth = (
                "deceased"
                if u < 0.0007
                else "crisis"
                if u < 0.004
                else "false_alarm"
                if u < 0.13
                else "routine"
            )
            if truth == "deceased" and busy_until[i] < hours:
                truth = "crisis"  # keep the current silence/fault sets consistent
            aways[i].append(Away(start, end, truth))
            if truth == "deceased":  # found at the end of the silence; the plug taken back
                cut[i] = int(ts[i, end])
                offline[i, end:] = True
                busy_until[i] = 0
                retired.add(i)
                break
    for i in range(m):
        # Faults in the past (router off, unplugged by mistake), over before any current one.
        for start, dur in past_faults[i]:
            if start + dur >= busy_until[i]:
                continue
            offline[i, start : start + dur] = True
            back = int(ts[i, start + dur])
            decision = ctx.judge(
                device_silent,
                back - 60,
                type_code="smart_plug",
                device_id=ids[i],
                last_seen_at=int(ts[i, start - 1]),
            )
            if decision is not None and decision.stage is not None:
                part.episodes.append(
                    Episode(
                        rule=decision.rule,
                        stage=decision.stage,
                        kind="device_fault",
                        program_id=program_id,
                        region_id=places[i].id,
                        recipient_id=None,
                        device_id=int(ids[i]),
                        opened_s=int(ts[i, start - 1]) + ctx.timeout_s("smart_plug"),
                        resolved_s=back,
                        evidence=decision.evidence,
                        truth="fault",
                        dong_name=places[i].name_ko.split()[-1],
                    )
                )

    _decline(power, ids, hours)
    reported = ~offline
    cfg = th.plug_no_change
    active = changed(power, lux, reported, cfg.power_margin_w, cfg.lux_margin)
    # The half-hour each hourly report falls in (its offset within the hour), as ingest would
    # set it in device_daily.activity_slots for the routine model.
    half = (off >= HOUR // 2).astype(np.int64)
    slot_bits = np.left_shift(
        np.int64(1), 2 * np.arange(24, dtype=np.int64)[None, :] + half[:, None]
    )
    activity_slots = (active.reshape(m, grid.days, 24) * slot_bits[:, None, :]).sum(axis=2)
    for i in range(m):
        part.episodes.extend(
            plug_spell_episodes(
                ctx,
                program_id=program_id,
                device_id=int(ids[i]),
                recipient_id=int(cohort.recipient_ids[sl][i]),
                region_id=places[i].id,
                dong_name=places[i].name_ko.split()[-1],
                no_change_hours=float(thr[i]),
                activity_slots=activity_slots[i],
                ts=ts[i],
                reported=reported[i],
                power=power[i],
                lux=lux[i],
                aways=aways[i],
                cut_s=cut.get(i),
            )
        )
    daily = daily_columns(
        ids,
        grid.days,
        events=grid.per_day(reported) * 2,
        active_hours=grid.per_day(active),
        energy_wh=np.round(grid.per_day(np.where(reported, power, 0)), 1),
        activity_slots=activity_slots,
        **_day_signals(power, reported, slot_bits, grid.days, cfg.power_margin_w),
        band_slots=_day_band(power, reported, slot_bits, grid.days, th.plug_routine.band_w),
        level_slots=_day_levels(power, reported, half, grid.days),
        light_min=_day_light(lux, reported),
    )
    part.daily.append(daily)

    # Raw events: the last RAW_WINDOW_H hours, plus each device's last report if older.
    last_rep = last_index(reported)
    last_act = last_index(active)
    window = np.zeros_like(reported)
    lo = max(hours - RAW_WINDOW_H, 0)
    window[:, lo:hours] = reported[:, lo:hours]
    has = last_rep >= 0
    window[np.nonzero(has)[0], last_rep[has]] = True
    ii, jj = np.nonzero(window)
    ets = ts[ii, jj]
    dev = ids[ii]
    for kind, values, tag in (("power", power[ii, jj], "p"), ("lux", lux[ii, jj], "l")):
        eu = [f"{uids[a]}-{tag}{t}" for a, t in zip(ii.tolist(), ets.tolist(), strict=True)]
        part.events.append(event_columns(dev, eu, VENDOR, ets, kind, values))

    # Latest readings only; device_state.state is set by the rules (dashboard.demo.present).
    for i in range(m):
        last_seen = int(ts[i, last_rep[i]]) if last_rep[i] >= 0 else None
        state, since = "normal", grid.t0
        if i in retired:  # the rules no longer judge a retired plug; it stays dark
            state, since = "offline", (last_seen or grid.t0) + ctx.timeout_s("smart_plug")
        part.states.append(
            {
                "device_id": int(ids[i]),
                "state": state,
                "state_since": since,
                "last_seen_at": last_seen,
                "last_activity_at": int(ts[i, last_act[i]]) if last_act[i] >= 0 else None,
                "last_power_w": float(power[i, last_rep[i]]) if last_rep[i] >= 0 else None,
                "last_lux": float(lux[i, last_rep[i]]) if last_rep[i] >= 0 else None,
                "last_lux_at": last_seen,
                "battery_pct": None,
                "last_lat": None,
                "last_lon": None,
                "last_event_type": "lux" if last_rep[i] >= 0 else None,
            }
        )
    first = int(cohort.device_ids[0])
    for i in retired:
        k = int(ids[i]) - first  # cohort rows are in id order
        part.devices[k]["status"] = "retired"
        last = int(ts[i, last_rep[i]]) if last_rep[i] >= 0 else grid.t0
        part.recipients[k]["ended_on"] = datetime.fromtimestamp(last + 9 * HOUR, UTC).date()
        part.recipients[k]["end_reason"] = "terminated"  # a plug taken back: 서비스 해지


def _decline(power: np.ndarray, ids: np.ndarray, hours: int) -> None:
    """Drop the TV's on-hours of a few plugs over the last ``DECLINE_DAYS`` (in place)."""
    rng = np.random.default_rng([20261203, int(ids[0])])
    chosen = np.nonzero(rng.random(len(ids)) < DECLINE_SHARE)[0]
    start = max(hours - DECLINE_DAYS * 24, 0)
    if start >= hours:
        return
    grows = DECLINE_TO * np.arange(hours - start) / (DECLINE_DAYS * 24)
    for i in chosen:
        standby = power[i].min()
        on = power[i, start:hours] > standby + 5
        dropped = on & (rng.random(hours - start) < grows)
        power[i, start:hours] = np.where(dropped, standby, power[i, start:hours])


def _day_levels(power: np.ndarray, reported: np.ndarray, half: np.ndarray, days: int) -> np.ndarray:
    """``device_daily.level_slots`` as ingest would store it from the hourly reports: each
    report's level byte in its half-hour (``half``: the report's offset within the hour), one
    reading each; None on a day without a report."""
    m = power.shape[0]
    watts = np.clip(power, 0, levels.MAX_W)
    q = np.rint((np.log(watts + levels.OFFSET_W) - np.log(levels.OFFSET_W)) / levels.UNIT)
    q = np.where(reported, np.clip(q, 0, 254), levels.NO_LEVEL).reshape(m, days, 24)
    out = np.full((m, days, levels.SLOTS), levels.NO_LEVEL, dtype=np.uint8)
    counts = np.zeros((m, days, levels.SLOTS), dtype=np.uint8)
    slot = 2 * np.arange(24)[None, :] + half[:, None]  # (m, 24)
    rows = np.arange(m)[:, None, None]
    cols = np.arange(days)[None, :, None]
    out[rows, cols, slot[:, None, :]] = q
    counts[rows, cols, slot[:, None, :]] = reported.reshape(m, days, 24)
    return np.array(levels.encode_days(out, counts), dtype=object)


def _day_light(lux: np.ndarray, reported: np.ndarray) -> np.ndarray:
    """``device_daily.light_min`` as ingest would store it from the hourly reports: each
    report's light byte in its local hour; None on a day without a report."""
    hours = np.where(reported, light.lux_bytes(lux), light.NO_LIGHT)
    return np.array(light.encode_days(hours), dtype=object)


def _day_band(
    power: np.ndarray,
    reported: np.ndarray,
    slot_bits: np.ndarray,
    days: int,
    band_w: float,
) -> np.ndarray:
    """``device_daily.band_slots`` as ingest would keep it from the hourly reports, read in
    order (``band.widen_each``: ``band.widen`` for every plug at once, hour by hour): the
    half-hours where a reading broke the plug's band (a silence is no break: ingest moves the
    band's start instead); 0 on a day with readings and no break, NaN (NULL) on a day without
    a reading."""
    m, hours = power.shape
    # hour-major copies: each hour's readings of every plug are contiguous
    watts, seen = power.T.astype(np.float64), reported.T.copy()
    broke = np.zeros((hours, m), dtype=bool)
    low, high = np.full(m, np.nan), np.full(m, np.nan)
    for h in range(hours):
        now = seen[h]
        lo, hi, b = band.widen_each(low, high, watts[h], band_w)
        np.logical_and(b, now, out=broke[h])
        np.copyto(low, lo, where=now)
        np.copyto(high, hi, where=now)
    broke = broke.T
    any_reading = reported.reshape(m, days, 24).any(axis=2)
    breaks = (broke.reshape(m, days, 24) * slot_bits[:, None, :]).sum(axis=2)
    return np.where(any_reading, breaks, np.nan)


def _day_signals(
    power: np.ndarray, reported: np.ndarray, slot_bits: np.ndarray, days: int, margin_w: float
) -> dict[str, np.ndarray]:
    """What ingest keeps per plug and local day besides the activity bits: the night's lowest,
    highest and largest step (the unattended load is learned from them), the half-hours above
    that load's ceiling and the readings' sum and count (the slow-risk flag reads them). NaN
    where a day has no reading (stored as NULL). The ceiling is the plug's whole history's,
    as the learned background would give it for a TV's steady standby."""
    m = power.shape[0]
    watts = np.where(reported, power, np.nan).reshape(m, days, 24)
    night = watts[:, :, NIGHT_HOURS]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN nights: no reading
        low = np.nanmin(night, axis=2)
        high = np.nanmax(night, axis=2)
        step = np.nanmax(np.abs(np.diff(night, axis=2)), axis=2)
        step = np.where(np.isnan(step) & ~np.isnan(high), 0.0, step)
        nights_high = np.nanquantile(high, 0.9, axis=1)
    top = np.array(
        [
            ceiling(Background(0.0, float(h), 0.0, 0), margin_w) if np.isfinite(h) else np.inf
            for h in nights_high
        ]
    )
    above = (watts > top[:, None, None]) & ~np.isnan(watts)
    n = reported.reshape(m, days, 24).sum(axis=2)
    any_reading = n > 0
    return {
        "night_low_w": np.round(low, 1),
        "night_high_w": np.round(high, 1),
        "night_step_w": np.round(step, 1),
        "above_slots": np.where(any_reading, (above * slot_bits[:, None, :]).sum(axis=2), np.nan),
        "watts_sum": np.where(any_reading, np.round(np.nansum(watts, axis=2), 1), np.nan),
        "watts_n": np.where(any_reading, n, np.nan),
    }
