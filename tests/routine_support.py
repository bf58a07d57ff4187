"""Give a smart plug a learned routine and a current quiet spell, as ingest and the nightly
learning would have left them (for the routine UI's query and page tests)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, delete, insert

from dashboard.db.schema import DeviceDaily, DeviceRoutine, DeviceState
from dashboard.detection.routine import FULL_DAY, learn_routine, slot_of
from dashboard.settings import LOCAL_TZ


def bits_away_from(now: datetime) -> int:
    """Activity only twelve hours from ``now``'s clock time: never in a recent quiet window."""
    return 1 << ((slot_of(now.astimezone(LOCAL_TZ)) + 24) % 48)


def give_routine(
    conn: Connection,
    device_id: int,
    now: datetime,
    *,
    bits: int = FULL_DAY,
    quiet_h: float = 3.0,
    seen_ago: timedelta = timedelta(minutes=5),
    days: int = 28,
) -> None:
    """28 days of ``bits`` (every half-hour active by default) learned today, daily rows for
    those days and today (today active only before the quiet spell), and the device state of a
    plug still reporting whose last sign of life was ``quiet_h`` ago."""
    today = now.astimezone(LOCAL_TZ).date()
    history = {today - timedelta(days=i): bits for i in range(1, days + 1)}
    routine = learn_routine(history, today)
    since = now - timedelta(hours=quiet_h)
    since_local = since.astimezone(LOCAL_TZ)
    today_bits = (
        (bits & ((1 << (slot_of(since_local) + 1)) - 1)) if since_local.date() == today else 0
    )
    for table in (DeviceRoutine, DeviceState, DeviceDaily):
        conn.execute(delete(table).where(table.device_id == device_id))
    conn.execute(
        insert(DeviceRoutine).values(
            device_id=device_id,
            learned_on=today,
            reference_days=len(routine.reference_days),
            model=routine.to_json(),
            updated_at=now,
        )
    )
    conn.execute(
        insert(DeviceDaily),
        [
            {"device_id": device_id, "day": day, "events": 48, "activity_slots": day_bits}
            for day, day_bits in [*history.items(), (today, today_bits)]
        ],
    )
    conn.execute(
        insert(DeviceState).values(
            device_id=device_id,
            state="normal",
            state_since=now - timedelta(days=days),
            last_seen_at=now - seen_ago,
            last_activity_at=since,
            first_seen_at=now - timedelta(days=days + 1),
            first_received_at=now - timedelta(days=days + 1),
            last_power_w=40.0,
            updated_at=now,
        )
    )
