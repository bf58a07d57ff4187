"""Response metrics for weekly reviews: volumes, false alarms, response times, standards met.

One Core statement per source (alerts, field-visit dispatches), identical on SQLite and
PostgreSQL; durations and percentiles are computed in pandas (linear interpolation, numpy's
default) so no dialect-specific date arithmetic is needed. Aggregates only: no personal data.

Filters everywhere: ``start <= opened_at < end`` (dispatches: ``requested_at``), program codes,
and district/dong region ids (a district id selects its dongs).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import Alert, Dispatch, Program, Region
from queries.common import frame, in_filter, region_filter, where_all

# Telecare alarm-receiving-centre standard (UK TSA) and the 45-minute attendance figure.
ACK_TARGETS = {60: 0.975, 180: 0.99}
VISIT_MINUTES = 45
VISIT_TARGET = 0.90
OPEN_OUTCOME = "(open)"
ENDED = "enrollment_ended"  # closed by dashboard.enrollment.end_enrollment


def alerts_in_period(
    conn: Connection,
    start: datetime,
    end: datetime,
    programs: Iterable[str] | None,
    districts: Iterable[int] | None,
) -> pd.DataFrame:
    """The alerts opened in the period with their response times: what every metric reads."""
    stmt = where_all(
        select(
            Alert.id,
            Alert.kind,
            Alert.rule,
            Alert.stage,
            Alert.status,
            Alert.outcome,
            Alert.closed_by,
            Alert.opened_at,
            Alert.acknowledged_at,
            Alert.dispatched_at,
            Alert.closed_at,
        )
        .join(Program, Program.id == Alert.program_id)
        .join(Region, Region.id == Alert.region_id)
        .where(Alert.opened_at >= start, Alert.opened_at < end),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )
    times = ["opened_at", "acknowledged_at", "dispatched_at", "closed_at"]
    return frame(conn, stmt.order_by(Alert.id), times=times)


def counts_of(df: pd.DataFrame) -> pd.DataFrame:
    """Alerts opened in the period by rule, stage and outcome (``(open)`` while not closed)."""
    cols = ["rule", "stage", "outcome", "alerts"]
    if df.empty:
        return pd.DataFrame(columns=cols).astype({"alerts": "int64"})
    # A new frame: the alerts frame is shared by every metric of the page.
    df = df.assign(outcome=df["outcome"].where(df["status"] == "closed", OPEN_OUTCOME).fillna(""))
    out = df.groupby(["rule", "stage", "outcome"], as_index=False).size()
    return out.rename(columns={"size": "alerts"})[cols].reset_index(drop=True)


def false_alarms_of(df: pd.DataFrame) -> pd.DataFrame:
    """Per rule: closed alerts, how many were false alarms, and the rate (closed ones only)."""
    cols = ["rule", "closed", "false_alarms", "rate"]
    # An enrollment that ended closed its alerts without an answer either way: not counted.
    closed = df[(df["status"] == "closed") & (df["outcome"] != ENDED)] if not df.empty else df
    if closed.empty:
        return pd.DataFrame(columns=cols)
    out = (
        closed.assign(false_alarm=closed["outcome"].eq("false_alarm"))
        .groupby("rule", as_index=False)
        .agg(closed=("id", "size"), false_alarms=("false_alarm", "sum"))
    )
    out["false_alarms"] = out["false_alarms"].astype("int64")
    out["rate"] = out["false_alarms"] / out["closed"]
    return out[cols].sort_values("rule").reset_index(drop=True)


def _seconds(df: pd.DataFrame, column: str) -> pd.Series:
    return (df[column] - df["opened_at"]).dt.total_seconds().dropna()


def response_times_of(df: pd.DataFrame) -> pd.DataFrame:
    """Median and 90th percentile seconds from opening to acknowledge, first dispatch, close.

    Only alerts that reached the step count for it (``n``); a close by the rules (condition
    cleared, ``closed_by = 'system'``) is not an operator response and is left out of ``close``,
    and neither is a close because the enrollment ended (outcome ``enrollment_ended``).
    """
    rows = []
    for measure, column in (
        ("acknowledge", "acknowledged_at"),
        ("dispatch", "dispatched_at"),
        ("close", "closed_at"),
    ):
        part = (
            df
            if measure != "close" or df.empty
            else df[(df["closed_by"] != "system") & (df["outcome"] != ENDED)]
        )
        s = _seconds(part, column) if not part.empty else pd.Series(dtype=float)
        rows.append(
            {
                "measure": measure,
                "n": int(s.size),
                # Rounded to the millisecond: interpolation leaves float noise (1020.0000000001).
                "median_s": round(float(s.quantile(0.5)), 3) if s.size else None,
                "p90_s": round(float(s.quantile(0.9)), 3) if s.size else None,
            }
        )
    return pd.DataFrame(rows, columns=["measure", "n", "median_s", "p90_s"])


def severe_ack_shares_of(df: pd.DataFrame) -> pd.DataFrame:
    """Share of 심각 alerts acknowledged within 60 s and 180 s against 97.5 % and 99 %.

    The denominator is every 심각 alert opened in the period, acknowledged or not: an alert
    nobody acknowledged is a miss, not a gap in the data. Time runs from ``opened_at``.
    """
    severe = df[df["stage"] == "severe"] if not df.empty else df
    n = len(severe)
    wait = (
        (severe["acknowledged_at"] - severe["opened_at"]).dt.total_seconds()
        if n
        else pd.Series(dtype=float)
    )
    rows = []
    for seconds, target in ACK_TARGETS.items():
        within = int((wait <= seconds).sum()) if n else 0
        share = within / n if n else None
        rows.append(
            {
                "within_s": seconds,
                "severe_alerts": n,
                "acknowledged_within": within,
                "share": share,
                "target": target,
                "meets_target": share is not None and share >= target,
            }
        )
    return pd.DataFrame(rows)


def field_visits_within(
    conn: Connection,
    start: datetime,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
    minutes: int = VISIT_MINUTES,
) -> pd.DataFrame:
    """Field visits requested in the period that arrived within ``minutes`` (target 90 %).

    Every requested visit is in the denominator; one without ``arrived_at`` is a miss.
    """
    stmt = where_all(
        select(Dispatch.id, Dispatch.requested_at, Dispatch.arrived_at)
        .join(Alert, Alert.id == Dispatch.alert_id)
        .join(Program, Program.id == Alert.program_id)
        .join(Region, Region.id == Alert.region_id)
        .where(
            Dispatch.kind == "field_visit",
            Dispatch.requested_at >= start,
            Dispatch.requested_at < end,
        ),
        in_filter(Program.code, programs),
        region_filter(Region, districts),
    )
    df = frame(conn, stmt, times=["requested_at", "arrived_at"])
    n = len(df)
    travel = (df["arrived_at"] - df["requested_at"]).dt.total_seconds() / 60 if n else None
    arrived = int(df["arrived_at"].notna().sum()) if n else 0
    within = int((travel <= minutes).sum()) if n else 0
    share = within / n if n else None
    return pd.DataFrame(
        [
            {
                "within_min": minutes,
                "visits": n,
                "arrived": arrived,
                "arrived_within": within,
                "share": share,
                "median_min": float(travel.dropna().median()) if arrived else None,
                "target": VISIT_TARGET,
                "meets_target": share is not None and share >= VISIT_TARGET,
            }
        ]
    )


def alert_metrics(
    conn: Connection,
    start: datetime,
    end: datetime,
    programs: Iterable[str] | None = None,
    districts: Iterable[int] | None = None,
) -> dict[str, pd.DataFrame]:
    """Every alert metric of the period from one read of the alerts (the review page's path)."""
    df = alerts_in_period(conn, start, end, programs, districts)
    return {
        "counts": counts_of(df),
        "false_alarms": false_alarms_of(df),
        "times": response_times_of(df),
        "severe_ack": severe_ack_shares_of(df),
    }
