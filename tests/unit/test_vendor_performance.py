"""Vendor performance on hand-made faults with known answers, on SQLite and PostgreSQL.

Goyang program (백석1동), period START (Monday 2024-12-02 00:00 KST) + 14 days. Vendor acme has
plugs d1–d4 (d5 retired), beta has b1–b2; hours after START:

| fault | device | rule          | last seen | opened | next reading | closed | repair | silence |
|-------|--------|---------------|-----------|--------|--------------|--------|--------|---------|
| F1    | d1     | device_silent | −1        | 1      | 5            | 11     | 4 h    | 6 h     |
| F2    | d2     | device_silent | 0         | 2      | –            | 32     | 30 h   | 32 h    |
| F3    | d3     | low_battery   |           | 3      | 3:01 (n/a)   | 9      | 6 h    |         |
| F4    | d1     | device_silent | 190       | 192    | –            | open   | –      | to END  |
| F5    | b1     | device_silent | 22        | 24     | 25           | 25     | 1 h    | 3 h     |

Outside: F6 (d1, opened before START), F7 (a Seoul-program plug of acme), a person alert on d1.
Delays (received − ts): acme 10 s (d1), 20 s (d3), 60 s (d4); beta 5 s; an event before START.
"""

from __future__ import annotations

import itertools
from datetime import date, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert
from test_actions_support import seed

from dashboard.db.schema import Alert, Device, DeviceEvent
from queries.vendor_performance import (
    delay_sample,
    sample_devices,
    vendor_devices,
    vendor_performance,
)

START = pd.Timestamp("2024-12-01T15:00Z").to_pydatetime()
END = START + timedelta(days=14)
H = timedelta(hours=1)
GOYANG = ["goyang_ai_call"]
_uid = itertools.count(1)


@pytest.fixture
def db(db_engine: Engine) -> Engine:
    seed(db_engine)
    ids: dict[str, int] = {}
    with db_engine.begin() as conn:
        for name, vendor, program, region, status in (
            ("d1", "acme", 1, 2, "active"),
            ("d2", "acme", 1, 2, "active"),
            ("d3", "acme", 1, 2, "in_repair"),
            ("d4", "acme", 1, 2, "active"),
            ("d5", "acme", 1, 2, "retired"),
            ("b1", "beta", 1, 2, "active"),
            ("b2", "beta", 1, 2, "active"),
            ("s1", "acme", 2, 4, "active"),
        ):
            ids[name] = conn.execute(
                insert(Device).returning(Device.id),
                {"device_uid": name, "vendor": vendor, "type_code": "smart_plug",
                 "program_id": program, "region_id": region, "status": status,
                 "installed_on": date(2024, 1, 1)},
            ).scalar_one()  # fmt: skip

        def fault(device, rule, opened_h, closed_h=None, seen_h=None, kind="device_fault",
                  program_id=1, region_id=2):  # fmt: skip
            opened = START + opened_h * H
            evidence = {} if seen_h is None else {"last_seen_at": (START + seen_h * H).isoformat()}
            conn.execute(
                insert(Alert),
                {"dedup_key": f"{rule}:d{ids[device]}:{next(_uid)}", "kind": kind, "rule": rule,
                 "stage": "attention", "status": "closed" if closed_h is not None else "open",
                 "program_id": program_id, "region_id": region_id, "device_id": ids[device],
                 "evidence": evidence, "opened_at": opened, "updated_at": opened,
                 "closed_at": START + closed_h * H if closed_h is not None else None,
                 "closed_by": "system" if closed_h is not None else None,
                 "outcome": "device_fault" if closed_h is not None else None, "version": 1},
            )  # fmt: skip

        def event(device, ts_h, delay_s):
            ts = START + ts_h * H
            conn.execute(
                insert(DeviceEvent),
                {"vendor": "acme" if device[0] == "d" else "beta", "event_uid": f"e{next(_uid)}",
                 "device_id": ids[device], "ts": ts,
                 "received_at": ts + timedelta(seconds=delay_s), "type": "power", "value": 1.0,
                 "data": None},
            )  # fmt: skip

        fault("d1", "device_silent", 1, 11, seen_h=-1)  # F1
        fault("d2", "device_silent", 2, 32, seen_h=0)  # F2
        fault("d3", "low_battery", 3, 9)  # F3
        fault("d1", "device_silent", 192, None, seen_h=190)  # F4
        fault("b1", "device_silent", 24, 25, seen_h=22)  # F5
        fault("d1", "device_silent", -1, 3, seen_h=-3)  # F6: before the period
        fault("s1", "device_silent", 1, 2, seen_h=-1, program_id=2, region_id=4)  # F7
        fault("d1", "plug_no_change", 4, 6, kind="person")
        event("d1", 5, 10)
        event("d3", 3 + 1 / 60, 20)
        event("d4", 24, 60)
        event("b1", 25, 5)
        event("d4", -24, 999)  # before the period
    return db_engine


def test_one_row_per_vendor_and_type_with_known_figures(db):
    with db.connect() as conn:
        got = vendor_performance(conn, START, END, programs=GOYANG)["summary"]
    rows = got.set_index("vendor").to_dict("index")
    acme, beta = rows["acme"], rows["beta"]
    assert acme["type_code"] == "smart_plug"
    # d1–d4 in service (d5 retired); F1–F4, three silences.
    assert (acme["devices"], acme["faults"], acme["silences"]) == (4, 4, 3)
    assert acme["faults_per_100"] == 100.0
    assert (acme["repaired"], acme["unrepaired"]) == (3, 1)
    # Repairs [4, 6, 30] h: F1 by its next reading (before its close), F3 by its close
    # although the device reported a minute later. Median 6; p90 at rank 1.8 → 6 + 0.8·24.
    assert acme["repair_median_h"] == 6.0 and acme["repair_p90_h"] == pytest.approx(25.2)
    # Silences over 24 h: F2 (32 h), F4 (still silent at END): d2 and d1 → 2 of 4.
    assert acme["silent_over_day"] == 2 and acme["silent_over_day_share"] == 0.5
    # Delays [10, 20, 60] s: median 20, p90 at rank 1.8 → 20 + 0.8·40.
    assert acme["delay_events"] == 3
    assert acme["delay_median_s"] == 20.0 and acme["delay_p90_s"] == pytest.approx(52.0)
    assert (beta["devices"], beta["faults"], beta["silences"], beta["repaired"]) == (2, 1, 1, 1)
    assert beta["repair_median_h"] == 1.0 and beta["faults_per_100"] == 50.0
    assert beta["silent_over_day"] == 0 and beta["silent_over_day_share"] == 0.0
    assert (beta["delay_events"], beta["delay_median_s"]) == (1, 5.0)


def test_weekly_trend_has_every_week_of_the_period_also_without_faults(db):
    with db.connect() as conn:
        weekly = vendor_performance(conn, START, END, programs=GOYANG)["weekly"]
    got = {(r["vendor"], str(r["week"])): r for r in weekly.to_dict("records")}
    assert set(got) == {
        ("acme", "2024-12-02"),
        ("acme", "2024-12-09"),
        ("beta", "2024-12-02"),
        ("beta", "2024-12-09"),
    }
    assert got["acme", "2024-12-02"]["faults"] == 3
    assert got["acme", "2024-12-02"]["repair_median_h"] == 6.0
    assert got["acme", "2024-12-09"]["faults"] == 1
    assert pd.isna(got["acme", "2024-12-09"]["repair_median_h"])  # F4 is not repaired
    assert got["beta", "2024-12-09"]["faults"] == 0
    assert got["acme", "2024-12-02"]["faults_per_100"] == 75.0


def test_program_and_district_filters(db):
    with db.connect() as conn:
        seoul = vendor_performance(conn, START, END, programs=["seoul_smart_plug"])["summary"]
        jongno = vendor_performance(conn, START, END, districts=[3])["summary"]
        every = vendor_performance(conn, START, END)["summary"].set_index("vendor")
    pd.testing.assert_frame_equal(seoul, jongno)
    assert (seoul.loc[0, "vendor"], seoul.loc[0, "devices"], seoul.loc[0, "faults"]) == (
        "acme",
        1,
        1,
    )
    assert every.loc["acme", "devices"] == 5 and every.loc["acme", "faults"] == 5


def test_delay_sample_is_bounded_per_device(db):
    with db.connect() as conn:
        devices = sample_devices(conn, END)
        one = delay_sample(conn, devices, START - timedelta(days=2), END, per_device=1)
        all_ = delay_sample(conn, devices, START - timedelta(days=2), END)
    # d4 has two events in the widened period: the newest one only (60 s, not 999 s).
    assert sorted(one["delay_s"]) == [5.0, 10.0, 20.0, 60.0]
    assert sorted(all_["delay_s"]) == [5.0, 10.0, 20.0, 60.0, 999.0]


def test_an_empty_period_gives_rows_without_figures(db):
    later = END + timedelta(days=60)
    with db.connect() as conn:
        out = vendor_performance(conn, later, later + timedelta(days=7), programs=GOYANG)
    summary = out["summary"]
    assert list(summary["vendor"]) == ["acme", "beta"]
    assert list(summary["faults"]) == [0, 0] and summary["repair_median_h"].isna().all()
    assert summary["delay_median_s"].isna().all()
    assert set(out["weekly"]["faults"]) == {0}


def test_devices_counted_per_vendor_and_a_spread_sample(db):
    with db.connect() as conn:
        counts = vendor_devices(conn, END)
        two = sample_devices(conn, END, per_group=2)
        goyang = sample_devices(conn, END, programs=GOYANG)
    assert counts.to_dict("records") == [
        {"vendor": "acme", "type_code": "smart_plug", "devices": 5},  # d5 retired
        {"vendor": "beta", "type_code": "smart_plug", "devices": 2},
    ]
    # acme's 5 in service: rows 1 and 4 ((k − 1)·2 mod 5 < 2); beta's 2: both.
    assert list(two["vendor"]).count("acme") == 2 and list(two["vendor"]).count("beta") == 2
    assert len(goyang) == 6  # d1–d4, b1, b2: every device when a group is under the sample size
