"""How many plug alerts the last 30 days would have raised: a replay of stored data for the
threshold editor, with the current and the proposed thresholds side by side.

The replay reads only what ingest already keeps per plug and day, never raw events:
``device_daily.activity_slots`` (48 half-hour activity bits per local day), the home's stored
background (``device_routines``: which days count as reference days) and the person's
away periods. Each plug's days go through ``dashboard.detection.scan``: every quiet spell
judged at each half-hour as the live rule judges it (the fixed ladder on the spell's length,
the routine score with the routine learned as of that day, as the daily learning job would
have), vectorised; and each run of readings above the background's ceiling
(``device_daily.above_slots``) judged by the left-on test, and each band of readings
(``device_daily.band_slots``, read only with the band test on in either set) by the band test,
at half-hour resolution (see ``dashboard.detection.scan``).

Each spell that reaches a stage counts as **one alert opening**, under the highest stage it
reached (not one per escalation); so does each run above the ceiling that reaches the left-on
test's threshold, held until the run ends, and each band that reaches the band test's, held
until it breaks (a spell's alert and a run's or a band's that overlap are one
opening, as the live rule keeps one alert per plug); spells whose alert would have opened
before the window, or that end while the person is marked away, are not counted.

Limits, stated on the page: half-hour resolution (the last sign of life is taken at the middle
of its half-hour, activity resuming at the start of its half-hour), operator actions are not
replayed (a close restarts the live rule's clock; here every spell stands alone), a day
without a ``device_daily`` row counts as a day without activity, and the live rule's
background-change and back-fill details are not modelled.

Cost: one query for a district's plugs, one for their days, one for away periods; then one
vectorised scan per plug and threshold set. Measured on the demo city (docs/detection.md, bench
key ``threshold_preview_s``).
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, and_, func, null, or_, select

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
from dashboard.detection import left_on
from dashboard.detection.background import Background
from dashboard.detection.band import band_days
from dashboard.detection.routine import Routine
from dashboard.detection.scan import SpellAlert, one_at_a_time, scan_plug
from dashboard.rules.config import Thresholds
from dashboard.rules.model import Stage
from dashboard.settings import LOCAL_TZ

DAYS = 30
CHUNK = 5_000
STAGES: tuple[Stage, ...] = ("attention", "risk", "severe")
# what an opening's top stage came from
BASES = ("ladder", "net", "routine", "level", "still", "on", "band")


@dataclass(frozen=True)
class PlugHistory:
    """What the replay knows of one plug: its person, its days' activity bits, away days."""

    device_id: int
    recipient_id: int | None
    no_change_hours: float | None
    days: dict[date, int]  # local day → activity bits (only days with a device_daily row)
    background_since: date | None = None
    away: tuple[tuple[date, date], ...] = ()  # (starts_on, ends_on exclusive)
    changes: dict[date, int] | None = None  # local day → bits of changes beyond the margins
    levels: dict[date, bytes] | None = None  # local day → level_slots (the level test)
    above: dict[date, int] | None = None  # local day → above_slots (the left-on test)
    band: dict[date, int] | None = None  # local day → band_slots (the band test)
    # the learned unattended load now: the left-on test judges only a standby's plug
    background: Background | None = None
    # local day → the half-hours the person was seen other than by this plug: their other
    # plugs' signs of life, the first half-hour of a return date (``scan_plug``'s ``seen``)
    seen: dict[date, int] | None = None


@dataclass(frozen=True)
class Counts:
    """Alert openings in the window, each under the highest stage it reached."""

    attention: int = 0
    risk: int = 0
    severe: int = 0
    people: int = 0  # distinct people with at least one opening
    homes: int = 0  # distinct plugs with at least one opening
    # "ladder" / "net" / "routine" / "level" / "still" / "on" / "band" → openings
    by_basis: dict[str, int] = field(default_factory=dict)

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
    # The level test on in either set: its models learned for each day from the stored
    # half-hour levels (as the nightly job would have), whether or not it ever learned them.
    level_test: bool = False
    with_levels: int = 0  # plugs with stored levels in the window (those the test can judge)


def _overlaps(part: SpellAlert, joined: SpellAlert) -> bool:
    """Whether ``part`` is one of the alerts ``one_at_a_time`` joined into ``joined``."""
    return joined.opened_at <= part.opened_at <= joined.end


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
    found: list[dict[int, list[tuple[SpellAlert, int]]]] = [defaultdict(list) for _ in sets]
    people: list[set[int]] = [set() for _ in sets]
    homes: list[set[int]] = [set() for _ in sets]
    with_routine = 0
    for plug in plugs:
        if not plug.days:
            continue
        usable = False
        shared: dict = {}  # what the sets share for this plug, worked out once
        for i, th in enumerate(sets):
            scan = scan_plug(
                plug.days,
                th,
                start,
                end,
                no_change_hours=plug.no_change_hours,
                background_since=plug.background_since,
                changes=plug.changes,
                levels=plug.levels,
                # the left-on test on a plug whose unattended load is a standby (its current
                # background: the live rule reads the day's)
                above=plug.above
                if left_on.judges(plug.background, th.plug_no_change.power_margin_w)
                else None,
                band=plug.band,
                shared=shared,
                seen=plug.seen,
            )
            usable = usable or scan.routine_days > 0
            for alert in scan.alerts:
                # the live rule raises nothing while the person is marked away (an alert
                # opened before stays open)
                if plug.recipient_id is not None and _away_on(
                    plug, alert.opened_at.astimezone(LOCAL_TZ).date()
                ):
                    continue
                # a person's one alert: their plugs' alerts that overlap are one (below)
                subject = plug.recipient_id if plug.recipient_id is not None else -plug.device_id
                found[i][subject].append((alert, plug.device_id))
        with_routine += usable
    for i, by_subject in enumerate(found):
        for subject, alerts in by_subject.items():
            for alert in one_at_a_time([a for a, _device in alerts]):
                if alert.opened_at < start:
                    continue  # already alerting when the window began: not its alert
                stats[i][alert.stage] += 1
                stats[i][f"basis:{alert.basis}"] += 1
                homes[i].update(device for a, device in alerts if _overlaps(a, alert))
                if subject >= 0:
                    people[i].add(subject)
    out = [
        Counts(
            attention=s["attention"],
            risk=s["risk"],
            severe=s["severe"],
            people=len(people[i]),
            homes=len(homes[i]),
            by_basis={b: s[f"basis:{b}"] for b in BASES},
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
    conn: Connection,
    district_code: str,
    first_day: date,
    last_day: date,
    read_levels: bool = True,
    read_band: bool = True,
) -> list[PlugHistory]:
    """The district's plugs with their ``device_daily`` bits from ``first_day`` to ``last_day``;
    with their stored half-hour levels when ``read_levels`` (the level test judges in either set:
    96 bytes a plug-day, left unread otherwise), and their band's breaks when ``read_band`` (the
    band test judges in either set)."""
    plugs = district_plugs(conn, district_code)
    daily, rt, away = DeviceDaily.__table__, DeviceRoutine.__table__, AwayPeriod.__table__
    days: dict[int, dict[date, int]] = defaultdict(dict)
    changes: dict[int, dict[date, int]] = defaultdict(dict)
    levels: dict[int, dict[date, bytes]] = defaultdict(dict)
    above: dict[int, dict[date, int]] = defaultdict(dict)
    band: dict[int, dict[date, int | None]] = defaultdict(dict)
    since: dict[int, date | None] = {}
    backgrounds: dict[int, Background | None] = {}
    periods: dict[int, list[tuple[date, date]]] = defaultdict(list)
    ids = [p[0] for p in plugs]
    people = sorted({p[1] for p in plugs if p[1] is not None})
    for part in range(0, len(ids), CHUNK):
        chunk = ids[part : part + CHUNK]
        for device_id, day, bits, changed, level, up, broke in conn.execute(
            select(
                daily.c.device_id,
                daily.c.day,
                daily.c.activity_slots,
                daily.c.change_slots,
                daily.c.level_slots if read_levels else null().label("level_slots"),
                daily.c.above_slots,
                daily.c.band_slots if read_band else null().label("band_slots"),
            ).where(daily.c.device_id.in_(chunk), daily.c.day >= first_day, daily.c.day <= last_day)
        ):
            days[device_id][day] = int(bits or 0)
            if changed is not None:
                changes[device_id][day] = int(changed)
            if level is not None:
                levels[device_id][day] = bytes(level)
            if up is not None:  # a day judged against a ceiling (as the learning reads it)
                above[device_id][day] = int(up)
            band[device_id][day] = broke  # read as the learning reads it (band_days)
        for device_id, model in conn.execute(
            select(rt.c.device_id, rt.c.model).where(
                rt.c.device_id.in_(chunk), rt.c.background_high_w.is_not(None)
            )
        ):
            routine = Routine.from_json(model)
            since[device_id] = routine.background_since
            backgrounds[device_id] = routine.background
    for part in range(0, len(people), CHUNK):
        for recipient_id, starts, ends in conn.execute(
            select(away.c.recipient_id, away.c.starts_on, away.c.ends_on).where(
                away.c.recipient_id.in_(people[part : part + CHUNK]),
                away.c.cancelled_at.is_(None),
                and_(away.c.ends_on >= first_day, away.c.starts_on <= last_day),
            )
        ):
            periods[recipient_id].append((starts, ends))
    mates: dict[int, list[int]] = defaultdict(list)  # each person's plugs
    for device_id, recipient_id, _hours in plugs:
        if recipient_id is not None:
            mates[recipient_id].append(device_id)
    # Where the person was seen other than by each plug, from the days as stored (the days
    # marked away included: their signs of life still end a spell).
    seen = {
        device_id: seen_elsewhere(
            device_id,
            mates.get(recipient_id, ()),
            days,
            periods.get(recipient_id, ()) if recipient_id is not None else (),
            last_day,
        )
        for device_id, recipient_id, _hours in plugs
    }
    # Days the person was marked away are left out of what the scan learns from, as the
    # nightly learning leaves them out (``learning``: as days without a row).
    for device_id, recipient_id, _hours in plugs:
        marked = periods.get(recipient_id, ()) if recipient_id is not None else ()
        for values in (days, changes, above, band):
            if marked and device_id in values:
                values[device_id] = _at_home(values[device_id], marked)
    return [
        PlugHistory(
            device_id=device_id,
            recipient_id=recipient_id,
            no_change_hours=hours,
            days=days.get(device_id, {}),
            background_since=since.get(device_id),
            away=tuple(periods.get(recipient_id, ())) if recipient_id is not None else (),
            changes=changes.get(device_id),
            levels=levels.get(device_id),
            above=above.get(device_id),
            band=band_days(band.get(device_id, {})),
            background=backgrounds.get(device_id),
            seen=seen[device_id],
        )
        for device_id, recipient_id, hours in plugs
    ]


def _at_home(values: dict[date, Any], periods: Sequence[tuple[date, date]]) -> dict[date, Any]:
    """``values`` without the days of ``periods`` (``starts_on`` ≤ day < ``ends_on``)."""
    return {day: v for day, v in values.items() if not any(s <= day < e for s, e in periods)}


def seen_elsewhere(
    device_id: int,
    mates: Sequence[int],
    days: Mapping[int, Mapping[date, int]],
    periods: Sequence[tuple[date, date]],
    last_day: date,
) -> dict[date, int] | None:
    """Local day → the half-hours the live rule counts a plug's person as seen other than by
    the plug's learned days: their other plugs' signs of life (``mates``: the person's plugs;
    ``rules.household``), the plug's own on the days marked away (left out of what it learns
    from, they still end a spell), and the first half-hour of the return date of each of their
    away ``periods`` that has ended with nobody seen after the day they left
    (``rules.plug.back_at``: that day's midnight); None where there is none. ``days``: as
    stored, the days marked away included."""
    seen: dict[date, int] = defaultdict(int)
    for other in mates:
        for day, bits in days.get(other, {}).items():
            if bits and (other != device_id or any(s <= day < e for s, e in periods)):
                seen[day] |= bits
    for starts, ends in periods:
        inside = (starts + timedelta(days=k) for k in range(1, (ends - starts).days))
        if starts < ends <= last_day and not any(seen.get(day) for day in inside):
            seen[ends] |= 1
    return dict(seen) or None


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
    level_test = any(
        th.plug_routine.enabled and th.plug_routine.level_enabled for th in (current, proposed)
    )
    band_test = any(
        th.plug_routine.enabled and th.plug_routine.band_enabled for th in (current, proposed)
    )
    last_day = end.astimezone(LOCAL_TZ).date()
    plugs = load_histories(
        conn, district_code, first_day, last_day, read_levels=level_test, read_band=band_test
    )
    (now_counts, new_counts), with_routine = replay_counts(plugs, [current, proposed], start, end)
    window_first = start.astimezone(LOCAL_TZ).date()
    return Preview(
        district_code=district_code,
        start=start,
        end=end,
        plugs=len(plugs),
        with_routine=with_routine,
        current=now_counts,
        proposed=new_counts,
        seconds=time.perf_counter() - started,
        level_test=level_test,
        with_levels=sum(
            any(window_first <= day <= last_day for day in p.levels or ()) for p in plugs
        ),
    )
