"""The plug rule run over a stored history: every quiet spell of one plug judged at each
half-hour, as the live tick would have judged it, in a few array operations.

The live rule scores one spell with one stored routine (``routine.score_quiet``). The threshold
preview and the demo city's history need the same judgement for every spell of weeks of days,
with the routine as the nightly job would have learned it on each day; scoring spell by spell
costs about 20 ms per plug-month, too slow for a Seoul district or a 90-day demo city. Here the
routine of every day is built at once (reference days, recency weights, slot probabilities as
``(day, lag)`` arrays) and every evaluation point of every spell is scored together. It is the
same model, not an approximation: ``tests/unit/test_detection_scan.py`` checks it against
``score_quiet`` and ``plug_ladder`` point by point.

Inputs are half-hour activity bits per local day (``device_daily.activity_slots``); Seoul has no
daylight saving, so every local day has 48 slots and slot arithmetic is exact. The last sign of
life is taken at the middle of its half-hour and activity resuming at the start of its half-hour
(the preview's stated resolution).

The left-on test (``detection.left_on``) is replayed beside the spells, not inside them: a TV
that flickers is a sign of life at every reading, so its run above the background's ceiling is
not a quiet spell. Its runs come from ``device_daily.above_slots`` (days stored without a
ceiling have none): half-hours above the ceiling joined as the record joins them (up to two
empty half-hours bridged, three end the run, and so does a day without a row), the run taken
to start at the start of its first half-hour and judged at the start of each later one up to
the one after its last. Live, ``device_state.above_since`` is the exact first reading, one
reading at or under the ceiling ends the run, and so do 90 minutes without any report; here an
alert can open up to half an hour earlier, and a half-hour without a reading above cannot be
told from one with a reading under it (bridged either way). Only a standby's plug is judged
(``left_on.judges``), by the plug's current background (``preview`` passes ``above`` only
then); live, by the day's.
Each day's record is ``left_on.longest_on_in_rows`` over the rows the nightly job reads at
that day's midnight; the stage is the rule's (``still_threshold_h``/``still_stage_rank`` with
``on_factor``/``on_min_h``), under its conditions (``plug_routine.enabled`` and
``on_enabled``, not young, a record).

The band test (``detection.band``) is replayed the same way from ``device_daily.band_slots``
(the half-hours where a reading broke the band; days read as ``band.band_days`` reads them):
each band taken to start at the start of its break's half-hour and judged at the start of each
later one up to the next break's, and a day without a row ends it at its midnight. Live,
``device_state.band_since`` is the exact breaking reading and hours without any report are left
out of the band's time (``band_gap_h``); here an alert can open up to half an hour earlier, and
earlier still by any outage inside the band. Live, a drop keeps a held band alert open; here an
opening ends at the next break. The rule does not judge a plug at 0 W (``no_load``); the
replay, which keeps no power, does. Each day's record is the one the nightly job learns at that
day's midnight (``band.usual_longest`` over the times between breaks, one band ``band_factor``
times longer than any other left out), the stage the rule's with ``band_factor``/
``band_min_h``, under ``plug_routine.enabled`` and ``band_enabled``, not young, a record.

Counting: live, a plug has one ``plug_no_change`` alert at a time, whichever test raises it;
it stays open while any test gives a stage, and one raised by the left-on test is held until
its run ends. So a run that reaches its threshold is one opening (at its first stage, held
until the run ends), and an alert of a spell and one of a run that overlap in time (a steady
heater left on is both above the ceiling and quiet) are one opening, under the highest stage
either reached (the spell's basis where they tie, as the rule names it).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Any

import numpy as np

from dashboard.detection import left_on, levels, stillness
from dashboard.detection.band import usual_longest
from dashboard.detection.routine import SLOT, SLOTS_PER_DAY, _day_number
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Stage
from dashboard.rules.plug import net_wait, plug_ladder
from dashboard.settings import LOCAL_TZ

STAGES: tuple[Stage, ...] = ("attention", "risk", "severe")
# The run tests after the spell's, in the rule's order (which names an alert where they tie).
RUN_ORDER = {"on": 1, "band": 2}
_NONE = 1 << 30  # a wait that did not end within a day: sorts after every real one


@dataclass(frozen=True)
class SpellAlert:
    """One quiet spell that reached a stage: when it began and ended, when it first reached a
    stage (its alert's opening), the highest stage it reached and what decided that. For a run
    of the left-on test (basis "on") or a band (basis "band"), ``since`` is the run's start and
    ``end`` its end."""

    since: datetime  # the last sign of life (UTC)
    end: datetime  # activity resumed, or the scan's end while still quiet (UTC)
    running: bool  # still quiet at the scan's end
    opened_at: datetime
    stage: Stage
    # "ladder", "net", "routine", "level", "still", "on" or "band": which reached the top stage
    basis: str
    top_at: datetime  # when it first reached that stage
    reached: tuple[tuple[Stage, datetime], ...] = ()  # each stage on the way, when first reached


def _slot_start(day0: date, index: int) -> datetime:
    day, slot = divmod(index, SLOTS_PER_DAY)
    midnight = datetime.combine(day0 + timedelta(days=day), time.min, LOCAL_TZ)
    return (midnight + slot * SLOT).astimezone(UTC)


def _stage_index(values: np.ndarray, limits: tuple[float, float, float]) -> np.ndarray:
    """0 (none), 1 (관심), 2 (위험) or 3 (심각) per value against ascending limits."""
    return sum((values >= limit).astype(np.int8) for limit in limits)


class _Days:
    """One plug's days as arrays, and each day's routine as the nightly job learns it."""

    @cached_property
    def gap_h(self) -> np.ndarray:
        """Per day, the longest time between two signs of life of the window before it, as
        ``Routine.gap_h`` (NaN: none): the net waits for it. Worked out only for a plug whose
        spells reach the net (about 1 ms a plug)."""
        return _still_record(self.act.ravel(), self.present, self.window, self.min_days)

    def __init__(
        self,
        days: dict[date, int],
        th: Thresholds,
        background_since: date | None,
        last: date,
        changes: dict[date, int] | None = None,
        above: dict[date, int] | None = None,
        band: dict[date, int] | None = None,
        seen: dict[date, int] | None = None,
    ):
        cfg = th.plug_routine
        self.day0 = min(days)
        # Through the scan's last day, and one quiet day after the last row.
        self.n = max((max(days) - self.day0).days + 2, (last - self.day0).days + 1)
        bits = np.zeros(self.n, dtype=np.uint64)
        present = np.zeros(self.n, dtype=bool)
        for day, value in days.items():
            bits[(day - self.day0).days] = value
            present[(day - self.day0).days] = True
        shifts = np.arange(SLOTS_PER_DAY, dtype=np.uint64)
        self.act = ((bits[:, None] >> shifts) & np.uint64(1)).astype(bool)  # (n, 48)
        flat = self.act.ravel()
        positions = np.flatnonzero(flat)
        # The spells end at the person's signs of life on any plug of theirs and at a return
        # from an away period (``seen``: rules.household, rules.plug.person_activity); the
        # routine's waits read the plug's own.
        self.active_slots = positions
        if seen:
            elsewhere, _days = _day_bits(seen, self.day0, self.n)
            self.active_slots = np.flatnonzero(flat | elsewhere)
        self.next_active = np.append(positions, flat.size)[
            np.searchsorted(positions, np.arange(flat.size + 1))
        ]
        # Changes beyond the margins (the ladder's clock): every sign of life is one, and a
        # day stored without its own change bits counts its signs of life only.
        changed = bits.copy()
        for day, value in (changes or {}).items():
            k = (day - self.day0).days
            if 0 <= k < self.n and value is not None:
                changed[k] |= np.uint64(value)
        flat_changes = ((changed[:, None] >> shifts) & np.uint64(1)).astype(bool).ravel()
        # For each slot index j: the last slot before j holding a change (-1: none).
        marks = np.where(flat_changes, np.arange(flat_changes.size), -1)
        self.last_change_before = np.concatenate(([-1], np.maximum.accumulate(marks)))
        self.still_h = _still_record(flat_changes, present, cfg.window_days, cfg.min_days)
        self.present, self.min_days = present, cfg.min_days
        # The half-hours above the ceiling, and the days stored against one (the record's rows).
        self.above, self.judged = _day_bits(above, self.day0, self.n)
        # The half-hours where a reading broke the band, and the days stored with them (days
        # with power readings); both records only for the days a long run needs.
        self.breaks, self.kept = _day_bits(band, self.day0, self.n)
        window, lags = cfg.window_days, np.arange(1, cfg.window_days + 1)
        # Days reported in the window before each day: a routine exists from min_days on.
        reported = np.concatenate(([0], np.cumsum(present)))
        day_index = np.arange(self.n)
        self.young = (
            reported[day_index] - reported[np.maximum(day_index - window, 0)] < cfg.min_days
        )
        lagged = day_index[:, None] - lags[None, :]  # (n, W): the day ``lag`` days before
        inside = lagged >= 0
        has_activity = self.act.any(axis=1)
        active = inside & has_activity[np.clip(lagged, 0, None)]
        if background_since is not None:
            clean = active & (lagged >= (background_since - self.day0).days)
            use_clean = clean.sum(axis=1) >= cfg.min_days
            self.ref = np.where(use_clean[:, None], clean, active)
        else:
            self.ref = active
        self.weights = 0.5 ** (lags / cfg.half_life_days)
        self.usable = self.ref.sum(axis=1) >= cfg.min_days
        self.lagged = lagged
        self.window = window
        # Weekday and weekend slot probabilities of each day's routine: (n, 2, 48).
        epoch = _day_number(self.day0)
        weekend = (epoch + lagged) % 7 >= 5
        probs = np.zeros((self.n, 2, SLOTS_PER_DAY))
        rows = self.act[np.clip(lagged, 0, None)]  # (n, W, 48)
        for kind, same in enumerate((~weekend, weekend)):
            chosen = self.ref & same
            few = chosen.sum(axis=1) < 4
            chosen = np.where(few[:, None], self.ref, chosen)
            w = chosen * self.weights[None, :]
            total = w.sum(axis=1)
            summed = np.einsum("dw,dws->ds", w, rows)
            probs[:, kind, :] = np.divide(
                summed, total[:, None], out=np.zeros_like(summed), where=total[:, None] > 0
            )
        self.probs = probs
        self.epoch = epoch

    def score(
        self, today: np.ndarray, first: np.ndarray, last: np.ndarray, quantile: float
    ) -> tuple[np.ndarray, np.ndarray]:
        """(share, expected) for spells with full slots ``first``..``last`` (indices from
        ``day0``'s first slot) scored on day ``today`` with that day's routine, with
        ``quantile`` = the rule's ``min_share``. ``expected`` is only worked out where
        ``share`` reaches ``quantile`` (elsewhere 0): below it no stage is possible."""
        ref = self.ref[today]  # (p, W)
        w = np.where(ref, self.weights[None, :], 0.0)
        lag = np.arange(1, self.window + 1)
        start = first[:, None] - lag[None, :] * SLOTS_PER_DAY
        lo = np.maximum(today - self.window, 0)[:, None] * SLOTS_PER_DAY
        hi = today[:, None] * SLOTS_PER_DAY
        found = self.next_active[np.clip(np.maximum(start, lo), 0, self.next_active.size - 1)]
        wait = found - start
        wait = np.where((found < hi) & (wait < SLOTS_PER_DAY) & ref, wait, _NONE)
        span = last - first
        total = w.sum(axis=1)
        safe_total = np.where(total > 0, total, 1.0)
        share = np.where(total > 0, (w * (wait <= span[:, None])).sum(axis=1) / safe_total, 0.0)
        expected = np.zeros(share.size)
        hot = np.flatnonzero(share >= quantile)
        if not hot.size:
            return share, expected
        wait, w, total = wait[hot], w[hot], total[hot]
        first, last, today, span = first[hot], last[hot], today[hot], span[hot]
        order = np.argsort(wait, axis=1, kind="stable")
        reached = np.cumsum(np.take_along_axis(w, order, axis=1), axis=1)
        k = (reached < (quantile * total - 1e-9)[:, None]).sum(axis=1)
        picked = np.take_along_axis(order, np.minimum(k, self.window - 1)[:, None], axis=1)
        normal = np.where(k < self.window, np.take_along_axis(wait, picked, axis=1)[:, 0], _NONE)
        counted = (total > 0) & (normal < _NONE) & (normal < span)
        # Usual activity missed after the home is normally back: at most the last day's slots.
        offset = np.arange(SLOTS_PER_DAY)
        index = last[:, None] - (SLOTS_PER_DAY - 1) + offset[None, :]
        keep = counted[:, None] & (index >= (first + normal + 1)[:, None])
        kind = ((self.epoch + index // SLOTS_PER_DAY) % 7 >= 5).astype(np.int64)
        p = self.probs[today[:, None], kind, index % SLOTS_PER_DAY]
        expected[hot] = np.where(keep, p, 0.0).sum(axis=1)
        return share, expected


def _still_record(
    flat_changes: np.ndarray, present: np.ndarray, window: int, min_days: int
) -> np.ndarray:
    """Per day, the longest still run (hours) of the ``window`` reported days before it, as
    ``stillness.longest_still_h`` learns it at that day's midnight; NaN where there is none."""
    n = present.size
    out = np.full(n, np.nan)
    changed = flat_changes.reshape(n, SLOTS_PER_DAY)
    reported = np.concatenate(([0], np.cumsum(present)))
    for k in range(n):
        lo = max(k - window, 0)
        if reported[k] - reported[lo] < min_days:
            continue
        rows = lo + np.flatnonzero(present[lo:k])  # the rows the nightly job reads
        record = stillness.longest_in_rows(changed[rows], rows)
        if record is not None:
            out[k] = record
    return out


def _day_bits(
    values: Mapping[date, int] | None, day0: date, n: int
) -> tuple[np.ndarray, np.ndarray]:
    """(flat half-hour bits, days with a stored value) of a ``device_daily`` bit column over the
    scan's ``n`` days from ``day0``: all False without values (a plug without them costs nothing
    more)."""
    stored = np.zeros(n, dtype=bool)
    if not values:
        return np.zeros(n * SLOTS_PER_DAY, dtype=bool), stored
    bits = np.zeros(n, dtype=np.uint64)
    for day, value in values.items():
        k = (day - day0).days
        if 0 <= k < n and value is not None:
            bits[k], stored[k] = np.uint64(int(value) & stillness.FULL_DAY), True
    shifts = np.arange(SLOTS_PER_DAY, dtype=np.uint64)
    return ((bits[:, None] >> shifts) & np.uint64(1)).astype(bool).ravel(), stored


def _rows_record(
    flat: np.ndarray,
    stored: np.ndarray,
    window: int,
    min_days: int,
    only: np.ndarray | None,
    longest: Callable[[np.ndarray, np.ndarray], float | None],
) -> np.ndarray:
    """Per day, ``longest`` over the rows of the ``window`` days before it with a stored value,
    as the nightly job learns the record at that day's midnight; NaN where there is none (fewer
    than ``min_days`` such days, or ``longest`` finds none) or outside ``only`` (days wanted)."""
    n = stored.size
    out = np.full(n, np.nan)
    bits = flat.reshape(n, SLOTS_PER_DAY)
    counted = np.concatenate(([0], np.cumsum(stored)))
    for k in range(n) if only is None else only.tolist():
        lo = max(k - window, 0)
        if counted[k] - counted[lo] < min_days:
            continue
        rows = lo + np.flatnonzero(stored[lo:k])  # the rows the nightly job reads
        record = longest(bits[rows], rows)
        if record is not None:
            out[k] = record
    return out


def _on_record(
    flat_above: np.ndarray,
    judged: np.ndarray,
    window: int,
    min_days: int,
    only: np.ndarray | None = None,
) -> np.ndarray:
    """Per day, the longest run above the ceiling (hours) of the ``window`` days before it with
    ``above_slots``, as ``left_on.longest_on_h`` learns it at that day's midnight; NaN where
    there is none (fewer than ``min_days`` such days) or outside ``only`` (the days wanted)."""
    return _rows_record(flat_above, judged, window, min_days, only, left_on.longest_on_in_rows)


def _band_record(
    flat_breaks: np.ndarray,
    kept: np.ndarray,
    window: int,
    min_days: int,
    only: np.ndarray | None = None,
    factor: float | None = None,
) -> np.ndarray:
    """Per day, the longest time between two breaks of the band (hours) of the ``window`` days
    before it with ``band_slots``, as ``band.band_record`` learns it at that day's midnight;
    NaN where there is none or outside ``only`` (the days wanted).

    Not by rows as the other records (a plug breaks its band in most half-hours of its days):
    the times between consecutive breaks once, and each day the longest of those inside its
    window, as ``stillness.longest_in_rows`` reads them (two breaks with a day without a row
    between them do not count), one band ``factor`` times longer than any other left out
    (``band.usual_longest``)."""
    n = kept.size
    out = np.full(n, np.nan)
    at = np.flatnonzero(flat_breaks)
    if at.size < 2:
        return out
    day = at // SLOTS_PER_DAY
    missing = np.concatenate(([0], np.cumsum(~kept)))  # days without a row before each day
    unbroken = missing[day[1:]] == missing[day[:-1] + 1]
    gaps = np.where(unbroken, np.diff(at), -1)
    counted = np.concatenate(([0], np.cumsum(kept)))
    for k in range(n) if only is None else only.tolist():
        lo = max(k - window, 0)
        if counted[k] - counted[lo] < min_days:
            continue
        first, last = np.searchsorted(day, (lo, k))  # the breaks inside the window
        runs = gaps[first : last - 1]
        longest = usual_longest(runs[runs >= 0], factor)
        if longest is not None:
            out[k] = longest
    return out


def _wanted_days(firsts: np.ndarray, finals: np.ndarray, min_h: float, n: int) -> np.ndarray:
    """The days a run is judged on from the first point that may reach 관심 (``min_h``)."""
    first_point = firsts + int(np.ceil(2 * min_h))
    wanted = [
        np.arange(a // SLOTS_PER_DAY, b // SLOTS_PER_DAY + 1)
        for a, b in zip(first_point, finals, strict=True)
    ]
    return np.unique(np.minimum(np.concatenate(wanted), n - 1))


def _judged_runs(
    d: _Days,
    runs: list[tuple[int, int, int, bool]],
    record: np.ndarray,
    factor: float,
    min_h: float,
    basis: str,
) -> list[SpellAlert]:
    """The runs (start, end, last point judged, running; slot indices) that reached a stage of
    a run test (the left-on test, the band test): the run's time at the start of each half-hour
    after its start against the day's ``record`` (the rule's ``still_threshold_h`` with
    ``factor``/``min_h``), where the plug is not young and the day has a record."""
    # every run's points at once (a home breaks its band every night), then each run's stages
    points = [np.arange(s + 1, last_point + 1) for s, _e, last_point, _r in runs]
    sizes = np.array([p.size for p in points])
    j = np.concatenate(points)
    since = np.repeat(np.array([run[0] for run in runs]), sizes)
    day = np.minimum(j // SLOTS_PER_DAY, d.n - 1)
    held = record[day]
    ok = ~d.young[day] & ~np.isnan(held)
    at_h = stillness.still_threshold_h(np.nan_to_num(held), factor, min_h)
    ranks = np.where(ok, stillness.still_stage_rank((j - since) / 2, at_h), 0)
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    out = []
    for n in np.flatnonzero(np.maximum.reduceat(ranks, bounds[:-1]) if ranks.size else []):
        s, e, _last_point, r = runs[n]
        rank, at = ranks[bounds[n] : bounds[n + 1]], j[bounds[n] : bounds[n + 1]]
        top = int(rank.max())
        steps = tuple(
            (STAGES[level - 1], _slot_start(d.day0, int(at[np.argmax(rank >= level)])))
            for level in range(int(rank[rank > 0].min()), top + 1)
        )
        out.append(
            SpellAlert(
                since=_slot_start(d.day0, s),
                end=_slot_start(d.day0, e),
                running=r,
                opened_at=_slot_start(d.day0, int(at[np.argmax(rank > 0)])),
                stage=STAGES[top - 1],
                basis=basis,
                top_at=_slot_start(d.day0, int(at[np.argmax(rank == top)])),
                reached=steps,
            )
        )
    return out


def _on_alerts(d: _Days, th: Thresholds, start_index: float, end_index: int) -> list[SpellAlert]:
    """Each run above the ceiling (up to the slot holding the scan's end) that reached a stage
    of the left-on test, as ``plug_no_change`` judges ``above_since``: see the module's note."""
    cfg = th.plug_routine
    at = np.flatnonzero(d.above[: end_index + 1])
    if at.size == 0:
        return []
    joined = np.diff(at) <= left_on.BRIDGE
    firsts = at[np.concatenate(([True], ~joined))]
    lasts = at[np.concatenate((~joined, [True]))]
    # A run whose last half-hour above is this close to the end may still be going.
    running = lasts >= end_index - left_on.BRIDGE
    final = np.where(running, end_index, lasts + 1)  # the last point judged
    keep = (final - firsts >= 2 * cfg.on_min_h) & (final > start_index)
    if not keep.any():
        return []
    days = _wanted_days(firsts[keep], final[keep], cfg.on_min_h, d.n)
    on_h = _on_record(d.above, d.judged, cfg.window_days, cfg.min_days, days)
    runs = [
        (int(s), int(last_point if r else e + 1), int(last_point), bool(r))
        for s, e, last_point, r in zip(
            firsts[keep], lasts[keep], final[keep], running[keep], strict=True
        )
    ]
    return _judged_runs(d, runs, on_h, cfg.on_factor, cfg.on_min_h, "on")


def _band_alerts(d: _Days, th: Thresholds, start_index: float, end_index: int) -> list[SpellAlert]:
    """Each band (up to the slot holding the scan's end) that reached a stage of the band test,
    as ``plug_no_change`` judges ``band_since``: from the start of the half-hour of the break
    that started it to the start of the half-hour of the next break, or to the midnight of the
    first day after it without ``band_slots`` (no reading that day: live, the band's time stops
    at the last report and the next reading breaks it), or to the scan's end (still held)."""
    cfg = th.plug_routine
    at = np.flatnonzero(d.breaks[: end_index + 1])
    if at.size == 0:
        return []
    missing = np.append(np.flatnonzero(~d.kept), d.n) * SLOTS_PER_DAY
    gap = missing[np.searchsorted(missing, at, side="right")]  # the next day without a row
    nxt = np.append(at[1:], end_index)
    running = np.zeros(at.size, dtype=bool)
    running[-1] = gap[-1] > end_index
    final = np.minimum(nxt, gap)  # the last point judged, where the band ends
    keep = (final - at >= 2 * cfg.band_min_h) & (final > start_index)
    if not keep.any():
        return []
    days = _wanted_days(at[keep], final[keep], cfg.band_min_h, d.n)
    band_h = _band_record(d.breaks, d.kept, cfg.window_days, cfg.min_days, days, cfg.band_factor)
    runs = [
        (int(s), int(e), int(e), bool(r))
        for s, e, r in zip(at[keep], final[keep], running[keep], strict=True)
    ]
    return _judged_runs(d, runs, band_h, cfg.band_factor, cfg.band_min_h, "band")


def one_at_a_time(alerts: list[SpellAlert]) -> list[SpellAlert]:
    """A plug's alerts (or a person's plugs' alerts: ``preview``) as the live rule keeps them,
    one open at a time: alerts whose times
    overlap (one opening while another is open) are one, under the highest stage either
    reached; where they tie the spell's basis names it (the rule's order: the left-on test
    and then the band test come last)."""
    out: list[SpellAlert] = []
    for alert in sorted(alerts, key=lambda a: a.opened_at):
        if out and alert.opened_at <= out[-1].end:
            out[-1] = _joined(out[-1], alert)
        else:
            out.append(alert)
    return out


def _joined(a: SpellAlert, b: SpellAlert) -> SpellAlert:
    """One alert from ``a`` and ``b`` (``b`` opened while ``a`` was open)."""
    top = max(STAGES.index(a.stage), STAGES.index(b.stage))
    steps = a.reached + b.reached
    reached = tuple(
        (STAGES[level], min(t for s, t in steps if STAGES.index(s) >= level))
        for level in range(STAGES.index(a.reached[0][0]) if a.reached else top, top + 1)
    )
    named = min(
        (x for x in (a, b) if STAGES.index(x.stage) == top),
        key=lambda x: (x.top_at, RUN_ORDER.get(x.basis, 0)),
    )
    later = max((a, b), key=lambda x: x.end)
    return SpellAlert(
        since=min(a.since, b.since),
        end=later.end,
        running=later.running,
        opened_at=a.opened_at,
        stage=STAGES[top],
        basis=named.basis,
        top_at=reached[-1][1],
        reached=reached,
    )


def _level_s(
    stored: Mapping[date, bytes],
    day0: date,
    a_of: np.ndarray,
    j: np.ndarray,
    window_days: int,
    min_days: int,
    models: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The level test's ``S`` at the start of slot ``j`` (the half-hours before it) in the
    spell whose last sign of life is in slot ``a_of``; NaN where ``j``'s day has no model. As
    the live test: each half-hour judged by its day's model (learned at its midnight, as the
    nightly job would), reset at ``e ≤ −RESET``, and the run restarted at the last sign of
    life (``levels.score_levels``' ``start``): from 0 over the slots after ``a_of``.
    ``models``: the plug's models learned so far, by (day, window, minimum days), and the last
    call's points and result, kept by the caller across threshold sets (the preview judges each
    plug twice, mostly on the same points: then ``S`` is read, not run again).

    Beside ``S``, whether a stage there has its sentence's support (``levels.supported``, as
    ``plug.level_supported`` judges it live: the day's model, the reference days of the kind of the
    last stored half-hour's day, the clock window from the half-hour where ``S`` last rose from
    0 to that half-hour)."""
    out = np.full(j.size, np.nan)
    support = np.zeros(j.size, dtype=bool)
    if j.size == 0:
        return out, support
    first, last = int(a_of.min() + 1) // levels.SLOTS, int(j.max()) // levels.SLOTS
    days = [day0 + timedelta(days=k) for k in range(max(first, 0), last + 1)]
    models = {} if models is None else models
    again = models.get(("s", day0, window_days, min_days))
    if again is not None and np.array_equal(again[0], a_of) and np.array_equal(again[1], j):
        return again[2].copy(), again[3].copy()
    # the days' models learned together (one window sliding over the days: the same models)
    new = [day for day in days if (day, window_days, min_days) not in models]
    learned = levels.learn_levels_each(stored, new, window_days, min_days)
    for day, model in zip(new, learned, strict=True):
        models[(day, window_days, min_days)] = model
    evidence = np.full((last + 1) * levels.SLOTS, np.nan)  # by slot index; NaN: nothing to judge
    day_models: dict[int, levels.LevelModel] = {}  # by day index, where the day has one
    for k, day in enumerate(days, start=max(first, 0)):
        model = models[(day, window_days, min_days)]
        if model is None:
            continue
        day_models[k] = model
        q = levels.day_levels(stored.get(day)).astype(np.int64)
        table = model.table[int(model.split and day.weekday() >= 5)]
        e = table[np.arange(levels.SLOTS), np.minimum(q, 254) * levels.GRID // 255]
        evidence[k * levels.SLOTS : (k + 1) * levels.SLOTS] = np.where(
            q != levels.NO_LEVEL, e / levels.SCALE, np.nan
        )
    # S only moves at stored half-hours: run it once over each spell's (in Python floats, as
    # the live test), all spells in one pass, then read each point's S from the half-hours
    # before it.
    kept = np.flatnonzero(~np.isnan(evidence))
    n_before = np.searchsorted(kept, j)  # stored half-hours before each point
    order = np.argsort(a_of, kind="stable")  # each spell's points, one slice each
    spells, begins = np.unique(a_of[order], return_index=True)
    first_kept = np.searchsorted(kept, spells + 1)  # the spell's first stored half-hour
    # the most any of its points needs
    steps = np.maximum(np.maximum.reduceat(n_before[order], begins) - first_kept, 0)
    offsets = np.concatenate(([0], np.cumsum(steps)))
    runs = np.repeat(first_kept - offsets[:-1], steps) + np.arange(offsets[-1])
    fresh = np.zeros(runs.size, dtype=bool)
    fresh[offsets[:-1][steps > 0]] = True  # a spell's first stored half-hour: S from 0
    totals, roses = [], []
    total, previous, rose = 0.0, None, -1
    slots = kept[runs]
    for t, v, restart in zip(slots.tolist(), evidence[slots].tolist(), fresh.tolist(), strict=True):
        if restart:
            total, previous, rose = 0.0, None, -1
        weight = 1 if previous is None else min(t - previous, levels.MAX_COVER)
        previous = t
        total = 0.0 if v <= -levels.RESET else max(0.0, total + weight * v)
        if total == 0.0:
            rose = -1
        elif rose < 0:
            rose = t
        totals.append(total)
        roses.append(rose)
    spell_of = np.empty(j.size, dtype=np.int64)
    spell_of[order] = np.repeat(np.arange(spells.size), np.diff([*begins.tolist(), j.size]))
    done = n_before - first_kept[spell_of]  # the spell's stored half-hours before each point
    # the last of them in ``runs`` (-1: none, read as S 0, never risen, no half-hour)
    at = np.where(done > 0, offsets[spell_of] + done - 1, -1)
    total_at = np.array([*totals, 0.0])[at]
    rose_at = np.array([*roses, -1])[at]  # where S last rose from 0
    last_at = np.append(slots, -1)[at]  # the last stored half-hour
    day_of = j // levels.SLOTS
    judged = np.isin(day_of, list(day_models))
    out[judged] = total_at[judged]
    # the sentence's support where S > 0, by each point's day's model: the window ends at the
    # last stored half-hour (the last report's), as live: an hourly plug leaves the half-hour
    # before ``j`` empty, maybe across midnight
    ask = np.flatnonzero(judged & (total_at > 0.0) & (rose_at >= 0) & (last_at >= 0))
    if ask.size:
        modelled = sorted(day_models)
        above, kind = levels.above_days_each(
            [day_models[k] for k in modelled],
            np.searchsorted(modelled, day_of[ask]),
            (day0.weekday() + last_at[ask] // levels.SLOTS) % 7 >= 5,
            rose_at[ask] % levels.SLOTS,
            last_at[ask] - rose_at[ask] + 1,
        )
        support[ask] = (kind > 0) & (above >= levels.SUPPORT_SHARE * kind)  # levels.supported
    models[("s", day0, window_days, min_days)] = (a_of, j, out.copy(), support.copy())
    return out, support


def _once(shared: dict, key: tuple, work: Callable[[], Any]) -> Any:
    """``shared[key]``, worked out by ``work`` the first time."""
    if key not in shared:
        shared[key] = work()
    return shared[key]


@dataclass(frozen=True)
class PlugScan:
    alerts: list[SpellAlert]
    routine_days: int  # days from ``start`` to ``end`` with a usable routine


def scan_plug(
    days: dict[date, int],
    th: Thresholds,
    start: datetime,
    end: datetime,
    *,
    no_change_hours: float | None = None,
    background_since: date | None = None,
    min_hours: float | None = None,
    changes: dict[date, int] | None = None,
    levels: Mapping[date, bytes] | None = None,
    above: dict[date, int] | None = None,
    band: dict[date, int] | None = None,
    shared: dict | None = None,
    seen: dict[date, int] | None = None,
) -> PlugScan:
    """Every quiet spell of one plug that ends after ``start`` and reached a stage by ``end``
    (the spell still quiet at ``end`` included), judged at each half-hour as the rule would:
    the ladder on the fixed rule's clock (the last change beyond the margins, ``changes``; on
    the spell's length while the plug is young) and its net on the spell's length (while that
    day's routine is usable), and the routine score with that day's routine.

    ``days``: local day → activity bits (days without a row are quiet). ``changes``: local
    day → bits of changes beyond the margins (``device_daily.change_slots``; a day without
    them counts its activity bits only). ``levels``: local day → ``device_daily.level_slots``,
    for the level test (``plug_routine.level_enabled``) with each day's level model as the
    nightly job learns it. ``above``: local day → ``device_daily.above_slots`` (days stored
    against a ceiling), for the left-on test (``plug_routine.on_enabled``; its runs are not
    spells, and an alert of one overlapping a spell's is one alert: see the module's note).
    ``band``: local day → ``device_daily.band_slots`` (days with power readings since the band
    was kept), for the band test (``plug_routine.band_enabled``), its bands likewise.
    ``shared``: a dict kept by the caller for this plug's data, to pass again when the same plug
    is scanned with other thresholds: what they share is worked out once (each day's routine
    arrays under the same window, minimum days and half-life, the level models, ``S``, the runs
    of the left-on and band tests under the same thresholds of theirs).
    ``seen``: local day → the half-hours the person was seen other than by this plug (a sign
    of life on another plug of theirs, the first half-hour of a return date): the spells end
    there, as the live rule's do (``rules.household``, ``rules.plug.person_activity``).
    ``min_hours``: skip spells shorter than this (callers that know no stage comes earlier); by
    default the shortest of the ladder's first step and the routine's ``min_quiet_h``.
    """
    if not days:
        return PlugScan([], 0)
    cfg = th.plug_routine
    ladder = plug_ladder(no_change_hours, th)
    shortest = min_hours
    if shortest is None:
        shortest = min(ladder[0], cfg.min_quiet_h if cfg.enabled else ladder[0])
    last = end.astimezone(LOCAL_TZ).date() + timedelta(days=1)
    shared = {} if shared is None else shared
    # Its keys name thresholds, not the plug: a dict passed with another plug's data would
    # hand back the first plug's results, so that fails loudly (the data's identities).
    plug = (id(days), id(levels), id(changes), id(band), id(background_since), id(seen))
    if shared.setdefault("plug", plug) != plug:
        raise ValueError("scan_plug: a shared dict serves the scans of one plug's data")
    # ``above`` is the plug's, or None where the set does not judge it
    key = ("days", cfg.window_days, cfg.min_days, cfg.half_life_days, last, above is None)
    d = _once(
        shared, key, lambda: _Days(days, th, background_since, last, changes, above, band, seen)
    )
    first_day = max((start.astimezone(LOCAL_TZ).date() - d.day0).days, 0)
    last_day = (end.astimezone(LOCAL_TZ).date() - d.day0).days
    routine_days = int(d.usable[first_day : last_day + 1].sum()) if cfg.enabled else 0
    day0_start = _slot_start(d.day0, 0)
    end_index = int((end - day0_start) / SLOT)  # the slot holding ``end``
    start_index = (start - day0_start) / SLOT
    alerts = _spell_alerts(d, th, ladder, shortest, start_index, end_index, end, levels, shared)
    runs = []  # judged by the days and their own thresholds only: once for sets sharing them
    span = (key, start_index, end_index)
    if cfg.enabled and cfg.on_enabled and above:
        on = ("on", *span, cfg.on_factor, cfg.on_min_h)
        runs += _once(shared, on, lambda: _on_alerts(d, th, start_index, end_index))
    if cfg.enabled and cfg.band_enabled and band:
        held = ("band", *span, cfg.band_factor, cfg.band_min_h)
        runs += _once(shared, held, lambda: _band_alerts(d, th, start_index, end_index))
    if runs:
        alerts = one_at_a_time(alerts + runs)
    return PlugScan(alerts, routine_days)


def _spell_alerts(
    d: _Days,
    th: Thresholds,
    ladder: tuple[float, float, float],
    shortest: float,
    start_index: float,
    end_index: int,
    end: datetime,
    levels: Mapping[date, bytes] | None,
    shared: dict | None = None,
) -> list[SpellAlert]:
    """Every quiet spell that reached a stage (``scan_plug`` without the run tests)."""
    cfg = th.plug_routine
    active = d.active_slots[d.active_slots < end_index + 1]
    if active.size == 0:
        return []
    # Spells from each active slot to the next (the last runs to ``end``); at half-hour
    # resolution the quiet time at the start of slot j after active slot a is (j - a - 0.5) h/2.
    nxt = np.append(active[1:], end_index)  # still quiet: judged at the end's half-hour
    running = np.zeros(active.size, dtype=bool)
    running[-1] = True
    length_h = (nxt - active - 0.5) / 2
    keep = (length_h >= shortest) & (nxt > start_index)
    spells = [
        (int(a), int(b), bool(r))
        for a, b, r in zip(active[keep], nxt[keep], running[keep], strict=True)
    ]
    if not spells:
        return []
    # Evaluation points: the start of every slot from the first that may reach a stage to the
    # spell's end (activity resumed at the start of slot b: the point b is the spell's end,
    # judged before the activity is seen).
    first_slot = int(np.ceil(shortest * 2 + 0.5))
    points = [np.arange(a + first_slot, b + 1) for a, b, _r in spells]
    sizes = np.array([p.size for p in points])
    if not sizes.sum():
        return []
    j = np.concatenate(points)
    a_of = np.repeat(np.array([s[0] for s in spells]), sizes)
    quiet_h = (j - a_of - 0.5) / 2
    today = j // SLOTS_PER_DAY
    stage = _stage_index(quiet_h, ladder)
    net = np.zeros_like(stage)
    if cfg.enabled:
        # As plug_no_change: once the plug is not young, the ladder counts from the last change
        # beyond the margins and the net runs net_delay_h later on the spell's length, on the
        # days whose routine is usable.
        day = np.minimum(today, d.n - 1)
        fixed_clock = ~d.young[day]
        changed = np.maximum(d.last_change_before[j], a_of)
        fixed = _stage_index((j - changed - 0.5) / 2, ladder)
        netted = fixed_clock & d.usable[day]
        if netted.any():
            delay = net_wait(d.gap_h[day], cfg.net_delay_h, ladder[0])
            net = np.where(netted, _stage_index(quiet_h - delay, ladder), 0)
        stage = np.where(fixed_clock, np.maximum(fixed, net), stage)
    by_routine = np.zeros_like(stage)
    if cfg.enabled:
        usable = (quiet_h >= cfg.min_quiet_h) & d.usable[np.minimum(today, d.n - 1)]
        if usable.any():
            sel = np.flatnonzero(usable)
            share, expected = d.score(today[sel], a_of[sel] + 1, j[sel] - 1, cfg.min_share)
            limits = (cfg.attention_slots, cfg.risk_slots, cfg.severe_slots)
            by_routine[sel] = np.where(share >= cfg.min_share, _stage_index(expected, limits), 0)
    by_level = np.zeros_like(stage)
    if cfg.enabled and cfg.level_enabled and levels:
        ok = (quiet_h >= cfg.min_quiet_h) & ~d.young[np.minimum(today, d.n - 1)]
        if ok.any():
            s, support = _level_s(levels, d.day0, a_of, j, cfg.window_days, cfg.min_days, shared)
            limits = (cfg.level_h, 2 * cfg.level_h, 4 * cfg.level_h)
            judged = ok & ~np.isnan(s) & support
            by_level = np.where(judged, _stage_index(np.nan_to_num(s), limits), 0)
    by_still = np.zeros_like(stage)
    if cfg.enabled and cfg.still_enabled:
        # As plug_no_change: the fixed rule's spell against the day's still record, once the
        # plug is not young and the quiet has lasted min_quiet_h.
        day = np.minimum(today, d.n - 1)
        record = d.still_h[day]
        ok = (quiet_h >= cfg.min_quiet_h) & ~d.young[day] & ~np.isnan(record)
        if ok.any():
            at = stillness.still_threshold_h(
                np.nan_to_num(record), cfg.still_factor, cfg.still_min_h
            )
            run = (j - np.maximum(d.last_change_before[j], a_of) - 0.5) / 2
            rank = stillness.still_stage_rank(run, at)
            by_still = np.where(ok, rank, 0).astype(stage.dtype)
    final = np.maximum(np.maximum(np.maximum(stage, by_routine), by_level), by_still)
    out = []
    bounds = np.concatenate(([0], np.cumsum(sizes)))
    for n, (a, b, r) in enumerate(spells):
        lo, hi = bounds[n], bounds[n + 1]
        reached = final[lo:hi]
        if not reached.any():
            continue
        top = int(reached.max())
        first_at = int(j[lo:hi][np.argmax(reached > 0)])
        top_at = int(j[lo:hi][np.argmax(reached == top)])
        steps = tuple(
            (STAGES[level - 1], _slot_start(d.day0, int(j[lo:hi][np.argmax(reached >= level)])))
            for level in range(int(reached[reached > 0].min()), top + 1)
        )
        ladder_top = int(stage[lo:hi].max())
        routine_top = int(by_routine[lo:hi].max())
        level_top = int(by_level[lo:hi].max())
        # "net" when the net alone reached the top (as the rule's evidence says)
        net_only = ladder_top == top and not (stage[lo:hi][net[lo:hi] < top] == top).any()
        out.append(
            SpellAlert(
                since=_slot_start(d.day0, a) + SLOT / 2,
                end=min(_slot_start(d.day0, b), end) if r else _slot_start(d.day0, b),
                running=r,
                opened_at=_slot_start(d.day0, first_at),
                stage=STAGES[top - 1],
                basis=("net" if net_only else "ladder")
                if ladder_top == top
                else (
                    "routine" if routine_top == top else ("level" if level_top == top else "still")
                ),
                top_at=_slot_start(d.day0, top_at),
                reached=steps,
            )
        )
    return out
