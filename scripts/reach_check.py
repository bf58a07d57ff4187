"""Does a plug's reach (``detection.reach``) predict how soon a stop is alerted? Checked on the
evaluation's labelled stops against what ``evaluate-detection`` measured with the product.

    PYTHONPATH=$PWD python scripts/reach_check.py EVAL.json [--part tune] [--json OUT]

``EVAL.json`` is ``evaluate-detection --json`` of the same part and seed. Each stop's labelled
copy up to the first reading after the onset is read in process as ingest and the nightly
learning read it (``departs`` against the background learned at each Seoul midnight from the
28 nights before, light changes against the light's course learned then; per day the activity
bits, the half-hours with a change beyond the fixed margins and the level bytes;
``learn_routine`` and ``learn_levels`` at that midnight: the in-process model of
``scripts/levels_harness.py``). The routine and level model of that day give the predicted
first alert (``stop_first_alert_h`` from the last sign of life up to that reading, the line
falling to the home's idle line there, on the recording's reading interval), less the time
already quiet at the onset, set beside the replay's measured first alert (every test of the
rule, the product's ingest). docs/detection.md, "How soon a stop would be noticed".
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from datetime import UTC, date, datetime, timedelta

import numpy as np

from dashboard.detection.background import departs, learn_background
from dashboard.detection.levels import LevelModel, learn_levels, level_byte, merge_levels
from dashboard.detection.light import NO_LIGHT, learn_light_course, light_departs, lux_byte
from dashboard.detection.reach import idle_line, judges, stop_first_alert_h
from dashboard.detection.routine import Routine, learn_routine
from dashboard.evaluation.commands import SEED, build_corpus
from dashboard.evaluation.datasets import DEFAULT_ROOT, Trace
from dashboard.rules.config import current_thresholds
from dashboard.settings import LOCAL_TZ

DAY, HOUR = 86_400, 3600
SEOUL = 9 * HOUR
EPOCH = date(1970, 1, 1)
NIGHT_SLOTS = range(2, 10)  # 01:00–05:00
TICK_H = 10 / 60  # the replay's tick


def routines_and_activity(
    trace: Trace,
) -> tuple[dict[int, tuple[Routine, LevelModel | None]], np.ndarray, dict[date, bytes]]:
    """The routine and level model learned at each Seoul midnight (by local day number), per
    reading the last sign of life up to it (epoch seconds), and the stored level days."""
    th = current_thresholds()
    margin, lux_margin = th.plug_no_change.power_margin_w, th.plug_no_change.lux_margin
    cfg = th.plug_routine
    ts, watts, lux = trace.ts.astype(np.int64), trace.watts, trace.lux
    local = ts + SEOUL
    dayn, slot = local // DAY, (local % DAY) // 1800
    bits: dict[date, int] = {}
    changed: dict[date, int] = {}  # half-hours with a change beyond the fixed margins
    nights: dict[int, list[float]] = {}
    routines: dict[int, Routine] = {}
    last_act = np.zeros(len(ts), dtype=np.int64)
    light_days: dict[int, bytearray] = {}  # day → the lowest light byte of each local hour
    level_days: dict[date, bytes] = {}  # day → ``level_slots`` as ingest stores them
    bg = bg_since = course = None
    prev_w = prev_lux = prev_at = None
    current, act = None, int(ts[0])
    for i in range(len(ts)):
        d = int(dayn[i])
        if d != current:  # the nightly learning at the Seoul midnight before this reading
            current = d
            today = EPOCH + timedelta(days=d)
            got = learn_background([nights[j] for j in range(d - 1, d - 29, -1) if j in nights])
            if got is not None and bg_since is None:
                bg_since = today
            bg = got
            window = [bytes(light_days[j]) for j in range(d - 1, d - 29, -1) if j in light_days]
            course = learn_light_course(window) if bg is not None and window else None
            routine = learn_routine(
                bits,
                today,
                window_days=cfg.window_days,
                half_life_days=cfg.half_life_days,
                background=bg,
                background_since=bg_since if bg is not None else None,
                min_days=cfg.min_days,
                changes=changed,
            )
            levels = learn_levels(level_days, today, cfg.window_days, cfg.min_days)
            routines[d] = (routine, levels)
        w = float(watts[i])
        active = prev_w is not None and departs(prev_w, w, margin, bg)
        fixed = prev_w is not None and departs(prev_w, w, margin, None)
        at = datetime.fromtimestamp(int(ts[i]), UTC)
        if lux is not None:  # as ingest judges light: daylight's course is no sign of life
            lv = float(lux[i])
            lit = prev_lux is not None and light_departs(
                prev_lux, prev_at, lv, at, lux_margin, course
            )
            active = active or lit
            fixed = fixed or (prev_lux is not None and abs(lv - prev_lux) > lux_margin)
            hours = light_days.setdefault(d, bytearray([NO_LIGHT] * 24))
            hour = int(slot[i]) // 2
            hours[hour] = min(hours[hour], lux_byte(lv))
            prev_lux = lv
        prev_at = at
        if int(slot[i]) in NIGHT_SLOTS:
            step = abs(w - prev_w) if prev_w is not None else 0.0
            night = nights.setdefault(d, [w, w, step])
            night[0], night[1], night[2] = min(night[0], w), max(night[1], w), max(night[2], step)
        prev_w = w
        day = EPOCH + timedelta(days=d)
        level_days[day] = merge_levels(level_days.get(day), {int(slot[i]): (level_byte(w), 1)})
        bits[day] = bits.get(day, 0) | ((1 << int(slot[i])) if active else 0)
        changed[day] = changed.get(day, 0) | ((1 << int(slot[i])) if active or fixed else 0)
        if active:
            act = int(ts[i])
        last_act[i] = act
    return routines, last_act, level_days


def _utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def predicted_h(case) -> tuple[float | None, bool]:
    """(hours from the onset to 관심 predicted for the stop, None: not within the horizon or no
    test judges; whether a test judges). The spell starts at the last sign of life up to the
    first reading after the onset (the fall to the standby is one when it departs from the
    background, as a person switching off makes one), on the recording's reading interval."""
    th = current_thresholds()
    trace, onset = case.trace, int(case.onset)
    routines, last_act, level_days = routines_and_activity(trace)
    i = min(int(np.searchsorted(trace.ts, onset)), len(trace.ts) - 1)
    learned = routines.get(int((int(trace.ts[i]) + SEOUL) // DAY))
    if learned is None:
        return None, False
    routine, levels = learned
    since = int(last_act[i])
    idle = idle_line(level_days, routine, th.plug_routine.window_days)
    h = stop_first_alert_h(
        routine,
        th,
        LOCAL_TZ,
        _utc(since),
        levels,
        report_min=trace.step_s / 60,
        idle=idle,
        fell_at=_utc(int(trace.ts[i])),  # the line was the person's until the stop
    )
    usable = judges(routine, th.plug_routine, levels)
    if h is None:
        return None, usable
    return max(h - (onset - since) / HOUR, 0.0), usable


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("eval_json")
    p.add_argument("--part", default="tune", choices=("tune", "report"))
    p.add_argument("--json")
    args = p.parse_args(argv)
    with open(args.eval_json, encoding="utf-8") as fh:
        cases = json.load(fh)["cases"]
    measured = {c["case_id"]: c["model"] for c in cases if c["kind"] == "stop"}
    corpus = build_corpus(DEFAULT_ROOT, quick=False, seed=SEED, parts=(args.part,))
    traces = {h.home: h for h in corpus.homes}
    rows = []
    for c in corpus.cases:
        if c.kind != "stop" or c.case_id not in measured:
            continue
        pred, usable = predicted_h(c)
        got = measured[c.case_id]
        rows.append(
            {
                "case_id": c.case_id,
                "home": c.home,
                "residual": c.variant,
                "usable": usable,
                "predicted_h": pred,
                "measured_h": got["first_alert_h"],
                "open_at_onset": got["open_at_onset"],
                # the rule judges only reported time: up to a reading's interval and a tick later
                "tolerance_h": traces[c.home].step_s / HOUR + TICK_H,
            }
        )
    report = summarise(rows)
    print(json.dumps(report, indent=1))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as fh:
            json.dump({"summary": report, "cases": rows}, fh, indent=1)
    return 0


def summarise(rows: list[dict]) -> dict:
    """Per residual load and per home: how often the measured first alert came no later than
    predicted (plus the recording's reading interval and the replay's 10-minute tick), the median
    difference, and the homes' medians side by side."""

    def group(key) -> dict:
        out = {}
        by = defaultdict(list)
        for r in rows:
            if r["usable"] and not r["open_at_onset"]:
                by[key(r)].append(r)
        for k, rs in sorted(by.items()):
            pairs = [
                (r["predicted_h"] if r["predicted_h"] is not None else 96.0,
                 r["measured_h"] if r["measured_h"] is not None else 96.0,
                 r["tolerance_h"])
                for r in rs
            ]  # fmt: skip
            out[k] = {
                "n": len(rs),
                "no_later_than_predicted": sum(m <= pr + tol for pr, m, tol in pairs),
                "median_predicted_h": statistics.median(pr for pr, _, _ in pairs),
                "median_measured_h": statistics.median(m for _, m, _ in pairs),
                "median_measured_minus_predicted_h": statistics.median(
                    m - pr for pr, m, _ in pairs
                ),
            }
        return out

    unusable = [r for r in rows if not r["usable"]]
    return {
        "by_residual": group(lambda r: r["residual"]),
        "by_home_standby": group(lambda r: r["home"] if r["residual"] == "standby" else "-"),
        "by_home": group(lambda r: r["home"]),
        "no_usable_routine": {
            "n": len(unusable),
            "missed_96h": sum(r["measured_h"] is None for r in unusable),
        },
    }


if __name__ == "__main__":
    sys.exit(main())
