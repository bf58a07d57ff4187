"""Open alerts for the alert queue and the live ticker. Names leave this module masked only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.sql import ColumnElement

from dashboard.db.schema import Alert, CareRecipient, Device, DeviceType, Program, Region
from dashboard.formatting import mask_name
from queries.common import frame, in_filter, region_filter, where_all

# Gravest first; the queue is read top-down.
STAGE_RANK = {"severe": 0, "risk": 1, "attention": 2}
OPEN_STATUSES = ("open", "acknowledged", "dispatched")

_COLUMNS = [
    Alert.id,
    Alert.kind,
    Alert.rule,
    Alert.stage,
    Alert.status,
    Alert.evidence,
    Alert.opened_at,
    Alert.updated_at,
    Alert.acknowledged_at,
    Program.code.label("program_code"),
    Program.name_ko.label("program_ko"),
    Program.name_en.label("program_en"),
    Region.code.label("region_code"),
    Region.name_ko.label("region_ko"),
    Region.name_en.label("region_en"),
    Device.device_uid,
    DeviceType.name_ko.label("device_type_ko"),
    DeviceType.name_en.label("device_type_en"),
    CareRecipient.pii_name,
]


def _base():
    return (
        select(*_COLUMNS)
        .select_from(Alert)
        .join(Program, Program.id == Alert.program_id)
        .join(Region, Region.id == Alert.region_id)
        .outerjoin(Device, Device.id == Alert.device_id)
        .outerjoin(DeviceType, DeviceType.code == Device.type_code)
        .outerjoin(CareRecipient, CareRecipient.id == Alert.recipient_id)
    )


def _finish(df: pd.DataFrame, now: datetime) -> pd.DataFrame:
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    df["age_s"] = (pd.Timestamp(now).tz_convert("UTC") - df["opened_at"]).dt.total_seconds()
    df["stage_rank"] = df["stage"].map(STAGE_RANK)
    return df


def _open_conditions(
    programs: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> list[ColumnElement | None]:
    """Open alerts narrowed by program code, stage and district (or dong), on ``alerts`` alone.

    Program and region go through small id subqueries, so counting needs no join.
    """
    codes = in_filter(Program.code, programs)
    regions = region_filter(Region, districts)
    return [
        Alert.status.in_(OPEN_STATUSES),
        None if codes is None else Alert.program_id.in_(select(Program.id).where(codes)),
        in_filter(Alert.stage, stages),
        None if regions is None else Alert.region_id.in_(select(Region.id).where(regions)),
    ]


def open_alerts(
    conn: Connection,
    now: datetime,
    programs: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Alerts not yet closed, gravest stage first and, within a stage, the longest waiting first."""
    stmt = where_all(_base(), *_open_conditions(programs, stages, districts))
    df = _finish(frame(conn, stmt, times=["opened_at", "updated_at", "acknowledged_at"]), now)
    return df.sort_values(["stage_rank", "opened_at", "id"]).reset_index(drop=True)


def open_alerts_by_stage(
    conn: Connection,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> dict[str, int]:
    """How many alerts are open per stage (stages with none are left out), counted in SQL."""
    stmt = where_all(
        select(Alert.stage, func.count()).select_from(Alert),
        *_open_conditions(programs, None, districts),
    ).group_by(Alert.stage)
    return {stage: int(n) for stage, n in conn.execute(stmt).all()}


def newest_open_alerts(
    conn: Connection,
    now: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
    limit: int = 12,
) -> pd.DataFrame:
    """The live ticker: the ``limit`` newest open alerts with only what it shows.

    id, stage, rule, opened_at, region_ko, region_en, recipient_masked, age_s, stage_rank;
    newest first (ties by id, newest first). No evidence JSON, no device columns.
    """
    newest = Alert.opened_at.desc(), Alert.id.desc()
    ids = where_all(select(Alert.id), *_open_conditions(programs, None, districts))
    stmt = (
        select(
            Alert.id,
            Alert.stage,
            Alert.rule,
            Alert.opened_at,
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            CareRecipient.pii_name,
        )
        .select_from(Alert)
        .join(Region, Region.id == Alert.region_id)
        .outerjoin(CareRecipient, CareRecipient.id == Alert.recipient_id)
        # Pick the rows first, then join names for those alone.
        .where(Alert.id.in_(ids.order_by(*newest).limit(limit)))
        .order_by(*newest)
    )
    return _finish(frame(conn, stmt, times=["opened_at"]), now)


def alert_by_id(conn: Connection, alert_id: int, now: datetime) -> pd.DataFrame:
    """One alert (any status) for a deep link; empty when the id does not exist."""
    stmt = _base().where(Alert.id == alert_id)
    return _finish(frame(conn, stmt, times=["opened_at", "updated_at", "acknowledged_at"]), now)
