"""Budget execution and incentive statement imports: the finance system's shapes (title rows,
two-row headers, units, △), per-row errors naming row and column, all or nothing, preview,
idempotent re-import, audit, permission; on SQLite and PostgreSQL."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook
from sqlalchemy import func, select

from dashboard.auth import NotPermitted, SessionUser
from dashboard.catalog import load_catalog
from dashboard.db.schema import AuditLog, BudgetExecution, DataImport, IncentiveLedger, Region
from dashboard.finance import import_budget, import_incentives
from dashboard.finance.sheet import parse_amount
from dashboard.reference.load import load_reference
from dashboard.settings import PROJECT_ROOT

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")
SAMPLES = PROJECT_ROOT / "data" / "samples"
HEADER = "회계연도,월,자치구,단위사업,재원,예산액,확보액,집행액"


@pytest.fixture
def city(db_engine):
    with db_engine.begin() as conn:
        load_catalog(conn)
    return db_engine


def _csv(*lines: str, unit: str | None = "(단위: 천원)") -> bytes:
    head = ["2024년 집행현황,,,,,,,", unit] if unit else []
    return ("\n".join([*head, *lines]) + "\n").encode("utf-8")


def _rows(engine) -> list:
    with engine.connect() as conn:
        return conn.execute(
            select(BudgetExecution).order_by(BudgetExecution.region_id, BudgetExecution.month)
        ).all()


def _count(engine, model) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(func.count()).select_from(model))


def _region(engine, code: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(Region.id).where(Region.code == code))


# --- cells ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1,234", Decimal(1234)),
        ("△1,234", Decimal(-1234)),
        ("▲50", Decimal(-50)),
        ("-7.5", Decimal("-7.5")),
        ("(1,000)", Decimal(-1000)),
        ("-", Decimal(0)),
        (361.9, Decimal("361.9")),
        (1200, Decimal(1200)),
    ],
)
def test_amounts_as_finance_exports_print_them(raw, expected):
    assert parse_amount(raw) == expected


@pytest.mark.parametrize("raw", ["1,23", "12a", "1.2345", "△", True])
def test_malformed_amounts_are_refused(raw):
    with pytest.raises(ValueError):
        parse_amount(raw)


# --- budget execution ----------------------------------------------------------------------------


def test_sample_file_with_two_row_header_units_and_triangles(city):
    report = import_budget(
        city, (SAMPLES / "budget-execution-sample.csv").read_bytes(), "sample.csv", LEAD, NOW
    )
    assert report.ok, report.summary()
    assert report.stored and report.unit == "천원"
    assert (len(report.new), len(report.changed), report.unchanged) == (9, 0, 0)
    rows = _rows(city)
    gangnam = [r for r in rows if r.region_id == _region(city, "1168000000")]
    assert [r.executed for r in gangnam] == [Decimal(12400), Decimal(13100), Decimal(-800)]
    assert {r.unit for r in rows} == {"천원"} and gangnam[0].funding_source == "city"
    daedeok = [r for r in rows if r.region_id == _region(city, "3023000000")]
    assert daedeok[0].unit_price_won == 16000 and daedeok[0].quantity == 3000
    assert not report.flags  # 16,000원 × 3,000 = 48,000 천원: as stated


def test_reimport_is_idempotent_and_a_change_updates_in_place(city):
    data = (SAMPLES / "budget-execution-sample.csv").read_bytes()
    assert import_budget(city, data, "a.csv", LEAD, NOW).stored
    audits = _count(city, AuditLog)
    again = import_budget(city, data, "a.csv", LEAD, NOW)
    assert again.ok and not again.stored
    assert (len(again.new), len(again.changed), again.unchanged) == (0, 0, 9)
    assert _count(city, AuditLog) == audits and _count(city, DataImport) == 1
    changed = data.decode("utf-8").replace('"2,000","6,400"', '"2,500","6,900"').encode()
    preview = import_budget(city, changed, "b.csv", LEAD, NOW, dry_run=True)
    assert preview.ok and not preview.stored and [f for _k, f in preview.changed] == [("executed",)]
    report = import_budget(city, changed, "b.csv", LEAD, NOW)
    assert report.stored and len(report.changed) == 1 and report.unchanged == 8
    assert _count(city, BudgetExecution) == 9 and _count(city, DataImport) == 2
    with city.connect() as conn:
        row = conn.execute(
            select(BudgetExecution, DataImport.filename)
            .join(DataImport, DataImport.id == BudgetExecution.import_id)
            .where(BudgetExecution.executed == 2500)
        ).one()
        audit = conn.execute(select(AuditLog).order_by(AuditLog.id.desc())).first()
    assert row.filename == "b.csv"  # the changed line now cites the file that changed it
    assert audit.action == "budget_execution_import" and audit.actor == "lead-1"
    assert audit.detail["changed"] == 1 and audit.detail["filename"] == "b.csv"


def test_errors_name_row_and_column_and_nothing_is_stored(city):
    data = _csv(
        HEADER,
        "2024,1,강남구,스마트 안부확인,시비,1000,1000,100",
        "2024,13,강남구,스마트 안부확인,시비,1000,1000,100",
        "2024,2,없는구,스마트 안부확인,시비,1000,1000,100",
        "2024,3,강남구,스마트 안부확인,쌈짓돈,1000,1000,100",
        "2024,4,강남구,스마트 안부확인,시비,1000,1000,1O0",
        "2024,5,강남구,,시비,1000,1000,100",
        "2024,1,강남구,스마트 안부확인,시비,1000,1000,100",
        "2025,6,강남구,스마트 안부확인,시비,1000,1000,100",
    )
    report = import_budget(city, data, "bad.csv", LEAD, NOW)
    assert not report.ok and not report.stored
    where = [(e.row, e.column) for e in report.errors]
    assert where == [
        (5, "월"),
        (6, "자치구"),
        (7, "재원"),
        (8, "집행액"),
        (9, "단위사업"),
        (10, "단위사업"),
        (11, "월"),
    ]
    reasons = [e.reason for e in report.errors]
    assert "month 13 is not 1–12" in reasons[0]
    assert "unknown district '없는구'" in reasons[1]
    assert "as row 4" in reasons[5]  # the same line and month twice
    assert "in the future" in reasons[6]
    assert "row 8, column 집행액" in report.summary()
    assert _count(city, BudgetExecution) == 0 and _count(city, DataImport) == 0
    assert _count(city, AuditLog) == 0


def test_header_problems(city):
    no_unit = import_budget(
        city, _csv(HEADER, "2024,1,강남구,p,시비,1,1,1", unit=None), "x.csv", LEAD, NOW
    )
    assert [e.reason for e in no_unit.errors] == [
        "no unit: say it above the header, e.g. (단위: 천원) or (단위: 백만원)"
    ]
    missing = import_budget(
        city, _csv("회계연도,월,자치구,단위사업,예산액,집행액,비고"), "m.csv", LEAD, NOW
    )
    assert {(e.row, e.column) for e in missing.errors} == {(3, "비고"), (3, "재원")}
    nothing = import_budget(city, b"a,b\n1,2\n", "n.csv", LEAD, NOW)
    assert "no header row found" in nothing.errors[0].reason
    assert (
        import_budget(city, b"x", "n.txt", LEAD, NOW)
        .errors[0]
        .reason.startswith("unsupported file type")
    )


def test_units_on_columns_and_million_won(city):
    data = (
        "회계연도,월,구,단위사업,재원,예산액(백만원),집행액(백만원)\n"
        "2024,1,일산동구,ICT 플랫폼,국비,120,8.3\n"
    ).encode()
    report = import_budget(city, data, "g.csv", LEAD, NOW)
    assert report.stored and report.unit == "백만원"
    assert _rows(city)[0].executed == Decimal("8.3")
    mixed = "회계연도,월,구,단위사업,재원,예산액(백만원),집행액(천원)\n2024,1,일산동구,a,국비,1,1\n"
    report = import_budget(city, mixed.encode(), "g2.csv", LEAD, NOW)
    assert "several units" in report.errors[0].reason


def test_cumulative_execution_becomes_monthly_and_needs_the_previous_month(city):
    header = "회계연도,월,자치구,단위사업,재원,예산액,누계집행액"
    first = _csv(header, "2024,1,노원구,p,구비,600,50", "2024,2,노원구,p,구비,600,120")
    assert import_budget(city, first, "c1.csv", LEAD, NOW).stored
    # March alone: February's cumulative comes from what was imported before.
    later = _csv(header, "2024,3,노원구,p,구비,600,△30")
    assert import_budget(city, later, "c2.csv", LEAD, NOW).stored
    assert [r.executed for r in _rows(city)] == [Decimal(50), Decimal(70), Decimal(-150)]
    gap = _csv(header, "2024,6,노원구,p,구비,600,300")
    report = import_budget(city, gap, "c3.csv", LEAD, NOW)
    assert [(e.row, e.column) for e in report.errors] == [(4, "누계집행액")]
    assert "needs month 5" in report.errors[0].reason


def test_monthly_and_cumulative_must_agree(city):
    data = _csv(
        "회계연도,월,자치구,단위사업,재원,예산액,집행액,",
        ",,,,,,당월,누계",
        "2024,1,노원구,p,구비,600,50,50",
        "2024,2,노원구,p,구비,600,60,100",
    )
    report = import_budget(city, data, "both.csv", LEAD, NOW)
    assert [(e.row, e.column) for e in report.errors] == [(6, "집행액누계")]


def test_formula_disagreement_is_flagged_not_refused(city):
    data = _csv(
        "회계연도,월,자치구,단위사업,재원,예산액,집행액,단가,수량",
        '2024,1,대덕구,안심케어,시비,"12,000","1,000","9,900","1,200"',
    )
    report = import_budget(city, data, "f.csv", LEAD, NOW)
    assert report.stored
    assert [(f.row, f.column) for f in report.flags] == [(4, "예산액")]
    assert "11,880 천원" in report.flags[0].reason


def test_merged_header_in_a_workbook(city):
    book = Workbook()
    sheet = book.active
    sheet.append(["2024년 세출예산 집행현황"])
    sheet.append(["(단위: 천원)"])
    sheet.append(
        ["회계연도", "월", "자치구", "단위사업", "재원", "예산액", "확보액", "집행액", None]
    )
    sheet.append([None, None, None, None, None, None, None, "당월", "누계"])
    sheet.merge_cells("H3:I3")
    for col in "ABCDEFG":
        sheet.merge_cells(f"{col}3:{col}4")
    sheet.append([2024, 1, "은평구", "스마트 안부확인", "구비", 80000, 80000, 2100, 2100])
    sheet.append([2024, 2, "은평구", "스마트 안부확인", "구비", 80000, 80000, -300, 1800])
    out = io.BytesIO()
    book.save(out)
    report = import_budget(city, out.getvalue(), "merged.xlsx", LEAD, NOW)
    assert report.stored, report.summary()
    assert [r.executed for r in _rows(city)] == [Decimal(2100), Decimal(-300)]


def test_only_import_data_may_import(city):
    data = (SAMPLES / "budget-execution-sample.csv").read_bytes()
    for role in ("operator", "council"):
        with pytest.raises(NotPermitted):
            import_budget(city, data, "a.csv", SessionUser("x", "x", role), NOW)
    assert import_budget(city, data, "a.csv", SessionUser("adm", "adm", "admin"), NOW).stored


# --- incentive statements -----------------------------------------------------------------------


def test_incentive_sample_is_stored_per_district_month_and_kind(city):
    data = (SAMPLES / "incentive-statement-sample.csv").read_bytes()
    report = import_incentives(city, data, "points.csv", LEAD, NOW)
    assert report.stored, report.summary()
    assert len(report.new) == 12
    with city.connect() as conn:
        rows = conn.execute(
            select(IncentiveLedger).where(IncentiveLedger.region_id == _region(city, "1168000000"))
        ).all()
    by = {(r.occurred_on.isoformat(), r.kind): int(r.points) for r in rows}
    assert by[("2023-01-31", "earn")] == 31_250_000
    assert by[("2023-01-31", "redeem")] == -9_800_000
    assert by[("2023-02-28", "expire")] == -88_000
    assert all(r.enrolment_id is None and r.import_id for r in rows)
    again = import_incentives(city, data, "points.csv", LEAD, NOW)
    assert again.ok and not again.stored and again.unchanged == 12
    changed = data.decode("utf-8").replace('"88,000"', '"90,000"').encode()
    report = import_incentives(city, changed, "points2.csv", LEAD, NOW)
    assert report.stored and len(report.changed) == 1
    assert _count(city, IncentiveLedger) == 12


def test_incentive_units_and_errors(city):
    thousand = '(단위: 천원)\n기준월,구,적립,사용\n2023-03,강남구,"1,500",△20\n'.encode()
    report = import_incentives(city, thousand, "k.csv", LEAD, NOW)
    assert report.stored
    with city.connect() as conn:
        points = dict(conn.execute(select(IncentiveLedger.kind, IncentiveLedger.points)).all())
    assert points == {"earn": 1_500_000, "redeem": 20_000}  # △ redeemed: a reversal
    bad = "기준월,구,적립,사업\n2023-13,강남구,10,\n2023-04,강남구,1.5,\n2023-05,강남구,10,walkon\n"
    report = import_incentives(city, bad.encode(), "bad.csv", LEAD, NOW)
    assert [(e.row, e.column) for e in report.errors] == [(2, "기준월"), (3, "적립"), (4, "사업")]
    assert _count(city, IncentiveLedger) == 2  # the first file's only


def test_the_sample_files_are_documented():
    doc = (PROJECT_ROOT / "docs" / "imports.md").read_text(encoding="utf-8")
    for name in ("budget-execution-sample.csv", "incentive-statement-sample.csv"):
        assert (SAMPLES / name).is_file() and name in doc
    for code in ("exit code", "`0`", "`1`", "`2`"):
        assert code in doc


# --- the budget page's queries on what was imported (both backends) ------------------------------


def test_queries_read_the_imports_back(city):
    from queries import budget as q

    with city.begin() as conn:
        load_reference(conn)
    import_budget(city, (SAMPLES / "budget-execution-sample.csv").read_bytes(), "b.csv", LEAD, NOW)
    data = (SAMPLES / "incentive-statement-sample.csv").read_bytes()
    import_incentives(city, data, "i.csv", LEAD, NOW)
    with city.connect() as conn:
        assert q.execution_years(conn) == [2024]
        rows = q.execution_rows(conn, 2024)
        assert len(rows) == 9 and set(rows["filename"]) == {"b.csv"}
        assert rows["executed"].sum() == pytest.approx(12400 + 13100 - 800 + 6400 + 12000)
        eunpyeong = _region(city, "1138000000")
        only = q.execution_rows(conn, 2024, (eunpyeong,), ("district",))
        assert list(only["executed"]) == [2100.0, 2300.0, 2000.0]
        assert q.execution_rows(conn, 2024, (eunpyeong,), ("city",)).empty
        assert q.execution_formula_flags(rows).empty  # 16,000원 × 3,000 = 48,000 천원
        options = q.execution_options(conn, 2024)
        assert set(options["code"]) == {"1168000000", "1138000000", "3023000000"}
        budgets = q.incentive_budgets(conn)
        assert budgets.set_index("year")["amount"].to_dict() == {2022: 1_000_000, 2023: 14_000_000}
        months = q.incentive_months(conn, "seoul_wrist_doctor", 2023)
        earn = months[months["kind"] == "earn"].set_index("month")["points"]
        assert earn.to_dict() == {
            date(2023, 1, 1): 31_250_000 + 42_600_000,
            date(2023, 2, 1): 33_900_000 + 45_100_000,
        }
        assert q.incentive_years(conn, "seoul_wrist_doctor") == [2023]
        files = q.imports(conn, "incentive_ledger", 2023)
        assert (
            list(files["filename"]) == ["i.csv"] and q.imports(conn, "budget_execution", 2023).empty
        )


def test_the_budget_tab_reads_the_statements_never_the_sample_ledger(city):
    """The per-person ledger is a sample of participants, already inside the operator's
    statement: added to it, a month counts those people twice; alone, it is a few thousand
    people set against the whole city's incentive budget. The budget tab reads statements."""
    from sqlalchemy import insert

    from dashboard.db.schema import Enrolment, Program
    from queries import budget as q

    data = (SAMPLES / "incentive-statement-sample.csv").read_bytes()
    import_incentives(city, data, "i.csv", LEAD, NOW)
    with city.begin() as conn:
        program = conn.scalar(select(Program.id).where(Program.code == "seoul_wrist_doctor"))
        region = _region(city, "1168000000")
        people = [
            conn.execute(
                insert(Enrolment).returning(Enrolment.id),
                {
                    "program_id": program,
                    "region_id": region,
                    "participant_ref": f"S{n}",
                    "age_band": "60-64",
                    "sex": "F",
                    "enrolled_on": date(2022, 1, 3),
                },
            ).scalar_one()
            for n in range(6)
        ]
        sample = [
            {"program_id": program, "enrolment_id": p, "occurred_on": day, "kind": "earn",
             "reason": "steps_8000", "points": 200}
            for p in people
            for day in (date(2022, 3, 4), date(2023, 1, 9))
        ]  # fmt: skip
        conn.execute(insert(IncentiveLedger), sample)
    with city.connect() as conn:
        months = q.incentive_months(conn, "seoul_wrist_doctor", 2023)
        earn = months[months["kind"] == "earn"].set_index("month")["points"].to_dict()
        assert earn[date(2023, 1, 1)] == 31_250_000 + 42_600_000  # not + 6 × 200
        assert q.incentive_months(conn, "seoul_wrist_doctor", 2022).empty  # the sample only
        assert q.incentive_years(conn, "seoul_wrist_doctor") == [2023]


def test_unit_price_has_its_own_unit(city):
    data = _csv(
        "회계연도,월,자치구,단위사업,재원,예산액(천원),집행액(천원),단가(천원),수량",
        '2024,1,대덕구,안심케어,구비,"48,000","3,900",16,"3,000"',
    )
    report = import_budget(city, data, "p.csv", LEAD, NOW)
    assert report.stored and report.unit == "천원" and not report.flags
    assert _rows(city)[0].unit_price_won == 16_000
