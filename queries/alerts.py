"""Open alerts for the alert queue and the live ticker. Names leave this module masked only."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, select

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


def open_alerts(
    conn: Connection,
    now: datetime,
    programs: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Alerts not yet closed, gravest stage first and, within a stage, the longest waiting first."""
    stmt = where_all(
        _base().where(Alert.status.in_(OPEN_STATUSES)),
        in_filter(Program.code, programs),
        in_filter(Alert.stage, stages),
        region_filter(Region, districts),
    )
    df = _finish(frame(conn, stmt, times=["opened_at", "updated_at", "acknowledged_at"]), now)
    return df.sort_values(["stage_rank", "opened_at", "id"]).reset_index(drop=True)


def alert_by_id(conn: Connection, alert_id: int, now: datetime) -> pd.DataFrame:
    """One alert (any status) for a deep link; empty when the id does not exist."""
    stmt = _base().where(Alert.id == alert_id)
    return _finish(frame(conn, stmt, times=["opened_at", "updated_at", "acknowledged_at"]), now)
