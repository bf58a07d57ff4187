"""Loading the reference CSVs into the database, on SQLite and PostgreSQL."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select, update

from dashboard.db.schema import BudgetLine, PublishedFigure
from dashboard.reference.checks import check_budget_tables
from dashboard.reference.csvdata import read_budget_lines, read_published_figures
from dashboard.reference.load import load_reference

D = Decimal


def _counts(conn) -> dict[str, int]:
    return {
        "published_figures": conn.scalar(select(func.count()).select_from(PublishedFigure)),
        "budget_lines": conn.scalar(select(func.count()).select_from(BudgetLine)),
    }


def _figure(conn, key: str) -> PublishedFigure:
    return conn.execute(select(PublishedFigure).where(PublishedFigure.figure_key == key)).one()


def test_load_inserts_every_row_and_reads_back_exact_values(db_engine):
    expected = {
        "published_figures": len(read_published_figures()),
        "budget_lines": len(read_budget_lines()),
    }
    with db_engine.begin() as conn:
        assert load_reference(conn) == expected
    with db_engine.connect() as conn:
        assert _counts(conn) == expected
        calls = _figure(conn, "goyang.ai_call.calls_cumulative")
        assert (calls.value, calls.unit, calls.program_code) == (D("43055"), "건", "goyang_ai_call")
        assert _figure(conn, "goyang.mobile_health.behaviour_improvement_rate").value == D("57.4")
        assert _figure(conn, "goyang.smoking.complaints_change_yoy_2024h2").value == D("-90")
        opened = _figure(conn, "goyang.health_park.opened")
        assert (opened.period, opened.source_doc) == ("2024-11-29", "seed-000")

        plan_total = conn.execute(
            select(BudgetLine.amount, BudgetLine.is_total).where(
                BudgetLine.source_table == "연도별 투자계획(사업비)",
                BudgetLine.unit_project == "계",
                BudgetLine.period == "total",
            )
        ).one()
        assert plan_total == (D("1731.6"), True)
        incentive = conn.execute(
            select(BudgetLine).where(
                BudgetLine.line_item == "참여자 인센티브 제공",
                BudgetLine.source_table == "산출근거",
            )
        ).one()
        assert incentive.formula == "100,000원*280,000명*50%"
        assert (incentive.unit_price_won, incentive.quantity, incentive.rate) == (
            D("100000"),
            D("280000"),
            D("0.5"),
        )
        assert incentive.amount == D("14000000")
        assert incentive.is_total is False
        executed = conn.scalar(
            select(func.sum(BudgetLine.amount)).where(
                BudgetLine.city == "goyang",
                BudgetLine.measure == "executed",
                BudgetLine.is_total.is_(False),
            )
        )
        assert executed == D("820.7")  # detail cells only: the 계 row and column are is_total
        daedeok_secured = conn.scalar(
            select(BudgetLine.amount).where(
                BudgetLine.city == "daedeok",
                BudgetLine.measure == "secured",
                BudgetLine.unit_project == "계",
            )
        )
        assert daedeok_secured == D("135")


def test_checks_run_on_rows_read_back_from_the_database(db_engine):
    with db_engine.begin() as conn:
        load_reference(conn)
    with db_engine.connect() as conn:
        stored = conn.execute(select(BudgetLine).order_by(BudgetLine.id)).all()
        figures = conn.execute(select(PublishedFigure)).all()
    from_db = {
        (f.kind, f.where, f.expected, f.printed) for f in check_budget_tables(stored, figures)
    }
    from_csv = {
        (f.kind, f.where, f.expected, f.printed)
        for f in check_budget_tables(read_budget_lines(), read_published_figures())
    }
    assert from_db == from_csv
    assert len(from_db) == 4


def test_a_second_load_without_replace_leaves_stored_data_untouched(db_engine):
    with db_engine.begin() as conn:
        first = load_reference(conn)
    # Someone corrected a stored value by hand; a routine reload must not undo it.
    with db_engine.begin() as conn:
        conn.execute(
            update(PublishedFigure)
            .where(PublishedFigure.figure_key == "daedeok.call_monitor.people_monitored")
            .values(value=D("950"))
        )
    with db_engine.begin() as conn:
        assert load_reference(conn) == {"published_figures": 0, "budget_lines": 0}
    with db_engine.connect() as conn:
        assert _counts(conn) == first
        assert _figure(conn, "daedeok.call_monitor.people_monitored").value == D("950")


def test_replace_reloads_both_tables(db_engine):
    with db_engine.begin() as conn:
        first = load_reference(conn)
        conn.execute(update(BudgetLine).values(amount=D("1")))
    with db_engine.begin() as conn:
        assert load_reference(conn, replace=True) == first
    with db_engine.connect() as conn:
        assert _counts(conn) == first
        total = conn.scalar(
            select(BudgetLine.amount).where(
                BudgetLine.city == "seoul",
                BudgetLine.source_table == "예산 총괄",
                BudgetLine.category == "계",
                BudgetLine.period == "2023",
            )
        )
        assert total == D("17118825")


def test_load_runs_inside_the_callers_transaction(db_engine):
    with db_engine.connect() as conn:
        trans = conn.begin()
        assert load_reference(conn)["budget_lines"] > 0
        trans.rollback()
    with db_engine.connect() as conn:
        assert _counts(conn) == {"published_figures": 0, "budget_lines": 0}


def test_documents_are_cited_by_publisher_and_title() -> None:
    from dashboard.reference.documents import cite, cite_message, publisher

    assert publisher("seed-000") == "고양시 일산동구보건소"  # the team in brackets left out
    assert cite("seed-001", "ko") == (
        "서울특별시 시민건강국 스마트건강과 "
        "《2023년 예산 사업설명서: 서울형 헬스케어 운영 (손목닥터 9988)》"
    )
    assert cite("seed-002", "en").endswith(
        "“Pledge card 4-3: mobile safe-care for one-person households”"
    )
    assert cite_message("seed-001 「산출근거」 a · b", "seed-001", "ko") == (
        "서울특별시 시민건강국 스마트건강과 「산출근거」 a · b"
    )
