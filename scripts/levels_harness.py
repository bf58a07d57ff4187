"""In-process harness: the shipped plug model and the level-based CUSUM on the tune part.

Usage (from the repository root; tune part only, by construction)::

    PYTHONPATH=$PWD python scripts/levels_harness.py [--json OUT] [--limit N]

It builds the evaluation's labelled copies of the tune homes (``dashboard.evaluation``, seed
20250909), then, per copy and per whole recording, without a database:

- the shipped model as ingest, the daily learning and the rule tick apply it: each reading judged
  with ``departs`` against the background learned (``learn_background``) at the last Seoul
  midnight from the 28 nights before, light changes beyond the lux margin, activity bits per
  day, ``learn_routine`` at every midnight, and at every 10-minute tick and every reading the
  graver of ``ladder_stage`` and ``routine_stage(score_quiet(...))`` (the score up to the last
  reading, as ``plug_no_change`` scores it);
- the level CUSUM (the prototype below: per half-hour slot, the distribution of
  ``log(watts + c)`` against the home's 01:00–05:00 loads), its model learned at every midnight.

A stage change is a transition; figures follow ``dashboard.evaluation.metrics``. The level test
is reported alone (over the ladder, which always stays the floor) and combined with the shipped
model (the graver stage), at several thresholds. docs/detection.md, "Level-based evidence".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

import numpy as np

from dashboard.detection.background import departs, learn_background
from dashboard.detection.routine import learn_routine, score_quiet
from dashboard.evaluation import metrics
from dashboard.evaluation.commands import SEED, build_corpus, part_of
from dashboard.evaluation.datasets import DEFAULT_ROOT, Trace
from dashboard.evaluation.incidents import STOP_RESIDUALS
from dashboard.rules.config import current_thresholds
from dashboard.rules.plug import LIVE_FLOOR_W, NO_LOAD_W, ladder_stage, plug_ladder, routine_stage
from dashboard.settings import LOCAL_TZ

DAY, HOUR, TICK = 86_400, 3600, 600
SEOUL = 9 * HOUR
EPOCH = date(1970, 1, 1)
RANK = {None: 0, "attention": 1, "risk": 2, "severe": 3}


# --- the level model (prototype; measured, not in the rules) ---------------------------------
# Per half-hour slot of the day (weekdays and weekends apart, ±pool slots pooled) the home's
# levels log(watts + offset) over its last reference days (days with a reading above the
# unattended top), and its 01:00–05:00 levels (the unattended load), as smoothed histograms.
# Each reading adds e = log p(level | unattended) − log p(level | normal at its slot), clipped,
# times the half-hours it covers, to a CUSUM S = max(0, S + e); e ≤ −reset (a level far more
# likely with someone there) resets S. Optionally the step from the previous reading adds its own
# log-likelihood ratio (``steps``), and a level above the unattended top counts at most
# −above_clip against absence (an appliance left on). Stages: S ≥ h, 2h, 4h.

SLOTS = 48
NIGHT_SLOTS = range(2, 10)  # 01:00–05:00, the hours the unattended load is learned from
GRID = 256  # points of the density grid in log(watts + offset)
MAX_W = 20_000.0
MAX_STEP = 4.0  # steps (|change| of log(watts + offset)) are learned on [0, MAX_STEP]


@dataclass(frozen=True)
class LevelConfig:
    offset_w: float = 10.0  # c in log(watts + c): standby noise of a few watts stays small
    bandwidth: float = 0.15  # kernel width in log units (about ±15 %)
    pool: int = 2  # neighbouring half-hours pooled on each side (±1 h)
    window_days: int = 28
    min_days: int = 14  # reference days needed before the model is used
    floor: float = 0.02  # weight of a flat density mixed in: no level is impossible
    clip: float = 3.0  # evidence per half-hour clipped to [−clip, clip]
    reset: float = 2.0  # a reading with e ≤ −reset is a clear sign of life: S back to 0
    active_margin_w: float = 5.0  # a reference day has a reading this far above the night top
    steps: float = 0.0  # weight of the step evidence (|change| of log level from the last reading)
    step_bandwidth: float = 0.1
    # Above the unattended top a level may be an appliance left on: its evidence is bounded
    # below by −above_clip there, so that the steps decide (inf: the level decides).
    above_clip: float = float("inf")


def log_level(watts: np.ndarray | float, cfg: LevelConfig) -> np.ndarray:
    """``log(watts + offset)`` of readings (negative and huge readings clipped)."""
    return np.log(np.clip(np.asarray(watts, dtype=float), 0, MAX_W) + cfg.offset_w)


def _index(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Nearest of ``GRID`` points spanning [lo, hi]."""
    return np.clip(np.rint((x - lo) / (hi - lo) * (GRID - 1)), 0, GRID - 1).astype(np.int64)


def level_index(watts: np.ndarray | float, cfg: LevelConfig) -> np.ndarray:
    lo, hi = np.log(cfg.offset_w), np.log(cfg.offset_w + MAX_W)
    return _index(np.atleast_1d(log_level(watts, cfg)), lo, hi)


def step_index(steps: np.ndarray | float) -> np.ndarray:
    return _index(np.atleast_1d(np.asarray(steps, dtype=float)), 0.0, MAX_STEP)


@lru_cache(maxsize=8)
def _smoother(sd: float) -> np.ndarray:
    """A (GRID, GRID) matrix applying a Gaussian kernel of ``sd`` grid points: one matrix
    product smooths every slot's histogram at once."""
    offsets = np.arange(GRID)[:, None] - np.arange(GRID)[None, :]
    return np.exp(-0.5 * (offsets / sd) ** 2)


def _log_density(counts: np.ndarray, sd: float, floor: float) -> np.ndarray:
    """Smoothed, floored log density (per grid point) of histograms along the last axis."""
    flat = counts.reshape(-1, GRID)
    smooth = flat @ _smoother(round(sd, 6))
    total = smooth.sum(axis=1, keepdims=True)
    shape = np.where(total > 0, smooth / np.where(total > 0, total, 1), 1.0 / GRID)
    dens = (1 - floor) * shape + floor / GRID
    return np.log(dens).reshape(counts.shape)


@dataclass(frozen=True)
class LevelModel:
    """Log densities on the grids: levels ``normal[weekend, slot]`` and ``unattended``, and
    likewise the steps between consecutive readings."""

    normal: np.ndarray  # (2, 48, GRID)
    unattended: np.ndarray  # (GRID,)
    step_normal: np.ndarray  # (2, 48, GRID)
    step_unattended: np.ndarray  # (GRID,)
    top_w: float  # the unattended load's top: above it a reading is an appliance in use
    days: int  # reference days learned from
    cfg: LevelConfig


def night_top(night_w: np.ndarray, cfg: LevelConfig) -> float:
    """The unattended load's top: the 95th percentile of night readings plus a slack (the
    margin or 10 %, whichever is larger)."""
    q = float(np.quantile(night_w, 0.95))
    return q + max(cfg.active_margin_w, 0.1 * q)


def learn_levels(
    days: Mapping[date, tuple[np.ndarray, np.ndarray]],
    learned_on: date,
    cfg: LevelConfig = LevelConfig(),
) -> LevelModel | None:
    """The model from ``days`` (local day → (slots, watts) of its readings in time order) before
    ``learned_on``; None with fewer than 8 night readings to learn the unattended load from or
    fewer than ``min_days`` reference days.

    Reference days are days with a reading above the unattended load's top (someone used an
    appliance): a day away, or a dead plug, does not teach the model that an idle home is
    normal at noon. Weekends are learned apart once there are four weekend reference days.
    """
    first = learned_on - timedelta(days=cfg.window_days)
    window = {
        d: (np.asarray(s, dtype=np.int64), np.asarray(w, dtype=float))
        for d, (s, w) in days.items()
        if first <= d < learned_on and len(s)
    }
    is_night = {d: np.isin(s, NIGHT_SLOTS) for d, (s, _w) in window.items()}
    night_w = np.concatenate([w[is_night[d]] for d, (_s, w) in window.items()] or [np.empty(0)])
    if len(night_w) < 8:
        return None
    top = night_top(night_w, cfg)
    refs = [d for d, (_s, w) in window.items() if np.any(w > top)]
    if len(refs) < cfg.min_days:
        return None
    counts = np.zeros((2, SLOTS, GRID))
    steps = np.zeros((2, SLOTS, GRID))
    night_steps = []
    for d, (s, w) in window.items():
        x = log_level(w, cfg)
        dx = np.abs(np.diff(x))
        both_night = is_night[d][1:] & is_night[d][:-1]
        night_steps.append(dx[both_night])
        if d in refs:
            wk = int(d.weekday() >= 5)
            np.add.at(counts[wk], (s, level_index(w, cfg)), 1.0)
            np.add.at(steps[wk], (s[1:], step_index(dx)), 1.0)
    if sum(1 for d in refs if d.weekday() >= 5) < 4:
        counts[:] = counts.sum(axis=0)
        steps[:] = steps.sum(axis=0)
    # pool neighbouring slots (the day wraps round: 23:30 neighbours 00:00)
    window_slots = range(-cfg.pool, cfg.pool + 1)
    pooled = sum(np.roll(counts, k, axis=1) for k in window_slots)
    pooled_steps = sum(np.roll(steps, k, axis=1) for k in window_slots)
    level_sd = cfg.bandwidth / ((np.log(cfg.offset_w + MAX_W) - np.log(cfg.offset_w)) / (GRID - 1))
    step_sd = cfg.step_bandwidth / (MAX_STEP / (GRID - 1))
    night_counts = np.bincount(level_index(night_w, cfg), minlength=GRID).astype(float)
    night_step_counts = np.bincount(step_index(np.concatenate(night_steps)), minlength=GRID).astype(
        float
    )
    return LevelModel(
        normal=_log_density(pooled, level_sd, cfg.floor),
        unattended=_log_density(night_counts, level_sd, cfg.floor),
        step_normal=_log_density(pooled_steps, step_sd, cfg.floor),
        step_unattended=_log_density(night_step_counts, step_sd, cfg.floor),
        top_w=top,
        days=len(refs),
        cfg=cfg,
    )


def evidence(
    model: LevelModel,
    weekend: bool | np.ndarray,
    slot: int | np.ndarray,
    watts: float | np.ndarray,
    previous_w: float | np.ndarray | None = None,
) -> np.ndarray:
    """Log-likelihood ratio, unattended against this home's normal at ``slot``, of readings
    (unclipped): of the level, plus ``steps`` × that of the step from ``previous_w``."""
    gi = level_index(watts, model.cfg)
    wk = np.broadcast_to(np.asarray(weekend, dtype=np.int64), gi.shape)
    sl = np.broadcast_to(np.asarray(slot, dtype=np.int64), gi.shape)
    e = model.unattended[gi] - model.normal[wk, sl, gi]
    above = np.atleast_1d(np.asarray(watts, dtype=float)) > model.top_w
    e = np.where(above, np.maximum(e, -model.cfg.above_clip), e)
    if model.cfg.steps and previous_w is not None:
        cfg = model.cfg
        si = step_index(np.abs(log_level(watts, cfg) - log_level(previous_w, cfg)))
        e = e + cfg.steps * (model.step_unattended[si] - model.step_normal[wk, sl, si])
    return e


def cusum(
    e: Sequence[float] | np.ndarray,
    cfg: LevelConfig,
    weight: float = 1.0,
    start: float = 0.0,
) -> np.ndarray:
    """``S`` after each reading: ``max(0, S + weight × clip(e))``, reset to 0 by a clear sign
    of life (``e ≤ −reset``). ``weight``: half-hours per reading (2 for hourly readings)."""
    out = np.empty(len(e))
    s = start
    for i, x in enumerate(np.asarray(e, dtype=float)):
        clear = x <= -cfg.reset  # a clear sign of life
        s = 0.0 if clear else max(0.0, s + weight * min(max(x, -cfg.clip), cfg.clip))
        out[i] = s
    return out


STAGES = (None, "attention", "risk", "severe")


def level_stage(s: float, thresholds: tuple[float, float, float]) -> str | None:
    """The stage ``S`` reaches: (관심, 위험, 심각) thresholds, increasing."""
    rank = sum(1 for h in thresholds if s >= h)
    return STAGES[rank]


def level_ranks(s: np.ndarray, thresholds: tuple[float, float, float]) -> np.ndarray:
    """Stage ranks (0 none, 1 관심, 2 위험, 3 심각) of CUSUM values."""
    s = np.asarray(s, dtype=float)
    return sum((s >= h).astype(np.int8) for h in thresholds)


def combine(ranks: np.ndarray, s: np.ndarray, thresholds: tuple[float, float, float]) -> np.ndarray:
    """The graver, moment by moment, of another model's stage ranks (the shipped model, or the
    fixed ladder that always stays the floor) and the level stage: it only ever adds."""
    return np.maximum(np.asarray(ranks, dtype=np.int8), level_ranks(s, thresholds))


# --- the harness --------------------------------------------------------------------------


@dataclass
class Timeline:
    """Stage ranks (0–3) at every judged moment: ticks and readings."""

    at: np.ndarray  # epoch seconds
    shipped: np.ndarray  # the shipped model: worse of ladder and routine
    ladder: np.ndarray  # the ladder alone on the same quiet spell (the floor)
    level_s: np.ndarray  # the level CUSUM after the last reading at or before ``at``


def _utc(t: int) -> datetime:
    return datetime.fromtimestamp(t, UTC)


def simulate(trace: Trace, lcfg: LevelConfig) -> Timeline:
    th = current_thresholds()
    margin, lux_margin = th.plug_no_change.power_margin_w, th.plug_no_change.lux_margin
    cfg = th.plug_routine
    ladder = plug_ladder(None, th)
    ts, watts = trace.ts.astype(np.int64), trace.watts
    lux = trace.lux
    local = ts + SEOUL
    dayn = local // DAY
    slot = (local % DAY) // 1800
    ticks = np.arange((ts[0] // TICK + 1) * TICK, ts[-1] + trace.step_s, TICK)
    moments = np.union1d(ticks, ts)
    weight = max(trace.step_s, 1800) / 1800

    bits: dict[date, int] = {}
    nights: dict[int, list[float]] = {}  # day → [low, high, step]
    by_day: dict[date, tuple[list[int], list[float]]] = {}
    bg = bg_since = routine = model = None
    prev_w = prev_lux = None
    last_act = first_seen = int(ts[0])
    current_day = None
    s_level = 0.0
    i, n = 0, len(ts)
    out_ship = np.zeros(len(moments), dtype=np.int8)
    out_ladder = np.zeros(len(moments), dtype=np.int8)
    out_s = np.zeros(len(moments))
    for k, now in enumerate(moments):
        d = int((now + SEOUL) // DAY)
        if d != current_day:  # the daily learning at Seoul midnight
            current_day = d
            today = EPOCH + timedelta(days=d)
            got = learn_background([nights[j] for j in range(d - 1, d - 29, -1) if j in nights])
            if got is not None and bg_since is None:
                bg_since = today
            bg = got
            routine = learn_routine(
                bits,
                today,
                window_days=cfg.window_days,
                half_life_days=cfg.half_life_days,
                background=bg,
                background_since=bg_since if bg is not None else None,
                min_days=cfg.min_days,
            )
            first = today - timedelta(days=lcfg.window_days)
            model = learn_levels(
                {
                    day: (np.asarray(v[0]), np.asarray(v[1]))
                    for day, v in by_day.items()
                    if day >= first
                },
                today,
                lcfg,
            )
        while i < n and ts[i] <= now:  # ingest
            w, t, dd = float(watts[i]), int(ts[i]), int(dayn[i])
            day = EPOCH + timedelta(days=dd)
            before_w = prev_w
            active = prev_w is not None and departs(prev_w, w, margin, bg)
            if lux is not None:
                lv = float(lux[i])
                active = active or (prev_lux is not None and abs(lv - prev_lux) > lux_margin)
                prev_lux = lv
            if int(slot[i]) in NIGHT_SLOTS:
                step = abs(w - prev_w) if prev_w is not None else 0.0
                night = nights.setdefault(dd, [w, w, step])
                night[0], night[1], night[2] = (
                    min(night[0], w),
                    max(night[1], w),
                    max(night[2], step),
                )
            prev_w = w
            bits[day] = bits.get(day, 0) | ((1 << int(slot[i])) if active else 0)
            if active:
                last_act = t
            entry = by_day.setdefault(day, ([], []))
            entry[0].append(int(slot[i]))
            entry[1].append(w)
            if model is not None:
                e = float(evidence(model, day.weekday() >= 5, int(slot[i]), w, before_w)[0])
                s_level = float(cusum([e], lcfg, weight, s_level)[0])
            else:
                s_level = 0.0
            i += 1
        last_seen = int(ts[i - 1])
        since = max(last_act, first_seen)
        quiet_h = (now - since) / HOUR
        lad = RANK[ladder_stage(quiet_h, ladder)]
        rout = 0
        usable = len(routine.reference_days) >= cfg.min_days
        no_load = bg is not None and bg.low_w >= LIVE_FLOOR_W and prev_w <= NO_LOAD_W
        if usable and not no_load and last_seen > since and last_seen - since >= 2 * HOUR:
            score = score_quiet(routine, _utc(since), _utc(last_seen), LOCAL_TZ, cfg.min_share)
            rout = RANK[routine_stage(score, cfg)]
        out_ship[k] = max(lad, rout)
        out_ladder[k] = lad
        out_s[k] = s_level
    return Timeline(moments, out_ship, out_ladder, out_s)


def transitions(at: np.ndarray, rank: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Moments where the stage changes (the replay's transitions) and the new rank."""
    change = np.flatnonzero(np.diff(rank, prepend=0) != 0)
    return at[change], rank[change]


def first_h(at, rank, onset, end, severe=False) -> float | None:
    t, r = transitions(at, rank)
    sel = (t >= onset) & (t < end) & ((r == 3) if severe else (r > 0))
    return float((t[sel][0] - onset) / HOUR) if sel.any() else None


def openings(at, rank, end) -> int:
    """Alerts opened (no stage to a stage) before ``end``."""
    prev = np.concatenate([[0], rank[:-1]])
    return int(np.sum((rank > 0) & (prev == 0) & (at < end)))


def methods(tl: Timeline, grid: list[tuple[float, float, float]]) -> dict[str, np.ndarray]:
    out = {"shipped": tl.shipped, "ladder": tl.ladder}
    for h in grid:
        out[f"level@{h[0]:g}"] = combine(tl.ladder, tl.level_s, h)
        out[f"combined@{h[0]:g}"] = combine(tl.shipped, tl.level_s, h)
    return out


def figures(rows: list[dict], normal: list[dict], names: list[str]) -> dict:
    res = {}
    for name in names:
        stops = [r for r in rows if r["kind"] == "stop"]

        def summ(sel, name=name):
            return metrics.stop_summary([r[name][0] for r in sel], [r[name][1] for r in sel])

        alerts = sum(h[name] for h in normal)
        days = sum(h["days"] for h in normal)
        res[name] = {
            "stops": summ(stops),
            "by_residual": {
                k: summ([r for r in stops if r["variant"] == k]) for k in STOP_RESIDUALS
            },
            "false_alarms_per_50_days": round(metrics.per_50_days(alerts, days), 2),
            "false_alarms": alerts,
            "by_home": {h["home"]: h[name] for h in normal},
            "absence_alerted": sum(
                1 for r in rows if r["kind"] == "absence" and r[name][0] is not None
            ),
        }
    return res


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--json", help="write every figure as JSON here")
    p.add_argument("--limit", type=int, default=0, help="only the first N copies (a quick look)")
    p.add_argument("--thresholds", default="8,12,16,20,24,32,40,48")
    p.add_argument(
        "--set", action="append", default=[], metavar="KEY=VALUE", help="a LevelConfig field"
    )
    args = p.parse_args(argv)
    started = time.perf_counter()
    corpus = build_corpus(DEFAULT_ROOT, quick=False, seed=SEED, parts=("tune",))
    assert all(part_of(h) == "tune" for h in corpus.homes)  # the report part is never read
    lcfg = LevelConfig(
        **{
            k: type(getattr(LevelConfig(), k))(float(v))
            for k, v in (kv.split("=", 1) for kv in args.set)
        }
    )
    grid = [(h, 2 * h, 4 * h) for h in (float(x) for x in args.thresholds.split(","))]
    cases = corpus.cases[: args.limit] if args.limit else corpus.cases
    rows, normal = [], []
    for c in cases:
        if c.kind not in ("stop", "absence"):
            continue
        tl = simulate(c.trace, lcfg)
        row = {"case_id": c.case_id, "home": c.home, "kind": c.kind, "variant": c.variant}
        for name, rank in methods(tl, grid).items():
            row[name] = (
                first_h(tl.at, rank, c.onset, c.end),
                first_h(tl.at, rank, c.onset, c.end, True),
            )
        rows.append(row)
    for h in corpus.homes:
        tl = simulate(h, lcfg)
        end = int(h.ts[-1]) + h.step_s
        row = {"home": h.home, "days": h.days}
        for name, rank in methods(tl, grid).items():
            row[name] = openings(tl.at, rank, end)
        normal.append(row)
    names = list(methods(Timeline(np.zeros(1), np.zeros(1), np.zeros(1), np.zeros(1)), grid))
    res = figures(rows, normal, names)

    def hours(x: float | None) -> str:
        return "> 96" if x is None else f"{x:.1f}"

    for name, f in res.items():
        s = f["stops"]
        med = hours(s["median_first_alert_h"])
        by = " ".join(
            f"{k}: {hours(v['median_first_alert_h'])}/{(v['sensitivity_24h'] or 0) * 100:.0f}%"
            for k, v in f["by_residual"].items()
        )
        print(
            f"{name:16} FA/50d {f['false_alarms_per_50_days']:5.2f}  within 24/48 h "
            f"{s['sensitivity_24h'] * 100:3.0f}/{s['sensitivity_48h'] * 100:3.0f}%  "
            f"median {med:>6} h  missed {s['missed_96h']:3}/{s['n']}  {by}"
        )
    print(f"{time.perf_counter() - started:.0f} s", file=sys.stderr)
    if args.json:
        config = {k: None if v == float("inf") else v for k, v in vars(lcfg).items()}
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump(
                {"config": config, "results": res, "cases": rows, "homes": normal}, fh, indent=1
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
