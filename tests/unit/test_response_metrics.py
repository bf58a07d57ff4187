"""Response metrics on a small hand-made dataset with exact expected values, on both databases.

Goyang program (dong 백석1동), period 2024-12-02 00:00 UTC + 1 day, seconds after opening:

| alert | rule           | stage  | ack  | dispatch | close | by     | outcome      | visit       |
|-------|----------------|--------|------|----------|-------|--------|--------------|-------------|
| A1    | plug_no_change | severe | 30   | 120      | 600   | kim    | safe         | +30 min     |
| A2    | plug_no_change | severe | 60   | 300      | 1200  | kim    | false_alarm  | +50 min     |
| A3    | robot_sos      | severe | 90   | –        | 300   | kim    | false_alarm  |             |
| A4    | robot_sos      | severe | 200  | 400      | –     |        | (open)       | not arrived |
| A5    | robot_sos      | severe | –    | –        | 900   | system | safe         |             |
| A6    | plug_no_change | risk   | 10   | –        | 100   | kim    | device_fault |             |

Outside the filters: A7 (opened the day before), A8 (Seoul program, Jongno-gu: ack 500 s,
visit arrives in 10 min).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert
from test_actions_support import add_alert, seed

from dashboard.db.schema import Dispatch
from queries.response_metrics import alert_metrics, field_visits_within

START = pd.Timestamp("2024-12-02T00:00Z").to_pydatetime()
END = START + timedelta(days=1)
S = timedelta(seconds=1)
GOYANG = ["goyang_ai_call"]


def _metric(conn, key: str, start=START, end=END, **filters) -> pd.DataFrame:
    return alert_metrics(conn, start, end, **filters)[key]


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    visits = []

    def alert(i, rule, stage, ack=None, dispatch=None, close=None, by="kim", outcome=None,
              visit_min=None, program_id=1, region_id=2, opened=None):  # fmt: skip
        t = opened or START + timedelta(hours=i)
        status = "closed" if close else "dispatched" if dispatch else "acknowledged" if ack \
            else "open"  # fmt: skip
        alert_id = add_alert(
            db_engine, status=status, stage=stage, rule=rule, opened_at=t,
            program_id=program_id, region_id=region_id,
            acknowledged_at=t + ack * S if ack else None,
            acknowledged_by="kim" if ack else None,
            dispatched_at=t + dispatch * S if dispatch else None,
            closed_at=t + close * S if close else None,
            closed_by=by if close else None,
            outcome=outcome,
        )  # fmt: skip
        if dispatch:
            requested = t + dispatch * S
            arrived = requested + timedelta(minutes=visit_min) if visit_min else None
            visits.append({"alert_id": alert_id, "kind": "field_visit", "target": "현장",
                           "requested_at": requested, "requested_by": "kim",
                           "arrived_at": arrived})  # fmt: skip

    alert(1, "plug_no_change", "severe", 30, 120, 600, outcome="safe", visit_min=30)
    alert(2, "plug_no_change", "severe", 60, 300, 1200, outcome="false_alarm", visit_min=50)
    alert(3, "robot_sos", "severe", 90, None, 300, outcome="false_alarm")
    alert(4, "robot_sos", "severe", 200, 400, None)
    alert(5, "robot_sos", "severe", None, None, 900, by="system", outcome="safe")
    alert(6, "plug_no_change", "risk", 10, None, 100, outcome="device_fault")
    alert(0, "plug_no_change", "severe", 5, None, 50, outcome="safe",
          opened=START - timedelta(hours=2))  # A7  # fmt: skip
    alert(7, "plug_no_change", "severe", 500, 600, None, program_id=2, region_id=4,
          visit_min=10)  # A8  # fmt: skip
    with db_engine.begin() as conn:
        conn.execute(insert(Dispatch), visits)
        # A dong-center request is not a field visit.
        conn.execute(insert(Dispatch), {**visits[1], "kind": "dong_center", "arrived_at": None})
    return db_engine


def test_alerts_by_rule_stage_and_outcome(db):
    with db.connect() as conn:
        df = _metric(conn, "counts", programs=GOYANG)
    assert df.to_dict("records") == [
        {"rule": "plug_no_change", "stage": "risk", "outcome": "device_fault", "alerts": 1},
        {"rule": "plug_no_change", "stage": "severe", "outcome": "false_alarm", "alerts": 1},
        {"rule": "plug_no_change", "stage": "severe", "outcome": "safe", "alerts": 1},
        {"rule": "robot_sos", "stage": "severe", "outcome": "(open)", "alerts": 1},
        {"rule": "robot_sos", "stage": "severe", "outcome": "false_alarm", "alerts": 1},
        {"rule": "robot_sos", "stage": "severe", "outcome": "safe", "alerts": 1},
    ]


def test_false_alarm_rate_per_rule(db):
    with db.connect() as conn:
        df = _metric(conn, "false_alarms", programs=GOYANG)
    assert df.to_dict("records") == [
        {"rule": "plug_no_change", "closed": 3, "false_alarms": 1, "rate": 1 / 3},
        {"rule": "robot_sos", "closed": 2, "false_alarms": 1, "rate": 0.5},
    ]


def test_median_and_p90_times(db):
    with db.connect() as conn:
        df = _metric(conn, "times", programs=GOYANG).set_index("measure")
    # ack [10, 30, 60, 90, 200]: median 60; p90 at rank 3.6 → 90 + 0.6·110 = 156
    assert df.loc["acknowledge"].to_dict() == {"n": 5, "median_s": 60.0, "p90_s": 156.0}
    # dispatch [120, 300, 400]: median 300; p90 at rank 1.8 → 300 + 0.8·100 = 380
    assert df.loc["dispatch"].to_dict() == {"n": 3, "median_s": 300.0, "p90_s": 380.0}
    # close by operators [100, 300, 600, 1200] (A5 closed by the rules is left out):
    # median 450; p90 at rank 2.7 → 600 + 0.7·600 = 1020
    assert df.loc["close"].to_dict() == {"n": 4, "median_s": 450.0, "p90_s": 1020.0}


def test_severe_acknowledged_within_60_and_180_seconds(db):
    with db.connect() as conn:
        df = _metric(conn, "severe_ack", programs=GOYANG)
    # 5 severe (A1–A5); within 60 s: A1, A2 (60 s counts); within 180 s: + A3. A5 never.
    assert df.to_dict("records") == [
        {"within_s": 60, "severe_alerts": 5, "acknowledged_within": 2, "share": 0.4,
         "target": 0.975, "meets_target": False},
        {"within_s": 180, "severe_alerts": 5, "acknowledged_within": 3, "share": 0.6,
         "target": 0.99, "meets_target": False},
    ]  # fmt: skip


def test_field_visits_within_45_minutes(db):
    with db.connect() as conn:
        df = field_visits_within(conn, START, END, programs=GOYANG)
    assert df.to_dict("records") == [
        {"within_min": 45, "visits": 3, "arrived": 2, "arrived_within": 1, "share": 1 / 3,
         "median_min": 40.0, "target": 0.9, "meets_target": False},
    ]  # fmt: skip


def test_district_filter_selects_the_districts_dongs(db):
    with db.connect() as conn:
        shares = _metric(conn, "severe_ack", districts=[3])
        visits = field_visits_within(conn, START, END, districts=[3])
        both = _metric(conn, "severe_ack")
    assert list(shares["severe_alerts"]) == [1, 1] and list(shares["share"]) == [0.0, 0.0]
    assert visits.loc[0, "arrived_within"] == 1 and visits.loc[0, "meets_target"]
    assert list(both["severe_alerts"]) == [6, 6]  # no filter: Goyang and Seoul


def test_an_empty_period_gives_empty_but_well_formed_frames(db):
    later = END + timedelta(days=30)
    with db.connect() as conn:
        metrics = alert_metrics(conn, later, later + timedelta(days=1))
        counts, rates = metrics["counts"], metrics["false_alarms"]
        times, shares = metrics["times"], metrics["severe_ack"]
        visits = field_visits_within(conn, later, later + timedelta(days=1))
    assert counts.empty and list(counts.columns) == ["rule", "stage", "outcome", "alerts"]
    assert rates.empty and list(times["n"]) == [0, 0, 0]
    assert list(shares["severe_alerts"]) == [0, 0] and shares["share"].isna().all()
    assert visits.loc[0, "visits"] == 0 and not visits.loc[0, "meets_target"]
