"""A home's routine: on which half-hours of its recent days it showed a sign of life, and how
unusual the current quiet spell is against that.

The model is the home's own last 28 days as 48 half-hour activity bits per day (kept by ingest in
``device_daily.activity_slots``). Days with no activity at all (a week away, a dead plug) are not
reference days, so a trip does not teach the model that silence is normal. A quiet spell from
``since`` to ``now`` is scored on two questions an operator would ask:

- *When is this home normally active again?* On each reference day, the wait from ``since``'s
  clock time to the next sign of life. ``share`` is the recency-weighted share of days active
  again within the spell so far; the home is *normally* back once the ``min_share`` quantile of
  the waits has passed. A long quiet night is normal: on most days the wait from 23:00 ends at
  breakfast.
- *How much usual activity has been missed since then?* The expected number of active
  half-hours after that point (``expected``: per slot, the weighted share of same-type days,
  weekday or weekend, active then). Someone back in the kitchen by 07:30 on 27 of 28 days who
  shows nothing by 10:00 has missed about four.

The stage rises with ``expected``; thresholds are in ``data/rules.toml`` (``[plug_routine]``).
Both numbers only grow while the quiet lasts, so the stage never flickers down within a spell.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from dashboard.detection.background import Background
from dashboard.detection.band import band_record
from dashboard.detection.left_on import longest_on_h
from dashboard.detection.levels import slot_of
from dashboard.detection.stillness import longest_still_h

SLOTS_PER_DAY = 48
SLOT = timedelta(minutes=30)
FULL_DAY = (1 << SLOTS_PER_DAY) - 1
_EPOCH = date(2000, 1, 3)  # a Monday: day numbers below count from it


def _weekend(day: date) -> bool:
    return day.weekday() >= 5


_NONE = 1 << 40  # a wait that never ended within a day (sorts after every real wait)


@dataclass(frozen=True)
class _Window:
    """A routine's days keyed by day number (``_EPOCH`` = 0), and its reference days with their
    recency weights, newest first: built once per routine, so scoring a spell is a few integer
    operations per reference day (the live tick scores every quiet home of a city)."""

    bits: dict[int, int]
    refs: tuple[tuple[int, float], ...]
    # The last spell's waits, ((first, today_n), waits, their total weight, {quantile: normal}):
    # one spell is scored at every report and tick until its day ends, and the waits depend
    # only on its first slot and the day.
    memo: list = field(default_factory=lambda: [None], compare=False, repr=False)

    @classmethod
    def of(cls, routine: Routine) -> _Window:
        bits = {_day_number(d): value & FULL_DAY for d, value in routine.days.items()}
        refs = tuple((_day_number(d), routine.weight(d)) for d in routine.reference_days)
        return cls(bits, refs)


@dataclass(frozen=True)
class Routine:
    """What a home's last ``window`` days looked like; learned on ``learned_on`` (exclusive)."""

    learned_on: date
    days: dict[date, int]  # local day → activity bits (bit j = slot j), zero days included
    background: Background | None = None
    half_life_days: float = 14.0
    # Since when ingest has known the background: days before it counted every fridge cycle as
    # activity, so they stop being reference days once enough days after it exist.
    background_since: date | None = None
    min_days: int = 14
    # The longest run without a change beyond the fixed margins in the window, in hours
    # (detection.stillness); None: too few days, or the days stored before it was learned.
    still_h: float | None = None
    # The longest run above the background's ceiling in the window, in hours
    # (detection.left_on); None: too few days with a ceiling, or stored before it was learned.
    on_h: float | None = None
    # The longest time between two breaks of the plug's band in the window, in hours
    # (detection.band); None: too few days with breaks stored, or stored before it was learned.
    band_h: float | None = None
    band_left_out_h: float | None = None  # the one far longer band the record leaves out

    @cached_property
    def reference_days(self) -> list[date]:
        """Days with any activity, newest first (only days classified with the background,
        once there are ``min_days`` of them)."""
        active = sorted((d for d, bits in self.days.items() if bits), reverse=True)
        if self.background_since is not None:
            clean = [d for d in active if d >= self.background_since]
            if len(clean) >= self.min_days:
                return clean
        return active

    @cached_property
    def gap_h(self) -> float | None:
        """The longest time between two signs of life in the window, in hours (as the
        stillness record reads changes: ``stillness.longest_still_h``); None with fewer than
        ``min_days`` days or fewer than two signs of life. The safety net waits at least this
        long (``rules.plug.net_delay``)."""
        first = min(self.days, default=self.learned_on)  # the window's days (learn_routine)
        return longest_still_h(self.days, first, self.learned_on, self.min_days)

    def weight(self, day: date) -> float:
        return 0.5 ** ((self.learned_on - day).days / self.half_life_days)

    @cached_property
    def _window(self) -> _Window:
        return _Window.of(self)

    @cached_property
    def _probabilities(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        """Per slot, the weighted share of weekday and of weekend reference days active then
        (only worked out when a spell has passed the home's usual return)."""
        refs = self._window.refs
        out = []
        for weekend in (False, True):
            same = [(n, w) for n, w in refs if (n % 7 >= 5) == weekend]  # _EPOCH: a Monday
            chosen = same if len(same) >= 4 else refs  # too few weekend days: use all
            total = sum(w for _n, w in chosen)
            probs = [0.0] * SLOTS_PER_DAY
            for n, w in chosen:
                bits = self._window.bits[n]
                while bits:
                    low = bits & -bits
                    probs[low.bit_length() - 1] += w
                    bits ^= low
            out.append(tuple(p / total for p in probs) if total else tuple(probs))
        return out[0], out[1]

    def slot_probability(self, day: date, slot: int) -> float:
        """Weighted share of same-type reference days (weekday or weekend) active in ``slot``."""
        return self._probabilities[1 if _weekend(day) else 0][slot]

    def to_json(self) -> str:
        return json.dumps(
            {
                "learned_on": self.learned_on.isoformat(),
                "days": {d.isoformat(): bits for d, bits in sorted(self.days.items())},
                "background": self.background.as_dict() if self.background else None,
                "half_life_days": self.half_life_days,
                "background_since": self.background_since.isoformat()
                if self.background_since
                else None,
                "min_days": self.min_days,
                "still_h": self.still_h,
                "on_h": self.on_h,
                "band_h": self.band_h,
                "band_left_out_h": self.band_left_out_h,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> Routine:
        data = json.loads(text)
        bg = data.get("background")
        return cls(
            learned_on=date.fromisoformat(data["learned_on"]),
            days={date.fromisoformat(k): int(v) for k, v in data["days"].items()},
            background=Background.from_dict(bg) if bg else None,
            half_life_days=float(data.get("half_life_days", 14.0)),
            background_since=date.fromisoformat(data["background_since"])
            if data.get("background_since")
            else None,
            min_days=int(data.get("min_days", 14)),
            still_h=data.get("still_h"),
            on_h=data.get("on_h"),
            band_h=data.get("band_h"),
            band_left_out_h=data.get("band_left_out_h"),
        )


def learn_routine(
    days: dict[date, int],
    learned_on: date,
    *,
    window_days: int = 28,
    half_life_days: float = 14.0,
    background: Background | None = None,
    background_since: date | None = None,
    min_days: int = 14,
    changes: dict[date, int] | None = None,
    above: dict[date, int] | None = None,
    band: dict[date, int] | None = None,
    band_factor: float | None = None,
) -> Routine:
    """The routine from per-day activity bits of the days before ``learned_on``.

    Days the device did not yet exist simply have no entry; pass zero for days it reported
    without a sign of life (they are kept so the window shows the gap, but never reference).
    ``changes``: per day, the half-hours with a change beyond the fixed margins (with the
    day's activity bits), for the longest still run (``detection.stillness``); ``above``: per
    day stored against a ceiling, the half-hours above it, for the longest run of a load left
    on (``detection.left_on``); ``band``: per day stored with them, the half-hours where a
    reading broke the plug's band, for the longest time within it (``detection.band``; a band
    ``band_factor`` times longer than any other is left out).
    """
    first = learned_on - timedelta(days=window_days)
    kept = {d: bits & FULL_DAY for d, bits in days.items() if first <= d < learned_on}
    still = None if changes is None else longest_still_h(changes, first, learned_on, min_days)
    on = None if above is None else longest_on_h(above, first, learned_on, min_days)
    held, apart = (
        (None, None)
        if band is None
        else band_record(band, first, learned_on, min_days, band_factor)
    )
    return Routine(
        learned_on,
        kept,
        background,
        half_life_days,
        background_since,
        min_days,
        still_h=still,
        on_h=on,
        band_h=held,
        band_left_out_h=apart,
    )


@dataclass(frozen=True)
class QuietScore:
    """How unusual one quiet spell is for this home (see the module docstring)."""

    quiet_h: float
    share: float  # recency-weighted share of reference days active again within the spell
    active_days: int  # of ``days`` reference days, how many were active again within it
    days: int
    expected: float  # active half-hours this home usually has after it is normally back
    since_local: datetime
    now_local: datetime

    EVIDENCE_KEYS = (
        "routine_share",
        "routine_active_days",
        "routine_days",
        "routine_expected_slots",
    )

    def evidence(self) -> dict:
        return {
            "routine_share": round(self.share, 3),
            "routine_active_days": self.active_days,
            "routine_days": self.days,
            "routine_expected_slots": round(self.expected, 1),
        }


def _day_number(day: date) -> int:
    return (day - _EPOCH).days


def _slot_index(local: datetime) -> int:
    return _day_number(local.date()) * SLOTS_PER_DAY + slot_of(local)


def _full_slots(start: datetime, end: datetime) -> tuple[int, int]:
    """Indices [first, last] of the half-hour slots after the one holding ``start`` (the last
    sign of life lies in it, so it is active today by definition) and wholly before ``end``."""
    first = _slot_index(start) + 1
    last = _slot_index(end) - 1  # the slot holding ``end`` ends after it (or starts at it)
    return first, last


def score_quiet(
    routine: Routine, since: datetime, now: datetime, tz: ZoneInfo, quantile: float = 0.95
) -> QuietScore:
    """Score the quiet spell from ``since`` (the last sign of life) to ``now``.

    For every reference day: how long after ``since``'s clock time the home was next active
    (its wait). ``share`` is the weighted share of days active again within the spell so far;
    the home is *normally* active again after the ``quantile`` of the waits; ``expected`` sums
    the home's slot probabilities after that point, up to now: the usual activity missed.
    """
    since_l, now_l = since.astimezone(tz), now.astimezone(tz)
    first, last = _full_slots(since_l, now_l)
    today = now_l.date()
    share, active_days, days, expected = _spell(routine, first, last, today, quantile)
    return QuietScore(
        quiet_h=(now - since).total_seconds() / 3600,
        share=share,
        active_days=active_days,
        days=days,
        expected=expected,
        since_local=since_l,
        now_local=now_l,
    )


def next_stage_at(
    routine: Routine,
    since: datetime,
    now: datetime,
    tz: ZoneInfo,
    *,
    quantile: float,
    attention_slots: float,
    min_quiet_h: float,
) -> datetime:
    """The earliest moment from ``now`` at which this quiet spell (no sign of life since
    ``since``) could reach 관심 by the routine score, or the next local midnight (a new day
    aligns the reference days differently, and the routine is learned again).

    The tick need not score the home again before then. It errs early, never late: the
    spell counts as past the home's usual return once ``span`` reaches the ``quantile`` of
    the waits (with the same tolerance as the score), and ``expected`` is summed exactly as
    ``score_quiet`` sums it, half-hour by half-hour.
    """
    since_l, now_l = since.astimezone(tz), now.astimezone(tz)
    first, last = _full_slots(since_l, now_l)
    today = now_l.date()
    midnight = datetime.combine(today + timedelta(days=1), datetime.min.time(), tz)
    earliest = since + timedelta(hours=min_quiet_h)
    today_n = _day_number(today)
    normal = _spell_waits(routine, first, today_n, quantile)[2]
    if normal is None:
        return midnight

    def p(index: int) -> float:  # short: the sliding sum below reads better
        return _probability_at(routine, index)

    # The last full slot may run up to the one before the day's last: in the last slot of the
    # day, ``now`` is still today; at midnight the day changes.
    final = today_n * SLOTS_PER_DAY + SLOTS_PER_DAY - 2
    back = first + normal + 1  # the first slot after the home is normally back
    begin = max(last, back)
    lo = max(back, begin - SLOTS_PER_DAY + 1)
    missed = sum(p(i) for i in range(lo, begin))
    for candidate in range(begin, final + 1):
        # ``expected`` at this last full slot: the slots from ``back``, at most the last day's.
        missed += p(candidate)
        if candidate - SLOTS_PER_DAY + 1 > lo:
            missed -= p(lo)
            lo += 1
        if missed >= attention_slots - 1e-6:  # rounding may only make it earlier
            slot_start = _slot_time(candidate + 1, tz)
            return min(max(slot_start, earliest, now), midnight)
    return midnight


def _slot_time(index: int, tz: ZoneInfo) -> datetime:
    """The local start of absolute half-hour ``index`` (day number × 48 + slot)."""
    day, slot = divmod(index, SLOTS_PER_DAY)
    midnight = datetime.combine(_EPOCH + timedelta(days=day), datetime.min.time(), tz)
    return midnight + slot * SLOT


# The last spell scored: a quiet home is scored every tick, and within one half-hour slot its
# figures do not change (a replay scores the same routine object tick after tick).
_last_spell: tuple[Routine, tuple, tuple[float, int, int, float]] | None = None


def _spell(
    routine: Routine, first: int, last: int, today: date, quantile: float
) -> tuple[float, int, int, float]:
    """(share, active days, reference days, expected slots) of the spell's full slots."""
    global _last_spell
    key = (first, last, today, quantile)
    cached = _last_spell
    if cached is not None and cached[0] is routine and cached[1] == key:
        return cached[2]
    span = last - first  # waits up to this many slots after ``first`` lie inside the spell
    waits, total, normal = _spell_waits(routine, first, _day_number(today), quantile)
    within = [w for k, w in waits if k <= span]
    share = sum(within) / total if total else 0.0
    expected = 0.0
    if normal is not None and normal < span:
        for index in range(max(first + normal + 1, last - SLOTS_PER_DAY + 1), last + 1):
            expected += _probability_at(routine, index)
    result = (share, len(within), len(waits), expected)
    _last_spell = (routine, key, result)
    return result


def _spell_waits(
    routine: Routine, first: int, today_n: int, quantile: float
) -> tuple[list[tuple[int, float]], float, int | None]:
    """``_waits``, their total weight and their ``quantile`` (the home's usual return),
    remembered per routine for the spell's first slot and day."""
    window = routine._window
    memo = window.memo[0]
    if memo is None or memo[0] != (first, today_n):
        waits = _waits(routine, first, today_n)
        memo = ((first, today_n), waits, sum(w for _k, w in waits), {})
        window.memo[0] = memo
    _key, waits, total, normal = memo
    if quantile not in normal:
        normal[quantile] = _weighted_quantile(waits, total, quantile)
    return waits, total, normal[quantile]


def _waits(routine: Routine, first: int, today_n: int) -> list[tuple[int, float]]:
    """Per reference day learned before ``today_n`` (a replay of older data may score with a
    routine learned later): the wait from the spell's clock time (``first``) on that day to its
    next active slot within a day (``_NONE``: none), and the day's weight."""
    window = routine._window
    bits = window.bits
    waits: list[tuple[int, float]] = []
    for number, weight in window.refs:
        if number >= today_n:
            continue
        # The day and the next one as one 96-slot integer, shifted to the spell's clock time.
        start = first - (today_n - number) * SLOTS_PER_DAY
        day, slot = divmod(start, SLOTS_PER_DAY)
        ahead = ((bits.get(day, 0) | bits.get(day + 1, 0) << SLOTS_PER_DAY) >> slot) & FULL_DAY
        waits.append(((ahead & -ahead).bit_length() - 1 if ahead else _NONE, weight))
    return waits


def _probability_at(routine: Routine, index: int) -> float:
    """The routine's probability of activity in absolute half-hour ``index`` (its day's type)."""
    day, slot = divmod(index, SLOTS_PER_DAY)
    return routine._probabilities[1 if day % 7 >= 5 else 0][slot]  # _EPOCH: a Monday


def _weighted_quantile(waits: list[tuple[int, float]], total: float, q: float) -> int | None:
    """The smallest wait reached by a ``q`` share of the weight (None: never within a day)."""
    if not total:
        return None
    reached = 0.0
    for k, w in sorted(waits, key=lambda kw: kw[0]):
        if k >= _NONE:
            return None
        reached += w
        if reached >= q * total - 1e-9:
            return k
    return None
