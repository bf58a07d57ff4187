"""참여·인센티브 page: the 24-week cohort's figures against the database, the documents' outcome
figures, the incentive series kept apart by source, the filters in the URL, and the import."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from dashboard.analysis import cohort
from dashboard.db.schema import Enrolment, IncentiveLedger, Program
from dashboard.formatting import format_number, format_percent
from dashboard.settings import PROJECT_ROOT
from queries import participation as q
from tests.apptest.conftest import metric, open_page, private_copy, texts

SAMPLES = PROJECT_ROOT / "data" / "samples"
TODAY = date(2024, 11, 29)  # the demo's cohort ended in 2023: any later day gives the same


def _expected(engine, **filters):
    with engine.connect() as conn:
        people = q.cohort_people(conn, **filters)
        activity = q.cohort_activity(conn)
    weeks = cohort.participant_weeks(
        people, activity[activity["enrolment_id"].isin(people["enrolment_id"])], TODAY
    )
    return people, weeks


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_cohort_figures_match_the_database(demo_db) -> None:
    people, weeks = _expected(demo_db)
    at = open_page("participation")
    assert not at.exception, [e.value for e in at.exception]
    curve = cohort.retention(weeks)
    assert metric(at, "참여자") == format_number(len(people)) == "990"
    assert metric(at, "중도 탈락") == format_number(int(cohort.dropped_mask(weeks).sum()))
    assert metric(at, "24주 유지율") == format_percent(curve["share"].iloc[-1])
    by_week = _table(at, "유지율(%)")
    assert by_week["유지율(%)"].tolist() == curve["share"].round(1).tolist()
    assert by_week["탈락 인원"].sum() == cohort.dropped_mask(weeks).sum()
    areas = _table(at, "탈락률(%)")
    assert areas["중도 탈락"].sum() == cohort.dropped_mask(weeks).sum()
    assert len(areas) == weeks["dong_code"].nunique()
    page = "\n".join(texts(at))
    assert "출처: 시연 데이터" in page


def test_outcomes_against_the_national_benchmark_are_the_documents(demo_db) -> None:
    at = open_page("participation")
    outcomes = _table(at, "성과 지표").set_index("성과 지표")
    behaviour, risk = outcomes.loc["건강행태 개선율"], outcomes.loc["건강위험요인 감소율"]
    assert behaviour["이 데이터"] == 57.4 and risk["이 데이터"] == 65.1  # the demo reproduces them
    city = next(c for c in outcomes.columns if c.startswith("고양시 공표 (고양시 일산동구보건소"))
    national = next(c for c in outcomes.columns if c.startswith("전국 (고양시 일산동구보건소"))
    assert (behaviour[city], behaviour[national]) == (57.4, 55.2)
    assert (risk[city], risk[national]) == (65.1, 58.5)
    assert behaviour["전국 대비(%p)"] == 2.2 and risk["전국 대비(%p)"] == 6.6


def test_incentive_series_are_kept_apart_by_source(demo_db) -> None:
    with demo_db.connect() as conn:
        pid = conn.scalar(select(Program.id).where(Program.code == q.WRIST_DOCTOR))

        def earned(imported: bool) -> float:
            stmt = select(func.sum(IncentiveLedger.points)).where(
                IncentiveLedger.program_id == pid,
                IncentiveLedger.kind == "earn",
                IncentiveLedger.import_id.is_not(None)
                if imported
                else IncentiveLedger.import_id.is_(None),
            )
            return float(conn.scalar(stmt))

        statement, sample = earned(True), earned(False)
    at = open_page("participation")
    shown = [m.value for m in at.metric if m.label == "적립 포인트"]
    assert shown == [format_number(statement), format_number(sample)]  # never their sum
    headings = [m.value for m in at.markdown if m.value.startswith("##### ")]
    assert headings == [
        "##### 월별 정산 (구별 집계) · 2023년 1월 – 2023년 12월",
        "##### 참여자별 포인트 장부 (표본) · 2021년 11월 – 2022년 12월",
    ]
    page = "\n".join(texts(at))
    assert "출처: 참여자 표본의 1인별 장부 (시연 데이터)" in page


def test_filters_live_in_the_url(demo_db) -> None:
    people, _weeks = _expected(
        demo_db, enrolled_from=date(2023, 1, 1), enrolled_to=date(2023, 3, 31)
    )
    at = open_page("participation", **{"from": "2023-01-01", "to": "2023-03-31"})
    assert metric(at, "참여자") == format_number(len(people))
    assert 0 < len(people) < 990
    at = open_page("participation", district="1168000000")  # not in the cohort: ignored
    assert metric(at, "참여자") == "990"
    at.multiselect(key="url_district").set_value(["4128500000"]).run()
    assert at.query_params.get("district") == "4128500000"
    assert metric(at, "참여자") == "990"


def test_a_lead_imports_a_cohort_and_the_page_uses_it(demo_db, tmp_path) -> None:
    with private_copy(demo_db, tmp_path) as engine:
        at = open_page("participation")
        data = (SAMPLES / "participation-enrolments-sample.csv").read_bytes()
        at.file_uploader[0].set_value(("명단.csv", data, "text/csv")).run()
        assert not at.exception, [e.value for e in at.exception]
        assert "참여자 명단 5행: 신규 5, 변경 0, 동일 0" in "\n".join(texts(at))
        with engine.connect() as conn:
            imported = select(func.count()).where(Enrolment.import_id.is_not(None))
            assert conn.scalar(imported.select_from(Enrolment)) == 0
        at.button(key="partimport_confirm").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("명단" in s.value and "저장됨" in s.value for s in at.success)
        with engine.connect() as conn:
            assert conn.scalar(imported.select_from(Enrolment)) == 5
        at = open_page("participation")  # a new session: the cohort is the imported one
        assert metric(at, "참여자") == "5"
        assert metric(at, "중도 탈락") == "2"
        source = next(line for line in texts(at) if line.startswith("출처: 명단"))
        assert "가져옴" in source  # the imported file and its time, not the demo

        bad = data.replace(b"2024-01-08", "지난주".encode(), 1)
        at.file_uploader[0].set_value(("bad.csv", bad, "text/csv")).run()
        errors = _table(at, "이유")
        assert errors.iloc[0].tolist()[:2] == ["3", "등록일"]


def test_only_importers_see_the_import_section(demo_db) -> None:
    assert open_page("participation", role="lead").file_uploader
    council = open_page("participation", role="council")
    assert [t.value for t in council.title] == ["참여·인센티브"] and not council.file_uploader


@pytest.mark.parametrize("page", ["participation", "budget"])
def test_downloads_only_for_roles_that_may_export(demo_db, page) -> None:
    """The permission table gives `export` to leads only; the council and operators read the
    same tables on screen without CSV/Excel buttons."""
    assert open_page(page, role="lead").get("download_button")
    for role in ("council", "operator"):
        assert not open_page(page, role=role).get("download_button"), role
