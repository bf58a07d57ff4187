"""Away periods (``away_periods``) for the person panel, the alert detail and the live page."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, false, or_, select

from dashboard.auth.regions import area_prefix
from dashboard.db.schema import AwayPeriod, CareRecipient, Region
from dashboard.formatting import mask_name
from queries.common import frame

PEOPLE_SHOWN = 10


def away_periods_of(conn: Connection, recipient_id: int, today: date) -> pd.DataFrame:
    """The person's current and future away periods (not cancelled, return date after today),
    soonest first: id, starts_on, ends_on, note, created_by, created_at, current."""
    a = AwayPeriod.__table__
    stmt = (
        select(a.c.id, a.c.starts_on, a.c.ends_on, a.c.note, a.c.created_by, a.c.created_at)
        .where(a.c.recipient_id == recipient_id, a.c.cancelled_at.is_(None), a.c.ends_on > today)
        .order_by(a.c.starts_on, a.c.id)
    )
    df = frame(conn, stmt, times=["created_at"])
    df["current"] = [s <= today for s in df["starts_on"]]
    return df


def away_until(conn: Connection, recipient_id: int, today: date) -> date | None:
    """The return date when the person is marked away today, else None."""
    a = AwayPeriod.__table__
    return conn.execute(
        select(a.c.ends_on)
        .where(
            a.c.recipient_id == recipient_id,
            a.c.cancelled_at.is_(None),
            a.c.starts_on <= today,
            a.c.ends_on > today,
        )
        .order_by(a.c.ends_on.desc())
        .limit(1)
    ).scalar_one_or_none()


def _inside(areas: Iterable[str] | None):
    if areas is None:
        return None
    prefixes = sorted({area_prefix(code) for code in areas})
    return or_(*(Region.code.startswith(p) for p in prefixes)) if prefixes else false()


def people_away(
    conn: Connection, today: date, areas: Iterable[str] | None = None, limit: int = PEOPLE_SHOWN
) -> pd.DataFrame:
    """People marked away today (in ``areas``; None = all), returning soonest first, at most
    ``limit`` + 1 rows (one more says there are more): recipient_id, external_ref, region_ko,
    region_en, ends_on, recipient_masked. Names leave this function masked."""
    a, r = AwayPeriod.__table__, CareRecipient.__table__
    stmt = (
        select(
            r.c.id.label("recipient_id"),
            r.c.external_ref,
            Region.name_ko.label("region_ko"),
            Region.name_en.label("region_en"),
            a.c.ends_on,
            r.c.pii_name,
        )
        .join(r, r.c.id == a.c.recipient_id)
        .join(Region, Region.id == r.c.region_id)
        .where(
            a.c.cancelled_at.is_(None),
            a.c.starts_on <= today,
            a.c.ends_on > today,
            r.c.ended_on.is_(None),
        )
        .order_by(a.c.ends_on, r.c.external_ref)
        .limit(limit + 1)
    )
    inside = _inside(areas)
    if inside is not None:
        stmt = stmt.where(inside)
    df = frame(conn, stmt)
    # One line per person: the latest return date of overlapping periods.
    df = df.sort_values("ends_on").drop_duplicates("recipient_id", keep="last")
    df = df.sort_values(["ends_on", "external_ref"]).reset_index(drop=True)
    df["recipient_masked"] = df.pop("pii_name").map(mask_name)
    return df
