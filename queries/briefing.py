"""Aggregate-only figures for the council briefing. Nothing here selects a personal column."""

from __future__ import annotations

from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Device,
    DeviceState,
    Enrolment,
    Program,
    Region,
)
from queries.common import frame

OPEN_STATUSES = ("open", "acknowledged", "dispatched")


def kpis(conn: Connection, now: datetime, days: int = 30) -> dict[str, float | None]:
    """Headline numbers: people and devices watched, alerts, response time, participants."""
    since = now - timedelta(days=days)
    scalar = lambda stmt: conn.execute(stmt).scalar() or 0  # noqa: E731
    acked = frame(
        conn,
        select(Alert.opened_at, Alert.acknowledged_at).where(
            Alert.opened_at >= since, Alert.acknowledged_at.is_not(None)
        ),
        times=["opened_at", "acknowledged_at"],
    )
    minutes = (acked["acknowledged_at"] - acked["opened_at"]).dt.total_seconds() / 60
    return {
        "recipients": scalar(
            select(func.count()).select_from(CareRecipient).where(CareRecipient.ended_on.is_(None))
        ),
        "devices": scalar(
            select(func.count()).select_from(Device).where(Device.status == "active")
        ),
        "open_alerts": scalar(
            select(func.count()).select_from(Alert).where(Alert.status.in_(OPEN_STATUSES))
        ),
        "open_severe": scalar(
            select(func.count())
            .select_from(Alert)
            .where(Alert.status.in_(OPEN_STATUSES), Alert.stage == "severe")
        ),
        "alerts_period": scalar(
            select(func.count()).select_from(Alert).where(Alert.opened_at >= since)
        ),
        "closed_period": scalar(
            select(func.count()).select_from(Alert).where(Alert.closed_at >= since)
        ),
        "median_ack_min": float(minutes.median()) if len(minutes) else None,
        "participants": scalar(select(func.count()).select_from(Enrolment)),
    }


def alerts_by_day(conn: Connection, now: datetime, days: int = 30) -> pd.DataFrame:
    """Alerts raised per Asia/Seoul day and stage: day (date), stage, alerts."""
    since = now - timedelta(days=days)
    df = frame(
        conn,
        select(Alert.opened_at, Alert.stage).where(Alert.opened_at >= since),
        times=["opened_at"],
    )
    if df.empty:
        return pd.DataFrame(columns=["day", "stage", "alerts"])
    df["day"] = df["opened_at"].dt.tz_convert("Asia/Seoul").dt.date
    return df.groupby(["day", "stage"], as_index=False).size().rename(columns={"size": "alerts"})


def devices_by_program_state(conn: Connection) -> pd.DataFrame:
    """Active devices per program and state (no device or person identifiers)."""
    state = func.coalesce(DeviceState.state, "offline")
    stmt = (
        select(
            Program.code.label("program_code"),
            Program.name_ko,
            Program.name_en,
            state.label("state"),
            func.count(Device.id).label("devices"),
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.status == "active")
        .group_by(Program.code, Program.name_ko, Program.name_en, state)
        .order_by(Program.code)
    )
    return frame(conn, stmt)


def devices_by_dong_state(conn: Connection) -> pd.DataFrame:
    """Active devices per dong and state: region_code, name_ko, name_en, district_code,
    district_ko, district_en (two districts both have a 신사동), state, devices. No device or person
    identifiers; the council map hides small counts from these."""
    state = func.coalesce(DeviceState.state, "offline")
    district = aliased(Region)
    stmt = (
        select(
            Region.code.label("region_code"),
            Region.name_ko,
            Region.name_en,
            district.code.label("district_code"),
            district.name_ko.label("district_ko"),
            district.name_en.label("district_en"),
            state.label("state"),
            func.count(Device.id).label("devices"),
        )
        .select_from(Device)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(district, district.id == Region.parent_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.status == "active")
        .group_by(
            Region.code,
            Region.name_ko,
            Region.name_en,
            district.code,
            district.name_ko,
            district.name_en,
            state,
        )
        .order_by(Region.code)
    )
    return frame(conn, stmt)
