"""The devices the simulator speaks for, read once from the database with their latest state."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from sqlalchemy import Connection, func, select

from dashboard.clock import as_utc
from dashboard.db.schema import CareRecipient, Device, DeviceEvent, DeviceState, DeviceType

KST_S = 9 * 3600  # Asia/Seoul has no daylight saving time
WEEK_S = 7 * 86_400


@dataclass
class Roster:
    """One row per active device, as parallel arrays (index = position in ``ids``)."""

    ids: np.ndarray  # devices.id
    uids: list[str]  # the vendor's device id
    vendors: list[str]
    types: np.ndarray  # device type code (object array)
    timeout_s: np.ndarray  # heartbeat timeout of the type
    home_lat: np.ndarray  # NaN when the device has no person with a home (fixed sites)
    home_lon: np.ndarray
    zone_m: np.ndarray  # wandering safe-zone radius, NaN otherwise
    states: list[str]  # device_state.state ("normal" when there is no row)
    last_seen: np.ndarray  # epoch seconds, NaN = never
    last_activity: np.ndarray
    power: np.ndarray
    lux: np.ndarray
    battery: np.ndarray
    lat: np.ndarray
    lon: np.ndarray
    ai_week_s: np.ndarray  # second of the Seoul week of the person's AI call, -1 unknown

    def __len__(self) -> int:
        return len(self.ids)

    def of_type(self, code: str) -> np.ndarray:
        return np.flatnonzero(self.types == code)

    @property
    def newest_signal(self) -> float | None:
        """Epoch seconds of the newest report of any device: where the city stopped."""
        seen = self.last_seen[~np.isnan(self.last_seen)]
        return float(seen.max()) if len(seen) else None


def _epoch(value: datetime | None) -> float:
    if value is None:
        return np.nan
    return as_utc(value).timestamp()


def _num(value: float | None) -> float:
    return np.nan if value is None else float(value)


def load_roster(conn: Connection) -> Roster:
    """Every active device with its type, its person's home and its latest state."""
    stmt = (
        select(
            Device.id,
            Device.device_uid,
            Device.vendor,
            Device.type_code,
            DeviceType.heartbeat_timeout_s,
            CareRecipient.pii_home_lat,
            CareRecipient.pii_home_lon,
            CareRecipient.safe_zone_m,
            DeviceState.state,
            DeviceState.last_seen_at,
            DeviceState.last_activity_at,
            DeviceState.last_power_w,
            DeviceState.last_lux,
            DeviceState.battery_pct,
            DeviceState.last_lat,
            DeviceState.last_lon,
        )
        .join(DeviceType, DeviceType.code == Device.type_code)
        .outerjoin(CareRecipient, CareRecipient.id == Device.recipient_id)
        .outerjoin(DeviceState, DeviceState.device_id == Device.id)
        .where(Device.status == "active")
        .order_by(Device.id)
    )
    rows = conn.execute(stmt).all()
    ai_slot = _ai_call_slots(conn)
    return Roster(
        ids=np.array([r.id for r in rows], dtype=np.int64),
        uids=[r.device_uid for r in rows],
        vendors=[r.vendor for r in rows],
        types=np.array([r.type_code for r in rows], dtype=object),
        timeout_s=np.array([r.heartbeat_timeout_s for r in rows], dtype=float),
        home_lat=np.array([_num(r.pii_home_lat) for r in rows]),
        home_lon=np.array([_num(r.pii_home_lon) for r in rows]),
        zone_m=np.array([_num(r.safe_zone_m) for r in rows]),
        states=[r.state or "normal" for r in rows],
        last_seen=np.array([_epoch(r.last_seen_at) for r in rows]),
        last_activity=np.array([_epoch(r.last_activity_at) for r in rows]),
        power=np.array([_num(r.last_power_w) for r in rows]),
        lux=np.array([_num(r.last_lux) for r in rows]),
        battery=np.array([_num(r.battery_pct) for r in rows]),
        lat=np.array([_num(r.last_lat) for r in rows]),
        lon=np.array([_num(r.last_lon) for r in rows]),
        ai_week_s=np.array([ai_slot.get(r.id, -1) for r in rows], dtype=np.int64),
    )


def _ai_call_slots(conn: Connection) -> dict[int, int]:
    """Each AI-call line's weekly slot, read off its most recent call (calls are weekly)."""
    stmt = (
        select(DeviceEvent.device_id, func.max(DeviceEvent.ts))
        .where(DeviceEvent.type == "ai_call_result")
        .group_by(DeviceEvent.device_id)
    )
    out = {}
    for device_id, ts in conn.execute(stmt):
        if isinstance(ts, str):  # an aggregate can bypass the column type on SQLite
            ts = datetime.fromisoformat(ts)
        out[device_id] = int((_epoch(ts) + KST_S) % WEEK_S)
    return out
