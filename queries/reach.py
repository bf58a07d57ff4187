"""How soon each smart plug's routine would notice a sudden stop (``detection.reach``), for the
device and person panels: the plugs' stored routines (one indexed read) judged with the
thresholds of the person's district, as the rule tick judges them."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, func, select

from dashboard.db.schema import CareRecipient, Device, Region
from dashboard.detection.reach import PlugReach, plug_reach
from dashboard.detection.records import load_routines
from dashboard.rules.config import current_thresholds
from dashboard.settings import LOCAL_TZ

PLUG = "smart_plug"


@dataclass(frozen=True)
class PlugReachRow:
    device_id: int
    device_uid: str
    status: str
    reach: PlugReach | None  # None: no routine learned yet (a new plug)
    enabled: bool  # the routine judges in this district (``plug_routine.enabled``)


def plug_reaches(
    conn: Connection, *, device_id: int | None = None, recipient_id: int | None = None
) -> list[PlugReachRow]:
    """The reach of one plug (``device_id``) or of every plug of a person now
    (``recipient_id``: active ones first, then by id)."""
    if (device_id is None) == (recipient_id is None):
        raise ValueError("give device_id or recipient_id")
    d, r = Device.__table__, CareRecipient.__table__
    stmt = (
        select(d.c.id, d.c.device_uid, d.c.status, Region.code)
        .select_from(d)
        .outerjoin(r, r.c.id == d.c.recipient_id)
        .outerjoin(Region, Region.id == func.coalesce(r.c.region_id, d.c.region_id))
        .where(d.c.type_code == PLUG)
        .where(d.c.id == device_id if device_id is not None else d.c.recipient_id == recipient_id)
        .order_by((d.c.status != "active"), d.c.id)
    )
    rows = conn.execute(stmt).all()
    routines = load_routines(conn, [row.id for row in rows])
    th = current_thresholds()
    out = []
    for row in rows:
        cfg = th.for_region(row.code).plug_routine
        routine = routines.get(row.id)
        reach = plug_reach(routine, cfg, LOCAL_TZ) if routine is not None else None
        out.append(PlugReachRow(row.id, row.device_uid, row.status, reach, cfg.enabled))
    return out
