"""Aggregate-only figures for the council briefing. Nothing here selects a personal column."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, func, select
from sqlalchemy.orm import aliased

from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Complaint,
    ComplaintSite,
    Device,
    DeviceState,
    Dispatch,
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


# --- The council deck (dashboard/briefing): still aggregates only, never a person's row. ---

WANDER_RULE = "wander_left_zone"
PLUG_RULE = "plug_no_change"
ON_SITE = ("field_visit", "dong_center", "emergency_119")  # someone goes to the home


def program_reach(conn: Connection) -> pd.DataFrame:
    """Per device program: active devices, distinct people they watch, districts they cover."""
    dong = Region.__table__.alias("dong")
    stmt = (
        select(
            Program.code.label("program_code"),
            Program.name_ko,
            Program.name_en,
            func.count(func.distinct(Device.id)).label("devices"),
            func.count(func.distinct(Device.recipient_id)).label("people"),
            func.count(func.distinct(dong.c.parent_id)).label("districts"),
        )
        .select_from(Device)
        .join(Program, Program.id == Device.program_id)
        .join(dong, dong.c.id == Device.region_id)
        .where(Device.status == "active")
        .group_by(Program.code, Program.name_ko, Program.name_en)
        .order_by(Program.code)
    )
    df = frame(conn, stmt)
    for col in ("devices", "people", "districts"):
        df[col] = df[col].astype("int64")
    return df


def reach_totals(conn: Connection) -> dict[str, int]:
    """People with an active device, active devices, districts with one (all programs)."""
    dong = Region.__table__.alias("dong")
    row = conn.execute(
        select(
            func.count(func.distinct(Device.recipient_id)),
            func.count(func.distinct(Device.id)),
            func.count(func.distinct(dong.c.parent_id)),
        )
        .select_from(Device)
        .join(dong, dong.c.id == Device.region_id)
        .where(Device.status == "active")
    ).one()
    return {"people": int(row[0]), "devices": int(row[1]), "districts": int(row[2])}


def checks_in_period(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Checks requested in ``start <= requested_at < end`` per kind: checks, people reached."""
    stmt = (
        select(
            Dispatch.kind,
            func.count(Dispatch.id).label("checks"),
            func.count(func.distinct(Alert.recipient_id)).label("people"),
        )
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(Dispatch.requested_at >= start, Dispatch.requested_at < end)
        .group_by(Dispatch.kind)
        .order_by(Dispatch.kind)
    )
    return frame(conn, stmt)


def people_checked(conn: Connection, start: datetime, end: datetime) -> int:
    """Distinct people at least one check (any kind) was requested for in the window."""
    stmt = (
        select(func.count(func.distinct(Alert.recipient_id)))
        .select_from(Dispatch)
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(Dispatch.requested_at >= start, Dispatch.requested_at < end)
    )
    return int(conn.execute(stmt).scalar() or 0)


def plug_alert_basis(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Smart-plug silence alerts opened in the window by what decided them: ``routine`` (the
    home's learned routine) or ``ladder`` (the fixed 24/36/48 h rule), with stage and
    outcome. The basis is read from the evidence in pandas (one text for both engines)."""
    df = frame(
        conn,
        select(Alert.stage, Alert.status, Alert.outcome, Alert.evidence).where(
            Alert.rule == PLUG_RULE, Alert.opened_at >= start, Alert.opened_at < end
        ),
    )
    cols = ["basis", "stage", "outcome", "alerts"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["basis"] = [
        (e or {}).get("basis") or "ladder" if isinstance(e, dict) else "ladder"
        for e in df["evidence"]
    ]
    df["outcome"] = df["outcome"].where(df["status"] == "closed", "(open)").fillna("")
    out = df.groupby(["basis", "stage", "outcome"], as_index=False).size()
    return out.rename(columns={"size": "alerts"})[cols]


def plug_alert_timing(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Smart-plug silence alerts opened in the window, one row each, with no identifier: when
    the alert opened (``opened_at``) and when the fixed rule would have opened it
    (``fixed_at``): the start of the fixed rule's quiet spell (the evidence's
    ``change_since``, the last change beyond the margins; before it was recorded ``since``,
    else ``last_activity_at``) plus the person's no-change threshold (``threshold_h``,
    24–50 h). ``fixed_at`` is NaT where the evidence lacks either (alerts from before the
    evidence carried them). Only five JSON fields are read, not the evidence."""
    ev = Alert.evidence
    df = frame(
        conn,
        select(
            Alert.opened_at,
            ev["change_since"].as_string().label("change_since"),
            ev["since"].as_string().label("since"),
            ev["last_activity_at"].as_string().label("last_activity_at"),
            ev["threshold_h"].as_float().label("threshold_h"),
        ).where(Alert.rule == PLUG_RULE, Alert.opened_at >= start, Alert.opened_at < end),
        times=["opened_at"],
    )
    began = pd.to_datetime(
        df["change_since"].fillna(df["since"]).fillna(df["last_activity_at"]),
        utc=True,
        format="ISO8601",
        errors="coerce",
    )
    hours = pd.to_timedelta(pd.to_numeric(df["threshold_h"], errors="coerce"), unit="h")
    return pd.DataFrame({"opened_at": df["opened_at"], "fixed_at": began + hours})


def _area_people(conn: Connection) -> pd.DataFrame:
    stmt = (
        select(CareRecipient.region_id, func.count(CareRecipient.id).label("people"))
        .where(CareRecipient.ended_on.is_(None))
        .group_by(CareRecipient.region_id)
    )
    return frame(conn, stmt)


def reach_by_dong(conn: Connection, start: datetime, end: datetime) -> pd.DataFrame:
    """Per dong with anyone enrolled or any alert: code, names, people enrolled now, person
    alerts opened in the window. Counts only: the caller suppresses small ones."""
    people = _area_people(conn)
    alerts = frame(
        conn,
        select(Alert.region_id, func.count(Alert.id).label("alerts"))
        .where(Alert.kind == "person", Alert.opened_at >= start, Alert.opened_at < end)
        .group_by(Alert.region_id),
    )
    ids = sorted(set(people["region_id"]) | set(alerts["region_id"]))
    cols = ["region_id", "code", "name_ko", "name_en", "people", "alerts"]
    if not ids:
        return pd.DataFrame(columns=cols)
    names = frame(
        conn,
        select(Region.id.label("region_id"), Region.code, Region.name_ko, Region.name_en).where(
            Region.id.in_(ids), Region.level == "dong"
        ),
    )
    df = names.merge(people, on="region_id", how="left").merge(alerts, on="region_id", how="left")
    for col in ("people", "alerts"):
        df[col] = df[col].fillna(0).astype("int64")
    return df[cols].sort_values("code").reset_index(drop=True)


def smoking_complaints_monthly(conn: Connection) -> pd.DataFrame:
    """Smoking complaints per Asia/Seoul month at the monitored sites: month (date), complaints."""
    df = frame(
        conn,
        select(Complaint.received_at)
        .join(ComplaintSite, ComplaintSite.id == Complaint.site_id)
        .where(Complaint.category == "smoking", ComplaintSite.measures_from.is_not(None)),
        times=["received_at"],
    )
    if df.empty:
        return pd.DataFrame(columns=["month", "complaints"])
    local = df["received_at"].dt.tz_convert("Asia/Seoul")
    df["month"] = [date(t.year, t.month, 1) for t in local]
    return df.groupby("month", as_index=False).size().rename(columns={"size": "complaints"})


def devices_by_dong_state(conn: Connection) -> pd.DataFrame:
    """Active devices per dong and state: region_code, name_ko, name_en, district_code,
    district_ko, district_en (two districts both have a 신사동), state, devices, and people:
    the distinct people the dong's active devices watch (the same on each of its rows; one
    person may have several plugs, so a dong's devices are not its people). No device or
    person identifiers; the council map hides small counts from these."""
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
    df = frame(conn, stmt)
    people = frame(
        conn,
        select(
            Region.code.label("region_code"),
            func.count(func.distinct(Device.recipient_id)).label("people"),
        )
        .select_from(Device)
        .join(Region, Region.id == Device.region_id)
        .where(Device.status == "active")
        .group_by(Region.code),
    )
    df = df.merge(people, on="region_code", how="left")
    df["people"] = df["people"].fillna(0).astype("int64")
    return df
