"""Monthly smoking complaints per site and the year-on-year framings of the published figures."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

import pandas as pd
from sqlalchemy import Connection, select

from dashboard.db.schema import Complaint, ComplaintSite
from dashboard.settings import LOCAL_TZ
from queries.common import frame


def sites(conn: Connection, category: str = "smoking") -> pd.DataFrame:
    """Monitored sites: site_id, code, name_ko, name_en, measures_from (detector go-live)."""
    stmt = (
        select(
            ComplaintSite.id.label("site_id"),
            ComplaintSite.code,
            ComplaintSite.name_ko,
            ComplaintSite.name_en,
            ComplaintSite.measures_from,
        )
        .where(ComplaintSite.category == category)
        .order_by(ComplaintSite.code)
    )
    return frame(conn, stmt, dates=["measures_from"])


def _received(conn: Connection, category: str, monitored_only: bool = False) -> pd.DataFrame:
    stmt = select(Complaint.site_id, Complaint.received_at).where(Complaint.category == category)
    if monitored_only:  # sites with detectors: the documents' "5곳"
        stmt = stmt.join(ComplaintSite, ComplaintSite.id == Complaint.site_id).where(
            ComplaintSite.measures_from.is_not(None)
        )
    return frame(conn, stmt, times=["received_at"])


def monthly(conn: Connection, category: str = "smoking") -> pd.DataFrame:
    """Complaints per Asia/Seoul calendar month and site: month (date), site_id, complaints.

    Months are cut in Python so both engines agree on the local time zone; complaint volumes are
    small (thousands a year), so moving the timestamps is cheap.
    """
    df = _received(conn, category)
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
