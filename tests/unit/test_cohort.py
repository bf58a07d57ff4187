"""Retention, drop-out and outcomes of a program cohort, on a constructed cohort whose answers
are worked out by hand (docs/analysis.md, "Participation cohort"), then read from the database
through the page's queries on both backends."""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest

from dashboard.analysis import cohort
from dashboard.auth import SessionUser
from dashboard.catalog import load_catalog
from dashboard.participation import import_participation
from queries import participation as q

TODAY = date(2024, 11, 29)
START = date(2024, 1, 1)


def _people() -> tuple[pd.DataFrame, pd.DataFrame]:
    """A: completed, active every week; B: dropped, active to week 3 (week 2 idle); C: dropped,
    one idle week-0 row; D: completed, no weekly rows; E: dropped on day 28, no weekly rows;
    F: still running, in its week 10, active every week so far."""
    running_since = TODAY - timedelta(weeks=10, days=2)
    people = pd.DataFrame(
        [
            ("A", START, "completed", START + timedelta(weeks=24), "X", True),
            ("B", START, "dropped", START + timedelta(weeks=5), "X", None),
            ("C", START, "dropped", START + timedelta(weeks=1), "X", None),
            ("D", START, "completed", START + timedelta(weeks=24), "Y", False),
            ("E", START, "dropped", START + timedelta(days=28), "Y", None),
            ("F", running_since, "active", None, "X", None),
        ],
        columns=["enrolment_id", "enrolled_on", "status", "ended_on", "dong", "improved"],
    )
    weeks = [("A", w, 5) for w in range(25)]
    weeks += [("B", 0, 3), ("B", 1, 2), ("B", 2, 0), ("B", 3, 1)]
    weeks += [("C", 0, 0)]
    weeks += [("F", w, 4) for w in range(11)]
    activity = pd.DataFrame(weeks, columns=["enrolment_id", "week", "active_days"])
    return people, activity


def test_last_active_and_observed_weeks():
    people, activity = _people()
    weeks = cohort.participant_weeks(people, activity, TODAY).set_index("enrolment_id")
    assert weeks["last_week"].to_dict() == {"A": 24, "B": 3, "C": -1, "D": 24, "E": 3, "F": 10}
    assert weeks["observed_to"].to_dict() == {"A": 24, "B": 24, "C": 24, "D": 24, "E": 24, "F": 10}


def test_retention_curve():
    people, activity = _people()
    curve = cohort.retention(cohort.participant_weeks(people, activity, TODAY)).set_index("week")
    assert list(curve.index) == list(range(25))
    assert (curve.loc[0, "observed"], curve.loc[0, "active"]) == (6, 5)
    assert curve.loc[0, "share"] == pytest.approx(500 / 6)
    assert curve.loc[3, "share"] == pytest.approx(500 / 6)  # B and E are still active in week 3
    assert curve.loc[4, "share"] == pytest.approx(50.0)  # A, D, F of six
    assert (curve.loc[11, "observed"], curve.loc[11, "active"]) == (5, 2)  # F not yet observed
    assert curve.loc[24, "share"] == pytest.approx(40.0)


def test_dropouts_by_week_and_area():
    people, activity = _people()
    weeks = cohort.participant_weeks(people, activity, TODAY)
    by_week = cohort.dropouts_by_week(weeks).set_index("week")
    assert by_week["dropped"][by_week["dropped"] > 0].to_dict() == {0: 1, 4: 2}
    assert by_week.loc[24, "cumulative"] == 3
    by_area = cohort.dropouts_by_area(weeks, "dong")
    assert by_area["dong"].tolist() == ["X", "Y"]  # the highest share first
    x, y = by_area.to_dict("records")
    assert (x["finished"], x["dropped"], x["median_week"]) == (3, 2, 2.0)  # F is still running
    assert x["share"] == pytest.approx(200 / 3)
    assert (y["finished"], y["dropped"], y["share"], y["median_week"]) == (2, 1, 50.0, 4.0)


def test_outcome_rate_counts_only_the_measured():
    people, _ = _people()
    assert cohort.outcome_rate(people["improved"]) == (1, 2, 50.0)
    hits, measured, rate = cohort.outcome_rate(pd.Series([None, None], dtype=object))
    assert (hits, measured) == (0, 0) and math.isnan(rate)


def test_an_empty_cohort():
    empty = pd.DataFrame(columns=["enrolment_id", "enrolled_on", "status", "ended_on"])
    weeks = cohort.participant_weeks(
        empty, pd.DataFrame(columns=["enrolment_id", "week", "active_days"]), TODAY
    )
    assert cohort.retention(weeks)["share"].isna().all()
    assert cohort.dropouts_by_week(weeks)["dropped"].sum() == 0
    assert cohort.dropouts_by_area(weeks.assign(dong=[]), "dong").empty


# --- the same cohort imported, read back by the page's queries (SQLite and PostgreSQL) -----------

NOW = datetime(2024, 11, 29, 3, 0, tzinfo=UTC)
LEAD = SessionUser("lead-1", "lead-1", "lead")


def _files() -> tuple[bytes, bytes]:
    people, activity = _people()
    dongs = {"X": "백석1동", "Y": "4128556000"}  # by name and by code
    lines = ["사업,참여자번호,행정동,등록일,상태,종료일,건강행태개선"]
    for r in people.itertuples():
        ended = r.ended_on.isoformat() if r.ended_on else ""
        outcome = {True: "예", False: "아니오", None: ""}[r.improved]
        status = {"completed": "완료", "dropped": "중도탈락", "active": "참여중"}[r.status]
        lines.append(
            f"모바일 헬스케어,{r.enrolment_id},{dongs[r.dong]},{r.enrolled_on},{status},"
            f"{ended},{outcome}"
        )
    weeks = ["사업,참여자번호,주차,활동일수"]
    weeks += [
        f"goyang_mobile_health,{r.enrolment_id},{r.week},{r.active_days}"
        for r in activity.itertuples()
    ]
    return "\n".join(lines).encode(), "\n".join(weeks).encode()


def test_imported_cohort_through_the_queries(db_engine):
    with db_engine.begin() as conn:
        load_catalog(conn)
    people_file, weeks_file = _files()
    assert import_participation(db_engine, people_file, "명단.csv", LEAD, NOW).stored
    assert import_participation(db_engine, weeks_file, "활동.csv", LEAD, NOW).stored
    with db_engine.connect() as conn:
        people = q.cohort_people(conn)
        activity = q.cohort_activity(conn)
        files = q.cohort_imports(conn)
        goyang_east = q.cohort_people(conn, district_codes=["4128500000"])
        elsewhere = q.cohort_people(conn, district_codes=["1168000000"])
        late = q.cohort_people(conn, enrolled_from=date(2024, 6, 1))
        programs = q.cohort_programs(conn)
    assert len(people) == 6 and people["imported"].all()
    assert set(people["district_code"]) == {"4128500000"}
    assert set(people["dong_ko"]) == {"백석1동", "마두1동"}
    assert len(goyang_east) == 6 and elsewhere.empty and len(late) == 1
    assert sorted(files["filename"]) == ["명단.csv", "활동.csv"]
    assert programs["program_code"].tolist() == ["goyang_mobile_health"]
    weeks = cohort.participant_weeks(people, activity, TODAY)
    curve = cohort.retention(weeks).set_index("week")
    assert curve.loc[4, "share"] == pytest.approx(50.0)
    assert curve.loc[24, "share"] == pytest.approx(40.0)
    by_dong = cohort.dropouts_by_area(weeks, "dong_ko").set_index("dong_ko")
    assert by_dong.loc["백석1동", "dropped"] == 2 and by_dong.loc["마두1동", "dropped"] == 1
    assert cohort.outcome_rate(people["improved"]) == (1, 2, 50.0)
