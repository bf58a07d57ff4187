"""Smoking complaints at the detector sites and a few unmonitored sites.

Half-year totals at the five detector sites are fixed so the documented effect holds exactly:
2023 H1 = 2023 H2 = 300, 2024 H1 = 195 (−35 % year on year, and against 2023 H2), 2024 H2 = 30
(−90 % against 2023 H2). Unmonitored sites stay level and serve as the comparison.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np

from dashboard.demo.clock import KST
from dashboard.demo.context import Ctx

START = date(2022, 1, 1)
MONITORED_HALF = {  # (year, half) → complaints at the 5 detector sites
    (2022, 1): 280,
    (2022, 2): 295,
    (2023, 1): 300,
    (2023, 2): 300,
    (2024, 1): 195,
    (2024, 2): 30,
}
AFTER = 32  # each later half-year: detectors keep it low
UNMONITORED_HALF = 36  # per unmonitored site
SEASON = np.array([0.8, 0.75, 0.9, 1.0, 1.1, 1.15, 1.2, 1.2, 1.1, 1.0, 0.9, 0.8])
WEEKDAY = np.array([1.2, 1.1, 1.1, 1.1, 1.15, 0.7, 0.65])
HOURS = np.array(
    [
        0.3,
        0.1,
        0,
        0,
        0,
        0,
        0.1,
        0.5,
        1.5,
        3,
        3,
        2.5,
        2.5,
        2.5,
        2.5,
        2.5,
        2.5,
        2.5,
        2.5,
        2.5,
        2,
        1.5,
        1,
        0.6,
    ]
)


def _half_days(year: int, half: int) -> list[date]:
    a = date(year, 1 if half == 1 else 7, 1)
    b = date(year, 7, 1) if half == 1 else date(year + 1, 1, 1)
    return [a + timedelta(days=i) for i in range((b - a).days)]


def generate(ctx: Ctx, sites: list[dict]) -> list[dict]:
    rng = ctx.rng
    end = ctx.grid.end
    start = min(START, (end - timedelta(days=int(2.5 * 365) + 31)).date())
    monitored = [s for s in sites if s["measures_from"] is not None]
    others = [s for s in sites if s["measures_from"] is None]
    site_w = rng.uniform(0.6, 1.4, len(monitored))
    rows: list[dict] = []
    for year in range(start.year, end.year + 1):
        for half in (1, 2):
            days = [d for d in _half_days(year, half) if d >= start]
            if not days:
                continue
            day_w = np.array([SEASON[d.month - 1] * WEEKDAY[d.weekday()] for d in days])
            total = MONITORED_HALF.get((year, half), AFTER if year >= 2025 else 290)
            groups = [(monitored, total, site_w)] + [
                ([s], UNMONITORED_HALF, np.ones(1)) for s in others
            ]
            for group, n, w in groups:
                n = round(n * len(days) / len(_half_days(year, half)))
                which = rng.choice(len(group), n, p=w / w.sum())
                dsel = rng.choice(len(days), n, p=day_w / day_w.sum())
                hours = rng.choice(24, n, p=HOURS / HOURS.sum())
                secs = rng.integers(0, 3600, n)
                chan = rng.choice(["online", "phone", "visit"], n, p=[0.55, 0.38, 0.07])
                for j in range(n):
                    d = days[dsel[j]]
                    local = datetime(d.year, d.month, d.day, tzinfo=UTC) + timedelta(
                        hours=int(hours[j]), seconds=int(secs[j])
                    )
                    at = local - KST
                    if at > end:
                        continue
                    site = group[which[j]]
                    rows.append(
                        {
                            "site_id": site["id"],
                            "region_id": site["region_id"],
                            "category": "smoking",
                            "channel": str(chan[j]),
                            "received_at": at,
                        }
                    )
    rows.sort(key=lambda r: r["received_at"])
    return rows
