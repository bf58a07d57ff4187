"""The budget tables add up to the published totals, and the checks catch what does not."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from dashboard.reference.checks import (
    FORMULA_TOLERANCE_WON,
    check_budget_changes,
    check_budget_tables,
    check_figure_sums,
    check_formula_line,
)
from dashboard.reference.csvdata import (
    BudgetRow,
    read_budget_lines,
    read_figure_sums,
    read_published_figures,
)

D = Decimal
GOYANG_PLAN = "연도별 투자계획(사업비)"
GOYANG_SECURED = "연도별 확보(집행)액"
SEOUL_SUMMARY = "예산 총괄"
SEOUL_DETAIL = "산출근거"
DAEDEOK = "연도별 투자계획"


@pytest.fixture(scope="module")
def lines() -> list[BudgetRow]:
    return read_budget_lines()


@pytest.fixture(scope="module")
def figures():
    return read_published_figures()


def table(lines, city, name, measure=None):
    return [
        c
        for c in lines
        if c.city == city and c.source_table == name and (measure is None or c.measure == measure)
    ]


def cell(cells, *, period, project=None, source=None, category=None, item=None):
    found = [
        c
        for c in cells
        if c.period == period
        and (project is None or c.unit_project == project)
        and (source is None or c.funding_source == source)
        and (category is None or c.category == category)
        and (item is None or c.line_item == item)
    ]
    assert len(found) == 1, (period, project, source, category, item, found)
    return found[0].amount


def detail(cells):
    """Source rows only: not the 계 row, not a total column."""
    return [c for c in cells if not c.is_total]


def total_row(cells, period):
    return cell(cells, period=period, project="계")


# --- Goyang (seed 000) --------------------------------------------------------------------------


GOYANG_PLAN_COLUMNS = {
    "total": D("1731.6"),
    "prior": D("672"),
    "2022-07": D("251"),
    "2023": D("284"),
    "2024": D("337.6"),
    "2025": D("93.5"),
    "2026-06": D("93.5"),
}


def test_goyang_plan_columns_add_up_to_the_printed_totals(lines):
    plan = table(lines, "goyang", GOYANG_PLAN, "plan")
    for period, printed in GOYANG_PLAN_COLUMNS.items():
        assert total_row(plan, period) == printed
        rows = [c for c in plan if c.unit_project != "계" and c.period == period]
        assert sum((c.amount for c in rows), D(0)) == printed, period
    grand = sum((c.amount for c in detail(plan)), D(0))
    assert grand == D("1731.6")


def test_goyang_plan_rows_add_up_to_their_printed_totals(lines):
    plan = table(lines, "goyang", GOYANG_PLAN, "plan")
    rows = {(c.unit_project, c.funding_source) for c in plan}
    assert len(rows) == 11  # 계 + 10 source rows with a printed value
    for project, source in rows:
        cells = [c for c in plan if (c.unit_project, c.funding_source) == (project, source)]
        printed = next(c.amount for c in cells if c.period == "total")
        assert sum((c.amount for c in cells if c.period != "total"), D(0)) == printed
    assert cell(plan, period="total", project="건강생활실천 플랫폼", source="national") == D(
        "590.2"
    )
    assert cell(plan, period="2024", project="AI돌봄 플랫폼", source="provincial") == D("202.3")


@pytest.mark.parametrize(
    ("period", "secured", "executed"),
    [
        ("2022-07", D("251"), D("251")),
        ("2023", D("284"), D("244")),
        ("2024", D("361.9"), D("325.7")),
        ("total", D("896.9"), D("820.7")),
    ],
)
def test_goyang_secured_and_executed_totals(lines, period, secured, executed):
    for measure, printed in (("secured", secured), ("executed", executed)):
        cells = table(lines, "goyang", GOYANG_SECURED, measure)
        assert total_row(cells, period) == printed
        rows = [c for c in cells if c.unit_project != "계" and c.period == period]
        assert sum((c.amount for c in rows), D(0)) == printed


def test_goyang_secured_cells_match_the_document(lines):
    secured = table(lines, "goyang", GOYANG_SECURED, "secured")
    executed = table(lines, "goyang", GOYANG_SECURED, "executed")
    assert cell(secured, period="total", project="AI돌봄 플랫폼", source="provincial") == D("203")
    assert cell(executed, period="total", project="AI돌봄 플랫폼", source="provincial") == D("169")
    assert cell(executed, period="2024", project="건강생활실천 플랫폼", source="city") == D("14")
    # '25, '26.6. and 임기후 are blank in the secured table: no cells, not zeros.
    assert not [c for c in secured + executed if c.period in ("2025", "2026-06", "after")]


def test_goyang_tables_produce_no_finding(lines):
    goyang = [c for c in lines if c.city == "goyang"]
    assert check_budget_tables(goyang) == []


def test_an_altered_goyang_cell_is_caught_in_its_row_and_column(lines):
    target = next(
        c
        for c in lines
        if c.source_table == GOYANG_PLAN
        and c.unit_project == "정신건강 플랫폼"
        and c.funding_source == "city"
        and c.period == "2023"
    )
    altered = [dataclasses.replace(c, amount=D("39")) if c is target else c for c in lines]
    findings = [f for f in check_budget_tables(altered) if f.city == "goyang"]
    assert {(f.kind, f.expected, f.printed) for f in findings} == {
        ("row_total", D("99"), D("98")),  # 정신건강 시비 row: 15 + 39 + 15 + 15 + 15
        ("column_total", D("285"), D("284")),  # '23 column
    }  # the 계 column still adds up: it sums the printed row totals, which did not change


def test_executed_above_secured_is_caught(lines):
    altered = [
        dataclasses.replace(c, amount=D("250"))
        if c.source_table == GOYANG_SECURED
        and c.measure == "executed"
        and c.unit_project == "AI돌봄 플랫폼"
        and c.funding_source == "provincial"
        else c
        for c in lines
    ]
    findings = [f for f in check_budget_tables(altered) if f.kind == "executed_exceeds_secured"]
    assert {(f.where, f.expected, f.printed) for f in findings} == {
        ("AI돌봄 플랫폼 / provincial · 2024", D("203"), D("250")),
        ("AI돌봄 플랫폼 / provincial · total", D("203"), D("250")),
    }


# --- Seoul (seed 001) ---------------------------------------------------------------------------


def test_seoul_summary_adds_up(lines):
    summary = table(lines, "seoul", SEOUL_SUMMARY)
    for period, printed in (("2022", D("3472320")), ("2023", D("17118825"))):
        assert cell(summary, period=period, category="계") == printed
        rows = [c for c in summary if c.category != "계" and c.period == period]
        assert sum((c.amount for c in rows), D(0)) == printed
    # 공공운영비 2022 is printed blank: no cell rather than an invented 0.
    assert not [c for c in summary if c.category == "공공운영비" and c.period == "2022"]
    assert {c.funding_source for c in summary} == {"city"}


def test_seoul_line_items_add_up_to_the_budget(lines):
    items = [c for c in table(lines, "seoul", SEOUL_DETAIL) if not c.is_total]
    assert len(items) == 13
    assert sum((c.amount for c in items), D(0)) == D("17118825")
    office = [c for c in items if c.category == "사무관리비"]
    assert sum((c.amount for c in office), D(0)) == D("3034325")
    schedule = table(lines, "seoul", "2023년도 추진일정")
    assert cell(schedule, period="2023", item="계") == D("17118825")
    # 사업 홍보, 전문가 자문 (569,500) spans categories: 기간제 36,000 + 자문·홍보 205,000
    # + 언론 130,000 + 방송 150,000 + 문자 48,500.
    parts = [
        cell(items, period="2023", item="홍보 마케팅 전문인력 기간제인건비"),
        cell(table(lines, "seoul", SEOUL_DETAIL), period="2023", item="헬스케어 자문, 홍보비"),
        cell(items, period="2023", item="손목닥터 9988 홍보비(언론홍보)"),
        cell(items, period="2023", item="손목닥터 9988 홍보비(방송홍보)"),
        cell(items, period="2023", item="문자 전송비"),
    ]
    assert sum(parts, D(0)) == cell(schedule, period="2023", item="사업 홍보, 전문가 자문")


def test_seoul_formula_lines_are_transcribed_with_their_factors(lines):
    items = {c.line_item: c for c in table(lines, "seoul", SEOUL_DETAIL)}
    incentive = items["참여자 인센티브 제공"]
    assert (incentive.unit_price_won, incentive.quantity, incentive.rate) == (
        D("100000"),
        D("280000"),
        D("0.5"),
    )
    assert incentive.formula == "100,000원*280,000명*50%"
    assert incentive.amount == D("14000000")
    supporters = items["헬스케어 자문, 홍보비 > 서포터즈 운영"]
    assert supporters.quantity == D("500")  # 50명 × 10개월
    assert items["빅데이터 분석, 관리, 운영 용역"].amount == D("200000")
    assert items["문자 전송비"].amount == D("48500")


# --- Daedeok (seed 002) -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "plan", "secured", "executed"),
    [
        ("national", D("0"), D("4"), D("3")),
        ("city", D("123"), D("11"), D("5")),
        ("district", D("123"), D("26"), D("15")),
        ("private", D("94"), D("94"), D("92")),
    ],
)
def test_daedeok_sources(lines, source, plan, secured, executed):
    def amount(measure, period):
        return cell(table(lines, "daedeok", DAEDEOK, measure), period=period, source=source)

    assert amount("plan", "total") == plan
    assert amount("plan", "term") == plan
    assert amount("secured", "cumulative") == secured
    assert amount("executed", "cumulative") == executed


def test_daedeok_totals(lines):
    cells = table(lines, "daedeok", DAEDEOK)
    plan = [c for c in cells if c.measure == "plan"]
    years = {"2022": D("94"), "2023": D("60"), "2024": D("60"), "2025": D("62"), "2026-06": D("64")}
    for period, printed in {**years, "total": D("340"), "term": D("340")}.items():
        assert total_row(plan, period) == printed
        rows = [c for c in plan if c.unit_project != "계" and c.period == period]
        assert sum((c.amount for c in rows), D(0)) == printed
    assert sum(years.values(), D(0)) == D("340")
    assert total_row([c for c in cells if c.measure == "secured"], "cumulative") == D("135")
    assert total_row([c for c in cells if c.measure == "executed"], "cumulative") == D("115")


# --- the inconsistencies in the documents -------------------------------------------------------

KNOWN_FINDINGS = {
    (
        "formula",
        "seoul",
        SEOUL_DETAIL,
        "서울형 헬스케어 운영 / 사무관리비 / 상담센터 운영 용역 > 사무공간 임대료 및 콜 시스템 "
        "사용료 등 / city · 2023 · 657,359,000원*1식",
        D("657359"),
        D("656685"),
    ),
    (
        "row_total",
        "daedeok",
        DAEDEOK,
        "plan · 계 · total (2022+2023+2024+2025+2026-06+after)",
        D("404"),
        D("340"),
    ),
    ("column_total", "daedeok", DAEDEOK, "plan · 계 · after", D("0"), D("64")),
    (
        "change_percent_undefined",
        "seoul",
        SEOUL_SUMMARY,
        "공공운영비 · (B-A)*100/A",
        None,
        D("100"),
    ),
}


def _summary(findings):
    return {(f.kind, f.city, f.table, f.where, f.expected, f.printed) for f in findings}


def test_the_documents_known_inconsistencies_are_found_exactly(lines, figures):
    findings = check_budget_tables(lines, figures)
    assert len(findings) == len(KNOWN_FINDINGS)
    assert _summary(findings) == KNOWN_FINDINGS
    for f in findings:
        assert f.message_ko and f.message_en
        assert f.source_doc in ("seed-001", "seed-002")


def test_correcting_the_daedeok_after_cell_clears_both_daedeok_findings(lines):
    fixed = [
        dataclasses.replace(c, amount=D("0"))
        if c.city == "daedeok" and c.unit_project == "계" and c.period == "after"
        else c
        for c in lines
    ]
    assert not [f for f in check_budget_tables(fixed) if f.city == "daedeok"]


def test_seoul_printed_subtotals_follow_the_printed_line_not_the_formula(lines):
    # With the unit price that matches 656,685천원 everything in seed 001 adds up ...
    item = "상담센터 운영 용역 > 사무공간 임대료 및 콜 시스템 사용료 등"
    by_price = [
        dataclasses.replace(c, unit_price_won=D("656685000")) if c.line_item == item else c
        for c in lines
    ]
    assert not [f for f in check_budget_tables(by_price) if f.city == "seoul"]
    # ... while taking the formula's 657,359천원 breaks the printed subtotal and the summary.
    by_formula = [
        dataclasses.replace(c, amount=D("657359")) if c.line_item == item else c for c in lines
    ]
    kinds = {(f.kind, f.expected, f.printed) for f in check_budget_tables(by_formula)}
    assert ("column_total", D("2349999"), D("2349325")) in kinds
    assert ("cross_table", D("3034999"), D("3034325")) in kinds


def test_a_wrong_printed_percentage_is_caught(lines, figures):
    assert _summary(check_budget_changes(lines, figures)) == {
        f for f in KNOWN_FINDINGS if f[0].startswith("change")
    }
    altered = [
        dataclasses.replace(f, value=D("390"))
        if f.figure_key == "seoul.wrist_doctor.budget.total.change_pct"
        else f
        for f in figures
    ]
    wrong = [f for f in check_budget_changes(lines, altered) if f.kind == "change_percent"]
    assert [(f.expected, f.printed) for f in wrong] == [(D("393.01"), D("390"))]


def test_a_wrong_printed_change_is_caught(lines, figures):
    altered = [
        dataclasses.replace(f, value=D("2194000"))
        if f.figure_key == "seoul.wrist_doctor.budget.office.change"
        else f
        for f in figures
    ]
    wrong = [f for f in check_budget_changes(lines, altered) if f.kind == "change_amount"]
    assert [(f.expected, f.printed) for f in wrong] == [(D("2194325"), D("2194000"))]


# --- one formula line ---------------------------------------------------------------------------


def test_formula_rounding_under_one_thousand_won_is_accepted():
    result = check_formula_line(D("33852816"), D("50"), None, D("1692640"), "천원")
    assert result.ok
    assert result.expected == D("1692640.8")
    assert result.difference_won == D("-800")


def test_formula_mismatch_is_flagged():
    result = check_formula_line(D("657359000"), D("1"), None, D("656685"), "천원")
    assert not result.ok
    assert result.expected == D("657359")
    assert result.difference_won == D("-674000")


def test_formula_with_rate():
    assert check_formula_line(D("100000"), D("280000"), D("0.5"), D("14000000"), "천원").ok
    assert not check_formula_line(D("100000"), D("280000"), None, D("14000000"), "천원").ok


def test_formula_tolerance_boundary():
    assert D("1000") == FORMULA_TOLERANCE_WON
    # 1,000,999원 printed as 1,000천원 is rounding; 1,001,000원 printed as 1,000천원 is not.
    assert check_formula_line(D("1000999"), D("1"), None, D("1000"), "천원").ok
    assert not check_formula_line(D("1001000"), D("1"), None, D("1000"), "천원").ok
    assert check_formula_line(D("1500000"), D("2"), None, D("3"), "백만원").ok
    assert check_formula_line(D("1500"), D("2"), None, D("3000"), "원").ok


def test_formula_unknown_unit_is_an_error():
    with pytest.raises(ValueError, match="unknown money unit"):
        check_formula_line(D("1"), D("1"), None, D("1"), "달러")


# --- published figures that are sums of other figures -------------------------------------------


def test_published_cumulative_figures_add_up(figures):
    sums = read_figure_sums()
    assert len(sums) >= 10
    assert check_figure_sums(figures, sums) == []
    altered = [
        dataclasses.replace(f, value=D("43056")) if f.figure_key.endswith("calls_cumulative") else f
        for f in figures
    ]
    findings = check_figure_sums(altered, sums)
    assert [(f.kind, f.expected, f.printed) for f in findings] == [
        ("figure_sum", D("43055"), D("43056"))
    ]
