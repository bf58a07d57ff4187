"""How many plug alerts the last 30 days would have raised: a replay of stored data for the
threshold editor, with the current and the proposed thresholds side by side.

The replay reads only what ingest already keeps per plug and day, never raw events:
``device_daily.activity_slots`` (48 half-hour activity bits per local day), the home's stored
background (``device_routines``: which days count as reference days) and the person's
away periods. For each plug it walks the quiet spells between two active half-hours (and the
spell still running now), and judges each spell the way ``dashboard.rules.plug`` does:

- the fixed ladder (``plug_ladder``) on the spell's length;
- the routine score (``score_quiet`` + ``routine_stage``), with the routine learned as of each
  day (``learn_routine`` over the days before it, as the daily learning job would have), at the
  spell's end and at the end of each day it spans (the stored routine changes at midnight).

A spell's stage only grows while it lasts (docs/detection.md), so the stage at those points is
the highest it reached. Each spell that reaches a stage counts as **one alert opening**, under
the highest stage it reached (not one per escalation); spells whose alert would have opened
before the window, or that end while the person is marked away, are not counted.

Limits, stated on the page: half-hour resolution (the last sign of life is taken at the middle
of its half-hour, activity resuming at the start of its half-hour), operator actions are not
replayed (a close restarts the live rule's clock; here every spell stands alone), a day
without a ``device_daily`` row counts as a day without activity, and the live rule's
background-change and back-fill details are not modelled.

Cost: one query for a district's plugs, one for their days, one for away periods; then per plug
at most one routine per day (30) and a few scores per long spell. Measured on the demo city
(docs/detection.md, bench key ``threshold_preview_s``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import Connection, and_, func, or_, select

from dashboard.auth.regions import area_prefix
from dashboard.clock import as_utc
from dashboard.db.schema import (
    AwayPeriod,
    CareRecipient,
    Device,
    DeviceDaily,
    DeviceRoutine,
    DeviceState,
    Region,
)
from dashboard.detection.routine import (
    SLOT,
    SLOTS_PER_DAY,
    QuietScore,
    Routine,
    learn_routine,
    score_quiet,
)
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Stage, worse
from dashboard.rules.plug import ladder_stage, plug_ladder, routine_stage
from dashboard.settings import LOCAL_TZ

DAYS = 30
CHUNK = 5_000
STAGES: tuple[Stage, ...] = ("attention", "risk", "severe")


@dataclass(frozen=True)
class PlugHistory:
    """What the replay knows of one plug: its person, its days' activity bits, away days."""

    device_id: int
    recipient_id: int | None
    no_change_hours: float | None
    days: dict[date, int]  # local day → activity bits (only days with a device_daily row)
    background_since: date | None = None
    away: tuple[tuple[date, date], ...] = ()  # (starts_on, ends_on exclusive)


@dataclass(frozen=True)
class Counts:
    """Alert openings in the window, each under the highest stage it reached."""

    attention: int = 0
    risk: int = 0
    severe: int = 0
    people: int = 0  # distinct people with at least one opening
    homes: int = 0  # distinct plugs with at least one opening
    by_basis: dict[str, int] = field(default_factory=dict)  # "ladder" / "routine" → openings

    @property
    def alerts(self) -> int:
        return self.attention + self.risk + self.severe

    def as_dict(self) -> dict[str, int]:
        return {
            "attention": self.attention,
            "risk": self.risk,
            "severe": self.severe,
            "alerts": self.alerts,
            "people": self.people,
            "homes": self.homes,
        }


@dataclass(frozen=True)
class Preview:
    district_code: str
    start: datetime  # the window, UTC
    end: datetime
    plugs: int
    with_routine: int  # plugs with a usable routine on at least one day of the window
    current: Counts
    proposed: Counts
    seconds: float


def _slot_time(day0: date, index: int) -> datetime:
    """Start (UTC) of half-hour slot ``index`` counted from local midnight of ``day0``."""
    day, slot = divmod(index, SLOTS_PER_DAY)
    local = datetime.combine(day0 + timedelta(days=day), datetime.min.time(), LOCAL_TZ)
    return (local + slot * SLOT).astimezone(UTC)


def _spell_stage(
    plug: PlugHistory,
    th: Thresholds,
    since: datetime,
    points: Sequence[datetime],
    score: Callable[[datetime, float], QuietScore | None],
) -> tuple[Stage | None, str | None]:
    """The highest stage the spell from ``since`` reached at ``points`` (its last one is its end),
    and what raised it (``ladder`` / ``routine``). ``score(at, min_share)`` scores the spell up
    to ``at`` with that day's routine (None: no usable routine that day)."""
    end = points[-1]
    ladder = ladder_stage(
        (end - since).total_seconds() / 3600, plug_ladder(plug.no_change_hours, th)
    )
    cfg = th.plug_routine
    best: Stage | None = None
    if cfg.enabled and (end - since).total_seconds() >= cfg.min_quiet_h * 3600:
        for at in points:
            scored = score(at, cfg.min_share)
            if scored is not None:
                best = worse(best, routine_stage(scored, cfg))
            if best == "severe":
                break
    final = worse(ladder, best)
    if final is None:
        return None, None
    return final, "ladder" if final == ladder else "routine"


def _away_on(plug: PlugHistory, day: date) -> bool:
    return any(start <= day < end for start, end in plug.away)


def replay_counts(
    plugs: Sequence[PlugHistory],
    sets: Sequence[Thresholds],
    start: datetime,
    end: datetime,
) -> tuple[list[Counts], int]:
    """Alert openings between ``start`` and ``end`` under each of ``sets``; and how many plugs
    had a usable routine on some day of the window. Pure: the data comes in ``plugs``."""
    stats = [defaultdict(int) for _ in sets]
    people: list[set[int]] = [set() for _ in sets]
    homes: list[set[int]] = [set() for _ in sets]
    with_routine = 0
    # Learning parameters are city-wide (a district cannot override them): one routine per day
    # serves every set.
    cfg = sets[0].plug_routine
    shortest = min(
        min(s.plug_routine.min_quiet_h if s.plug_routine.enabled else 1e9 for s in sets),
        min(plug_ladder(None, s)[0] for s in sets),
        min(s.plug_no_change.min_hours for s in sets),
    )
    first_day = start.astimezone(LOCAL_TZ).date()
    last_day = end.astimezone(LOCAL_TZ).date()
    for plug in plugs:
        if not plug.days:
            continue
        day0 = min(plug.days)
        routines: dict[date, Routine] = {}

        def routine_on(day: date, plug: PlugHistory = plug, routines=routines) -> Routine:
            if day not in routines:
                routines[day] = learn_routine(
                    plug.days,
                    day,
                    window_days=cfg.window_days,
                    half_life_days=cfg.half_life_days,
                    background_since=plug.background_since,
                    min_days=cfg.min_days,
                )
            return routines[day]

        usable = any(
            len(routine_on(first_day + timedelta(days=k)).reference_days) >= cfg.min_days
            for k in range((last_day - first_day).days + 1)
        )
        with_routine += usable
        active = [
            (day - day0).days * SLOTS_PER_DAY + j
            for day in sorted(plug.days)
            for j in range(SLOTS_PER_DAY)
            if plug.days[day] >> j & 1
        ]
        # Slot indices (from day0's midnight) of the window's start and end: spells are first
        # judged on indices, and only the few long ones inside the window become datetimes.
        day0_start = _slot_time(day0, 0)
        start_index = (start - day0_start) / SLOT
        end_index = (end - day0_start) / SLOT
        for k, a in enumerate(active):
            b = active[k + 1] if k + 1 < len(active) else end_index
            b = min(b, end_index)
            if b <= start_index or (b - a - 0.5) / 2 < shortest:
                continue
            since = _slot_time(day0, a) + SLOT / 2
            # Until activity resumes, or still running at the window's end.
            spell_end = min(_slot_time(day0, active[k + 1]) if k + 1 < len(active) else end, end)
            if plug.recipient_id is not None and _away_on(
                plug, spell_end.astimezone(LOCAL_TZ).date()
            ):
                continue
            # The end of each local day the spell spans (that day's routine), then its end.
            points = []
            midnight = datetime.combine(
                since.astimezone(LOCAL_TZ).date() + timedelta(days=1),
                datetime.min.time(),
                LOCAL_TZ,
            )
            while midnight < spell_end:
                points.append(midnight - timedelta(seconds=1))
                midnight += timedelta(days=1)
            points.append(spell_end)
            scores: dict[tuple[datetime, float], QuietScore | None] = {}

            def score(at: datetime, share: float, since=since, scores=scores) -> QuietScore | None:
                # The sets share one score when their min_share is the same.
                if (at, share) not in scores:
                    routine = routine_on(at.astimezone(LOCAL_TZ).date())
                    usable = len(routine.reference_days) >= cfg.min_days
                    scores[at, share] = (
                        score_quiet(routine, since, at, LOCAL_TZ, share) if usable else None
                    )
                return scores[at, share]

            for i, th in enumerate(sets):
                stage, basis = _spell_stage(plug, th, since, points, score)
                if stage is None:
                    continue
                if since < start:  # already alerting when the window began: not its alert
                    early = [*(p for p in points if p < start), start]
                    if _spell_stage(plug, th, since, early, score)[0] is not None:
                        continue
                stats[i][stage] += 1
                stats[i][f"basis:{basis}"] += 1
                homes[i].add(plug.device_id)
                if plug.recipient_id is not None:
                    people[i].add(plug.recipient_id)
    out = [
        Counts(
            attention=s["attention"],
            risk=s["risk"],
            severe=s["severe"],
            people=len(people[i]),
            homes=len(homes[i]),
            by_basis={b: s[f"basis:{b}"] for b in ("ladder", "routine")},
        )
        for i, s in enumerate(stats)
    ]
    return out, with_routine


def district_plugs(
    conn: Connection, district_code: str
) -> list[tuple[int, int | None, float | None]]:
    """(device id, person id, personal no-change hours) of the district's active plugs, placed
    by the person's region (the device's when it has no person), as the rules place them."""
    d, r = Device.__table__, CareRecipient.__table__
    region = Region.__table__
    prefix = area_prefix(district_code)
    rows = conn.execute(
        select(d.c.id, d.c.recipient_id, r.c.no_change_hours)
        .select_from(d)
        .outerjoin(r, r.c.id == d.c.recipient_id)
        .join(region, region.c.id == func.coalesce(r.c.region_id, d.c.region_id))
        .where(
            d.c.type_code == "smart_plug",
            d.c.status == "active",
            or_(r.c.id.is_(None), r.c.ended_on.is_(None)),
            region.c.code.startswith(prefix),
        )
        .order_by(d.c.id)
    )
    return [(row.id, row.recipient_id, row.no_change_hours) for row in rows]


def newest_report(conn: Connection, district_code: str) -> datetime | None:
    """The newest ``last_seen_at`` of the district's active plugs (None: none reported)."""
    ids = [p[0] for p in district_plugs(conn, district_code)]
    state = DeviceState.__table__
    newest = None
    for part in range(0, len(ids), CHUNK):
        seen = conn.execute(
            select(func.max(state.c.last_seen_at)).where(
                state.c.device_id.in_(ids[part : part + CHUNK])
            )
        ).scalar()
        if seen is not None:
            newest = max(newest, as_utc(seen)) if newest else as_utc(seen)
    return newest


def load_histories(
    conn: Connection, district_code: str, first_day: date, last_day: date
) -> list[PlugHistory]:
    """The district's plugs with their ``device_daily`` bits from ``first_day`` to ``last_day``."""
    plugs = district_plugs(conn, district_code)
    daily, rt, away = DeviceDaily.__table__, DeviceRoutine.__table__, AwayPeriod.__table__
    days: dict[int, dict[date, int]] = defaultdict(dict)
    since: dict[int, date | None] = {}
    periods: dict[int, list[tuple[date, date]]] = defaultdict(list)
    ids = [p[0] for p in plugs]
    people = sorted({p[1] for p in plugs if p[1] is not None})
    for part in range(0, len(ids), CHUNK):
        chunk = ids[part : part + CHUNK]
        for device_id, day, bits in conn.execute(
            select(daily.c.device_id, daily.c.day, daily.c.activity_slots).where(
                daily.c.device_id.in_(chunk), daily.c.day >= first_day, daily.c.day <= last_day
            )
        ):
            days[device_id][day] = int(bits or 0)
        for device_id, model in conn.execute(
            select(rt.c.device_id, rt.c.model).where(
                rt.c.device_id.in_(chunk), rt.c.background_high_w.is_not(None)
            )
        ):
            since[device_id] = Routine.from_json(model).background_since
    for part in range(0, len(people), CHUNK):
        for recipient_id, starts, ends in conn.execute(
            select(away.c.recipient_id, away.c.starts_on, away.c.ends_on).where(
                away.c.recipient_id.in_(people[part : part + CHUNK]),
                away.c.cancelled_at.is_(None),
                and_(away.c.ends_on >= first_day, away.c.starts_on <= last_day),
            )
        ):
            periods[recipient_id].append((starts, ends))
    return [
        PlugHistory(
            device_id=device_id,
            recipient_id=recipient_id,
            no_change_hours=hours,
            days=days.get(device_id, {}),
            background_since=since.get(device_id),
            away=tuple(periods.get(recipient_id, ())) if recipient_id is not None else (),
        )
        for device_id, recipient_id, hours in plugs
    ]


def preview_district(
    conn: Connection,
    district_code: str,
    current: Thresholds,
    proposed: Thresholds,
    now: datetime,
    days: int = DAYS,
) -> Preview:
    """Alert openings of the district's plugs over the ``days`` before ``now`` under the
    ``current`` and ``proposed`` thresholds (each the district's effective values)."""
    started = time.perf_counter()
    # The window ends at the district's newest report (now, on a live system): a stopped feed,
    # a restored backup or the demo must not read as every home going quiet at once.
    end = min(now.astimezone(UTC), newest_report(conn, district_code) or now).astimezone(UTC)
    start = end - timedelta(days=days)
    window = max(current.plug_routine.window_days, proposed.plug_routine.window_days)
    first_day = start.astimezone(LOCAL_TZ).date() - timedelta(days=window + 1)
    plugs = load_histories(conn, district_code, first_day, end.astimezone(LOCAL_TZ).date())
    (now_counts, new_counts), with_routine = replay_counts(plugs, [current, proposed], start, end)
    return Preview(
        district_code=district_code,
        start=start,
        end=end,
        plugs=len(plugs),
        with_routine=with_routine,
        current=now_counts,
        proposed=new_counts,
        seconds=time.perf_counter() - started,
    )
