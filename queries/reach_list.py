"""The city's view of the reaches the worker stored (``plug_reaches``, refreshed by
``detection.reach_refresh``): the shares by district (:func:`reach_shares`) and the plugs slow
to notice a stop (:func:`slow_plugs`). Apart from ``queries.reach``, which the worker and
``replay`` import, because these read pandas."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
from sqlalchemy import Connection, case, func, select
from sqlalchemy.orm import aliased

from dashboard.db.schema import CareRecipient, Device, PlugReachRecord, Program, Region
from dashboard.formatting import mask_name
from queries.common import frame, in_filter, where_all
from queries.reach import PLUG
from queries.roster import LIST_LIMIT, in_areas

VERDICTS = ("fast", "fair", "slow", "none")  # PlugReach.verdict, fastest first
SLOW_VERDICTS = ("slow", "none")  # the plugs the leads' list shows: the suggestion's verdicts


def _placed(districts: Sequence[str] | None, *columns):
    """``columns`` with the district of each active smart plug: the person's region, else the
    device's (as ``plug_reaches`` judges the plug), a dong counting for its district; within
    ``districts`` (area codes, by code prefix as an operator's scope; None: all, (): none). The
    stored reach is outer-joined as ``PlugReachRecord``'s table."""
    d, r, p = Device.__table__, CareRecipient.__table__, PlugReachRecord.__table__
    place, district = aliased(Region, name="place"), aliased(Region, name="district")
    placed = func.coalesce(r.c.region_id, d.c.region_id)
    district_id = case(
        (place.level == "dong", func.coalesce(place.parent_id, place.id)), else_=place.id
    )
    stmt = (
        select(
            district.code.label("district_code"),
            district.name_ko.label("district_ko"),
            district.name_en.label("district_en"),
            *columns,
        )
        .select_from(d)
        .outerjoin(r, r.c.id == d.c.recipient_id)
        .join(place, place.id == placed)
        .join(district, district.id == district_id)
        .outerjoin(p, p.c.device_id == d.c.id)
        .where(d.c.type_code == PLUG, d.c.status == "active")
    )
    # The user's scope as the device list and page apply it (the device's own dong): a plug
    # listed is one its device page opens; it is counted in its person's district.
    return where_all(stmt, in_areas(d.c.region_id, districts)), district


def reach_shares(
    conn: Connection,
    *,
    districts: Sequence[str] | None = None,
    programs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per district (by code): district_code, district_ko, district_en, ``plugs`` (active smart
    plugs), ``judged`` (those with a stored reach; a plug gets one once its routine is learned
    and the worker came to it), one count per verdict (``fast``, ``fair``, ``slow``, ``none``)
    and ``oldest_at``, the oldest stored reach's computation time (NaT with none); the plugs of
    the ``programs`` (codes; None: all) only. Aggregates only."""
    p = PlugReachRecord.__table__
    stmt, district = _placed(
        districts,
        func.count().label("plugs"),
        func.count(p.c.device_id).label("judged"),
        *(func.count(case((p.c.verdict == v, 1))).label(v) for v in VERDICTS),
        func.min(p.c.computed_at).label("oldest_at"),
    )
    if programs is not None:
        chosen = select(Program.id).where(Program.code.in_(list(programs)))
        stmt = stmt.where(Device.__table__.c.program_id.in_(chosen))
    stmt = stmt.group_by(district.id, district.code, district.name_ko, district.name_en)
    df = frame(conn, stmt.order_by(district.code), times=["oldest_at"])
    for col in ("plugs", "judged", *VERDICTS):
        df[col] = df[col].astype(int)
    return df


OTHER_VERDICTS = ("fast", "fair")  # another plug of the person that notices soon enough


def _other_best(d):
    """The best rank (0 fast, 1 fair; NULL: none) of the stored verdicts of the other active
    smart plugs of ``d``'s person (the person panel combines them: the soonest raises it)."""
    other, stored = aliased(Device.__table__, name="other"), PlugReachRecord.__table__
    stored = aliased(stored, name="other_reach")
    rank = case(*((stored.c.verdict == v, i) for i, v in enumerate(OTHER_VERDICTS)), else_=None)
    return (
        select(func.min(rank))
        .select_from(other)
        .join(stored, stored.c.device_id == other.c.id)
        .where(
            other.c.recipient_id == d.c.recipient_id,
            other.c.id != d.c.id,
            other.c.type_code == PLUG,
            other.c.status == "active",
        )
        .scalar_subquery()
    )


def slow_plugs(
    conn: Connection,
    *,
    districts: Sequence[str] | None = None,
    verdicts: Sequence[str] = SLOW_VERDICTS,
    with_names: bool = False,
    limit: int = LIST_LIMIT,
) -> pd.DataFrame:
    """The active smart plugs whose stored verdict is one of ``verdicts`` (empty: any), at most
    ``limit`` rows (ask ``limit + 1`` to know there are more): device_id, device_uid,
    external_ref (the person's 대상자번호; None for a plug at a site), district_code/ko/en,
    verdict, median_h, worst_h, learned_on, computed_at, and ``recipient_masked`` when
    ``with_names`` (masked, as the roster shows names).

    ``other_verdict``: the best stored verdict (``fast`` or ``fair``) of the person's other
    active plugs, None without one: that person's stop is noticed in time by the other plug.

    Slowest first: a median beyond the 72 h horizon (None) before the longest medians, then the
    latest hour the same way, then the device ID; the plugs of a person with a fast or fair
    other plug after the rest; ``none`` (no usable routine: nothing to rank by) after every
    judged plug."""
    d, r, p = Device.__table__, CareRecipient.__table__, PlugReachRecord.__table__
    other = _other_best(d)
    columns = [
        d.c.id.label("device_id"),
        d.c.device_uid,
        r.c.external_ref,
        p.c.verdict,
        p.c.median_h,
        p.c.worst_h,
        p.c.learned_on,
        p.c.computed_at,
        other.label("other_rank"),
    ]
    if with_names:
        columns.append(r.c.pii_name)
    stmt, _district = _placed(districts, *columns)
    stmt = where_all(stmt, p.c.device_id.is_not(None), in_filter(p.c.verdict, verdicts))
    # Explicit NULL order: SQLite puts NULLs first in ascending order, PostgreSQL last.
    stmt = stmt.order_by(
        p.c.verdict == "none",
        other.is_not(None),  # a person whose other plug notices soon enough: after the rest
        p.c.median_h.is_(None).desc(),
        p.c.median_h.desc(),
        p.c.worst_h.is_(None).desc(),
        p.c.worst_h.desc(),
        d.c.device_uid,
    ).limit(limit)
    df = frame(conn, stmt, times=["computed_at"], dates=["learned_on"])
    if with_names:
        df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    ranks = df.pop("other_rank")
    other = [None if pd.isna(k) else OTHER_VERDICTS[int(k)] for k in ranks]
    df["other_verdict"] = pd.Series(other, index=df.index, dtype=object)
    df["external_ref"] = df["external_ref"].astype(object).where(df["external_ref"].notna(), None)
    return df
