"""The slow-risk flag (``care_recipients.slow_risk_since``, set by ``detection.slow_risk``) for
the person panel and the list of flagged people on 대상자 관리."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import CareRecipient, Region
from dashboard.formatting import mask_name
from queries.common import frame
from queries.roster import in_areas

PEOPLE_SHOWN = 50


def slow_risk_of(conn: Connection, recipient_id: int) -> tuple[date, dict] | None:
    """The day the person's flag was set and the figures that set it; None when not flagged."""
    r = CareRecipient.__table__
    row = conn.execute(
        select(r.c.slow_risk_since, r.c.slow_risk_detail).where(
            r.c.id == recipient_id, r.c.slow_risk_since.is_not(None)
        )
    ).one_or_none()
    return None if row is None else (row.slow_risk_since, dict(row.slow_risk_detail or {}))


def people_slow_risk(
    conn: Connection, areas: Iterable[str] | None = None, limit: int = PEOPLE_SHOWN
) -> pd.DataFrame:
    """Enrolled people with the flag (in ``areas``; None = all), longest flagged first, at most
    ``limit`` + 1 rows (one more says there are more): recipient_id, external_ref, region_ko,
    region_en, since, above_ratio, watts_ratio, recipient_masked. Names leave masked."""
    r = CareRecipient.__table__
    stmt = (
        select(
            r.c.id.label("recipient_id"),
            r.c.external_ref,
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            r.c.slow_risk_since.label("since"),
            r.c.slow_risk_detail,
            r.c.pii_name,
        )
        .join(Region, Region.id == r.c.region_id)
        .where(r.c.slow_risk_since.is_not(None), r.c.ended_on.is_(None))
        .order_by(r.c.slow_risk_since, r.c.external_ref)
        .limit(limit + 1)
    )
    inside = in_areas(r.c.region_id, areas)
    if inside is not None:
        stmt = stmt.where(inside)
    df = frame(conn, stmt)
    detail = df.pop("slow_risk_detail")
    df["above_ratio"] = [(d or {}).get("above_ratio") for d in detail]
    df["watts_ratio"] = [(d or {}).get("watts_ratio") for d in detail]
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df
