"""Monthly smoking complaints per site and the year-on-year framings of the published figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Connection, func, select

from dashboard.db.schema import Complaint, ComplaintSite, Region
from dashboard.settings import LOCAL_TZ
from queries.common import frame, region_filter, where_all


def sites(
    conn: Connection, category: str = "smoking", districts: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """Monitored sites: site_id, code, name_ko, name_en, measures_from (detector go-live),
    optionally only those in ``districts`` (region ids of districts or dongs)."""
    stmt = (
        select(
            ComplaintSite.id.label("site_id"),
            ComplaintSite.code,
            ComplaintSite.name_ko,
            ComplaintSite.name_en,
            ComplaintSite.measures_from,
        )
        .join(Region, Region.id == ComplaintSite.region_id)
        .order_by(ComplaintSite.code)
    )
    stmt = where_all(stmt, ComplaintSite.category == category, region_filter(Region, districts))
    return frame(conn, stmt, dates=["measures_from"])


def _received(
    conn: Connection,
    category: str,
    monitored_only: bool = False,
    districts: tuple[int, ...] | None = None,
) -> pd.DataFrame:
    # A repeated complaint (duplicate_of set by the import) is shown as such, never counted.
    stmt = select(Complaint.site_id, Complaint.received_at).where(
        Complaint.category == category, Complaint.duplicate_of.is_(None)
    )
    if monitored_only:  # sites with detectors: the documents' "5곳"
        stmt = stmt.join(ComplaintSite, ComplaintSite.id == Complaint.site_id).where(
            ComplaintSite.measures_from.is_not(None)
        )
    if districts:
        stmt = stmt.join(Region, Region.id == Complaint.region_id).where(
            region_filter(Region, districts)
        )
    return frame(conn, stmt, times=["received_at"])


def monthly(
    conn: Connection, category: str = "smoking", districts: tuple[int, ...] | None = None
) -> pd.DataFrame:
    """Complaints per Asia/Seoul calendar month and site: month (date), site_id, complaints.

    Months are cut in Python so both engines agree on the local time zone; complaint volumes are
    small (thousands a year), so moving the timestamps is cheap. Repeats are not counted.
    """
    df = _received(conn, category, districts=districts)
    if df.empty:
        return pd.DataFrame(columns=["month", "site_id", "complaints"])
    local = df["received_at"].dt.tz_convert(LOCAL_TZ)
    df["month"] = [date(ts.year, ts.month, 1) for ts in local]
    df["site_id"] = df["site_id"].astype("Int64")
    out = df.groupby(["month", "site_id"], dropna=False).size().reset_index(name="complaints")
    return out.sort_values(["month", "site_id"]).reset_index(drop=True)


@dataclass(frozen=True)
class Framing:
    """One way of reading "year on year", tied to the published figure it is compared with."""

    key: str
    current: tuple[date, date]  # [start, end) in local dates
    previous: tuple[date, date]
    published_abs: float | None  # size of the published change it is read against (35, 90)


def _count_between(df: pd.DataFrame, start: date, end: date) -> int:
    lo = datetime(start.year, start.month, start.day, tzinfo=LOCAL_TZ).astimezone(UTC)
    hi = datetime(end.year, end.month, end.day, tzinfo=LOCAL_TZ).astimezone(UTC)
    return int(((df["received_at"] >= lo) & (df["received_at"] < hi)).sum())


def year_on_year(
    conn: Connection, framings: list[Framing], category: str = "smoking"
) -> pd.DataFrame:
    """Per framing: current and previous counts and the change in percent (NaN if no base).

    Counted at the monitored sites only (those with a detector go-live date), as the
    documents count "5곳"; Asia/Seoul calendar boundaries.
    """
    df = _received(conn, category, monitored_only=True)
    rows = []
    for f in framings:
        cur = _count_between(df, *f.current)
        prev = _count_between(df, *f.previous)
        change = (cur - prev) / prev * 100 if prev else float("nan")
        rows.append(
            {
                "framing": f.key,
                "current_start": f.current[0],
                "current_end": f.current[1],
                "previous_start": f.previous[0],
                "previous_end": f.previous[1],
                "current": cur,
                "previous": prev,
                "change_pct": change,
            }
        )
    return pd.DataFrame(rows)


def provenance(conn: Connection, category: str = "smoking") -> pd.DataFrame:
    """Where the complaints come from: one row per import file (import_file, imported_at of the
    latest import, first and last received_at, complaints, duplicates) and one row with
    ``import_file`` None for those not imported (the demo's generated history)."""
    stmt = (
        select(
            Complaint.import_file,
            func.max(Complaint.imported_at).label("imported_at"),
            func.min(Complaint.received_at).label("first"),
            func.max(Complaint.received_at).label("last"),
            func.count().label("complaints"),
            func.count(Complaint.duplicate_of).label("duplicates"),  # non-null ones
        )
        .where(Complaint.category == category)
        .group_by(Complaint.import_file)
        .order_by(func.max(Complaint.imported_at))
    )
    return frame(conn, stmt, times=["imported_at", "first", "last"])


def districts(conn: Connection, category: str = "smoking") -> pd.DataFrame:
    """Districts with a complaint site of ``category``: id, code, name_ko, name_en."""
    dong = Region.__table__.alias("dong")
    stmt = (
        select(Region.id, Region.code, Region.name_ko, Region.name_en)
        .where(
            Region.level == "district",
            Region.id.in_(
                select(dong.c.parent_id)
                .join(ComplaintSite, ComplaintSite.region_id == dong.c.id)
                .where(ComplaintSite.category == category)
            )
            | Region.id.in_(
                select(ComplaintSite.region_id).where(ComplaintSite.category == category)
            ),
        )
        .order_by(Region.code)
    )
    return frame(conn, stmt)


# The documents say "전년대비" without defining the windows; these are the readings we show.
DOCUMENTED_FRAMINGS = [
    # Seed 000, report for 2022-07 to 2024-06: the last half year against the same half a year
    # earlier ("전년대비 흡연 민원 35% 감소").
    Framing(
        "h1_2024", (date(2024, 1, 1), date(2024, 7, 1)), (date(2023, 1, 1), date(2023, 7, 1)), 35
    ),
    # Seed 000, 2024 H2 report (5 sites, 12 units): "전년 동기간 대비 흡연민원 90% 감소".
    Framing(
        "h2_2024", (date(2024, 7, 1), date(2025, 1, 1)), (date(2023, 7, 1), date(2024, 1, 1)), 90
    ),
    # Calendar years, the plainest reading of 전년대비 (no published figure).
    Framing(
        "calendar_2024",
        (date(2024, 1, 1), date(2025, 1, 1)),
        (date(2023, 1, 1), date(2024, 1, 1)),
        None,
    ),
]
