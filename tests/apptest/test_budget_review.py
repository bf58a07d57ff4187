"""The budget page's review tabs against the demo city's imported files: execution to date,
불용 risk, the S-curve's table, the incentive budget and its run-out, filters in the URL."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date
from decimal import Decimal

import pytest
from sqlalchemy import select

from dashboard.db.schema import BudgetExecution, DataImport, IncentiveLedger, Region
from dashboard.finance.projections import run_out
from dashboard.formatting import format_amount, format_date, format_number, format_percent
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import metric, open_page, private_copy, texts

WON = {"원": 1, "천원": 1_000, "백만원": 1_000_000}


def _execution(engine, codes: tuple[str, ...] = ()) -> dict:
    """Straight from the table: per line, plan and execution to the latest month (in won)."""
    stmt = select(
        BudgetExecution.fiscal_year,
        BudgetExecution.month,
        BudgetExecution.region_id,
        BudgetExecution.unit_project,
        BudgetExecution.funding_source,
        BudgetExecution.unit,
        BudgetExecution.plan,
        BudgetExecution.executed,
        Region.code,
    ).join(Region, Region.id == BudgetExecution.region_id)
    with engine.connect() as conn:
        rows = [r for r in conn.execute(stmt) if not codes or r.code in codes]
    year = max(r.fiscal_year for r in rows)
    rows = [r for r in rows if r.fiscal_year == year]
    last = max(r.month for r in rows)
    lines: dict = defaultdict(lambda: {"plan": Decimal(0), "executed": Decimal(0), "month": 0})
    for r in rows:
        line = lines[(r.region_id, r.unit_project, r.funding_source)]
        line["executed"] += Decimal(r.executed) * WON[r.unit]
        if r.month > line["month"]:
            line["month"], line["plan"] = r.month, Decimal(r.plan) * WON[r.unit]
    return {"year": year, "last": last, "lines": lines, "units": {r.unit for r in rows}}


def test_execution_tab_shows_the_imported_totals_and_the_lines_at_risk(demo_db) -> None:
    data = _execution(demo_db)
    plan = sum(v["plan"] for v in data["lines"].values())
    executed = sum(v["executed"] for v in data["lines"].values())
    at = open_page("budget")
    # Goyang's file is in 백만원, the others in 천원: the sum is shown in 천원.
    assert data["units"] == {"천원", "백만원"}
    assert metric(at, "예산액 (천원)") == format_number(plan / 1000)
    assert metric(at, "누계 집행액 (천원)") == format_number(executed / 1000)
    assert metric(at, "집행률 (%)") == format_percent(executed / plan * 100)
    assert metric(at, "연말 예상 집행률 (%)") == format_percent(
        executed * 12 / data["last"] / plan * 100
    )
    risky = [
        k
        for k, v in data["lines"].items()
        if v["executed"] * 12 / data["last"] < Decimal("0.9") * v["plan"]
    ]
    assert 0 < len(risky) < len(data["lines"])  # the demo has lagging lines, not only
    warnings = [e.value for e in at.warning]
    assert any(e.startswith(f"불용 위험 {len(risky)}건") for e in warnings), warnings
    shown = texts(at)
    with demo_db.connect() as conn:
        files = conn.execute(
            select(DataImport.filename).where(DataImport.kind == "budget_execution")
        )
        for (name,) in files:
            assert any(md_escape(name) in s for s in shown), name  # each figure cites its file
    assert any("기준: 2024년 10월 말" in s for s in shown)
    # The formula check flags Daedeok's 9,900원 × 1,200 against its 12,000 천원 plan.
    assert any("9,900원 × 1,200" in s for s in shown)
    charts = [
        e.proto for kind in ("arrow_vega_lite_chart", "vega_lite_chart") for e in at.get(kind)
    ]
    assert charts, [type(e).__name__ for e in at.main]
    specs = [json.loads(c.spec) for c in charts]
    domains = [
        layer["encoding"]["color"]["scale"]["domain"]
        for s in specs
        for layer in s["layer"]
        if "color" in layer.get("encoding", {})
    ]
    assert ["집행 실적", "계획 일정", "현재 속도 전망"] in domains  # the S-curve's series


def test_district_filter_lives_in_the_url(demo_db) -> None:
    at = open_page("budget", district="3023000000")
    data = _execution(demo_db, ("3023000000",))
    plan = sum(v["plan"] for v in data["lines"].values())
    assert plan == 60_000_000  # Daedeok: 48,000 + 12,000 천원
    assert metric(at, "예산액 (천원)") == "60,000"
    assert at.query_params.get("district") in ("3023000000", ["3023000000"])
    # A stale code in a link falls back to every district instead of failing.
    at = open_page("budget", district="9999999999")
    assert not at.exception
    assert metric(at, "예산액 (천원)") != "60,000"


def test_a_district_whose_file_is_behind_is_not_flagged_for_the_missing_months(
    demo_db, tmp_path
) -> None:
    """Jongno's file reaches August while the others reach October: its 72,000 of 120,000
    천원 at 9,000 a month project to 108,000 (90 %), on track. Read as ten months it would be
    86,400 (72 %) and flagged 불용; the page says whose data stop earlier instead."""
    from datetime import UTC, datetime

    from dashboard.auth import SessionUser
    from dashboard.finance import import_budget

    rows = [
        f'2024,{m},종로구,스마트 안부확인 서비스,시비,"120,000","120,000","9,000"'
        for m in range(1, 9)
    ]
    header = "회계연도,월,자치구,단위사업,재원,예산액,확보액,집행액"
    data = "\n".join(["(단위: 천원)", header, *rows])
    lead = SessionUser("lead", "lead", "lead")
    before = open_page("budget")
    with private_copy(demo_db, tmp_path) as engine:
        report = import_budget(engine, data.encode(), "종로구.csv", lead, datetime.now(UTC))
        assert report.ok, report
        at = open_page("budget")
        risky, lines = (int(v) for v in metric(before, "불용 위험 사업").split(" / "))
        assert metric(at, "불용 위험 사업") == f"{risky} / {lines + 1}"  # one more line, on track
        warnings = [str(w.value) for w in at.warning]
        behind = "1개 사업은 자료가 2024년 10월까지 오지 않았습니다"
        assert any(w.startswith(behind) for w in warnings)
        shown = "\n".join(texts(at))
        assert "2024년 8월" in shown  # the line's own data month, in the lines table


def test_as_of_month_changes_the_projection(demo_db) -> None:
    at = open_page("budget", asof="6")
    assert any("기준: 2024년 6월 말" in s for s in texts(at))
    assert at.selectbox(key="url_asof").value == 6


def test_incentive_tab_against_the_document_budget(demo_db) -> None:
    at = open_page("budget")
    assert metric(at, "인센티브 예산") == "14,000,000 천원"
    shown = texts(at)
    cited = (
        "서울특별시 시민건강국 스마트건강과 "
        "《2023년 예산 사업설명서: 서울형 헬스케어 운영 (손목닥터 9988)》"
    )
    budget = f"예산: {md_escape(cited + ' 예산 총괄')} (문서)"
    assert any(budget in s and md_escape("포인트정산.csv") in s for s in shown)
    assert any("기준: 2023년 12월 말" in s for s in shown)
    stmt = select(IncentiveLedger.occurred_on, IncentiveLedger.kind, IncentiveLedger.points).where(
        IncentiveLedger.occurred_on >= date(2023, 1, 1),
        IncentiveLedger.occurred_on <= date(2023, 12, 31),
    )
    monthly: dict[date, float] = defaultdict(float)
    with demo_db.connect() as conn:
        for day, kind, points in conn.execute(stmt):
            if kind in ("earn", "expire"):
                monthly[date(day.year, day.month, 1)] += float(points)
    granted = sum(monthly.values())
    assert metric(at, "지급 포인트 누계 (적립 − 소멸)") == format_amount(granted / 1000, "천원")
    outcome = run_out(14_000_000_000, sorted(monthly.items()))
    assert outcome.already and outcome.on.year == 2023 and outcome.on.month == 11
    assert metric(at, "예산 소진 (예상)일") == format_date(outcome.on)


def test_a_year_without_a_statement_is_not_judged_on_the_sample_ledger(demo_db) -> None:
    """2022 has the document's budget (1,000,000 천원) and only the demo's per-person sample
    ledger: a sample of participants is no measure of the city's spending, so the tab asks for
    the operator's statement instead of saying the budget lasts the year."""
    at = open_page("budget", iyear="2022")
    assert any(e.value.startswith("2022년 운영사 포인트 정산 자료가 없습니다") for e in at.info)
    labels = [m.label for m in at.metric]
    assert "지급 포인트 누계 (적립 − 소멸)" not in labels and "예산 소진 (예상)일" not in labels
    assert not any("연말까지 남습니다" in str(e.value) for e in at.success)


@pytest.mark.parametrize("role", ["lead", "admin"])
def test_import_sections_for_those_who_may_import(demo_db, role: str) -> None:
    at = open_page("budget", role=role)
    labels = [e.label for e in at.expander]
    assert "예산 집행 자료 가져오기 (e-호조 월별 집행 현황)" in labels


@pytest.mark.parametrize("role", ["operator", "council"])
def test_no_import_sections_for_others(demo_db, role: str) -> None:
    at = open_page("budget", role=role)
    assert not any("가져오기" in e.label for e in at.expander)
    assert metric(at, "인센티브 예산") == "14,000,000 천원"  # the figures themselves are shown


def test_english(demo_db) -> None:
    at = open_page("budget", lang="en")
    assert metric(at, "Incentive budget") == "14,000,000 thousand won"
    assert not at.exception
