"""The weekly review's five windows on hand-made data with known answers, on both databases.

The chosen day is Sunday 2024-12-29: week 0 is 23–29 December (Asia/Seoul), week 1 16–22,
week 2 9–15, week 3 2–8, week 4 25 November – 1 December. In the Goyang program (백석1동):

- 관심 alerts: 3 in week 0, 1 in each earlier week; 심각: 2 in week 0 (acknowledged after 30 s and
  100 s), 1 in week 1 (30 s);
- one 위험 alert opened in week 2 and never closed (backlog at the end of weeks 2, 1 and 0);
- a device fault on one plug open from week 3 to week 1;
- one field visit in week 0, on site after 30 minutes;
- complaints: 4 in week 0 (plus a repeat, not counted), 1 in each earlier week;
- 2 new enrolments in week 0; 10 park sessions a day in week 0, 5 a day before.

A Seoul-program alert each week is outside the program filter.
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert
from test_actions_support import seed

from dashboard.db.schema import (
    Alert,
    Complaint,
    Device,
    DeviceDaily,
    DeviceType,
    Dispatch,
    Enrolment,
    Program,
)
from dashboard.settings import LOCAL_TZ
from queries.weekly_review import METRICS, rank_changes, weekly_review, windows

LAST_DAY = date(2024, 12, 29)
NOW = datetime(2025, 1, 3, tzinfo=UTC)
GOYANG = ["goyang_ai_call", "goyang_park"]
_n = itertools.count(1)


def at(day: date, hour: int = 12) -> datetime:
    return datetime.combine(day, time(hour), LOCAL_TZ).astimezone(UTC)


def week_day(week: int, offset: int = 2) -> date:
    """A day inside ``week`` (0 = this week)."""
    return LAST_DAY - timedelta(days=7 * week + 6 - offset)


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    with db_engine.begin() as conn:
        conn.execute(
            insert(Program),
            {"id": 3, "code": "goyang_park", "kind": "device", "name_ko": "공원",
             "name_en": "Park", "region_id": 1},
        )  # fmt: skip
        conn.execute(
            insert(DeviceType),
            {"code": "park_machine", "name_ko": "운동기구", "name_en": "machine",
             "heartbeat_timeout_s": 7200},
        )  # fmt: skip
        plug = conn.execute(
            insert(Device).returning(Device.id),
            {"device_uid": "p1", "vendor": "acme", "type_code": "smart_plug", "program_id": 1,
             "region_id": 2, "installed_on": date(2024, 1, 1)},
        ).scalar_one()  # fmt: skip
        machine = conn.execute(
            insert(Device).returning(Device.id),
            {"device_uid": "m1", "vendor": "fit", "type_code": "park_machine", "program_id": 3,
             "region_id": 2, "installed_on": date(2024, 1, 1)},
        ).scalar_one()  # fmt: skip

        def alert(opened, stage="attention", kind="person", closed=None, ack_s=None,
                  program_id=1, region_id=2):  # fmt: skip
            return conn.execute(
                insert(Alert).returning(Alert.id),
                {"dedup_key": f"k{next(_n)}", "kind": kind,
                 "rule": "device_silent" if kind == "device_fault" else "plug_no_change",
                 "stage": stage, "status": "closed" if closed else "open",
                 "program_id": program_id, "region_id": region_id, "device_id": plug,
                 "evidence": {}, "opened_at": opened, "updated_at": opened,
                 "acknowledged_at": opened + timedelta(seconds=ack_s) if ack_s else None,
                 "closed_at": closed, "closed_by": "kim" if closed else None,
                 "outcome": "safe" if closed else None, "version": 1},
            ).scalar_one()  # fmt: skip

        def done(opened):
            return opened + timedelta(hours=1)

        for _ in range(3):
            t = at(week_day(0))
            alert(t, closed=done(t))
        for week in range(1, 5):
            t = at(week_day(week))
            alert(t, closed=done(t))
            alert(t, program_id=2, region_id=4, closed=done(t))  # Seoul: filtered out
        t0 = at(week_day(0), 3)
        visited = alert(t0, "severe", ack_s=30, closed=done(t0))
        alert(t0, "severe", ack_s=100, closed=done(t0))
        alert(at(week_day(1), 3), "severe", ack_s=30, closed=done(at(week_day(1), 3)))
        alert(at(week_day(2)), "risk")  # never closed
        alert(at(week_day(3)), kind="device_fault", closed=at(week_day(1)))
        conn.execute(
            insert(Dispatch),
            {"alert_id": visited, "kind": "field_visit", "target": "현장",
             "requested_at": t0 + timedelta(minutes=5), "requested_by": "kim",
             "arrived_at": t0 + timedelta(minutes=35)},
        )  # fmt: skip
        first = None
        for week, n in ((0, 4), (1, 1), (2, 1), (3, 1), (4, 1)):
            for k in range(n):
                cid = conn.execute(
                    insert(Complaint).returning(Complaint.id),
                    {"region_id": 2, "category": "smoking", "channel": "phone",
                     "received_at": at(week_day(week, k % 7))},
                ).scalar_one()  # fmt: skip
                first = first or cid
        conn.execute(
            insert(Complaint),
            {"region_id": 2, "category": "smoking", "channel": "phone",
             "received_at": at(week_day(0)), "duplicate_of": first},
        )  # fmt: skip
        for k in range(2):
            conn.execute(
                insert(Enrolment),
                {"program_id": 3, "region_id": 2, "participant_ref": f"P{k}", "age_band": "70-74",
                 "sex": "F", "enrolled_on": week_day(0, k)},
            )  # fmt: skip
        for back in range(35):
            day = LAST_DAY - timedelta(days=back)
            conn.execute(
                insert(DeviceDaily),
                {"device_id": machine, "day": day, "sessions": 10 if back < 7 else 5},
            )
    return db_engine


def _pivot(figures: pd.DataFrame) -> dict[str, list]:
    wide = figures.pivot(index="metric", columns="week", values="value")
    return {m: [None if pd.isna(v) else v for v in wide.loc[m]] for m in wide.index}


def test_windows_are_seven_seoul_days_newest_first_cut_at_now():
    spans = windows(LAST_DAY, NOW)
    assert len(spans) == 5
    assert spans[0] == (
        datetime(2024, 12, 23, tzinfo=LOCAL_TZ),
        datetime(2024, 12, 30, tzinfo=LOCAL_TZ),
    )
    assert spans[4][0] == datetime(2024, 11, 25, tzinfo=LOCAL_TZ)
    today = windows(date(2025, 1, 3), NOW)[0]
    assert today[1] == NOW.astimezone(LOCAL_TZ)  # this week ends now


def test_every_metric_per_week(db):
    with db.connect() as conn:
        got = _pivot(weekly_review(conn, LAST_DAY, NOW, programs=GOYANG)["figures"])
    assert set(got) == set(METRICS)
    assert got["alerts_attention"] == [3, 1, 1, 1, 1]
    assert got["alerts_severe"] == [2, 1, 0, 0, 0]
    assert got["alerts_risk"] == [0, 0, 1, 0, 0]
    assert got["severe_ack_60"] == [0.5, 1.0, None, None, None]
    assert got["severe_ack_180"] == [1.0, 1.0, None, None, None]
    assert got["visits_45"] == [1.0, None, None, None, None]
    assert got["backlog"] == [1, 1, 2, 1, 0]  # the risk alert; the fault in weeks 3 and 2
    assert got["faulty_devices"] == [0, 1, 1, 1, 0]
    assert got["complaints"] == [4, 1, 1, 1, 1]
    assert got["enrolments"] == [2, 0, 0, 0, 0]
    assert got["park_sessions"] == [70, 35, 35, 35, 35]


def test_program_filter_and_district_filter(db):
    with db.connect() as conn:
        seoul = _pivot(weekly_review(conn, LAST_DAY, NOW, programs=["seoul_smart_plug"])["figures"])
        jongno = _pivot(weekly_review(conn, LAST_DAY, NOW, districts=[3])["figures"])
    assert seoul["alerts_attention"] == [0, 1, 1, 1, 1]
    assert seoul["park_sessions"] == [0] * 5 and seoul["enrolments"] == [0] * 5
    assert jongno["alerts_attention"] == [0, 1, 1, 1, 1]
    assert jongno["complaints"] == [0] * 5  # complaints are in 백석1동


def test_changes_ranked_by_distance_outside_the_four_week_range(db):
    with db.connect() as conn:
        changes = weekly_review(conn, LAST_DAY, NOW, programs=GOYANG)["changes"]
    top = changes.head(4).set_index("metric")
    # complaints 4 against 1–1: 3 above the range (relative to 1); 관심 3: 2 above; 심각 2
    # against 0–1: 1 above; park sessions 70 against 35: 1 above (better: more is good).
    assert list(top.index[:2]) == ["complaints", "alerts_attention"]
    assert top.loc["complaints", "outside"] == 3.0
    assert top.loc["complaints", "verdict"] == "worse"
    assert top.loc["alerts_attention", "change"] == 2.0  # (3 − 1) / 1
    rows = changes.set_index("metric")
    assert rows.loc["park_sessions", "verdict"] == "better"
    assert rows.loc["park_sessions", "side"] == "above"
    assert rows.loc["backlog", "side"] == "within"  # 1 against 0–2
    assert rows.loc["visits_45", "side"] == "none"  # no earlier week had a visit
    assert list(changes["metric"])[-1] == "visits_45"


def test_rank_changes_measures_shares_against_one_point_floor():
    shares, counts = [0.9, 1.0, 1.0, 0.98, 1.0], [10, 10, 10, 10, 10]
    figures = pd.DataFrame(
        [
            {"metric": m, "week": w, "value": v}
            for m in METRICS
            for w, v in enumerate(shares if METRICS[m][0] == "share" else counts)
        ]
    )
    changes = rank_changes(figures).set_index("metric")
    assert changes.loc["severe_ack_60", "side"] == "below"
    assert changes.loc["severe_ack_60", "verdict"] == "worse"
    assert changes.loc["severe_ack_60", "outside"] == pytest.approx(0.08 / 0.98)
    assert changes.loc["alerts_attention", "outside"] == 0.0
    assert list(changes.index[:3]) == ["severe_ack_60", "severe_ack_180", "visits_45"]
