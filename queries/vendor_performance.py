"""Vendor performance: what a team lead needs to hold a device vendor to its contract.

Per vendor and device type, over a period ``[start, end)``:

- **faults**: device-fault alerts (``alerts.kind = 'device_fault'``: silence, low battery, a
  plug without load, a detector without a fix) opened in the period, and how many of them were
  silences (``device_silent``), also per 100 devices;
- **time to repair**: from the fault's opening to the device's next reading (silences: the
  first event with ``ts`` after the opening) or the alert's close, whichever came first (other
  faults: the close; a low battery keeps reporting, so its next reading says nothing);
  median and 90th percentile over the repaired faults, the unrepaired ones counted apart;
- **silent over a day**: the share of devices with a silence opened in the period that lasted
  more than 24 hours, from the device's last reading before it (the rule's ``last_seen_at``
  evidence) to its repair, counted up to ``end``;
- **data delay**: ``received_at − ts`` of the events, median and 90th percentile, on a bounded
  sample (up to ``DELAY_DEVICES`` devices per vendor and type, spread over their ids, each with
  its latest ``DELAY_EVENTS`` events of the period), so the figure costs the same on a city of
  35,000 devices as on one of 300.

Every statement is SQLAlchemy Core that runs the same on SQLite and PostgreSQL (correlated
sub-queries and ``row_number()`` over the ``(device_id, ts)`` index; no date arithmetic in SQL);
durations and percentiles are computed in pandas (linear interpolation, as the response page).
Aggregates only: no personal column is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import numpy as np
import pandas as pd
from sqlalchemy import Connection, func, select

from dashboard.db.schema import Alert, Device, DeviceEvent, DeviceType, Program, Region
from dashboard.settings import LOCAL_TZ
from queries.common import frame, in_filter, region_filter, where_all

SILENCE_RULE = "device_silent"
SILENT_OVER_S = 24 * 3600
DELAY_DEVICES = 40
DELAY_EVENTS = 50
SUMMARY_COLUMNS = [
    "vendor",
    "type_code",
    "devices",
    "faults",
    "silences",
    "faults_per_100",
    "repaired",
    "unrepaired",
    "repair_median_h",
    "repair_p90_h",
    "silent_over_day",
    "silent_over_day_share",
    "delay_events",
    "delay_median_s",
    "delay_p90_s",
]
WEEKLY_COLUMNS = ["vendor", "week", "devices", "faults", "faults_per_100", "repair_median_h"]


def _device_filters(stmt, programs, districts):
    return where_all(
        stmt.join(Program, Program.id == Device.program_id).join(
            Region, Region.id == Device.region_id
        ),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )


def device_types(conn: Connection) -> pd.DataFrame:
    """``code``, ``name_ko``, ``name_en`` of every device type (labels for the page)."""
    return frame(
        conn, select(DeviceType.code, DeviceType.name_ko, DeviceType.name_en).order_by("code")
    )


def _in_service(end: datetime):
    return (
        Device.status != "retired",
        Device.installed_on <= end.astimezone(LOCAL_TZ).date(),
    )


def vendor_devices(
    conn: Connection,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Devices in service by ``end`` (installed by then, not retired) per vendor and type:
    ``vendor``, ``type_code``, ``devices`` (counted in SQL: a city has tens of thousands)."""
    stmt = select(Device.vendor, Device.type_code, func.count().label("devices")).where(
        *_in_service(end)
    )
    stmt = _device_filters(stmt, programs, districts).group_by(Device.vendor, Device.type_code)
    df = frame(conn, stmt.order_by(Device.vendor, Device.type_code))
    return df.astype({"devices": "int64"}) if len(df) else df


def sample_devices(
    conn: Connection,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
    per_group: int = DELAY_DEVICES,
) -> pd.DataFrame:
    """About ``per_group`` devices in service per vendor and type, evenly spread over their ids
    (old and new installations both count): ``id``, ``vendor``, ``type_code``. Picked in SQL
    with window functions, so only the sample travels."""
    key = (Device.vendor, Device.type_code)
    ranked = _device_filters(
        select(
            Device.id,
            Device.vendor,
            Device.type_code,
            func.row_number().over(partition_by=key, order_by=Device.id).label("rn"),
            func.count().over(partition_by=key).label("n"),
        ).where(*_in_service(end)),
        programs,
        districts,
    ).subquery()
    # Row k of n is taken when (k − 1)·K mod n < K: every row when n ≤ K, else K rows spread
    # evenly over the ids.
    stmt = select(ranked.c.id, ranked.c.vendor, ranked.c.type_code).where(
        ((ranked.c.rn - 1) * per_group) % ranked.c.n < per_group
    )
    return frame(conn, stmt.order_by(ranked.c.id))


def vendor_faults(
    conn: Connection,
    start: datetime,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> pd.DataFrame:
    """One row per device-fault alert opened in the period, with its repair and silence span.

    ``next_ts`` is the device's first event after the opening (one index look-up per fault on
    ``(device_id, ts)``); raw events are kept for a limited time, so the alert's close, which
    the silence rule writes when data resumes, is the repair time of older faults.
    """
    after = (
        select(func.min(DeviceEvent.ts))
        .where(DeviceEvent.device_id == Alert.device_id, DeviceEvent.ts > Alert.opened_at)
        .scalar_subquery()
    )
    stmt = (
        select(
            Alert.id,
            Alert.rule,
            Alert.device_id,
            Device.vendor,
            Device.type_code,
            Alert.opened_at,
            Alert.closed_at,
            Alert.evidence,
            after.label("next_ts"),
        )
        .join(Device, Device.id == Alert.device_id)
        .where(Alert.kind == "device_fault", Alert.opened_at >= start, Alert.opened_at < end)
    )
    df = frame(
        conn,
        _device_filters(stmt, programs, districts).order_by(Alert.id),
        times=["opened_at", "closed_at", "next_ts"],
    )
    return _with_spans(df, end)


def _last_seen(evidence: object) -> object:
    """The silence rule's ``last_seen_at`` evidence (JSON read the same on both databases)."""
    return evidence.get("last_seen_at") if isinstance(evidence, dict) else None


def _with_spans(df: pd.DataFrame, end: datetime) -> pd.DataFrame:
    """``repaired_at``/``repair_s`` (NaT/NaN while unrepaired) and, for silences,
    ``silence_s`` from the last reading before it to its repair (or ``end``)."""
    silence = df["rule"] == SILENCE_RULE
    # A silence ends with the device's next reading or the close, whichever is first; other
    # faults with their close.
    next_reading = df["next_ts"].where(silence)
    repaired = pd.concat([next_reading, df["closed_at"]], axis=1).min(axis=1)
    df = df.assign(repaired_at=pd.to_datetime(repaired, utc=True))
    df["repair_s"] = (df["repaired_at"] - df["opened_at"]).dt.total_seconds()
    began = pd.to_datetime(df["evidence"].map(_last_seen), utc=True).fillna(df["opened_at"])
    stop = df["repaired_at"].fillna(pd.Timestamp(end)).clip(upper=pd.Timestamp(end))
    df["silence_s"] = (stop - began).dt.total_seconds().where(silence)
    return df.drop(columns=["evidence"])


def delay_sample(
    conn: Connection,
    devices: pd.DataFrame,
    start: datetime,
    end: datetime,
    per_device: int = DELAY_EVENTS,
) -> pd.DataFrame:
    """``vendor``, ``type_code``, ``delay_s`` of the sampled ``devices``' latest ``per_device``
    events in the period (``devices``: from :func:`sample_devices`)."""
    cols = ["vendor", "type_code", "delay_s"]
    if devices.empty:
        return pd.DataFrame(columns=cols)
    picked = [int(i) for i in devices["id"]]
    ranked = (
        select(
            DeviceEvent.device_id,
            DeviceEvent.ts,
            DeviceEvent.received_at,
            func.row_number()
            .over(partition_by=DeviceEvent.device_id, order_by=DeviceEvent.ts.desc())
            .label("n"),
        )
        .where(DeviceEvent.device_id.in_(picked), DeviceEvent.ts >= start, DeviceEvent.ts < end)
        .subquery()
    )
    stmt = select(ranked.c.device_id, ranked.c.ts, ranked.c.received_at).where(
        ranked.c.n <= per_device
    )
    events = frame(conn, stmt, times=["ts", "received_at"])
    if events.empty:
        return pd.DataFrame(columns=cols)
    events = events.merge(
        devices.rename(columns={"id": "device_id"}), on="device_id", how="left", validate="m:1"
    )
    events["delay_s"] = (events["received_at"] - events["ts"]).dt.total_seconds()
    return events[cols]


def _q(values: pd.Series, q: float, scale: float = 1.0) -> float:
    """A percentile (linear interpolation), NaN without values: the column stays numeric."""
    values = values.dropna()
    return round(float(values.quantile(q)) / scale, 3) if values.size else np.nan


def summarize(devices: pd.DataFrame, faults: pd.DataFrame, delays: pd.DataFrame) -> pd.DataFrame:
    """One row per vendor and device type (every one with devices or faults)."""
    keys = pd.concat(
        [devices[["vendor", "type_code"]], faults[["vendor", "type_code"]]], ignore_index=True
    ).drop_duplicates()
    rows = []
    for vendor, type_code in sorted(keys.itertuples(index=False, name=None)):
        counted = devices[(devices["vendor"] == vendor) & (devices["type_code"] == type_code)]
        n = int(counted["devices"].sum())
        mine = faults[(faults["vendor"] == vendor) & (faults["type_code"] == type_code)]
        silences = mine[mine["rule"] == SILENCE_RULE]
        repaired = mine["repair_s"].dropna()
        over_day = silences.loc[silences["silence_s"] > SILENT_OVER_S, "device_id"].nunique()
        delay = delays.loc[
            (delays["vendor"] == vendor) & (delays["type_code"] == type_code), "delay_s"
        ]
        rows.append(
            {
                "vendor": vendor,
                "type_code": type_code,
                "devices": n,
                "faults": len(mine),
                "silences": len(silences),
                "faults_per_100": round(len(mine) / n * 100, 2) if n else np.nan,
                "repaired": int(repaired.size),
                "unrepaired": int(len(mine) - repaired.size),
                "repair_median_h": _q(repaired, 0.5, 3600),
                "repair_p90_h": _q(repaired, 0.9, 3600),
                "silent_over_day": int(over_day),
                "silent_over_day_share": over_day / n if n else np.nan,
                "delay_events": int(delay.size),
                "delay_median_s": _q(delay, 0.5),
                "delay_p90_s": _q(delay, 0.9),
            }
        )
    return pd.DataFrame(rows, columns=SUMMARY_COLUMNS)


def week_start(moments: pd.Series) -> pd.Series:
    """The Monday (Asia/Seoul) of each moment's week, as a date."""
    local = moments.dt.tz_convert(LOCAL_TZ)
    return (local.dt.normalize() - pd.to_timedelta(local.dt.day_of_week, unit="D")).dt.date


def weekly(
    devices: pd.DataFrame, faults: pd.DataFrame, start: datetime, end: datetime
) -> pd.DataFrame:
    """Per vendor and Seoul week (from Monday) of the period: faults, per 100 devices, median
    repair hours; a week without a fault is a row with 0 (a trend line must not skip it)."""
    vendors = sorted(set(devices["vendor"]) | set(faults["vendor"]))
    first, last = week_start(pd.Series([pd.Timestamp(start), pd.Timestamp(end) - pd.Timedelta(1)]))
    weeks = [d.date() for d in pd.date_range(first, last, freq="7D")]
    grid = pd.MultiIndex.from_product([vendors, weeks], names=["vendor", "week"])
    df = faults.assign(week=week_start(faults["opened_at"])) if len(faults) else faults
    counts = (
        df.groupby(["vendor", "week"]).agg(
            faults=("id", "size"), repair_median_h=("repair_s", "median")
        )
        if len(faults)
        else pd.DataFrame({"faults": [], "repair_median_h": []})
    )
    out = counts.reindex(grid).reset_index()
    out["faults"] = out["faults"].fillna(0).astype("int64")
    per_vendor = devices.groupby("vendor")["devices"].sum()
    out["devices"] = out["vendor"].map(per_vendor).fillna(0).astype("int64")
    out["faults_per_100"] = (out["faults"] / out["devices"].where(out["devices"] > 0) * 100).round(
        2
    )
    out["repair_median_h"] = (out["repair_median_h"].astype(float) / 3600).round(3)
    return out[WEEKLY_COLUMNS]


def vendor_performance(
    conn: Connection,
    start: datetime,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> dict[str, pd.DataFrame]:
    """The page's figures in one call: ``summary``, ``weekly`` and the ``faults`` behind them."""
    devices = vendor_devices(conn, end, programs, districts)
    faults = vendor_faults(conn, start, end, programs, districts)
    delays = delay_sample(conn, sample_devices(conn, end, programs, districts), start, end)
    return {
        "summary": summarize(devices, faults, delays),
        "weekly": weekly(devices, faults, start, end),
        "faults": faults,
    }
