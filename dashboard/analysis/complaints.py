"""The complaint effect estimates of the 민원 추이 page, from its monthly counts per site.

Only complete Seoul months are used: the running month would look like a fall. Sites with a
go-live date (``measures_from``) are the monitored ones; sites without one are the comparison
places of the difference in differences.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import pandas as pd

from dashboard.analysis.effects import (
    Effect,
    difference_in_differences,
    interrupted_time_series,
    month_range,
    month_start,
)


@dataclass(frozen=True)
class ComplaintEffects:
    first_month: date | None
    last_month: date | None  # the last complete month used
    golive: date | None  # the overall go-live (the earliest of the monitored sites)
    golive_dates: tuple[date, ...] = ()
    overall: Effect | None = None
    did: Effect | None = None
    per_site: dict[int, Effect] = field(default_factory=dict)


def _previous_month(value: date) -> date:
    start = month_start(value)
    return date(start.year - (start.month == 1), (start.month - 2) % 12 + 1, 1)


def complaint_effects(
    monthly: pd.DataFrame,
    sites: pd.DataFrame,
    today: date,
    *,
    first: date | None = None,
    last: date | None = None,
) -> ComplaintEffects:
    """``monthly``: month, site_id, complaints (``queries.complaints.monthly``); ``sites``:
    site_id, measures_from. ``first``/``last`` narrow the window (the page's period); months
    from ``today``'s on are incomplete and left out."""
    treated = sites.dropna(subset=["measures_from"])
    dates = tuple(sorted(set(treated["measures_from"])))
    end = _previous_month(today)
    if last is not None:
        end = min(end, month_start(last))
    known = monthly.dropna(subset=["site_id"])
    known = known[known["site_id"].isin(sites["site_id"])]
    if treated.empty or known.empty:
        return ComplaintEffects(None, None, None, dates)
    start = max(min(known["month"]), month_start(first)) if first else min(known["month"])
    if start > end:
        return ComplaintEffects(None, None, None, dates)
    months = month_range(start, end)
    grid = (
        known.pivot_table(index="month", columns="site_id", values="complaints", aggfunc="sum")
        .reindex(index=months, columns=list(sites["site_id"]))
        .fillna(0)
    )
    golive = dates[0]
    treated_ids = list(treated["site_id"])
    overall = interrupted_time_series(grid[treated_ids].sum(axis=1), golive, units=len(treated_ids))
    per_site = {
        int(r["site_id"]): interrupted_time_series(grid[r["site_id"]], r["measures_from"])
        for r in treated.to_dict("records")
    }
    panel = grid.stack().rename("complaints").reset_index()
    panel.columns = ["month", "unit", "complaints"]
    panel["treated"] = panel["unit"].isin(treated_ids)
    did = difference_in_differences(panel, golive)
    return ComplaintEffects(start, end, golive, dates, overall, did, per_site)
