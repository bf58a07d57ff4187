"""Budget execution and incentive statements for the demo, as the finance system and the
smart-band operator would export them, stored through the real importers (so the page cites a
file name and an import time, as it would for a city's own files).

- Execution for the fiscal year of the month before ``end``, January to that month: Goyang
  Ilsan-dong-gu's platform in 백만원 (national, provincial, city money), five Seoul district
  lines and Daedeok-gu's mobile safe-care in 천원 (a cumulative export with a two-row header).
  Most lines follow an S-curve towards about 97 % of plan; Eunpyeong-gu lags (불용 risk); a
  Daedeok line's 단가 × 수량 disagrees with its plan (flagged, as the documents' checks do).
- Incentive points for 2023 (the year of the documented 14,000,000 천원 budget) per Seoul
  district and month, growing through the year so the budget runs out in late November.
"""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
from sqlalchemy import Connection

from dashboard.catalog import read_regions
from dashboard.finance import budget as budget_import
from dashboard.finance import incentives as incentive_import
from dashboard.finance.common import FileReport, import_into
from dashboard.settings import LOCAL_TZ

ACTOR = "system:demo"
INCENTIVE_YEAR = 2023
INCENTIVE_TOTAL_WON = 16_200_000_000  # earned in the year: the budget runs out in November

# (region code, unit project, funding source, plan, target share of plan by December,
#  unit price in won, quantity) — plan in the file's unit.
GOYANG = (
    ("4128500000", "ICT 기반 스마트 건강관리 플랫폼 운영", "국비", Decimal("120"), 0.98),
    ("4128500000", "ICT 기반 스마트 건강관리 플랫폼 운영", "도비", Decimal("60"), 0.97),
    ("4128500000", "ICT 기반 스마트 건강관리 플랫폼 운영", "시비", Decimal("104"), 0.96),
)
SEOUL_DAEDEOK = (
    ("1168000000", "스마트 안부확인 서비스", "시비", Decimal("180000"), 0.98, None, None),
    ("1168000000", "스마트 안부확인 서비스", "구비", Decimal("120000"), 0.96, None, None),
    ("1135000000", "스마트 안부확인 서비스", "시비", Decimal("150000"), 0.97, None, None),
    ("1135000000", "스마트 안부확인 서비스", "구비", Decimal("90000"), 0.95, None, None),
    ("1138000000", "스마트 안부확인 서비스", "구비", Decimal("80000"), 0.55, None, None),
    ("3023000000", "1인 가구 모바일 안심케어", "구비", Decimal("48000"), 0.97, 16000, 3000),
    ("3023000000", "1인 가구 모바일 안심케어", "시비", Decimal("12000"), 0.96, 9900, 1200),
)
NAMES = {
    "4128500000": "일산동구",
    "1168000000": "강남구",
    "1135000000": "노원구",
    "1138000000": "은평구",
    "3023000000": "대덕구",
}


def fiscal_period(end: datetime) -> tuple[int, int]:
    """The last complete month before ``end`` (Seoul time): (year, month)."""
    local = end.astimezone(LOCAL_TZ).date().replace(day=1) - timedelta(days=1)
    return local.year, local.month


def _weights(rng: np.random.Generator) -> np.ndarray:
    """Twelve monthly shares of a year's execution: a little slower in spring than in autumn."""
    shares = np.linspace(0.85, 1.15, 12) * rng.uniform(0.9, 1.1, 12)
    return shares / shares.sum()


def _monthly(plan: Decimal, share: float, rng: np.random.Generator, step: Decimal) -> list:
    amounts = [
        (plan * Decimal(str(share)) * Decimal(str(w))).quantize(step, ROUND_HALF_UP)
        for w in _weights(rng)
    ]
    return amounts


def _fmt(amount: Decimal) -> str:
    text = f"{abs(amount):,}" if amount != amount.to_integral() else f"{abs(int(amount)):,}"
    return ("△" if amount < 0 else "") + text


def goyang_csv(year: int, last: int, rng: np.random.Generator) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f"{year}년 세출예산 집행현황 (일산동구보건소)"])
    w.writerow(["(단위: 백만원)"])
    top = ["회계연도", "집행월", "자치구", "단위사업", "재원", "예산액", "확보액"]
    w.writerow([*top, "월계획액", "집행액"])
    # The health centre plans its spending by month (월별 집행계획): the page's schedule.
    schedule = [Decimal(p) / 100 for p in (7, 7, 8, 8, 8, 8, 8, 9, 9, 9, 9, 10)]  # % of plan
    for code, project, fund, plan, share in GOYANG:
        executed = _monthly(plan, share, rng, Decimal("0.1"))[:last]
        for month, amount in enumerate(executed, 1):
            planned = (plan * schedule[month - 1]).quantize(Decimal("0.1"), ROUND_HALF_UP)
            cells = [year, month, NAMES[code], project, fund, _fmt(plan), _fmt(plan)]
            w.writerow([*cells, _fmt(planned), _fmt(amount)])
    return out.getvalue().encode("utf-8-sig")


def seoul_daedeok_csv(year: int, last: int, rng: np.random.Generator) -> bytes:
    """A cumulative (누계) export with a merged two-row header, as e-호조 prints it."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f"{year}년 스마트 돌봄 사업 예산 집행 현황"])
    w.writerow(["", "", "", "", "", "", "", "(단위: 천원)"])
    w.writerow(
        [
            "회계연도",
            "월",
            "자치구",
            "단위사업",
            "재원",
            "예산액",
            "확보액",
            "집행액",
            "",
            "산출근거",
            "",
        ]
    )
    w.writerow(["", "", "", "", "", "", "", "당월", "누계", "단가", "수량"])
    for code, project, fund, plan, share, price, qty in SEOUL_DAEDEOK:
        monthly = _monthly(plan, share, rng, Decimal("1"))
        if code == "1168000000" and fund == "시비":
            monthly[5] = Decimal(-800)  # a June correction: a refund booked as △
        cumulative = Decimal(0)
        for month, amount in enumerate(monthly[:last], 1):
            cumulative += amount
            w.writerow(
                [
                    year,
                    month,
                    NAMES[code],
                    project,
                    fund,
                    _fmt(plan),
                    _fmt(plan),
                    _fmt(amount),
                    _fmt(cumulative),
                    "" if price is None else f"{price:,}",
                    "" if qty is None else f"{qty:,}",
                ]
            )
    return out.getvalue().encode("utf-8-sig")


def seoul_districts() -> list[str]:
    """Seoul's 25 districts from the catalog, in code order."""
    return [
        r.name_ko
        for r in sorted(read_regions(), key=lambda r: r.code)
        if r.level == "district" and r.parent_code == "1100000000"
    ]


def incentive_csv(rng: np.random.Generator) -> bytes:
    """2023's statement: earned points growing through the year, a third redeemed, a little
    expired; districts weighted by their people over 65 living alone."""
    months = np.arange(1, 13)
    growth = np.linspace(0.6, 1.4, 12) * rng.uniform(0.95, 1.05, 12)
    per_month = growth / growth.sum() * INCENTIVE_TOTAL_WON
    districts = seoul_districts()
    weights = rng.uniform(0.7, 1.3, len(districts))
    weights = weights / weights.sum()
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([f"손목닥터 9988 {INCENTIVE_YEAR}년 포인트 월별 정산 (단위: 포인트)"])
    w.writerow(["연도", "월", "자치구", "적립포인트", "사용포인트", "소멸포인트"])
    for month, total in zip(months, per_month, strict=True):
        for district, share in zip(districts, weights, strict=True):
            earned = int(total * share)
            redeemed = int(earned * rng.uniform(0.25, 0.4))
            expired = int(earned * rng.uniform(0.0, 0.01))
            w.writerow(
                [
                    INCENTIVE_YEAR,
                    int(month),
                    district,
                    f"{earned:,}",
                    f"{redeemed:,}",
                    f"{expired:,}",
                ]
            )
    return out.getvalue().encode("utf-8-sig")


def generate(conn: Connection, end: datetime, seed: int) -> dict[str, int]:
    """Import the demo's files on the builder's transaction; rows stored per table."""
    year, last = fiscal_period(end)
    rng = np.random.Generator(np.random.PCG64([seed, 11]))
    files = [
        (budget_import.FILE, f"일산동구_{year}_세출집행현황.csv", goyang_csv(year, last, rng)),
        (
            budget_import.FILE,
            f"스마트돌봄_{year}_집행현황_누계.csv",
            seoul_daedeok_csv(year, last, rng),
        ),
        (
            incentive_import.FILE,
            f"손목닥터9988_{INCENTIVE_YEAR}_포인트정산.csv",
            incentive_csv(rng),
        ),
    ]
    counts = {"budget_execution": 0, "incentive_ledger": 0}
    for kind, name, data in files:
        report: FileReport = import_into(conn, kind, data, name, ACTOR, end)
        if not report.ok:  # the generator and the importer disagree: a bug, not bad data
            raise RuntimeError(f"demo file {name} refused:\n{report.summary()}")
        counts[kind.kind] += len(report.new)
    return counts
