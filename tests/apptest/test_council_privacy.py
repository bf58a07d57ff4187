"""What the council can narrow the aggregate pages to, on the demo city: a cohort of one
(a day's enrolment, by URL), the drop-out rows of dongs with one or two finished participants,
and the sample ledger's month in which one person redeemed points (on the participation page
and on the budget page's incentive tab, by URL). None of them may show that person."""

from __future__ import annotations

import pytest

from dashboard.i18n import translate
from dashboard.mapping.suppression import SUPPRESS_BELOW
from tests.apptest.conftest import metric, open_page, private_copy


def _table(at, column: str):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def test_a_cohort_of_one_shows_nothing_of_that_person(demo_db) -> None:
    """2022-07-02: one enrolment in the demo. The page showed 참여자 1, 완료 1, their dong as
    the only drop-out row and their two health outcomes as "달성 인원"."""
    at = open_page("participation", role="council", **{"from": "2022-07-02", "to": "2022-07-02"})
    labels = [m.label for m in at.metric]
    assert "참여자" not in labels and "24주 유지율" not in labels, labels
    assert translate("cohort.too_few", "ko", n=SUPPRESS_BELOW) in [i.value for i in at.info]
    assert not [d for d in at.dataframe if "달성 인원" in d.value.columns]
    assert not [d for d in at.dataframe if "지역" in d.value.columns]


def test_drop_out_rows_have_five_finished_or_are_pooled(demo_db) -> None:
    """July 2022: 73 participants over eleven dongs, two of them with four finished."""
    at = open_page("participation", role="council", **{"from": "2022-07-01", "to": "2022-07-31"})
    assert metric(at, "참여자") == "73"
    areas = _table(at, "과정 종료 인원")
    assert areas["과정 종료 인원"].min() >= SUPPRESS_BELOW, areas
    assert int(areas["과정 종료 인원"].sum()) == 73  # every finished participant, once
    assert areas["지역"].iloc[-1] == translate("cohort.other_areas", "ko", n=SUPPRESS_BELOW)
    few = areas["중도 탈락"] < SUPPRESS_BELOW
    assert areas.loc[few, "탈락 주차(중앙값)"].isna().all()


def test_one_persons_redemption_month_is_not_shown(demo_db) -> None:
    """The sample ledger's November 2021: one participant redeemed 5,000 points."""
    at = open_page("participation", role="council")
    sample = [d.value for d in at.dataframe if "사용·전환 (P)" in d.value.columns][-1]
    november = sample[sample["월"] == "2021년 11월"].iloc[0]
    assert november["사용·전환 (P)"] == 0
    # The budget page sets only the operator's statements against the budget, never the
    # sample ledger: its 2021 months (and that one person's) are not there at all.
    budget = open_page("budget", role="council", iyear="2021")
    months = [d.value["월"].astype(str).tolist() for d in budget.dataframe if "월" in d.value]
    assert months and not [m for ms in months for m in ms if m.startswith("2021년")], months


@pytest.mark.xfail(
    strict=True,
    reason="LEAK NOT FIXED: two cohorts of 5+ whose enrolment periods differ by one day "
    "(2022-07-02..06 and 2022-07-03..06) differ by one person: their completion and health "
    "outcomes come out by subtraction. Exact counts over free date ranges cannot stop it; "
    "fixed enrolment windows or noise could",
)
def test_two_cohorts_a_day_apart_do_not_give_one_persons_outcome(demo_db) -> None:
    def figures(first: str) -> tuple[str, int]:
        at = open_page("participation", role="council", **{"from": first, "to": "2022-07-06"})
        outcomes = _table(at, "달성 인원")
        return metric(at, "완료"), int(outcomes["달성 인원"].sum())

    (done_a, hits_a), (done_b, hits_b) = figures("2022-07-02"), figures("2022-07-03")
    assert (int(done_a) - int(done_b), hits_a - hits_b) == (0, 0)


def test_a_program_of_three_enrolments_shows_no_count(demo_db, tmp_path) -> None:
    """QR 금연클리닉 cut down to three enrolments: the programs table said 3 (and 0 completed,
    every one of them still active); with one program hidden, the next smallest goes too,
    since the deck gives the enrolments in total."""
    from sqlalchemy import delete, select

    from dashboard.db.schema import Enrolment, Program

    with private_copy(demo_db, tmp_path) as engine:
        with engine.begin() as conn:
            program = conn.scalar(select(Program.id).where(Program.code == "goyang_qr_cessation"))
            keep = select(Enrolment.id).where(Enrolment.program_id == program).limit(3)
            conn.execute(
                delete(Enrolment).where(
                    Enrolment.program_id == program, Enrolment.id.not_in(keep.scalar_subquery())
                )
            )
        at = open_page("participation", role="council")
        programs = _table(at, "등록 기록").set_index("사업")
    qr, mobile = programs.loc["QR 비대면 금연클리닉"], programs.loc["모바일 헬스케어"]
    assert qr["등록 기록"] == "<5" and qr["참여 중"] == "<5" and qr["참여 인원(데이터)"] == "<5"
    assert mobile["등록 기록"] == "<5" and mobile["개선율"] == "–"  # the complement
    assert programs.loc["워크온 걷기실천", "등록 기록"] == "8,213"
