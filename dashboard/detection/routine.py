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

SLOTS_PER_DAY = 48
SLOT = timedelta(minutes=30)
FULL_DAY = (1 << SLOTS_PER_DAY) - 1
_EPOCH = date(2000, 1, 3)  # a Monday: day numbers below count from it


def slot_of(local: datetime) -> int:
    """The half-hour slot (0–47) of a local time."""
    return local.hour * 2 + local.minute // 30


def _weekend(day: date) -> bool:
    return day.weekday() >= 5


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
    _weekday_p: tuple[float, ...] = field(default=(), repr=False, compare=False)
    _weekend_p: tuple[float, ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self._weekday_p:
            weekday, weekend = self._slot_probabilities()
            object.__setattr__(self, "_weekday_p", weekday)
            object.__setattr__(self, "_weekend_p", weekend)

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

    def weight(self, day: date) -> float:
        return 0.5 ** ((self.learned_on - day).days / self.half_life_days)

    def _slot_probabilities(self) -> tuple[tuple[float, ...], tuple[float, ...]]:
        refs = self.reference_days
        out = []
        for weekend in (False, True):
            same = [d for d in refs if _weekend(d) == weekend]
            chosen = same if len(same) >= 4 else refs  # too few weekend days: use all
            total = sum(self.weight(d) for d in chosen)
            probs = [0.0] * SLOTS_PER_DAY
            for d in chosen:
                bits, w = self.days[d], self.weight(d)
                for j in range(SLOTS_PER_DAY):
                    if bits >> j & 1:
                        probs[j] += w
            out.append(tuple(p / total for p in probs) if total else tuple(probs))
        return out[0], out[1]

    def slot_probability(self, day: date, slot: int) -> float:
        return (self._weekend_p if _weekend(day) else self._weekday_p)[slot]

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
) -> Routine:
    """The routine from per-day activity bits of the days before ``learned_on``.

    Days the device did not yet exist simply have no entry; pass zero for days it reported
    without a sign of life (they are kept so the window shows the gap, but never reference).
    """
    first = learned_on - timedelta(days=window_days)
    kept = {d: bits & FULL_DAY for d, bits in days.items() if first <= d < learned_on}
    return Routine(learned_on, kept, background, half_life_days, background_since, min_days)


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


def _first_active(days: dict[date, int], start: int, limit: int) -> int | None:
    """Index of the first active slot in [start, limit], or None."""
    number = start // SLOTS_PER_DAY
    while number * SLOTS_PER_DAY <= limit:
        lo = max(start - number * SLOTS_PER_DAY, 0)
        masked = days.get(_EPOCH + timedelta(days=number), 0) >> lo
        if masked:
            index = number * SLOTS_PER_DAY + lo + (masked & -masked).bit_length() - 1
            return index if index <= limit else None
        number += 1
    return None


def _weighted_quantile(waits: list[tuple[int | None, float]], q: float) -> int | None:
    """The smallest wait reached by a ``q`` share of the weight (None: never within a day)."""
    total = sum(w for _k, w in waits)
    if not total:
        return None
    reached = 0.0
    for k, w in sorted(waits, key=lambda kw: (kw[0] is None, kw[0] or 0)):
        if k is None:
            return None
        reached += w
        if reached >= q * total - 1e-9:
            return k
    return None


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
    span = last - first  # waits up to this many slots after ``first`` lie inside the spell
    today = now_l.date()
    waits: list[tuple[int | None, float]] = []
    active_days = 0
    for day in routine.reference_days:
        shift = (today - day).days * SLOTS_PER_DAY
        if shift <= 0:
            continue  # learned after today's spell began (a replay of older data)
        start = first - shift
        found = _first_active(routine.days, start, start + SLOTS_PER_DAY - 1)
        wait = None if found is None else found - start
        waits.append((wait, routine.weight(day)))
        active_days += wait is not None and wait <= span
    total = sum(w for _k, w in waits)
    share = sum(w for k, w in waits if k is not None and k <= span) / total if total else 0.0
    normal = _weighted_quantile(waits, quantile)
    expected = 0.0
    if normal is not None and normal < span:
        for index in range(max(first + normal + 1, last - SLOTS_PER_DAY + 1), last + 1):
            day = _EPOCH + timedelta(days=index // SLOTS_PER_DAY)
            expected += routine.slot_probability(day, index % SLOTS_PER_DAY)
    return QuietScore(
        quiet_h=(now - since).total_seconds() / 3600,
        share=share,
        active_days=active_days,
        days=len(waits),
        expected=expected,
        since_local=since_l,
        now_local=now_l,
    )
