"""One smart plug's routine for the alert detail: its recent days' half-hour activity bits, the
stored routine's summary and how far the plug has reported (two indexed reads, one device)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.clock import as_utc
from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.routine import SLOTS_PER_DAY
from dashboard.settings import LOCAL_TZ

STRIP_DAYS = 28  # the routine's window (plug_routine.window_days by default)


@dataclass(frozen=True)
class RoutineStrip:
    """``days``: one row per local day of the strip, newest first (day, bits; a day without a
    stored row has bits 0 and ``reported`` False); ``last_day`` is the strip's newest day."""

    days: pd.DataFrame
    last_day: date
    last_seen_at: datetime | None
    learned_on: date | None
    reference_days: int | None


def routine_strip(
    conn: Connection, device_id: int, now: datetime, days: int = STRIP_DAYS
) -> RoutineStrip:
    """The last ``days`` local days of one plug, ending on the day of its last report (today for
    a plug that reports; the last day it reported for one that stopped)."""
    state = conn.execute(
        select(DeviceState.last_seen_at).where(DeviceState.device_id == device_id)
    ).first()
    seen = as_utc(state.last_seen_at) if state and state.last_seen_at else None
    end = min(now, seen) if seen is not None else now
    last_day = end.astimezone(LOCAL_TZ).date()
    first_day = last_day - timedelta(days=days - 1)
    daily = DeviceDaily.__table__
    stored = dict(
        conn.execute(
            select(daily.c.day, daily.c.activity_slots).where(
                daily.c.device_id == device_id,
                daily.c.day >= first_day,
                daily.c.day <= last_day,
            )
        ).all()
    )
    rows = [
        {
            "day": day,
            "bits": int(stored.get(day) or 0) & ((1 << SLOTS_PER_DAY) - 1),
            "reported": day in stored,
        }
        for day in (last_day - timedelta(days=i) for i in range(days))
    ]
    routine = conn.execute(
        select(DeviceRoutine.learned_on, DeviceRoutine.reference_days).where(
            DeviceRoutine.device_id == device_id
        )
    ).first()
    return RoutineStrip(
        days=pd.DataFrame(rows, columns=["day", "bits", "reported"]),
        last_day=last_day,
        last_seen_at=seen,
        learned_on=routine.learned_on if routine else None,
        reference_days=routine.reference_days if routine else None,
    )
