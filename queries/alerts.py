"""Open alerts for the alert queue and the live ticker, one alert's history and readings.

Names leave this module masked only (full personal data: ``queries.recipients``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, false, func, or_, select
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement

from dashboard.auth.regions import area_prefix
from dashboard.db.schema import (
    Alert,
    AuditLog,
    CareRecipient,
    Device,
    DeviceEvent,
    DeviceType,
    Dispatch,
    Program,
    Region,
)
from dashboard.formatting import mask_name
from dashboard.rules.geo import haversine_m
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
    Alert.acknowledged_by,
    Alert.dispatched_at,
    Alert.closed_at,
    Alert.closed_by,
    Alert.outcome,
    # The version the operator sees is the one their action must carry (optimistic locking).
    Alert.version,
    Alert.recipient_id,
    Alert.device_id,
    Device.type_code.label("device_type"),
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
    # Whether a guardian can be called, not the number itself.
    CareRecipient.pii_guardian_phone.is_not(None).label("has_guardian_phone"),
]
_TIMES = ["opened_at", "updated_at", "acknowledged_at", "dispatched_at", "closed_at"]


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


def alert_place() -> ColumnElement:
    """The region an alert belongs to for scope: its person's own dong, a device ticket's own
    region. ``dashboard.actions`` and the reveal check the person's dong; ``alerts.region_id`` is
    the device's dong, which can lie elsewhere (a device registered in another dong, a person
    who moved while the alert was open), so the queue scoped by it hid an alert from the
    operator who may act on it and listed it, masked name and all, for one who may not."""
    person = aliased(CareRecipient)  # the queue's own join of the person is not this one
    person_dong = (
        select(person.region_id)
        .where(person.id == Alert.recipient_id)
        .correlate_except(person)
        .scalar_subquery()
    )
    return func.coalesce(person_dong, Alert.region_id)


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
        None if regions is None else alert_place().in_(select(Region.id).where(regions)),
    ]


def area_condition(areas: Iterable[str] | None) -> ColumnElement | None:
    """Alerts whose place (:func:`alert_place`) lies in one of ``areas`` (10-digit codes; None =
    all, () = none).

    Containment by code prefix (``dashboard.auth.regions``), so a 시 selects its 구 and dongs.
    """
    if areas is None:
        return None
    prefixes = sorted({area_prefix(a) for a in areas})
    if not prefixes:
        return false()
    inside = or_(*(Region.code.startswith(p) for p in prefixes))
    return alert_place().in_(select(Region.id).where(inside))


def open_alerts(
    conn: Connection,
    now: datetime,
    programs: Iterable[str] | None = None,
    stages: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    areas: Iterable[str] | None = None,
) -> pd.DataFrame:
    """Alerts not yet closed, gravest stage first and, within a stage, those nobody has taken
    (still ``open``) first, then the longest waiting.

    A new 심각 alert nobody has seen came after every older 심각 alert already being handled
    (dispatched alerts wait hours for a field team), below the fold of a busy queue.
    ``statuses`` narrows to some open statuses; ``areas`` is an operator's district scope.
    """
    conditions = _open_conditions(programs, stages, districts)
    conditions += [in_filter(Alert.status, statuses), area_condition(areas)]
    stmt = where_all(_base(), *conditions)
    df = _finish(frame(conn, stmt, times=_TIMES), now)
    taken = df["status"] != "open"
    order = df.assign(_taken=taken).sort_values(["stage_rank", "_taken", "opened_at", "id"])
    return order.drop(columns="_taken").reset_index(drop=True)


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


def alert_by_id(
    conn: Connection, alert_id: int, now: datetime, areas: Iterable[str] | None = None
) -> pd.DataFrame:
    """One alert (any status) for a deep link; empty when the id does not exist or lies outside
    ``areas`` (an operator's districts: another district's alert is "not found", as the person
    and device links answer)."""
    stmt = where_all(_base().where(Alert.id == alert_id), area_condition(areas))
    return _finish(frame(conn, stmt, times=_TIMES), now)


def alert_version(conn: Connection, alert_id: int) -> int | None:
    """The alert's current version (None: no such alert), read by primary key: the queue's
    timer compares it with the version of the detail on screen."""
    return conn.execute(select(Alert.version).where(Alert.id == alert_id)).scalar_one_or_none()


TRAIL_LIMIT = 200  # an alert gets a handful of entries; a cap keeps a looping rule harmless


def alert_trail(conn: Connection, alert_id: int) -> pd.DataFrame:
    """The alert's audit entries, newest first: ``at``, ``actor``, ``action`` (without the
    ``alert_`` prefix; a close by ``system`` is ``auto_close``) and ``note`` (the operator's free
    text, missing when the entry has none). The notes may hold personal data: the page decides
    whether to show them, this only reads."""
    log = AuditLog.__table__
    rows = conn.execute(
        select(log.c.at, log.c.actor, log.c.action, log.c.detail)
        .where(log.c.entity_type == "alert", log.c.entity_id == str(alert_id))
        .order_by(log.c.id.desc())
        .limit(TRAIL_LIMIT)
    ).all()
    out = []
    for r in rows:
        name = r.action.removeprefix("alert_")
        if r.actor == "system" and name == "close":
            name = "auto_close"
        note = (r.detail or {}).get("note") if isinstance(r.detail, dict) else None
        note = note if isinstance(note, str) and note.strip() else None
        out.append({"at": r.at, "actor": r.actor, "action": name, "note": note})
    df = pd.DataFrame(out, columns=["at", "actor", "action", "note"])
    df["at"] = pd.to_datetime(df["at"], utc=True)
    return df


def _subject(recipient_id: int | None, device_id: int | None) -> ColumnElement:
    # A person's history follows the person across devices; a device ticket follows the device.
    if recipient_id is not None:
        return Alert.recipient_id == recipient_id
    return Alert.device_id == device_id


def earlier_alerts(
    conn: Connection,
    alert_id: int,
    recipient_id: int | None,
    device_id: int | None,
    limit: int = 20,
) -> pd.DataFrame:
    """Other alerts of the same person (or device), newest first, with their dispatch count."""
    if recipient_id is None and device_id is None:
        return pd.DataFrame(columns=["id", "rule", "stage", "status", "opened_at", "closed_at"])
    return alerts_with_dispatches(
        conn, (_subject(recipient_id, device_id), Alert.id != alert_id), limit
    )


def alerts_with_dispatches(conn: Connection, where: tuple, limit: int) -> pd.DataFrame:
    """Alerts matching ``where``, newest first, with who closed them and their dispatch count."""
    dispatches = (
        select(func.count()).where(Dispatch.alert_id == Alert.id).scalar_subquery()
    ).label("dispatches")
    stmt = (
        select(
            Alert.id,
            Alert.rule,
            Alert.stage,
            Alert.status,
            Alert.outcome,
            Alert.opened_at,
            Alert.closed_at,
            Alert.closed_by,
            dispatches,
        )
        .where(*where)
        .order_by(Alert.opened_at.desc(), Alert.id.desc())
        .limit(limit)
    )
    return frame(conn, stmt, times=["opened_at", "closed_at"])


def dispatches_for(
    conn: Connection,
    recipient_id: int | None,
    device_id: int | None,
    limit: int = 30,
) -> pd.DataFrame:
    """Dispatches made for the same person (or device) across all their alerts, newest first."""
    stmt = (
        select(
            Dispatch.id,
            Dispatch.alert_id,
            Dispatch.kind,
            Dispatch.target,
            Dispatch.requested_at,
            Dispatch.requested_by,
            Dispatch.completed_at,
            Dispatch.result,
            Dispatch.note,
        )
        .join(Alert, Alert.id == Dispatch.alert_id)
        .where(_subject(recipient_id, device_id))
        .order_by(Dispatch.requested_at.desc(), Dispatch.id.desc())
        .limit(limit)
    )
    if recipient_id is None and device_id is None:
        stmt = stmt.where(false())
    return frame(conn, stmt, times=["requested_at", "completed_at"])


@dataclass(frozen=True)
class PersonPlug:
    """A smart plug of the alert's person, as the detail names it."""

    id: int
    device_uid: str
    device_type_ko: str
    device_type_en: str


_MAX_ID = 2**63 - 1  # beyond this a bound id is an error on both backends, not "no row"


def person_plug(conn: Connection, device_id: int, recipient_id: int) -> PersonPlug | None:
    """Device ``device_id`` if it is a smart plug assigned to person ``recipient_id`` now; None
    for anyone else's device, a site's, one that is not a plug, or no such id.

    A plug alert's evidence names the plug its tests describe (``plug_device_id``, possibly not
    the one the alert opened on); the detail draws that plug only after this check, so a stale
    or wrong id can never put another person's readings under this alert.
    """
    if not 0 < device_id <= _MAX_ID:
        return None
    row = conn.execute(
        select(Device.id, Device.device_uid, DeviceType.name_ko, DeviceType.name_en)
        .join(DeviceType, DeviceType.code == Device.type_code)
        .where(
            Device.id == device_id,
            Device.recipient_id == recipient_id,
            Device.type_code == "smart_plug",
        )
    ).first()
    return None if row is None else PersonPlug(*row)


# Event types drawn in the detail chart, per device type.
READING_TYPES = {
    "smart_plug": ("power", "lux"),
    "ai_call_line": ("ai_call_result",),
    "phone_line": ("call", "ai_call_result"),
    "care_robot": ("interaction", "sos"),
    "wandering_detector": ("position",),
}


def device_readings(
    conn: Connection,
    device_id: int,
    since: datetime,
    until: datetime,
    types: Iterable[str],
    recipient_id: int | None = None,
    limit: int = 3000,
) -> pd.DataFrame:
    """One device's events of ``types`` in [since, until], oldest first, at most ``limit``.

    Reads ``device_events`` through its (device_id, ts) index for this one device: fine for a
    detail view; the newest rows are kept when the window holds more than ``limit``.
    Columns: ts, type, value, outcome (calls), distance_m (positions: metres from the home of
    ``recipient_id``). Coordinates do not leave this function.
    """
    e = DeviceEvent
    stmt = (
        select(e.ts, e.type, e.value, e.data)
        .where(e.device_id == device_id, e.ts >= since, e.ts <= until, e.type.in_(list(types)))
        .order_by(e.ts.desc(), e.id.desc())
        .limit(limit)
    )
    df = frame(conn, stmt, times=["ts"]).iloc[::-1].reset_index(drop=True)
    data = [d if isinstance(d, dict) else {} for d in df.pop("data")]
    df["outcome"] = pd.Series([d.get("outcome") for d in data], dtype=object)
    home = None
    if recipient_id is not None:
        home = conn.execute(
            select(CareRecipient.pii_home_lat, CareRecipient.pii_home_lon).where(
                CareRecipient.id == recipient_id
            )
        ).one_or_none()
    df["distance_m"] = pd.Series(
        [_distance(home, d.get("lat"), d.get("lon")) for d in data], dtype=float
    )
    return df


def _distance(home, lat: float | None, lon: float | None) -> float | None:
    if home is None or None in (home[0], home[1], lat, lon):
        return None
    return round(haversine_m(home[0], home[1], lat, lon))
