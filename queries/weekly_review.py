"""This week against the four before it: the figures a weekly review starts from.

Five 7-day windows of Asia/Seoul calendar days: week 0 ends with the chosen day (cut at now when
that is today), weeks 1–4 are the four 7-day spans before it. Per window:

- person alerts opened, by stage (관심 / 위험 / 심각);
- the response standards of the response page (``queries.response_metrics``): 심각 acknowledged
  within 60 s and 180 s, field visits on site within 45 minutes (shares; none when the window
  has no such alert or visit);
- the open backlog: alerts (person and device) still open at the window's end;
- faulty devices: devices with a device-fault alert open at any time in the window;
- complaints received (repeats recognised by the import not counted);
- participation: new enrolments in the participation programmes, and sessions on the health
  park's machines (``device_daily.sessions``).

One read per source over the whole five weeks, split into windows in pandas; Core statements
that run the same on SQLite and PostgreSQL. :func:`rank_changes` orders the metrics by how far
this week lies outside the range of the four before it. Aggregates only.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta

import pandas as pd
from sqlalchemy import Connection, func, or_, select

from dashboard.db.schema import (
    Alert,
    Complaint,
    Device,
    DeviceDaily,
    Enrolment,
    Program,
    Region,
)
from dashboard.settings import LOCAL_TZ
from queries.common import frame, in_filter, region_filter, where_all
from queries.response_metrics import alerts_in_period, field_visits_within, severe_ack_shares_of

WEEKS = 5  # this week and the four before it
STAGES = ("attention", "risk", "severe")
# metric → (kind, the direction that is better); the page shows them in this order.
METRICS: dict[str, tuple[str, str]] = {
    "alerts_attention": ("count", "down"),
    "alerts_risk": ("count", "down"),
    "alerts_severe": ("count", "down"),
    "severe_ack_60": ("share", "up"),
    "severe_ack_180": ("share", "up"),
    "visits_45": ("share", "up"),
    "backlog": ("count", "down"),
    "faulty_devices": ("count", "down"),
    "complaints": ("count", "down"),
    "enrolments": ("count", "up"),
    "park_sessions": ("count", "up"),
}
# A change is measured against max(|reference|, floor): one alert against none is +100 %, not ∞;
# shares are fractions, so 1 %p is their floor.
FLOOR = {"count": 1.0, "share": 0.01}
COLUMNS = ["metric", "week", "start", "end", "value"]


def windows(last_day: date, now: datetime, weeks: int = WEEKS) -> list[tuple[datetime, datetime]]:
    """``weeks`` 7-day windows ``[start, end)`` (Asia/Seoul midnights), newest first; the newest
    ends after ``last_day``, cut at ``now``."""
    out = []
    for k in range(weeks):
        end_day = last_day - timedelta(days=7 * k)
        start = datetime.combine(end_day - timedelta(days=6), time(), LOCAL_TZ)
        end = datetime.combine(end_day + timedelta(days=1), time(), LOCAL_TZ)
        out.append((start, min(end, now.astimezone(LOCAL_TZ))))
    return out


def _in(moments: pd.Series, start: datetime, end: datetime) -> pd.Series:
    return (moments >= pd.Timestamp(start)) & (moments < pd.Timestamp(end))


def _open_at(df: pd.DataFrame, moment: datetime) -> pd.Series:
    at = pd.Timestamp(moment)
    return (df["opened_at"] < at) & (df["closed_at"].isna() | (df["closed_at"] >= at))


def _alerts_spanning(conn, first, end, programs, districts) -> pd.DataFrame:
    """Alerts opened before ``end`` and not closed before ``first``: the backlog and faults."""
    stmt = where_all(
        select(Alert.id, Alert.kind, Alert.device_id, Alert.opened_at, Alert.closed_at)
        .join(Program, Program.id == Alert.program_id)
        .join(Region, Region.id == Alert.region_id)
        .where(Alert.opened_at < end, or_(Alert.closed_at.is_(None), Alert.closed_at >= first)),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )
    return frame(conn, stmt, times=["opened_at", "closed_at"])


def _complaints(conn, first, end, districts) -> pd.DataFrame:
    stmt = where_all(
        select(Complaint.received_at)
        .join(Region, Region.id == Complaint.region_id)
        .where(
            Complaint.duplicate_of.is_(None),
            Complaint.received_at >= first,
            Complaint.received_at < end,
        ),
        region_filter(Region, districts),
    )
    return frame(conn, stmt, times=["received_at"])


def _enrolments(conn, first_day, last_day, programs, districts) -> pd.DataFrame:
    stmt = where_all(
        select(Enrolment.enrolled_on, func.count().label("n"))
        .join(Program, Program.id == Enrolment.program_id)
        .join(Region, Region.id == Enrolment.region_id)
        .where(Enrolment.enrolled_on >= first_day, Enrolment.enrolled_on <= last_day)
        .group_by(Enrolment.enrolled_on),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )
    return frame(conn, stmt, dates=["enrolled_on"])


def _sessions(conn, first_day, last_day, programs, districts) -> pd.DataFrame:
    stmt = where_all(
        select(DeviceDaily.day, func.sum(DeviceDaily.sessions).label("n"))
        .join(Device, Device.id == DeviceDaily.device_id)
        .join(Program, Program.id == Device.program_id)
        .join(Region, Region.id == Device.region_id)
        .where(
            Device.type_code == "park_machine",
            DeviceDaily.day >= first_day,
            DeviceDaily.day <= last_day,
        )
        .group_by(DeviceDaily.day),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )
    return frame(conn, stmt, dates=["day"])


def _days(start: datetime, end: datetime) -> tuple[date, date]:
    """The Seoul calendar days a window covers (a window cut at now covers today)."""
    local_end = end.astimezone(LOCAL_TZ) - timedelta(microseconds=1)
    return start.astimezone(LOCAL_TZ).date(), local_end.date()


def week_figures(
    conn: Connection,
    last_day: date,
    now: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> pd.DataFrame:
    """Long frame ``metric, week (0 = this week), start, end, value`` for every metric."""
    spans = windows(last_day, now)
    first, end = spans[-1][0], spans[0][1]
    programs = tuple(programs) if programs else None
    districts = tuple(districts) if districts else None
    alerts = alerts_in_period(conn, first, end, programs, districts)
    spanning = _alerts_spanning(conn, first, end, programs, districts)
    complaints = _complaints(conn, first, end, districts)
    first_day, last = _days(first, end)
    enrolled = _enrolments(conn, first_day, last, programs, districts)
    sessions = _sessions(conn, first_day, last, programs, districts)
    rows = []
    for week, (start, stop) in enumerate(spans):
        in_week = alerts[_in(alerts["opened_at"], start, stop)] if len(alerts) else alerts
        person = in_week[in_week["kind"] == "person"] if len(in_week) else in_week
        values: dict[str, float | None] = {
            f"alerts_{s}": int((person["stage"] == s).sum()) if len(person) else 0 for s in STAGES
        }
        shares = severe_ack_shares_of(in_week).set_index("within_s")["share"]
        values["severe_ack_60"] = shares.get(60)
        values["severe_ack_180"] = shares.get(180)
        values["visits_45"] = field_visits_within(conn, start, stop, programs, districts).loc[
            0, "share"
        ]
        values["backlog"] = int(_open_at(spanning, stop).sum()) if len(spanning) else 0
        faults = spanning[spanning["kind"] == "device_fault"] if len(spanning) else spanning
        overlapping = (
            (faults["opened_at"] < pd.Timestamp(stop))
            & (faults["closed_at"].isna() | (faults["closed_at"] >= pd.Timestamp(start)))
            if len(faults)
            else pd.Series(dtype=bool)
        )
        values["faulty_devices"] = int(faults.loc[overlapping, "device_id"].nunique())
        values["complaints"] = (
            int(_in(complaints["received_at"], start, stop).sum()) if len(complaints) else 0
        )
        day0, day1 = _days(start, stop)
        for metric, df, col in (
            ("enrolments", enrolled, "enrolled_on"),
            ("park_sessions", sessions, "day"),
        ):
            chosen = df[(df[col] >= day0) & (df[col] <= day1)] if len(df) else df
            values[metric] = int(chosen["n"].sum()) if len(chosen) else 0
        for metric in METRICS:
            value = values[metric]
            rows.append(
                {
                    "metric": metric,
                    "week": week,
                    "start": start,
                    "end": stop,
                    "value": None if value is None or pd.isna(value) else float(value),
                }
            )
    return pd.DataFrame(rows, columns=COLUMNS)


def rank_changes(figures: pd.DataFrame) -> pd.DataFrame:
    """Per metric: this week, the four weeks' mean, min and max, the change against the mean,
    how far this week lies outside the range (0 inside it), the side and whether that is
    better or worse. Largest departures from the range first, then largest changes."""
    rows = []
    for metric, (kind, better) in METRICS.items():
        mine = figures[figures["metric"] == metric].set_index("week")["value"]
        this = mine.get(0)
        before = mine.drop(index=0, errors="ignore").dropna()
        floor = FLOOR[kind]
        row = {"metric": metric, "kind": kind, "better": better, "this_week": this}
        if this is None or pd.isna(this) or before.empty:
            rows.append(row | {"weeks_before": int(before.size), "side": "none"})
            continue
        mean, lo, hi = float(before.mean()), float(before.min()), float(before.max())
        if this > hi:
            outside, side = (this - hi) / max(abs(hi), floor), "above"
        elif this < lo:
            outside, side = (lo - this) / max(abs(lo), floor), "below"
        else:
            outside, side = 0.0, "within"
        verdict = (
            "same"
            if side == "within"
            else "better"
            if (side == "above") == (better == "up")
            else "worse"
        )
        rows.append(
            row
            | {
                "weeks_before": int(before.size),
                "mean": mean,
                "low": lo,
                "high": hi,
                "change": (this - mean) / max(abs(mean), floor),
                "outside": outside,
                "side": side,
                "verdict": verdict,
            }
        )
    out = pd.DataFrame(
        rows,
        columns=[
            "metric",
            "kind",
            "better",
            "this_week",
            "weeks_before",
            "mean",
            "low",
            "high",
            "change",
            "outside",
            "side",
            "verdict",
        ],
    )
    out["_order"] = out["change"].abs()
    out = out.sort_values(
        ["outside", "_order"], ascending=False, na_position="last", kind="stable"
    ).drop(columns="_order")
    return out.reset_index(drop=True)


def weekly_review(
    conn: Connection,
    last_day: date,
    now: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> dict[str, pd.DataFrame]:
    """The page's figures: ``figures`` (long, per week) and ``changes`` (ranked)."""
    figures = week_figures(conn, last_day, now, programs, districts)
    return {"figures": figures, "changes": rank_changes(figures)}
