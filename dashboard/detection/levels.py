"""Level-based evidence for smart plugs: a CUSUM on the half-hour power levels (docs/detection.md,
"Level-based evidence").

The routine (``detection.routine``) reads one bit per half hour: was there a sign of life. The
*level* of a half hour says more: at 19:00 on a weekday this home is almost never at its night
load; a stop leaves it there. Three parts, all pure:

- **Storage** (ingest and the demo builder): per plug and local day, ``device_daily.level_slots``
  holds 96 bytes: for each of the 48 half-hours the mean of its readings' ``log(watts + 10 W)``,
  quantised to one byte (``NO_LEVEL`` = no reading), then each half-hour's number of readings
  (capped at 255), so that a later batch's readings merge into the mean (:func:`merge_levels`).
- **Learning** (nightly, beside the routine): :func:`learn_levels` turns the last 28 days into
  an evidence table, per (weekday/weekend, half-hour, level) the log-likelihood ratio
  ``log p(level | unattended) − log p(level | normal at that half-hour)``, clipped to ±3 and
  quantised to one signed byte on a 64-point grid (6 KB per plug), plus, per reference day,
  the half-hours above the unattended load's top (for the sentence).
- **Scoring** (the rule): :func:`score_levels` runs ``S = max(0, S + w × e)`` over the stored
  half-hours of the last ``LOOKBACK_DAYS`` days (``w``: the half-hours since the previous one
  with a reading, at most ``MAX_COVER``); a half-hour with ``e ≤ −2`` (a level far
  likelier with someone there) is a clear sign of life and resets ``S``. 관심 at ``S ≥ h``,
  위험 at ``2h``, 심각 at ``4h`` (``plug_routine.level_h``).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import numpy as np

SLOTS = 48
_FULL_DAY = (1 << SLOTS) - 1  # every half-hour of a day, as bits
NO_LEVEL = 255  # a half-hour without a reading
OFFSET_W = 10.0  # c in log(watts + c): a standby's few watts of noise stay small
MAX_W = 20_000.0
_LO, _HI = math.log(OFFSET_W), math.log(OFFSET_W + MAX_W)
UNIT = (_HI - _LO) / 254  # log units per level byte (about 3 %)
GRID = 64  # points of the learned densities: a level byte q falls on q * GRID // 255
NIGHT_SLOTS = range(2, 10)  # 01:00–05:00: the unattended load is learned from these
BANDWIDTH = 0.3  # kernel width, log units
POOL = 2  # neighbouring half-hours pooled on each side (±1 h)
FLAT = 0.02  # share of a flat density mixed in: no level is impossible
CLIP = 3.0  # evidence per half-hour clipped to ±CLIP
RESET = 2.0  # a half-hour with e ≤ −RESET resets S
# A stage needs the sentence's support: at least this share of the reference days of the kind
# were above the unattended top in the same clock window (``supported``).
SUPPORT_SHARE = 0.5
ACTIVE_MARGIN_W = 5.0  # the unattended top: the nights' 95th percentile + max(5 W, 10 %)
SCALE = 40  # stored evidence: round(e × SCALE) in a signed byte (±120 for ±CLIP)
# A table byte's evidence by the byte's unsigned value (int8 / SCALE, the same doubles): the
# CUSUM reads one per stored half-hour, and indexing a numpy array one element at a time cost
# more than the CUSUM itself. One table for all models: a per-model float copy held ≈ 200 KiB
# in every cached model (≈ 1 GB in a worker's cache of 4,096; a review's measurement).
_EVIDENCE = tuple((b - 256 if b > 127 else b) / SCALE for b in range(256))
LOOKBACK_DAYS = 4  # S is run over this many local days (today included)
# A half-hour's evidence counts for the half-hours since the last one with a reading, at most
# this many: an hourly plug fills every other half-hour and weighs as much as a half-hourly one.
MAX_COVER = 2
VERSION = 1
_HEADER = 16
_TABLE = 2 * SLOTS * GRID


def level_byte(watts: float) -> float:
    """The (unrounded) level byte of one reading: ``log(watts + 10)`` on 0–254."""
    w = min(max(watts, 0.0), MAX_W)
    return (math.log(w + OFFSET_W) - _LO) / UNIT


def byte_watts(q: int | np.ndarray) -> float | np.ndarray:
    """The watts a level byte stands for (the inverse of :func:`level_byte`)."""
    return np.exp(_LO + np.asarray(q, dtype=float) * UNIT) - OFFSET_W


def merge_levels(old: bytes | None, sums: Mapping[int, tuple[float, int]]) -> bytes:
    """``old`` (a stored ``level_slots``, or None) with a batch's readings added: ``sums`` maps a
    half-hour to (sum of its readings' level bytes, number of readings). The mean is weighted
    by each side's readings, so two batches of one half-hour give the mean of all its readings,
    whatever their order."""
    levels = bytearray(old[:SLOTS]) if old else bytearray([NO_LEVEL] * SLOTS)
    counts = bytearray(old[SLOTS : 2 * SLOTS]) if old else bytearray(SLOTS)
    for slot, (total, n) in sums.items():
        if n <= 0:
            continue
        had = counts[slot] if levels[slot] != NO_LEVEL else 0
        mean = (levels[slot] * had + total) / (had + n) if had else total / n
        levels[slot] = min(max(round(mean), 0), 254)
        counts[slot] = min(had + n, 255)
    return bytes(levels + counts)


_NO_DAY = bytes([NO_LEVEL]) * SLOTS


def day_levels(stored: bytes | None) -> np.ndarray:
    """The 48 level bytes of a stored day (all ``NO_LEVEL`` for None)."""
    if not stored:
        return np.full(SLOTS, NO_LEVEL, dtype=np.uint8)
    return np.frombuffer(stored[:SLOTS], dtype=np.uint8)


def slot_of(local: datetime) -> int:
    """The half-hour slot (0–47) of a local time."""
    return local.hour * 2 + local.minute // 30


def encode_days(levels: np.ndarray, counts: np.ndarray) -> list[bytes | None]:
    """Rows of (…, 48) level bytes and reading counts as ``level_slots`` values (None for a day
    without any reading): the demo builder writes what ingest would have."""
    lv = np.asarray(levels, dtype=np.uint8).reshape(-1, SLOTS)
    ct = np.minimum(np.asarray(counts), 255).astype(np.uint8).reshape(-1, SLOTS)
    return [
        bytes(a.tobytes() + b.tobytes()) if (a != NO_LEVEL).any() else None
        for a, b in zip(lv, ct, strict=True)
    ]


def _weekend(day: date) -> bool:
    return day.weekday() >= 5


@lru_cache(maxsize=1)
def _smoother() -> np.ndarray:
    sd = BANDWIDTH / (UNIT * 255 / GRID)  # the kernel in grid points
    offsets = np.arange(GRID)[:, None] - np.arange(GRID)[None, :]
    return np.exp(-0.5 * (offsets / sd) ** 2)


def _evidence(night: np.ndarray, normal: np.ndarray) -> np.ndarray:
    """The evidence table ``log p(level | unattended) − log p(level | normal at that
    half-hour)``, clipped to ±CLIP, from the nights' level histogram and the normal log
    densities ``(2, SLOTS, GRID)``.

    A home left alone sits at or below its nights' usual level at any hour: a stop leaves the
    standby and a cycling fridge, without what else ran at night (the heating, a dehumidifier).
    The nights rarely show such a level, so their density alone called it unlikely either way
    and the level said nothing. The unattended density is held at its peak below the peak
    (not renormalised: the nights' own levels keep their evidence). At night too: a stopped
    home's night below its usual counts, and so does a living home's first night without its
    heating, where only the support guard (``supported``) stands before a morning alert
    (docs/detection.md, "Below the nights' level")."""
    unattended = _log_density(night.astype(float))
    peak = int(np.argmax(unattended))
    unattended[:peak] = unattended[peak]
    return np.clip(unattended[None, None, :] - normal, -CLIP, CLIP)


def _log_density(counts: np.ndarray) -> np.ndarray:
    """Smoothed, floored log density of histograms along the last axis."""
    flat = counts.reshape(-1, GRID) @ _smoother()
    total = flat.sum(axis=1, keepdims=True)
    shape = np.where(total > 0, flat / np.where(total > 0, total, 1), 1.0 / GRID)
    return np.log((1 - FLAT) * shape + FLAT / GRID).reshape(counts.shape)


@dataclass(frozen=True)
class LevelModel:
    """A plug's learned evidence table and its reference days (see the module docstring)."""

    table: np.ndarray  # (2, 48, GRID) int8: round(clip(e) × SCALE), weekday then weekend
    top: int  # the unattended load's top as a level byte: above it, an appliance is in use
    split: bool  # weekdays and weekends learned apart
    refs: tuple[tuple[bool, int], ...]  # per reference day: (weekend, bits of slots above top)
    learned_on: date | None = None  # the midnight it was learned at, where ``carry`` applies
    carry: float = 0.0  # S at that midnight, scored with the model before (``carry_over``)
    carry_back: int = -1  # half-hours before that midnight where S last rose from 0 (-1: none)
    # The last runs' state before their last half-hour (``_run``): a quiet plug is scored at
    # every report, over the same stored half-hours and one more. One place for the run from
    # the carry, one for the run again from the last sign of life (``score_levels``' ``start``:
    # a third of the scores of a year's replay of four homes; one shared place made each run
    # evict the other's). Not copied by ``replace``.
    memo: list = field(default_factory=lambda: [None, None], init=False, compare=False, repr=False)
    # Per day kind (weekday, weekend) and half-hour, the table's largest evidence, at least 0
    # (``rise``); worked out when first asked. Not copied by ``replace``.
    _rise: np.ndarray | None = field(default=None, init=False, compare=False, repr=False)

    def rise(self) -> np.ndarray:
        """(2, 48) floats: the most one stored half-hour of each kind and slot can add to ``S``
        per half-hour it counts for (``max(0, largest evidence)``)."""
        if self._rise is None:  # frozen: set once, as a cache
            rise = np.maximum(self.table.max(axis=2).astype(float) / SCALE, 0.0)
            object.__setattr__(self, "_rise", rise)
        return self._rise

    def evidence(self, day: date, slot: int, q: int) -> float:
        wk = int(self.split and _weekend(day))
        return float(self.table[wk, slot, q * GRID // 255]) / SCALE

    def to_bytes(self) -> bytes:
        ordinal = self.learned_on.toordinal() if self.learned_on else 0
        head = bytes([VERSION, self.top, int(self.split), len(self.refs)]) + struct.pack(
            "<fiI", self.carry, self.carry_back, ordinal
        )
        days = b"".join((bits | (int(wk) << 48)).to_bytes(8, "little") for wk, bits in self.refs)
        return head + self.table.astype(np.int8).tobytes() + days

    @classmethod
    def from_bytes(cls, blob: bytes) -> LevelModel:
        if len(blob) < _HEADER + _TABLE or blob[0] != VERSION:
            raise ValueError(f"not a level model (version {blob[:1]!r}, {len(blob)} bytes)")
        n = blob[3]
        table = np.frombuffer(blob[_HEADER : _HEADER + _TABLE], dtype=np.int8)
        days = blob[_HEADER + _TABLE : _HEADER + _TABLE + 8 * n]
        refs = tuple(
            (bool(v >> 48 & 1), v & ((1 << 48) - 1))
            for v in (int.from_bytes(days[i : i + 8], "little") for i in range(0, 8 * n, 8))
        )
        carry, back, ordinal = struct.unpack("<fiI", blob[4:_HEADER])
        learned = date.fromordinal(ordinal) if ordinal else None
        return cls(
            table.reshape(2, SLOTS, GRID), blob[1], bool(blob[2]), refs, learned, carry, back
        )

    def above_days(self, weekend: bool, first_slot: int, slots: int) -> tuple[int, int]:
        """(reference days above the unattended top at some half-hour of the clock window
        ``first_slot`` … ``first_slot + slots − 1`` (wrapping round midnight), reference days
        of that kind): the sentence's "on 27 of the last 28 weekdays"."""
        mask = 0
        for k in range(min(slots, SLOTS)):
            mask |= 1 << ((first_slot + k) % SLOTS)
        kind = [bits for wk, bits in self.refs if not self.split or wk == weekend]
        return sum(1 for bits in kind if bits & mask), len(kind)


def above_days_each(
    models: Sequence[LevelModel],
    which: np.ndarray,
    weekend: np.ndarray,
    first_slot: np.ndarray,
    slots: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """``models[which[i]].above_days(weekend[i], first_slot[i], slots[i])`` for each ``i`` at
    once, as two arrays: the 30-day preview asks at every half-hour of every spell."""
    width = np.minimum(slots, SLOTS).astype(np.uint64)
    run = (np.uint64(1) << width) - np.uint64(1)  # ``width`` half-hours from slot 0
    start = np.asarray(first_slot, dtype=np.uint64)
    # from ``first_slot`` on, the part past midnight wrapped round to slot 0
    mask = ((run << start) | (run >> (np.uint64(SLOTS) - start))) & np.uint64(_FULL_DAY)
    # the models' reference days in rows, padded
    most = max((len(m.refs) for m in models), default=0)
    bits = np.zeros((len(models), most), dtype=np.uint64)
    wk = np.zeros((len(models), most), dtype=bool)
    ref = np.zeros((len(models), most), dtype=bool)
    for row, model in enumerate(models):
        if model.refs:
            wk[row, : len(model.refs)], bits[row, : len(model.refs)] = zip(*model.refs, strict=True)
            ref[row, : len(model.refs)] = True
    split = np.array([m.split for m in models], dtype=bool)
    kind = ref[which] & (~split[which, None] | (wk[which] == np.asarray(weekend)[:, None]))
    above = kind & ((bits[which] & mask[:, None]) != 0)
    return above.sum(axis=1), kind.sum(axis=1)


def unattended_top(levels: np.ndarray) -> int | None:
    """The unattended load's top as a level byte, from (days, 48) stored level bytes: the 95th
    percentile of the night half-hours' watts plus 5 W or 10 %, whichever is larger; None with
    fewer than 8 night half-hours. The learning and the alert detail's level chart both use it,
    so the chart's night line is the one the test judged against."""
    night = np.asarray(levels, dtype=np.int64).reshape(-1, SLOTS)[:, NIGHT_SLOTS]
    night = night[night != NO_LEVEL]
    if len(night) < 8:
        return None
    return _top(_quantile95(byte_watts(night)))


def _top(q95: float) -> int:
    """The unattended top (a level byte) from the nights' 95th percentile in watts."""
    top_w = q95 + max(ACTIVE_MARGIN_W, 0.1 * q95)
    return min(math.ceil(level_byte(top_w)), 254)


def _ranks95(n: int) -> tuple[float, int, int]:
    """(position, lower rank, upper rank) of the 95th percentile of ``n`` sorted values."""
    position = 0.95 * (n - 1)
    lower = int(position)
    return position, lower, min(lower + 1, n - 1)


def _between(low: float, high: float, t: float) -> float:
    # numpy's own interpolation, bit for bit: from the upper value when t ≥ 0.5
    return high - (high - low) * (1 - t) if t >= 0.5 else low + (high - low) * t


def _quantile95(values: np.ndarray) -> float:
    """``np.quantile(values, 0.95)`` (linear interpolation) by one partial sort: the nightly
    learning calls it once per plug."""
    position, lower, upper = _ranks95(len(values))
    part = np.partition(values, (lower, upper))
    return _between(float(part[lower]), float(part[upper]), position - lower)


def learn_levels(
    days: Mapping[date, bytes | None], today: date, window_days: int = 28, min_days: int = 14
) -> LevelModel | None:
    """The model from the stored days before ``today`` (the last ``window_days``); None with
    fewer than 8 night half-hours to learn the unattended load from or fewer than
    ``min_days`` reference days (a day with a half-hour above the unattended top: a day away
    or a dead plug does not teach the model that an idle home is normal at noon). Weekends are
    learned apart once there are four weekend reference days."""
    first = today - timedelta(days=window_days)
    window = sorted(d for d, v in days.items() if v and first <= d < today)
    if not window:
        return None
    levels = np.stack([day_levels(days[d]) for d in window]).astype(np.int64)  # (n, 48)
    seen = levels != NO_LEVEL
    top = unattended_top(levels)
    if top is None:
        return None
    night = levels[:, NIGHT_SLOTS][seen[:, NIGHT_SLOTS]]
    above = seen & (levels > top)
    is_ref = above.any(axis=1)
    if int(is_ref.sum()) < min_days:
        return None
    weekend = np.array([_weekend(d) for d in window])
    split = int((is_ref & weekend).sum()) >= 4
    grid = np.where(seen, levels * GRID // 255, 0)
    counts = np.zeros((2, SLOTS, GRID))
    rows, cols = np.nonzero(seen & is_ref[:, None])
    kind = weekend[rows].astype(np.int64) if split else np.zeros(len(rows), dtype=np.int64)
    np.add.at(counts, (kind, cols, grid[rows, cols]), 1.0)
    if not split:
        counts[1] = counts[0]
    pooled = sum(np.roll(counts, k, axis=1) for k in range(-POOL, POOL + 1))
    normal = _log_density(pooled)
    e = _evidence(np.bincount(night * GRID // 255, minlength=GRID), normal)
    table = np.rint(e * SCALE).astype(np.int8)
    bits = (above[is_ref].astype(np.uint64) << np.arange(SLOTS, dtype=np.uint64)).sum(axis=1)
    refs = tuple(zip(weekend[is_ref].tolist(), bits.tolist(), strict=True))
    return LevelModel(table, top, split, refs[-56:], today)


def learn_levels_each(
    days: Mapping[date, bytes | None],
    todays: Sequence[date],
    window_days: int = 28,
    min_days: int = 14,
) -> list[LevelModel | None]:
    """``learn_levels(days, today, window_days, min_days)`` for each of ``todays``: the same
    models bit for bit, learned as one window sliding over the days. The 30-day preview learns
    a plug's model for every day it judges, and one call a day was most of its time (2026-12-06,
    docs/detection.md "On by default at ``level_h`` = 12").

    The window keeps integer counts only (its nights' level bytes, its days' pooled half-hour
    levels by kind), exact however they are added up. What is done in floats is done per day as
    ``learn_levels`` does it, on the same values: the nights' percentile from the same two order
    statistics (``byte_watts`` increases, so they are the watts of the window's byte order
    statistics), the densities by ``_log_density`` itself."""
    out: list[LevelModel | None] = [None] * len(todays)
    if not todays:
        return out
    first = min(todays) - timedelta(days=window_days)
    stored = sorted(d for d, v in days.items() if v and first <= d < max(todays))
    if not stored:
        return out
    levels = np.stack([day_levels(days[d]) for d in stored]).astype(np.int64)  # (n, 48)
    seen = levels != NO_LEVEL
    highest = np.where(seen, levels, -1).max(axis=1)  # a reference day when above the top
    ordinals = [d.toordinal() for d in stored]
    weekend = np.array([_weekend(d) for d in stored])
    watts = byte_watts(np.arange(NO_LEVEL))
    to_grid = np.arange(NO_LEVEL) * GRID // 255
    shifts = np.arange(SLOTS, dtype=np.uint64)
    n = len(stored)
    # Each day's night level bytes counted (NO_LEVEL too, dropped), and its (half-hour, grid
    # point) counts pooled over the neighbouring half-hours.
    nights = np.bincount(
        (np.arange(n)[:, None] * 256 + levels[:, NIGHT_SLOTS]).ravel(), minlength=n * 256
    ).reshape(n, 256)[:, :NO_LEVEL]
    day, slot = np.nonzero(seen)
    at = ((slot[:, None] + np.arange(-POOL, POOL + 1)) % SLOTS) * GRID
    at += (levels[day, slot] * GRID // 255 + day * SLOTS * GRID)[:, None]
    cells = np.bincount(at.ravel(), minlength=n * SLOTS * GRID).reshape(n, SLOTS * GRID)
    night = np.zeros(NO_LEVEL, dtype=np.int64)  # the window's night level bytes, counted
    pooled = np.zeros((2, SLOTS * GRID), dtype=np.int64)  # its days' cells, weekdays/weekends
    above: dict[int, list[int]] = {}  # by top: each day's half-hours above it, as bits
    lo = hi = 0
    for i in sorted(range(len(todays)), key=todays.__getitem__):
        today = todays[i]
        while hi < n and ordinals[hi] < today.toordinal():
            night += nights[hi]
            pooled[int(weekend[hi])] += cells[hi]
            hi += 1
        while lo < hi and ordinals[lo] < today.toordinal() - window_days:
            night -= nights[lo]
            pooled[int(weekend[lo])] -= cells[lo]
            lo += 1
        total = int(night.sum())
        if total < 8:
            continue  # also an empty window
        position, lower, upper = _ranks95(total)
        low, high = np.searchsorted(np.cumsum(night), (lower, upper), side="right").tolist()
        top = _top(_between(float(watts[low]), float(watts[high]), position - lower))
        is_ref = highest[lo:hi] > top
        if int(is_ref.sum()) < min_days:
            continue
        split = int((is_ref & weekend[lo:hi]).sum()) >= 4
        counts = pooled.astype(float)  # integers: the same floats as ``learn_levels``' sums
        for k in lo + np.flatnonzero(~is_ref):  # few: days away, a dead plug
            counts[int(weekend[k])] -= cells[k]
        if not split:
            counts[:] = counts.sum(axis=0)
        normal = _log_density(counts.reshape(2, SLOTS, GRID))
        e = _evidence(np.bincount(to_grid, night, GRID), normal)
        table = np.rint(e * SCALE).astype(np.int8)
        if top not in above:  # the top moves little from day to day
            above[top] = ((seen & (levels > top)).astype(np.uint64) << shifts).sum(axis=1).tolist()
        refs = tuple(
            (bool(weekend[k]), above[top][k]) for k in (lo + np.flatnonzero(is_ref)).tolist()
        )
        out[i] = LevelModel(table, top, split, refs[-56:], today)
    return out


@dataclass(frozen=True)
class LevelFacts:
    """What the rule needs: the plug's model and its stored days of the last
    ``LOOKBACK_DAYS`` (local day → ``level_slots``)."""

    model: LevelModel
    days: Mapping[date, bytes]


@dataclass(frozen=True)
class LevelScore:
    s: float  # the CUSUM after the newest stored half-hour up to the moment scored
    since: datetime | None  # start of the half-hour where S last rose from 0 (None: S is 0)
    # S before the half-hour holding the moment scored (whose mean still moves with each
    # report): where ``first_report_to_reach`` counts from. Not part of the evidence.
    before: float = 0.0

    EVIDENCE_KEYS = ("level_s", "level_since")

    def evidence(self) -> dict:
        return {
            "level_s": round(self.s, 1),
            "level_since": self.since.isoformat() if self.since else None,
        }


def _midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=tz)


def score_levels(
    model: LevelModel,
    days: Mapping[date, bytes | None],
    until: datetime,
    tz: ZoneInfo,
    start: datetime | None = None,
) -> LevelScore:
    """``S`` up to the half-hour holding ``until`` (included: its mean so far).

    From the model's learning midnight on, starting from the ``S`` carried over from the day
    before (``carry_over``), so a model learned anew does not re-score the past; without a carry
    (a model older than ``LOOKBACK_DAYS``, or none recorded) over the stored half-hours of the
    last ``LOOKBACK_DAYS`` local days, from 0. A last report before the learning midnight
    scores the carry itself.

    ``start``: the last sign of life. A run of ``S`` that began before it says nothing about
    the quiet since (a light switched on does not move the power level), so it is scored again
    from 0 over the half-hours after the one holding ``start``, with this model: else the rule
    closed its alert at the sign of life and the same run raised it again at the next
    half-hour, once a day for as long as a home stood empty."""
    local = until.astimezone(tz)
    today = local.date()
    last_slot = slot_of(local)
    learned = model.learned_on
    # From the carry also when ``until`` (the last report) lies before the midnight the model
    # was learned at: no half-hour is stored after the last report, so the carry is S up to it,
    # scored with the model of its own day; running the new model over those days from 0
    # raised stages the day never held, at the first tick after the nightly learning.
    if learned is not None and (today - learned).days < LOOKBACK_DAYS:
        first, s = learned, model.carry
        since = None
        if s > 0 and model.carry_back >= 0:
            since = _midnight(first, tz) - timedelta(minutes=30 * model.carry_back)
    else:
        first, s, since = today - timedelta(days=LOOKBACK_DAYS - 1), 0.0, None
    score = _run(model, days, first, 0, s, since, today, last_slot, tz)
    if start is not None and score.since is not None and score.since < start:
        begin = start.astimezone(tz)
        day = max(begin.date(), today - timedelta(days=LOOKBACK_DAYS - 1))
        after = slot_of(begin) + 1 if day == begin.date() else 0
        score = _run(model, days, day, after, 0.0, None, today, last_slot, tz, place=1)
    since = score.since.astimezone(until.tzinfo) if score.since else None
    return LevelScore(score.s, since, score.before)


def _run(
    model: LevelModel,
    days: Mapping[date, bytes | None],
    first: date,
    first_slot: int,
    s: float,
    since: datetime | None,
    today: date,
    last_slot: int,
    tz: ZoneInfo,
    place: int = 0,
) -> LevelScore:
    """The CUSUM from ``s`` over the stored half-hours from ``first``'s ``first_slot`` to
    ``today``'s ``last_slot``.

    Resumed from the model's memo when the run starts alike and every half-hour it had read is
    stored unchanged: the result is the one a run from the start gives (a test compares them);
    the last half-hour is always read again (its mean grows with each report). ``place``: the
    memo's place (0: the run from the carry, 1: the run again from the last sign of life)."""
    key = (first, first_slot, s, since, today, tz)
    span = (today - first).days + 1
    seen = [_day_levels(days.get(first + timedelta(days=k))) for k in range(span)]
    previous = None  # the last stored half-hour before, counted from ``first``
    start_k, start_slot = 0, first_slot
    memo = model.memo[place]
    if memo is not None and memo[0] == key:
        _key, k0, slot0, s0, since0, previous0, prefix = memo
        if (
            (k0, slot0) <= (span - 1, last_slot)
            and all(seen[k] == prefix[k] for k in range(k0))
            and seen[k0][:slot0] == prefix[k0]
        ):
            start_k, start_slot, s, since, previous = k0, slot0, s0, since0, previous0
    table = model.table.tobytes()  # [weekend][slot][grid point], C order
    before = None
    for k in range(start_k, span):
        day = first + timedelta(days=k)
        levels = seen[k]
        half = int(model.split and _weekend(day)) * SLOTS * GRID
        end = last_slot + 1 if k == span - 1 else SLOTS
        for slot in range(start_slot if k == start_k else 0, end):
            if k == span - 1 and slot == last_slot:
                prefix = (*seen[:k], levels[:slot])
                model.memo[place] = (key, k, slot, s, since, previous, prefix)
                before = s
            q = levels[slot]
            if q == NO_LEVEL:
                continue
            e = _EVIDENCE[table[half + slot * GRID + q * GRID // 255]]
            index = k * SLOTS + slot
            weight = 1 if previous is None else min(index - previous, MAX_COVER)
            previous = index
            if e <= -RESET:
                s, since = 0.0, None
                continue
            s = max(0.0, s + weight * e)
            if s == 0.0:
                since = None
            elif since is None:
                since = _midnight(day, tz) + timedelta(minutes=30 * slot)
    return LevelScore(s, since, s if before is None else before)


def _day_levels(stored: bytes | None) -> bytes:
    """A stored day's 48 level bytes, as ``day_levels`` reads them (none stored: no level)."""
    return bytes(stored[:SLOTS]) if stored else _NO_DAY


def carry_over(
    old: LevelModel | None, new: LevelModel, days: Mapping[date, bytes | None], tz: ZoneInfo
) -> LevelModel:
    """``new`` (learned at ``new.learned_on``'s midnight) with the ``S`` the day before ended
    on, scored with the model of that day (``old``; none: 0): each half-hour is judged by the
    model in force when it was stored, as the prototype did."""
    if old is None or new.learned_on is None:
        return new
    midnight = _midnight(new.learned_on, tz)
    score = score_levels(old, days, midnight - timedelta(microseconds=1), tz)
    back = -1 if score.since is None else int((midnight - score.since) / timedelta(minutes=30))
    return replace(new, carry=score.s, carry_back=back)


def next_half_hour(now: datetime) -> datetime:
    """The next half-hour boundary after ``now``: a new half-hour's level can move ``S``."""
    epoch = int(now.timestamp())
    return datetime.fromtimestamp((epoch // 1800 + 1) * 1800, now.tzinfo)


def level_due(last_seen: datetime | None, now: datetime) -> datetime | None:
    """When ``S`` can next move without a new report: ``S`` runs to the half-hour holding the
    last report, so only a report stamped ahead of the clock, past the next half-hour, lets the
    clock bring another stored half-hour in (None: not before a report; the tick takes a plug
    with a level model again once a report was stored since it last judged it,
    ``engine._condition``).
    Scheduling every quiet plug at every half-hour instead made each boundary's tick judge them
    all at once (9,915–14,075 candidates, 3.7–6.3 s at Seoul scale with other work running,
    against 0.66–1.17 s with the test off, 2026-12-06). The nightly learning moves ``S`` too,
    and clears every due time."""
    half = next_half_hour(now)
    return half if last_seen is not None and last_seen >= half else None


def first_report_to_reach(
    model: LevelModel,
    days: Mapping[date, bytes | None],
    last_seen: datetime,
    tz: ZoneInfo,
    start: datetime | None,
    h: float,
) -> datetime | None:
    """The earliest stamp a report must carry for ``S`` to reach ``h`` (관심) with it: a bound
    the tick uses to leave a quiet plug alone at reports that cannot raise the level test
    (``engine._condition``). None: ``S`` may be there already (a stage its sentence did not
    support yet can be raised by any report).

    From ``S`` before the half-hour holding ``last_seen`` (``LevelScore.before``, from the run
    the rule has just made, so the model's memo answers; that half-hour's mean still moves with
    each report), each stored half-hour adds at most its weight times the table's largest
    evidence for its slot. A half-hour counted twice (the one before it not stored, an hourly
    plug) adds at most its own bound and the one before's; so up to a half-hour K the run adds
    at most the first half-hour's bound plus, for every half-hour k up to K, the larger of k's
    and k + 1's bounds. Resets and the floor at 0 only lower ``S``. Not beyond the second
    midnight: the nightly learning judges every plug again with a new model."""
    local = last_seen.astimezone(tz)
    day, slot = local.date(), slot_of(local)
    before = score_levels(model, days, last_seen, tz, start).before
    # Less a margin: the run sums its evidence in another order, and S landing on h exactly
    # (evidence on a 1/40 grid, h a whole number) must not round to a half-hour later.
    need = h - before - 1e-9
    if need <= 0.0:
        return None
    rise = model.rise()

    def bound(k: int) -> float:
        d = day + timedelta(days=k // SLOTS)
        return float(rise[int(model.split and _weekend(d)), k % SLOTS])

    added = bound(slot)
    for k in range(slot, 2 * SLOTS):
        added += max(bound(k), bound(k + 1))
        if added >= need:
            return _midnight(day, tz) + timedelta(minutes=30 * k)
    return _midnight(day + timedelta(days=2), tz)


def supported(above: int, days: int) -> bool:
    """Whether the home was above its night level in the window on enough of its reference days
    (``LevelModel.above_days``) for a level stage: the alert's sentence says "on 20 of its last
    20 weekdays it was above it between 08:30 and 19:30", and a stage it does not support ("on
    0 of its last 14") is not raised. The evidence compares densities, so a level usual at
    night can score as unusual at 06:00 in a home never above its night top then."""
    return days > 0 and above >= SUPPORT_SHARE * days


def level_stage_rank(s: float, h: float) -> int:
    """0 none, 1 관심 (S ≥ h), 2 위험 (2h), 3 심각 (4h)."""
    return int(s >= h) + int(s >= 2 * h) + int(s >= 4 * h)
