"""The live page's watch list: smart-plug homes drifting from their routine, before any alert.

A home is drifting when its current quiet spell, scored by the plug rule itself
(``dashboard.rules.plug.plug_no_change``, on the same facts the tick loads, with the thresholds
of the person's district), is halfway to 관심 without an alert: it is in a window this home is
normally active in (share ≥ ``plug_routine.min_share``) and already misses at least half of the
``attention_slots`` normally active half-hours that would raise 관심, or, where the district has
the level test on, its level evidence has reached half of ``level_h``, or its readings have
not changed for half of the stillness test's threshold (``detection.stillness``), or its power
has stayed above the standby for half of the left-on test's (``detection.left_on``), or within
its band for half of the band test's (``detection.band``). The
candidates are bounded in SQL first: plugs quiet for the most lenient district's
``min_quiet_h`` with a usable routine row (or a level model, where the level test is on
somewhere, or a still record; a band held long enough against its record, bounded by tiers)
that still report (within
the plug's silence timeout), no open alert, in the user's districts and the page's filters, at
most ``scan`` of them (the longest quiet first); only those are scored.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import ColumnElement, Connection, Table, and_, case, false, or_, select

from dashboard.auth.regions import area_prefix
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceRoutine,
    DeviceState,
    Program,
    Region,
)
from dashboard.detection import left_on
from dashboard.detection.levels import LevelScore
from dashboard.formatting import mask_name
from dashboard.rules.config import Thresholds, current_thresholds
from dashboard.rules.facts import enrich, load_facts_by_id, with_history
from dashboard.rules.model import DeviceFacts, iso
from dashboard.rules.plug import level_evidence, level_supported, plug_no_change
from queries.common import in_filter, region_filter, where_all
from queries.live import LiveFilters

SHOWN = 10
NO_FILTERS = LiveFilters()
PLUG_TIMEOUT_S = 7200  # device_types' heartbeat for plugs when rules.toml names none
SCAN = 3_000  # candidates scored at most per refresh (the longest quiet first)
BAND_TIERS = 8  # doubling steps of the band's SQL bound (from half of band_min_h: 1.5–192 h)


@dataclass(frozen=True)
class WatchList:
    """``rows``: device_id, recipient_id, external_ref, recipient_masked, region_ko, region_en,
    since, evidence (the rule's evidence, routine or level basis), share, expected (None where
    the routine was not scored); the nearest to 관심 first.
    ``candidates`` were scored (``truncated``: more were quiet than ``scan``)."""

    rows: pd.DataFrame
    candidates: int
    truncated: bool
    seconds: float


def _areas(areas: Iterable[str] | None):
    if areas is None:
        return None
    prefixes = sorted({area_prefix(code) for code in areas})
    return or_(*(Region.code.startswith(p) for p in prefixes)) if prefixes else false()


def candidate_ids(
    conn: Connection,
    now: datetime,
    th: Thresholds,
    filters: LiveFilters = NO_FILTERS,
    areas: Iterable[str] | None = None,
    scan: int = SCAN,
) -> list[int]:
    """Quiet plugs with a usable routine and no open alert, longest quiet first, at most
    ``scan`` + 1 (one more says the scan was cut)."""
    cfg = th.plug_routine
    # The most lenient district decides who is scored; each is then judged by its own.
    min_quiet_h = min(v.plug_routine.min_quiet_h for v in th.district_variants())
    reporting_s = th.device_silent.timeout_s.get("smart_plug", PLUG_TIMEOUT_S)
    d, s = Device.__table__, DeviceState.__table__
    rt, a = DeviceRoutine.__table__, Alert.__table__
    inside = _areas(areas)
    programs = in_filter(Program.code, filters.programs)
    regions = region_filter(Region, filters.districts)
    stmt = where_all(
        select(d.c.id)
        .join(s, s.c.device_id == d.c.id)
        .join(rt, rt.c.device_id == d.c.id)
        .where(
            d.c.type_code == "smart_plug",
            d.c.status == "active",
            d.c.recipient_id.is_not(None),
            # Still reporting: a plug gone silent is a device fault (the silent list), and the
            # rule scores only observed time.
            s.c.last_seen_at >= now - timedelta(seconds=reporting_s),
            or_(
                and_(
                    s.c.last_activity_at <= now - timedelta(hours=min_quiet_h),
                    or_(
                        rt.c.reference_days >= cfg.min_days,
                        rt.c.level_model.is_not(None) if th.level_enabled_anywhere else false(),
                        rt.c.still_h.is_not(None) if cfg.still_enabled else false(),
                    ),
                ),
                # above its standby for half the left-on test's minimum, with a record (its
                # line moves at every reading: never quiet)
                and_(
                    s.c.above_since <= now - timedelta(hours=cfg.on_min_h / 2),
                    rt.c.on_h.is_not(None),
                    # only a standby's plug (left_on.judges; a superset in SQL)
                    rt.c.background_high_w
                    <= left_on.standby_high_max(th.plug_no_change.power_margin_w),
                )
                if cfg.on_enabled
                else false(),
                _band_held(s, rt, th, now),
            ),
            d.c.id.not_in(
                select(a.c.device_id).where(a.c.status != "closed", a.c.device_id.is_not(None))
            ),
        ),
        None if programs is None else d.c.program_id.in_(select(Program.id).where(programs)),
        None if regions is None else d.c.region_id.in_(select(Region.id).where(regions)),
        None
        if inside is None
        else d.c.recipient_id.in_(
            select(CareRecipient.id)
            .join(Region, Region.id == CareRecipient.region_id)
            .where(inside)
        ),
    )
    # The longest first, by whichever clock a row is listed on: a plug above its standby or in
    # its band has a recent sign of life (each flicker, each fridge cycle), and ordered by that
    # alone it would be cut first when more than ``scan`` homes are candidates.
    clock = _earliest(s.c.last_activity_at, s.c.above_since, s.c.band_since)
    stmt = stmt.order_by(clock, d.c.id).limit(scan + 1)
    return list(conn.execute(stmt).scalars())


def _earliest(*columns: ColumnElement) -> ColumnElement:
    """The earliest non-NULL of these timestamps (NULL when all are), the same SQL on SQLite
    and PostgreSQL (SQLite's two-argument min() and PostgreSQL's LEAST() differ on NULLs)."""
    out = columns[0]
    for col in columns[1:]:
        out = case((out.is_(None), col), (col.is_(None), out), (col < out, col), else_=out)
    return out


def _band_held(s: Table, rt: Table, th: Thresholds, now: datetime) -> ColumnElement[bool]:
    """Plugs whose band may have held for half of the band test's threshold, max(band_factor ×
    band_h, band_min_h) / 2, in SQL without date arithmetic (both backends): a superset, by
    doubling tiers of the band's time t ≤ held < 2t, each taking a record up to 2 × 2t / factor
    (the most lenient district's factor and minimum). Without it every home whose power stays
    within its band for 1.5 h (every night) would be scored, its record 15–24 h."""
    variants = [v.plug_routine for v in th.district_variants() if v.plug_routine.band_enabled]
    if not variants:
        return false()
    factor = min(v.band_factor for v in variants)
    tiers = [min(v.band_min_h for v in variants) / 2 * 2**k for k in range(BAND_TIERS)]
    held = [
        and_(s.c.band_since <= now - timedelta(hours=t), rt.c.band_h <= 2 * (2 * t) / factor)
        for t in tiers[:-1]
    ]
    longest = and_(s.c.band_since <= now - timedelta(hours=tiers[-1]), rt.c.band_h.is_not(None))
    return or_(*held, longest)


def _people(conn: Connection, ids: list[int]) -> pd.DataFrame:
    r = CareRecipient.__table__
    rows = conn.execute(
        select(
            r.c.id.label("recipient_id"),
            r.c.external_ref,
            r.c.pii_name,
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
        )
        .join(Region, Region.id == r.c.region_id)
        .where(r.c.id.in_(ids))
    ).all()
    df = pd.DataFrame(
        rows, columns=["recipient_id", "external_ref", "pii_name", "region_ko", "region_en"]
    )
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df


_COLUMNS = [
    "device_id",
    "recipient_id",
    "external_ref",
    "recipient_masked",
    "region_ko",
    "region_en",
    "since",
    "share",
    "expected",
    "evidence",
]


def _drift(f: DeviceFacts, th: Thresholds, now: datetime) -> dict | None:
    """The watch-list row of one scored home, or None while it is not halfway to 관심.

    ``progress`` is how far the nearer test is towards 관심 (1 = raised): the routine's missed
    half-hours over ``attention_slots``, the level evidence over ``level_h``, or the hours
    without a change, above the standby or within the band over their test's threshold."""
    # The person's district's thresholds, as the tick judges them (engine.evaluate).
    local = th.for_region(f.region_code)
    cfg = local.plug_routine
    decision = plug_no_change(f, local, now)
    if decision is None:
        return None  # marked away, or no clock
    ev = decision.evidence
    share, expected = ev.get("routine_share"), ev.get("routine_expected_slots")
    by_routine = (
        expected / cfg.attention_slots
        if share is not None and share >= cfg.min_share and expected >= cfg.attention_slots / 2
        else 0.0
    )
    level_s = ev.get("level_s")  # None unless the district has the level test on
    by_level = level_s / cfg.level_h if level_s is not None and level_s >= cfg.level_h / 2 else 0.0
    observed = min(now, f.last_seen_at or now)
    if by_level and f.levels is not None:
        since = ev.get("level_since")
        level = LevelScore(level_s, datetime.fromisoformat(since) if since else None)
        if not level_supported(f.levels.model, level, observed):
            by_level = 0.0  # as the rule: a stage its sentence would undercut is not raised
    run_h, still_at = ev.get("still_run_h"), ev.get("still_at_h")  # None: no stillness record
    by_still = run_h / still_at if still_at and run_h >= still_at / 2 else 0.0
    on_h, on_at = ev.get("on_run_h"), ev.get("on_at_h")  # None: not above, or no record
    by_on = on_h / on_at if on_at and on_h >= on_at / 2 else 0.0
    band_h, band_at = ev.get("band_run_h"), ev.get("band_at_h")  # None: no band record
    by_band = band_h / band_at if band_at and band_h >= band_at / 2 else 0.0
    if not (by_routine or by_level or by_still or by_on or by_band):
        return None
    evidence = ev | {"basis": "routine", "scored_at": iso(observed)}
    if by_band > max(by_routine, by_level, by_still, by_on):
        evidence["basis"] = "band"
    elif by_on > max(by_routine, by_level, by_still):
        evidence["basis"] = "on"
    elif by_still > max(by_routine, by_level):
        evidence["basis"] = "still"
    elif by_level > by_routine and f.levels is not None:
        since = ev.get("level_since")
        level = LevelScore(level_s, datetime.fromisoformat(since) if since else None)
        evidence |= {"basis": "level"} | level_evidence(
            f.levels.model, level, observed, cfg.level_h
        )
    return {
        "device_id": f.device_id,
        "recipient_id": f.recipient_id,
        # a stillness row: since the last change, a left-on row: since the power went above
        # the standby, a band row: since the band began, as their sentences say
        "since": pd.Timestamp(
            {"still": ev["change_since"], "on": ev["on_since"], "band": ev["band_since"]}.get(
                evidence["basis"], ev["since"]
            )
        ),
        "share": share,
        "expected": expected,
        "evidence": evidence,
        "progress": max(by_routine, by_level, by_still, by_on, by_band),
    }


def drifting_homes(
    conn: Connection,
    now: datetime,
    filters: LiveFilters = NO_FILTERS,
    areas: Iterable[str] | None = None,
    limit: int = SHOWN,
    scan: int = SCAN,
    thresholds: Thresholds | None = None,
) -> WatchList:
    """The watch list (``areas``: the user's districts, None = all, () = none)."""
    started = time.perf_counter()
    th = thresholds or current_thresholds()
    cfg = th.plug_routine
    empty = pd.DataFrame(columns=_COLUMNS)
    if not cfg.enabled or (areas is not None and not tuple(areas)):
        return WatchList(empty, 0, False, time.perf_counter() - started)
    ids = candidate_ids(conn, now, th, filters, areas, scan)
    truncated = len(ids) > scan
    ids = ids[:scan]
    facts, _readings = enrich(conn, load_facts_by_id(conn, ids), th, now)
    facts = with_history(conn, facts)
    found = []
    for f in facts:
        row = _drift(f, th, now)
        if row is not None:
            found.append(row)
    # The nearest to 관심 first, by whichever test is nearer.
    found.sort(key=lambda row: (-row.pop("progress"), row["device_id"]))
    rows = pd.DataFrame(found[:limit])
    if rows.empty:
        return WatchList(empty, len(ids), truncated, time.perf_counter() - started)
    people = _people(conn, [int(r) for r in rows["recipient_id"]])
    rows = rows.merge(people, on="recipient_id", how="left")[_COLUMNS]
    return WatchList(rows, len(ids), truncated, time.perf_counter() - started)
