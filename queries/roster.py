"""The roster pages: people and devices, filtered and capped in SQL, and one person's timeline.

Seoul has 32,000+ people, so every list is filtered, ordered and limited in the database and the
page asks for one row more than it shows (``limit + 1``) to know whether to say "refine".
Names leave this module masked only, and only when the caller asks for them (``with_names``:
roles without personal-data access get no name column at all); ``areas`` is an operator's
district scope (``personal_data_scope``), applied to the person's or device's dong.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, false, func, or_, select
from sqlalchemy.sql import ColumnElement

from dashboard.auth.regions import area_prefix
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    ComplaintSite,
    Device,
    DeviceState,
    DeviceType,
    Dispatch,
    Program,
    Region,
)
from dashboard.db.schema.devices import DEVICE_STATUSES  # noqa: F401  (the page's filter)
from dashboard.formatting import mask_name
from dashboard.plain_text import has_control_codes, visible
from queries.alerts import OPEN_STATUSES, alerts_with_dispatches
from queries.common import frame, in_filter, region_filter, where_all

LIST_LIMIT = 200  # rows a list shows; more means "refine your filters"
TIMELINE_LIMIT = 50  # per kind of entry (devices, alerts, dispatches)
PERSON_STATUSES = ("active", "ended")


def in_areas(region_id: ColumnElement, areas: Iterable[str] | None) -> ColumnElement | None:
    """Rows whose region lies in one of ``areas`` (None = all, () = none), by code prefix."""
    if areas is None:
        return None
    prefixes = sorted({area_prefix(a) for a in areas})
    if not prefixes:
        return false()
    inside = or_(*(Region.code.startswith(p) for p in prefixes))
    return region_id.in_(select(Region.id).where(inside))


def _in_regions(region_id: ColumnElement, dongs: Iterable[int] | None) -> ColumnElement | None:
    regions = region_filter(Region, dongs)
    return None if regions is None else region_id.in_(select(Region.id).where(regions))


def _in_programs(program_id: ColumnElement, programs: Iterable[str] | None) -> ColumnElement | None:
    codes = in_filter(Program.code, programs)
    return None if codes is None else program_id.in_(select(Program.id).where(codes))


def _contains(column: ColumnElement, text: str) -> ColumnElement:
    # Case-insensitive on both backends; autoescape makes % and _ in the search literal.
    # visible(): a pasted NUL would fail the query on PostgreSQL; U+FFFD in its place matches
    # nothing, as the control code would have.
    return func.lower(column).contains(visible(text).lower(), autoescape=True)


def _person_status(statuses: Iterable[str] | None, today: date) -> ColumnElement | None:
    chosen = set(statuses or ())
    if not chosen or chosen >= set(PERSON_STATUSES):
        return None
    ended = CareRecipient.ended_on.is_not(None) & (CareRecipient.ended_on <= today)
    return ended if chosen == {"ended"} else ~ended


def _finish_names(df: pd.DataFrame, with_names: bool) -> pd.DataFrame:
    if with_names:
        df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df


def people_list(
    conn: Connection,
    today: date,
    *,
    programs: Iterable[str] | None = None,
    dongs: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    risk_groups: Iterable[str] | None = None,
    search: str = "",
    with_names: bool = False,
    areas: Iterable[str] | None = None,
    limit: int = LIST_LIMIT,
) -> pd.DataFrame:
    """People ordered by reference, at most ``limit`` rows (ask ``limit + 1`` to detect more).

    ``search`` matches the reference and, when ``with_names``, the name (in SQL, within
    ``areas``, so a name outside an operator's districts never matches).
    """
    c = CareRecipient
    devices = select(func.count()).where(Device.recipient_id == c.id).scalar_subquery()
    alerts = (
        select(func.count())
        .where(Alert.recipient_id == c.id, Alert.status.in_(OPEN_STATUSES))
        .scalar_subquery()
    )
    columns = [
        c.id,
        c.external_ref,
        Region.name_ko.label("region_ko"),
        Region.name_en.label("region_en"),
        Program.code.label("program_code"),
        Program.name_ko.label("program_ko"),
        Program.name_en.label("program_en"),
        c.risk_group,
        c.enrolled_on,
        c.ended_on,
        devices.label("devices"),
        alerts.label("open_alerts"),
    ]
    if with_names:
        columns.append(c.pii_name)
    search = search.strip()
    matches = None
    if search:
        matches = _contains(c.external_ref, search)
        if with_names:
            matches = matches | _contains(c.pii_name, search)
    stmt = where_all(
        select(*columns)
        .join(Region, Region.id == c.region_id)
        .join(Program, Program.id == c.program_id),
        _in_programs(c.program_id, programs),
        _in_regions(c.region_id, dongs),
        _person_status(statuses, today),
        in_filter(c.risk_group, risk_groups),
        matches,
        in_areas(c.region_id, areas),
    )
    stmt = stmt.order_by(c.external_ref).limit(limit)
    df = frame(conn, stmt, dates=["enrolled_on", "ended_on"])
    df["status"] = [
        "ended" if ended is not None and not pd.isna(ended) and ended <= today else "active"
        for ended in df["ended_on"]
    ]
    return _finish_names(df, with_names)


def person_by_ref(conn: Connection, external_ref: str) -> dict | None:
    """One person's non-personal facts, region (with centroid) and program; None if unknown.

    ``has_home`` says whether a home position is on file, never where (that is personal data:
    :func:`home_position`); ``has_notes`` whether staff notes exist, never what they say
    (:func:`queries.recipients.staff_notes`, after a reveal).
    """
    c = CareRecipient
    row = (
        conn.execute(
            select(
                c.id,
                c.external_ref,
                c.birth_year,
                c.sex,
                c.household,
                c.risk_group,
                c.enrolled_on,
                c.ended_on,
                c.end_reason,
                c.no_change_hours,
                c.safe_zone_m,
                (func.coalesce(c.notes, "") != "").label("has_notes"),
                (c.pii_home_lat.is_not(None) & c.pii_home_lon.is_not(None)).label("has_home"),
                Region.code.label("region_code"),
                Region.name_ko.label("region_ko"),
                Region.name_en.label("region_en"),
                Region.lat.label("region_lat"),
                Region.lon.label("region_lon"),
                Program.code.label("program_code"),
                Program.name_ko.label("program_ko"),
                Program.name_en.label("program_en"),
            )
            .join(Region, Region.id == c.region_id)
            .join(Program, Program.id == c.program_id)
            .where(c.external_ref == external_ref)
        )
        .mappings()
        .one_or_none()
    )
    if row is None:
        return None
    return {**row, "has_home": bool(row["has_home"]), "has_notes": bool(row["has_notes"])}


def home_position(conn: Connection, recipient_id: int) -> tuple[float, float] | None:
    """The home position on file; for callers that checked the right to see this person."""
    c = CareRecipient
    row = conn.execute(
        select(c.pii_home_lat, c.pii_home_lon).where(c.id == recipient_id)
    ).one_or_none()
    if row is None or row[0] is None or row[1] is None:
        return None
    return float(row[0]), float(row[1])


TIMELINE_COLUMNS = ["at", "entry", "ref", "what", "stage", "status", "outcome", "target"]


def person_timeline(
    conn: Connection, recipient_id: int, limit: int = TIMELINE_LIMIT
) -> pd.DataFrame:
    """Devices (by install date), alerts and dispatches of one person, newest first.

    ``entry`` is device/alert/dispatch; ``ref`` the device id, alert number or dispatch number;
    ``what`` the device type, alert rule or dispatch kind. Dispatch notes are left out (free
    text about the visit); the target is the place or service called.
    """
    devices = frame(
        conn,
        select(
            Device.installed_on.label("day"),
            Device.device_uid.label("ref"),
            Device.type_code.label("what"),
            Device.status,
        )
        .where(Device.recipient_id == recipient_id)
        .order_by(Device.installed_on.desc(), Device.id.desc())
        .limit(limit),
        dates=["day"],
    )
    devices["at"] = pd.to_datetime(devices.pop("day"), utc=True)
    devices["entry"] = "device"
    alerts = frame(
        conn,
        select(
            Alert.opened_at.label("at"),
            Alert.id.label("ref"),
            Alert.rule.label("what"),
            Alert.stage,
            Alert.status,
            Alert.outcome,
        )
        .where(Alert.recipient_id == recipient_id)
        .order_by(Alert.opened_at.desc(), Alert.id.desc())
        .limit(limit),
        times=["at"],
    )
    alerts["entry"] = "alert"
    dispatches = frame(
        conn,
        select(
            Dispatch.requested_at.label("at"),
            Dispatch.id.label("ref"),
            Dispatch.kind.label("what"),
            Dispatch.result.label("outcome"),
            Dispatch.target,
        )
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(Alert.recipient_id == recipient_id)
        .order_by(Dispatch.requested_at.desc(), Dispatch.id.desc())
        .limit(limit),
        times=["at"],
    )
    dispatches["entry"] = "dispatch"
    parts = [p for p in (devices, alerts, dispatches) if not p.empty]
    if not parts:
        return pd.DataFrame(columns=TIMELINE_COLUMNS)
    out = pd.concat(parts, ignore_index=True).reindex(columns=TIMELINE_COLUMNS)
    out["ref"] = out["ref"].astype(str)
    return out.sort_values("at", ascending=False, kind="stable").reset_index(drop=True)


def people_dongs(conn: Connection, areas: Iterable[str] | None = None) -> pd.DataFrame:
    """Dongs that have people (within ``areas``), for the dong filter: id, code, name_ko/en."""
    stmt = where_all(
        select(Region.id, Region.code, Region.name_ko, Region.name_en)
        .where(Region.id.in_(select(CareRecipient.region_id)))
        .order_by(Region.code),
        in_areas(Region.id, areas),
    )
    return frame(conn, stmt)


def device_dongs(conn: Connection, areas: Iterable[str] | None = None) -> pd.DataFrame:
    """Dongs that have devices (within ``areas``), for the dong filter."""
    stmt = where_all(
        select(Region.id, Region.code, Region.name_ko, Region.name_en)
        .where(Region.id.in_(select(Device.region_id)))
        .order_by(Region.code),
        in_areas(Region.id, areas),
    )
    return frame(conn, stmt)


def risk_groups(conn: Connection) -> list[str]:
    stmt = (
        select(CareRecipient.risk_group)
        .where(CareRecipient.risk_group.is_not(None), CareRecipient.risk_group != "")
        .distinct()
        .order_by(CareRecipient.risk_group)
    )
    return [r for (r,) in conn.execute(stmt)]


def vendors(conn: Connection) -> list[str]:
    return [v for (v,) in conn.execute(select(Device.vendor).distinct().order_by(Device.vendor))]


def device_types(conn: Connection) -> pd.DataFrame:
    """Device types in use: code, name_ko, name_en."""
    stmt = (
        select(DeviceType.code, DeviceType.name_ko, DeviceType.name_en)
        .where(DeviceType.code.in_(select(Device.type_code)))
        .order_by(DeviceType.code)
    )
    return frame(conn, stmt)


def recipient_id_by_ref(conn: Connection, external_ref: str) -> int | None:
    """The person with this 대상자번호, if any (ended enrollments too: the domain refuses them)."""
    if has_control_codes(external_ref):  # typed in a form; PostgreSQL refuses NUL in a query
        return None
    return conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == external_ref))


def catalog_device_types(conn: Connection) -> pd.DataFrame:
    """Every device type of the catalog (in use or not): code, name_ko, name_en."""
    stmt = select(DeviceType.code, DeviceType.name_ko, DeviceType.name_en).order_by(DeviceType.code)
    return frame(conn, stmt)


def program_dongs(conn: Connection, program_code: str) -> pd.DataFrame:
    """The dongs inside a program's area (its region's code prefix): id, code, name_ko/en."""
    region = conn.scalar(
        select(Region.code)
        .join(Program, Program.region_id == Region.id)
        .where(Program.code == program_code)
    )
    if region is None:
        return frame(
            conn, select(Region.id, Region.code, Region.name_ko, Region.name_en).where(false())
        )
    stmt = (
        select(Region.id, Region.code, Region.name_ko, Region.name_en)
        .where(Region.level == "dong", Region.code.startswith(area_prefix(region)))
        .order_by(Region.code)
    )
    return frame(conn, stmt)


def program_sites(conn: Connection, program_code: str) -> pd.DataFrame:
    """A program's fixed sites (e.g. smoking hot spots): id, code, name_ko, name_en."""
    stmt = (
        select(ComplaintSite.id, ComplaintSite.code, ComplaintSite.name_ko, ComplaintSite.name_en)
        .join(Program, Program.id == ComplaintSite.program_id)
        .where(Program.code == program_code)
        .order_by(ComplaintSite.code)
    )
    return frame(conn, stmt)


def _device_columns(with_names: bool) -> list:
    columns = [
        Device.id,
        Device.device_uid,
        Device.recipient_id,
        Device.site_id,
        Device.vendor,
        Device.type_code,
        DeviceType.name_ko.label("type_ko"),
        DeviceType.name_en.label("type_en"),
        Program.code.label("program_code"),
        Program.name_ko.label("program_ko"),
        Program.name_en.label("program_en"),
        CareRecipient.external_ref,
        Device.label,
        Region.code.label("region_code"),
        Region.name_ko.label("region_ko"),
        Region.name_en.label("region_en"),
        Device.installed_on,
        Device.status,
        DeviceState.state,
        DeviceState.state_since,
        DeviceState.last_seen_at,
        DeviceState.last_activity_at,
        DeviceState.last_event_type,
        DeviceState.battery_pct,
        DeviceState.last_power_w,
    ]
    if with_names:
        columns.append(CareRecipient.pii_name)
    return columns


def _device_base(with_names: bool):
    return (
        select(*_device_columns(with_names))
        .select_from(Device)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
    )


_DEVICE_TIMES = ["state_since", "last_seen_at", "last_activity_at"]


def device_list(
    conn: Connection,
    *,
    programs: Iterable[str] | None = None,
    types: Iterable[str] | None = None,
    vendor_names: Iterable[str] | None = None,
    statuses: Iterable[str] | None = None,
    dongs: Iterable[int] | None = None,
    search: str = "",
    with_names: bool = False,
    areas: Iterable[str] | None = None,
    limit: int = LIST_LIMIT,
) -> pd.DataFrame:
    """Devices ordered by device id, at most ``limit`` rows; ``search`` matches the device id."""
    search = search.strip()
    stmt = where_all(
        _device_base(with_names),
        _in_programs(Device.program_id, programs),
        in_filter(Device.type_code, types),
        in_filter(Device.vendor, vendor_names),
        in_filter(Device.status, statuses),
        _in_regions(Device.region_id, dongs),
        _contains(Device.device_uid, search) if search else None,
        in_areas(Device.region_id, areas),
    )
    stmt = stmt.order_by(Device.device_uid).limit(limit)
    df = frame(conn, stmt, times=_DEVICE_TIMES, dates=["installed_on"])
    return _finish_names(df, with_names)


def device_by_uid(conn: Connection, device_uid: str, with_names: bool = False) -> dict | None:
    """One device with its current state; None if unknown."""
    df = frame(
        conn,
        _device_base(with_names).where(Device.device_uid == device_uid),
        times=_DEVICE_TIMES,
        dates=["installed_on"],
    )
    if df.empty:
        return None
    return _finish_names(df, with_names).iloc[0].to_dict()


def device_alerts(conn: Connection, device_id: int, limit: int = 20) -> pd.DataFrame:
    """A device's alerts, newest first, with their dispatch count."""
    return alerts_with_dispatches(conn, (Alert.device_id == device_id,), limit)
