"""Options for filter widgets: programs and regions."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.auth.users import DISTRICT_LEVELS
from dashboard.db.schema import Device, Program, Region
from queries.common import frame, where_all


def programs(conn: Connection, kind: str | None = None) -> pd.DataFrame:
    """Programs (code, kind, name_ko, name_en), optionally only 'device' or 'participation'."""
    stmt = select(Program.id, Program.code, Program.kind, Program.name_ko, Program.name_en)
    stmt = where_all(stmt, Program.kind == kind if kind else None).order_by(Program.id)
    return frame(conn, stmt)


def known_districts(conn: Connection, codes: Iterable[str]) -> set[str]:
    """Which of ``codes`` are 시·군·구 in the regions table (the rest match nobody)."""
    codes = sorted(set(codes))
    if not codes:
        return set()
    stmt = select(Region.code).where(Region.code.in_(codes), Region.level.in_(DISTRICT_LEVELS))
    return set(conn.execute(stmt).scalars())


def regions(conn: Connection, level: str | None = None) -> pd.DataFrame:
    """Regions (id, code, level, name_ko, name_en, parent_id) of one level, by code."""
    stmt = select(
        Region.id, Region.code, Region.level, Region.name_ko, Region.name_en, Region.parent_id
    )
    stmt = where_all(stmt, Region.level == level if level else None).order_by(Region.code)
    return frame(conn, stmt)


def districts_with_devices(conn: Connection) -> pd.DataFrame:
    """Districts that have at least one device in them or in one of their dongs."""
    dong = Region.__table__.alias("dong")
    stmt = (
        select(Region.id, Region.code, Region.name_ko, Region.name_en)
        .where(Region.level == "district")
        .where(
            Region.id.in_(select(Device.region_id))
            | Region.id.in_(select(dong.c.parent_id).where(dong.c.id.in_(select(Device.region_id))))
        )
        .order_by(Region.code)
    )
    return frame(conn, stmt)
