"""Live wall-screen data: device states by program and dong, last-seen ages, freshness."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, func, select

from dashboard.db.schema import CareRecipient, Device, DeviceState, DeviceType, Program, Region
from dashboard.formatting import mask_name
from queries.alerts import open_alerts
from queries.common import frame, in_filter, region_filter, where_all

# A device that never reported counts as offline: an operator cannot see that person either.
_STATE = func.coalesce(DeviceState.state, "offline")


@dataclass(frozen=True)
class LiveFilters:
    """What the wall screen is narrowed to; empty tuples mean everything."""

    programs: tuple[str, ...] = ()
    districts: tuple[int, ...] = ()
    states: tuple[str, ...] = ()


def _device_base(columns: list, filters: LiveFilters):
    stmt = (
        select(*columns)
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.status == "active")
    )
    return where_all(
        stmt,
        in_filter(Program.code, filters.programs),
        region_filter(Region, filters.districts),
        in_filter(_STATE, filters.states),
    )


def state_counts(conn: Connection, filters: LiveFilters = LiveFilters()) -> pd.DataFrame:
    """Active devices per program × state: program_code, name_ko, name_en, state, devices."""
    cols = [
        Program.code.label("program_code"),
        Program.name_ko,
        Program.name_en,
        _STATE.label("state"),
        func.count(Device.id).label("devices"),
    ]
    stmt = (
        _device_base(cols, filters)
        .group_by(Program.code, Program.name_ko, Program.name_en, _STATE)
        .order_by(Program.code)
    )
    return frame(conn, stmt)


def dong_counts(conn: Connection, filters: LiveFilters = LiveFilters()) -> pd.DataFrame:
    """Active devices per dong × state: region_code, name_ko, name_en, state, devices."""
    cols = [
        Region.code.label("region_code"),
        Region.name_ko,
        Region.name_en,
        _STATE.label("state"),
        func.count(Device.id).label("devices"),
    ]
    stmt = (
        _device_base(cols, filters)
        .group_by(Region.code, Region.name_ko, Region.name_en, _STATE)
        .order_by(Region.code)
    )
    return frame(conn, stmt)


def last_seen(
    conn: Connection, filters: LiveFilters = LiveFilters(), limit: int = 15
) -> pd.DataFrame:
    """Devices silent the longest first (never-seen first), with masked initials only."""
    cols = [
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
    ]
    stmt = (
        _device_base(cols, filters)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .order_by(DeviceState.last_seen_at.is_not(None), DeviceState.last_seen_at, Device.id)
        .limit(limit)
    )
    df = frame(conn, stmt, times=["last_seen_at"])
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df


def newest_signal(conn: Connection) -> datetime | None:
    """The newest ``last_seen_at`` of any active device: how fresh the whole feed is."""
    stmt = (
        select(func.max(DeviceState.last_seen_at))
        .join(Device, Device.id == DeviceState.device_id)
        .where(Device.status == "active")
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
    every = open_alerts(conn, now, programs=filters.programs, districts=filters.districts)
    newest = every.sort_values("opened_at", ascending=False).head(ticker)
    return LiveSnapshot(
        taken_at=now,
        newest_signal=newest_signal(conn),
        by_program=state_counts(conn, filters),
        by_dong=dong_counts(conn, filters),
        alerts=newest.reset_index(drop=True),
        open_by_stage={k: int(v) for k, v in every["stage"].value_counts().items()},
        silent=last_seen(conn, filters),
    )
