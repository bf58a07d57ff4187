"""Live wall-screen data: device states by program and dong, last-seen ages, freshness.

The wall screen refreshes every few seconds at Seoul scale (~36k devices), so every query here
is shaped for an index or a single group-by on ids (the device counts are kept by triggers,
``dashboard.db.device_counts``): names come from the small program and
region tables and are joined in pandas, the alert ticker reads only its own rows, and stage
counts are counted by the database.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, case, func, or_, select
from sqlalchemy.sql import ColumnElement

from dashboard.db.schema import (
    CareRecipient,
    Device,
    DeviceCount,
    DeviceState,
    DeviceType,
    Program,
    Region,
)
from dashboard.formatting import mask_name
from queries.alerts import newest_open_alerts, open_alerts_by_stage
from queries.common import frame, in_filter, region_filter, where_all

# A device that never reported counts as offline: an operator cannot see that person either.
_STATE = func.coalesce(DeviceState.state, "offline")


@dataclass(frozen=True)
class LiveFilters:
    """What the wall screen is narrowed to; empty tuples mean everything."""

    programs: tuple[str, ...] = ()
    districts: tuple[int, ...] = ()
    states: tuple[str, ...] = ()


def _device_filters(filters: LiveFilters) -> list[ColumnElement | None]:
    """Conditions on ``devices`` (and the outer-joined ``device_state``) for the filters.

    Program and district go through small id subqueries so no query has to join the name
    tables just to filter.
    """
    programs = in_filter(Program.code, filters.programs)
    regions = region_filter(Region, filters.districts)
    return [
        Device.status == "active",
        None if programs is None else Device.program_id.in_(select(Program.id).where(programs)),
        None if regions is None else Device.region_id.in_(select(Region.id).where(regions)),
        in_filter(_STATE, filters.states),
    ]


def device_counts(conn: Connection, filters: LiveFilters = LiveFilters()) -> pd.DataFrame:
    """Active devices per program × dong × state, counted once for both wall-screen tables.

    Columns: program_id, program_code, program_ko, program_en, region_id, region_code,
    region_ko, region_en, state, devices, never_seen (devices of the group that never
    reported). Read from ``device_counts``, which triggers keep in step with every change to a
    device or its state (``dashboard.db.device_counts``): a sum over a few thousand rows
    instead of a group-by over every device. The names of the groups are joined afterwards
    from the small program and region tables.
    """
    c = DeviceCount.__table__
    programs = in_filter(Program.code, filters.programs)
    regions = region_filter(Region, filters.districts)
    total = func.sum(c.c.devices)
    groups = (
        where_all(
            select(
                c.c.program_id,
                c.c.region_id,
                c.c.state,
                total.label("devices"),
                func.sum(case((c.c.never_seen, c.c.devices), else_=0)).label("never_seen"),
            ),
            None if programs is None else c.c.program_id.in_(select(Program.id).where(programs)),
            None if regions is None else c.c.region_id.in_(select(Region.id).where(regions)),
            in_filter(c.c.state, filters.states),
        )
        .group_by(c.c.program_id, c.c.region_id, c.c.state)
        .having(total != 0)
        .subquery("groups")
    )
    stmt = (
        select(
            groups.c.program_id,
            Program.code.label("program_code"),
            Program.name_ko.label("program_ko"),
            Program.name_en.label("program_en"),
            groups.c.region_id,
            Region.code.label("region_code"),
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            groups.c.state,
            groups.c.devices,
            groups.c.never_seen,
        )
        .join(Program, Program.id == groups.c.program_id)
        .join(Region, Region.id == groups.c.region_id)
    )
    df = frame(conn, stmt)
    ints = ("program_id", "region_id", "devices", "never_seen")
    return df.astype(dict.fromkeys(ints, "int64"))


def _sum_by(counts: pd.DataFrame, prefix: str) -> pd.DataFrame:
    """Sum ``device_counts`` per program or dong × state: {prefix}_code, name_ko, name_en,
    state, devices, ordered by code and state. Names depend on the code alone, so grouping by
    them too is just a way of keeping them."""
    keys = [f"{prefix}_code", f"{prefix}_ko", f"{prefix}_en", "state"]
    out = counts.groupby(keys, as_index=False, sort=True, dropna=False)["devices"].sum()
    return out.rename(columns={f"{prefix}_ko": "name_ko", f"{prefix}_en": "name_en"})


def programs_of(counts: pd.DataFrame) -> pd.DataFrame:
    """``device_counts`` summed per program × state: program_code, name_ko, name_en, state,
    devices."""
    return _sum_by(counts, "program")


def dongs_of(counts: pd.DataFrame) -> pd.DataFrame:
    """``device_counts`` summed per dong × state: region_code, name_ko, name_en, state,
    devices."""
    return _sum_by(counts, "region")


def _silent_rows(conn: Connection, ids, order) -> pd.DataFrame:
    """The silent-list columns for the devices ``ids`` (a subquery of at most a page)."""
    stmt = (
        select(
            Device.id.label("device_id"),
            Device.device_uid,
            DeviceType.name_ko.label("type_ko"),
            DeviceType.name_en.label("type_en"),
            Program.code.label("program_code"),
            Program.name_ko.label("program_ko"),
            Program.name_en.label("program_en"),
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            _STATE.label("state"),
            DeviceState.last_seen_at,
            DeviceState.battery_pct,
            CareRecipient.pii_name,
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .where(Device.id.in_(ids))
        .order_by(*order)
    )
    return frame(conn, stmt, times=["last_seen_at"])


def last_seen(
    conn: Connection,
    filters: LiveFilters = LiveFilters(),
    limit: int = 15,
    never_seen: int | None = None,
) -> pd.DataFrame:
    """Devices silent the longest first (never-seen first), with masked initials only.

    Each part picks its ids first and joins names for those rows only: the never-seen devices
    by id, then the others in ``ix_device_state_last_seen`` order (``last_seen_at``, id).
    ``never_seen`` (from ``device_counts`` under the same filters) skips the first read when
    it is 0: finding devices without a state row means an anti-join over every device.
    """
    conditions = _device_filters(filters)
    never = where_all(
        select(Device.id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(or_(DeviceState.device_id.is_(None), DeviceState.last_seen_at.is_(None))),
        *conditions,
    )
    parts = []
    if never_seen is None or never_seen > 0:
        parts.append(_silent_rows(conn, never.order_by(Device.id).limit(limit), [Device.id]))
    taken = sum(len(part) for part in parts)
    if taken < limit or not parts:
        seen = where_all(
            select(DeviceState.device_id)
            .join(Device, Device.id == DeviceState.device_id)
            .where(DeviceState.last_seen_at.is_not(None)),
            *conditions,
        )
        seen = seen.order_by(DeviceState.last_seen_at, DeviceState.device_id)
        order = [DeviceState.last_seen_at, Device.id]
        parts.append(_silent_rows(conn, seen.limit(limit - taken), order))
    df = pd.concat([p for p in parts if not p.empty] or parts[:1], ignore_index=True)
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df


def newest_signal(conn: Connection) -> datetime | None:
    """The newest ``last_seen_at`` of any active device: how fresh the whole feed is."""
    stmt = (
        select(DeviceState.last_seen_at)
        .join(Device, Device.id == DeviceState.device_id)
        .where(Device.status == "active", DeviceState.last_seen_at.is_not(None))
        .order_by(DeviceState.last_seen_at.desc())
        .limit(1)
    )
    value = conn.execute(stmt).scalar_one_or_none()
    return None if value is None else pd.Timestamp(value).tz_convert("UTC").to_pydatetime()


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the live fragment draws, read in one go so its parts agree."""

    taken_at: datetime
    newest_signal: datetime | None
    by_program: pd.DataFrame
    by_dong: pd.DataFrame
    alerts: pd.DataFrame  # the ticker: newest open alerts, at most ``ticker`` rows
    open_by_stage: dict[str, int]  # every open alert, not just the ticker's
    silent: pd.DataFrame


def live_snapshot(
    conn: Connection, now: datetime, filters: LiveFilters = LiveFilters(), ticker: int = 12
) -> LiveSnapshot:
    counts = device_counts(conn, filters)
    scope = {"programs": filters.programs, "districts": filters.districts}
    return LiveSnapshot(
        taken_at=now,
        newest_signal=newest_signal(conn),
        by_program=programs_of(counts),
        by_dong=dongs_of(counts),
        alerts=newest_open_alerts(conn, now, limit=ticker, **scope),
        open_by_stage=open_alerts_by_stage(conn, **scope),
        silent=last_seen(conn, filters, never_seen=int(counts["never_seen"].sum())),
    )
