"""Read-side queries on a small hand-made city, on SQLite and PostgreSQL (``db_engine``)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select

from dashboard.catalog import load_catalog
from dashboard.db.schema import (
    Alert,
    CareRecipient,
    Complaint,
    ComplaintSite,
    Device,
    DeviceState,
    Enrolment,
    IncentiveLedger,
    ParticipationPeriod,
    Program,
    Region,
)
from dashboard.reference.load import load_reference
from queries import alerts, briefing, budget, complaints, filters, live, participation, reference
from queries import wandering as wandering_q

NOW = datetime(2024, 12, 20, 3, 0, tzinfo=UTC)  # 12:00 in Seoul
BAEKSEOK1 = "4128555100"
HOME = (37.6450, 126.7880)


def _ids(conn) -> tuple[dict[str, int], dict[str, int]]:
    programs = dict(conn.execute(select(Program.code, Program.id)).all())
    regions = dict(conn.execute(select(Region.code, Region.id)).all())
    return programs, regions


def seed_small(engine: Engine) -> dict[str, int]:
    """Catalog and reference, plus a handful of people, devices, alerts and complaints."""
    with engine.begin() as conn:
        load_catalog(conn)
        load_reference(conn)
        prog, reg = _ids(conn)
        dong = reg[BAEKSEOK1]
        people = [
            ("김영수", "goyang_wandering", 300),
            ("이순자", "goyang_wandering", 300),
            ("박철", "goyang_ai_call", None),
        ]
        rec_ids = []
        for i, (name, code, zone) in enumerate(people):
            rec_ids.append(
                conn.execute(
                    insert(CareRecipient).values(
                        program_id=prog[code],
                        region_id=dong,
                        external_ref=f"R{i}",
                        birth_year=1940,
                        sex="F",
                        household="alone",
                        enrolled_on=date(2024, 7, 1),
                        safe_zone_m=zone,
                        pii_name=name,
                        pii_phone="010-1234-5678",
                        pii_home_lat=HOME[0],
                        pii_home_lon=HOME[1],
                        pii_address="고양시 일산동구 백석로 1",
                    )
                ).inserted_primary_key[0]
            )
        devices = [
            # uid, program, type, recipient, state, last seen (minutes ago), position
            (
                "W-1",
                "goyang_wandering",
                "wandering_detector",
                rec_ids[0],
                "normal",
                2,
                (HOME[0] + 0.0005, HOME[1]),
            ),  # ~55 m: inside 300 m
            (
                "W-2",
                "goyang_wandering",
                "wandering_detector",
                rec_ids[1],
                "risk",
                5,
                (HOME[0] + 0.01, HOME[1]),
            ),  # ~1.1 km: outside
            ("A-1", "goyang_ai_call", "ai_call_line", rec_ids[2], "severe", 600, None),
            ("S-1", "goyang_smoking", "smoking_detector", None, "offline", None, None),
        ]
        dev_ids = {}
        for uid, code, typ, rid, state, ago, pos in devices:
            dev_ids[uid] = conn.execute(
                insert(Device).values(
                    device_uid=uid,
                    type_code=typ,
                    program_id=prog[code],
                    vendor="t",
                    recipient_id=rid,
                    region_id=dong,
                    installed_on=date(2024, 7, 1),
                    status="active",
                )
            ).inserted_primary_key[0]
            if ago is not None:
                seen = NOW - timedelta(minutes=ago)
                conn.execute(
                    insert(DeviceState).values(
                        device_id=dev_ids[uid],
                        state=state,
                        state_since=seen,
                        last_seen_at=seen,
                        updated_at=seen,
                        battery_pct=15 if uid == "W-2" else 80,
                        last_lat=pos[0] if pos else None,
                        last_lon=pos[1] if pos else None,
                    )
                )
        for i, (uid, rid, stage, hours, status) in enumerate(
            [
                ("A-1", rec_ids[2], "severe", 10, "open"),
                ("W-2", rec_ids[1], "risk", 1, "acknowledged"),
                ("W-1", rec_ids[0], "attention", 30, "open"),
                ("W-1", rec_ids[0], "severe", 50, "closed"),
            ]
        ):
            opened = NOW - timedelta(hours=hours)
            conn.execute(
                insert(Alert).values(
                    dedup_key=f"k{i}",
                    kind="person",
                    rule="no_activity",
                    stage=stage,
                    status=status,
                    program_id=conn.execute(
                        select(Device.program_id).where(Device.id == dev_ids[uid])
                    ).scalar_one(),
                    region_id=dong,
                    recipient_id=rid,
                    device_id=dev_ids[uid],
                    evidence={"hours_without_activity": hours},
                    opened_at=opened,
                    updated_at=opened,
                    acknowledged_at=opened + timedelta(minutes=4) if status != "open" else None,
                    closed_at=opened + timedelta(hours=1) if status == "closed" else None,
                )
            )
        site = conn.execute(
            insert(ComplaintSite).values(
                code="SITE1",
                program_id=prog["goyang_smoking"],
                region_id=dong,
                name_ko="백석역 광장",
                name_en="Baekseok Station square",
                lat=37.64,
                lon=126.78,
                category="smoking",
                measures_from=date(2023, 7, 1),
            )
        ).inserted_primary_key[0]
        # 20 complaints in 2023 H1, 13 in 2024 H1 (−35%). 2024-06-30 15:30 UTC is already
        # 1 July in Seoul, so that one counts for H2 (and for July), not for H1.
        stamps = [datetime(2023, 1 + i % 6, 10, tzinfo=UTC) for i in range(20)]
        stamps += [datetime(2024, 1 + i % 6, 5, tzinfo=UTC) for i in range(13)]
        stamps.append(datetime(2024, 6, 30, 15, 30, tzinfo=UTC))
        conn.execute(
            insert(Complaint),
            [
                {
                    "site_id": site,
                    "region_id": dong,
                    "category": "smoking",
                    "channel": "phone",
                    "received_at": ts,
                }
                for ts in stamps
            ],
        )
        enrol = []
        for i in range(4):
            enrol.append(
                conn.execute(
                    insert(Enrolment).values(
                        program_id=prog["seoul_wrist_doctor"],
                        region_id=reg["1100000000"],
                        participant_ref=f"P{i}",
                        age_band="60-64",
                        sex="M",
                        enrolled_on=date(2024, 1, 1),
                        status="completed" if i == 0 else "active",
                        improved=True if i < 2 else None,
                    )
                ).inserted_primary_key[0]
            )
        conn.execute(
            insert(IncentiveLedger),
            [
                {
                    "program_id": prog["seoul_wrist_doctor"],
                    "enrolment_id": enrol[0],
                    "occurred_on": date(2024, 11, d),
                    "kind": "earn",
                    "reason": "steps_8000",
                    "points": 200,
                }
                for d in (1, 2, 3)
            ]
            + [
                {
                    "program_id": prog["seoul_wrist_doctor"],
                    "enrolment_id": enrol[0],
                    "occurred_on": date(2024, 12, 1),
                    "kind": "redeem",
                    "reason": "seoul_pay",
                    "points": 500,
                }
            ],
        )
        conn.execute(
            insert(ParticipationPeriod),
            [
                {
                    "program_id": prog["goyang_ai_call"],
                    "region_id": None,
                    "metric": "calls",
                    "period_start": date(2024, m, 1),
                    "period_end": date(2024, m + 1, 1),
                    "value": 1000 + m,
                }
                for m in (9, 10)
            ],
        )
    return dev_ids


@pytest.fixture
def city(db_engine: Engine) -> Engine:
    seed_small(db_engine)
    return db_engine


def _by_program(conn, filters: live.LiveFilters | None = None):
    return live.programs_of(live.device_counts(conn, filters or live.LiveFilters()))


def test_state_counts_by_program_and_filters(city):
    with city.connect() as conn:
        df = _by_program(conn)
        assert df["devices"].sum() == 4
        wandering = df[df["program_code"] == "goyang_wandering"].set_index("state")["devices"]
        assert wandering.to_dict() == {"normal": 1, "risk": 1}
        # A device that never reported counts as offline.
        assert df.set_index("program_code").loc["goyang_smoking", "state"] == "offline"
        only_risk = _by_program(conn, live.LiveFilters(states=("risk", "severe")))
        assert sorted(only_risk["state"]) == ["risk", "severe"]
        goyang_district = conn.execute(
            select(Region.id).where(Region.code == "4128500000")
        ).scalar_one()
        seoul = conn.execute(select(Region.id).where(Region.code == "1100000000")).scalar_one()
        assert (
            _by_program(conn, live.LiveFilters(districts=(goyang_district,)))["devices"].sum() == 4
        )
        assert _by_program(conn, live.LiveFilters(districts=(seoul,))).empty


def test_dong_counts_and_newest_signal(city):
    with city.connect() as conn:
        dongs = live.dongs_of(live.device_counts(conn))
        assert set(dongs["region_code"]) == {BAEKSEOK1}
        assert dongs["devices"].sum() == 4
        assert live.newest_signal(conn) == NOW - timedelta(minutes=2)


def test_last_seen_lists_never_seen_first_and_masks_names(city):
    with city.connect() as conn:
        df = live.last_seen(conn)
    assert df["device_uid"].tolist() == ["S-1", "A-1", "W-2", "W-1"]
    assert df.loc[df["device_uid"] == "W-1", "recipient_masked"].item() == "김*수"
    assert "pii_name" not in df.columns


def test_open_alerts_sorted_by_stage_then_waiting(city):
    with city.connect() as conn:
        df = alerts.open_alerts(conn, NOW)
        assert df["stage"].tolist() == ["severe", "risk", "attention"]  # closed one left out
        assert df["recipient_masked"].tolist() == ["박*", "이*자", "김*수"]
        assert df.loc[0, "age_s"] == 10 * 3600
        assert not any(c.startswith("pii_") for c in df.columns)
        assert alerts.open_alerts(conn, NOW, stages=("attention",))["stage"].tolist() == [
            "attention"
        ]
        assert alerts.open_alerts(conn, NOW, programs=("goyang_wandering",))["stage"].tolist() == [
            "risk",
            "attention",
        ]


def test_alert_by_id_includes_closed(city):
    with city.connect() as conn:
        closed_id = conn.execute(select(Alert.id).where(Alert.status == "closed")).scalar_one()
        one = alerts.alert_by_id(conn, closed_id, NOW)
        assert one["status"].item() == "closed"
        assert alerts.alert_by_id(conn, 999_999, NOW).empty


def test_live_snapshot_is_consistent(city):
    with city.connect() as conn:
        snap = live.live_snapshot(conn, NOW)
        short = live.live_snapshot(conn, NOW, ticker=1)
    assert snap.by_program["devices"].sum() == 4
    # Ticker newest first.
    assert snap.alerts["opened_at"].is_monotonic_decreasing
    assert snap.newest_signal == NOW - timedelta(minutes=2)
    # Stage counts cover every open alert, not just the ticker's rows.
    assert len(short.alerts) == 1
    assert short.open_by_stage == {"severe": 1, "risk": 1, "attention": 1}


def test_device_counts_group_ids_once_for_both_tables(city):
    with city.connect() as conn:
        counts = live.device_counts(conn)
        rows = {
            (r.program_code, r.region_code, r.state): (r.devices, r.never_seen)
            for r in counts.itertuples()
        }
        assert rows == {
            ("goyang_wandering", BAEKSEOK1, "normal"): (1, 0),
            ("goyang_wandering", BAEKSEOK1, "risk"): (1, 0),
            ("goyang_ai_call", BAEKSEOK1, "severe"): (1, 0),
            ("goyang_smoking", BAEKSEOK1, "offline"): (1, 1),  # never reported: no state row
        }
        assert set(counts["region_ko"]) == {"백석1동"}
        # The two tables are sums of it.
        by_program = live.programs_of(counts)
        assert by_program[["program_code", "state", "devices"]].values.tolist() == [
            ["goyang_ai_call", "severe", 1],
            ["goyang_smoking", "offline", 1],
            ["goyang_wandering", "normal", 1],
            ["goyang_wandering", "risk", 1],
        ]
        by_dong = live.dongs_of(counts)
        assert by_dong[["region_code", "state", "devices"]].values.tolist() == [
            [BAEKSEOK1, "normal", 1],
            [BAEKSEOK1, "offline", 1],
            [BAEKSEOK1, "risk", 1],
            [BAEKSEOK1, "severe", 1],
        ]
        wandering = live.device_counts(conn, live.LiveFilters(programs=("goyang_wandering",)))
        assert wandering["devices"].sum() == 2 and wandering["never_seen"].sum() == 0
        offline = live.device_counts(conn, live.LiveFilters(states=("offline",)))
        assert offline[["program_code", "devices", "never_seen"]].values.tolist() == [
            ["goyang_smoking", 1, 1]
        ]
        seoul = conn.execute(select(Region.id).where(Region.code == "1100000000")).scalar_one()
        assert live.device_counts(conn, live.LiveFilters(districts=(seoul,))).empty
        assert live.programs_of(
            live.device_counts(conn, live.LiveFilters(districts=(seoul,)))
        ).empty


def test_last_seen_skips_the_never_seen_read_only_when_told_none(city):
    with city.connect() as conn:
        assert live.last_seen(conn, never_seen=1)["device_uid"].tolist() == [
            "S-1",
            "A-1",
            "W-2",
            "W-1",
        ]
        assert live.last_seen(conn, never_seen=0)["device_uid"].tolist() == ["A-1", "W-2", "W-1"]
        assert live.last_seen(conn, limit=2)["device_uid"].tolist() == ["S-1", "A-1"]
        wandering = live.LiveFilters(programs=("goyang_wandering",), states=("risk",))
        assert live.last_seen(conn, wandering)["device_uid"].tolist() == ["W-2"]


def test_open_alerts_by_stage_counts_in_sql(city):
    with city.connect() as conn:
        assert alerts.open_alerts_by_stage(conn) == {"severe": 1, "risk": 1, "attention": 1}
        assert alerts.open_alerts_by_stage(conn, programs=("goyang_wandering",)) == {
            "risk": 1,
            "attention": 1,
        }
        goyang = conn.execute(select(Region.id).where(Region.code == "4128500000")).scalar_one()
        seoul = conn.execute(select(Region.id).where(Region.code == "1100000000")).scalar_one()
        assert sum(alerts.open_alerts_by_stage(conn, districts=(goyang,)).values()) == 3
        assert alerts.open_alerts_by_stage(conn, districts=(seoul,)) == {}


def test_newest_open_alerts_reads_only_the_ticker(city):
    with city.connect() as conn:
        df = alerts.newest_open_alerts(conn, NOW)
        assert df["stage"].tolist() == ["risk", "severe", "attention"]  # newest first
        assert df["recipient_masked"].tolist() == ["이*자", "박*", "김*수"]
        assert df["age_s"].tolist() == [3600, 10 * 3600, 30 * 3600]
        assert df["region_ko"].tolist() == ["백석1동"] * 3
        assert "evidence" not in df.columns and not any(c.startswith("pii_") for c in df.columns)
        assert alerts.newest_open_alerts(conn, NOW, limit=2)["stage"].tolist() == [
            "risk",
            "severe",
        ]
        only = alerts.newest_open_alerts(conn, NOW, programs=("goyang_ai_call",))
        assert only["stage"].tolist() == ["severe"]


def test_wandering_positions_flag_outside(city):
    with city.connect() as conn:
        df = wandering_q.positions(conn).set_index("device_uid")
    assert not df.loc["W-1", "outside"]
    assert df.loc["W-2", "outside"]
    assert 1000 < df.loc["W-2", "distance_m"] < 1200
    assert df.loc["W-2", "recipient_masked"] == "이*자"


def test_monthly_complaints_use_seoul_months(city):
    with city.connect() as conn:
        df = complaints.monthly(conn)
        june = df[df["month"] == date(2024, 6, 1)]["complaints"].sum()
        july = df[df["month"] == date(2024, 7, 1)]["complaints"].sum()
        assert df["complaints"].sum() == 34
        assert (june, july) == (2, 1)
        yoy = complaints.year_on_year(conn, complaints.DOCUMENTED_FRAMINGS).set_index("framing")
    assert yoy.loc["h1_2024", "previous"] == 20
    assert yoy.loc["h1_2024", "current"] == 13
    assert yoy.loc["h1_2024", "change_pct"] == pytest.approx(-35.0)
    assert yoy.loc["h2_2024", "current"] == 1


def test_complaint_sites(city):
    with city.connect() as conn:
        df = complaints.sites(conn)
    assert df["measures_from"].tolist() == [date(2023, 7, 1)]


def test_participation_and_incentives(city):
    with city.connect() as conn:
        people = participation.participants(conn).set_index("program_code")
        assert people.loc["seoul_wrist_doctor", "enrolled"] == 4
        assert people.loc["seoul_wrist_doctor", "completed"] == 1
        assert people.loc["seoul_wrist_doctor", "improved"] == 2
        assert people.loc["goyang_walkon", "enrolled"] == 0
        points = participation.incentives_monthly(conn)
        assert points.to_dict("records") == [
            {"month": date(2024, 11, 1), "kind": "earn", "points": 600.0},
            {"month": date(2024, 12, 1), "kind": "redeem", "points": 500.0},
        ]
        totals = participation.period_totals(conn)
        assert totals.set_index("metric").loc["calls", "total"] == 2019


def test_headline_comparison(city):
    with city.connect() as conn:
        df = participation.headline_comparison(conn).set_index("program_code")
    assert df.loc["seoul_wrist_doctor", "published"] == 100_000  # 2021 + 2022
    assert pd.isna(df.loc["seoul_wrist_doctor", "ours"])  # no periodic counts in this city
    assert df.loc["goyang_mobile_health", "published"] == 990
    assert df.loc["goyang_mobile_health", "ours"] == 0


def test_published_figures(city):
    with city.connect() as conn:
        figs = reference.published_figures(conn, program_codes=("goyang_smoking",))
    by_key = figs.set_index("figure_key")["value"]
    assert by_key["goyang.smoking.complaints_change_yoy"] == -35
    assert by_key["goyang.smoking.complaints_change_yoy_2024h2"] == -90


def test_budget_tables_reproduce_documents(city):
    with city.connect() as conn:
        goyang = budget.budget_lines(conn, "goyang")
        seoul = budget.budget_lines(conn, "seoul")
        found = budget.findings(conn)
    execution = budget.execution_table(goyang)
    by_period = execution.groupby("period")[["secured", "executed"]].sum()
    assert by_period.loc["2023", "secured"] == pytest.approx(284)
    assert by_period.loc["2023", "executed"] == pytest.approx(244)
    assert by_period.loc["2024", "secured"] == pytest.approx(361.9)
    assert execution["plan"].sum() == pytest.approx(1731.6 - 672 + 672)  # prior included
    printed = budget.printed_table(goyang, "연도별 확보(집행)액")
    total_row = printed[(printed["unit_project"] == "계") & (printed["measure"] == "executed")]
    assert total_row["total"].item() == pytest.approx(820.7)
    items = budget.formula_check(seoul).set_index("line_item")
    assert items.loc["참여자 인센티브 제공", "computed"] == pytest.approx(14_000_000)
    assert bool(items.loc["참여자 인센티브 제공", "matches"])
    bad = items.loc["상담센터 운영 용역 > 사무공간 임대료 및 콜 시스템 사용료 등"]
    assert not bool(bad["matches"]) and bad["computed"] == pytest.approx(657_359)
    # Truncation under 1,000 won is rounding, not an inconsistency.
    assert bool(items.loc["상담센터 운영 용역 > 인건비", "matches"])
    assert (found["kind"] == "formula").sum() >= 1
    assert any("656,685" in m for m in found["message_ko"])


def test_briefing_is_aggregate(city):
    with city.connect() as conn:
        k = briefing.kpis(conn, NOW)
        days = briefing.alerts_by_day(conn, NOW)
        states = briefing.devices_by_program_state(conn)
        dongs = briefing.devices_by_dong_state(conn)
    assert k["devices"] == 4 and k["recipients"] == 3
    assert dongs["devices"].sum() == states["devices"].sum() == 4
    assert dongs["name_ko"].notna().all() and "state" in dongs.columns
    assert k["open_alerts"] == 3 and k["open_severe"] == 1
    assert k["median_ack_min"] == pytest.approx(4)
    assert k["participants"] == 4
    assert days["alerts"].sum() == 4
    for df in (days, states, dongs):
        assert not any(c.startswith("pii_") or c.endswith("_masked") for c in df.columns)


def test_deck_aggregates(city):
    """The council deck's queries (queries/briefing.py), on both engines."""
    from dashboard.briefing.slides import suppress_reach_counts
    from dashboard.db.schema import Dispatch

    with city.begin() as conn:
        first = conn.execute(select(Alert).order_by(Alert.id).limit(1)).one()
        conn.execute(
            insert(Dispatch).values(
                alert_id=first.id,
                kind="field_visit",
                requested_at=NOW - timedelta(hours=2),
                requested_by="op",
                arrived_at=NOW - timedelta(hours=1, minutes=30),
            )
        )
        conn.execute(
            insert(Alert).values(
                dedup_key="plug",
                kind="person",
                rule=briefing.PLUG_RULE,
                stage="attention",
                status="open",
                program_id=first.program_id,
                region_id=first.region_id,
                recipient_id=first.recipient_id,
                device_id=first.device_id,
                evidence={"basis": "routine", "share": 0.97},
                opened_at=NOW - timedelta(hours=3),
                updated_at=NOW - timedelta(hours=3),
            )
        )
    start = NOW - timedelta(days=7)
    with city.connect() as conn:
        reach = briefing.program_reach(conn).set_index("program_code")
        totals = briefing.reach_totals(conn)
        checks = briefing.checks_in_period(conn, start, NOW)
        people = briefing.people_checked(conn, start, NOW)
        basis = briefing.plug_alert_basis(conn, start, NOW)
        dongs = briefing.reach_by_dong(conn, start, NOW)
        monthly = briefing.smoking_complaints_monthly(conn)
    assert reach.loc["goyang_wandering", ["devices", "people", "districts"]].tolist() == [2, 2, 1]
    assert reach.loc["goyang_smoking", "people"] == 0
    assert totals == {"people": 3, "devices": 4, "districts": 1}
    assert checks.to_dict("records") == [{"kind": "field_visit", "checks": 1, "people": 1}]
    assert people == 1
    assert basis.to_dict("records") == [
        {"basis": "routine", "stage": "attention", "outcome": "(open)", "alerts": 1}
    ]
    assert dongs[["code", "people", "alerts"]].values.tolist() == [[BAEKSEOK1, 3, 5]]
    safe = suppress_reach_counts(dongs)
    assert safe["people"].tolist() == [None] and safe["alerts"].tolist() == [None]
    assert monthly["complaints"].sum() == 34
    for df in (reach, checks, basis, dongs, monthly):
        assert not any(c.startswith("pii_") for c in df.columns)


def test_filter_options(city):
    with city.connect() as conn:
        progs = filters.programs(conn, kind="device")
        districts = filters.districts_with_devices(conn)
    assert "goyang_wandering" in set(progs["code"])
    assert "goyang_walkon" not in set(progs["code"])
    assert districts["code"].tolist() == ["4128500000"]


def test_frame_parses_times_on_both_engines(city):
    with city.connect() as conn:
        df = live.last_seen(conn)
    assert isinstance(df["last_seen_at"].dtype, pd.DatetimeTZDtype)
