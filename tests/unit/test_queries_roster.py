"""queries.roster on SQLite and PostgreSQL: filters, district scope, literal search, masking,
the limit, the home flag and one person's timeline (newest first)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import insert, select, update

from dashboard.db.schema import Alert, CareRecipient, Device, Dispatch
from dashboard.registry import DEVICES, PEOPLE, import_devices, import_people
from queries.roster import (
    device_alerts,
    device_by_uid,
    device_list,
    home_position,
    people_dongs,
    people_list,
    person_by_ref,
    person_timeline,
    recipient_id_by_ref,
)
from tests.registry_support import (
    CHEONGUN,
    LEAD,
    NOW,
    device,
    person,
    prepare,
    roster_csv,
)

TODAY = date(2025, 3, 1)
JONGNO = "1111000000"  # 종로구: both dongs
ELSEWHERE = "4128000000"  # 고양시: neither


@pytest.fixture
def city(db_engine):
    prepare(db_engine)
    people = [
        person(1, name="김철수", risk_group=""),
        person(2, name="이영희", dong_code=CHEONGUN, home_lat="", home_lon=""),
        person(3, name="박50%_수"),
    ]
    assert import_people(db_engine, roster_csv(PEOPLE, people), "p.csv", LEAD, NOW).stored
    devices = [device(1), device(2, installed_on="2025-02-01")]
    assert import_devices(db_engine, roster_csv(DEVICES, devices), "d.csv", LEAD, NOW).stored
    with db_engine.begin() as conn:
        conn.execute(
            update(CareRecipient)
            .where(CareRecipient.external_ref == "P-0003")
            .values(ended_on=date(2025, 2, 1), risk_group="dementia")
        )
        rid, did, program, region = conn.execute(
            select(Device.recipient_id, Device.id, Device.program_id, Device.region_id).where(
                Device.device_uid == "PLUG-0001"
            )
        ).one()
        alert_ids = []
        for hours, status in ((48, "closed"), (2, "open")):
            at = NOW - timedelta(hours=hours)
            alert_ids.append(
                conn.execute(
                    insert(Alert)
                    .values(
                        dedup_key=f"k{hours}",
                        kind="person",
                        rule="no_change",
                        stage="risk",
                        status=status,
                        program_id=program,
                        region_id=region,
                        recipient_id=rid,
                        device_id=did,
                        opened_at=at,
                        updated_at=at,
                        outcome="safe" if status == "closed" else None,
                    )
                    .returning(Alert.id)
                ).scalar_one()
            )
        conn.execute(
            insert(Dispatch).values(
                alert_id=alert_ids[0],
                kind="dong_center",
                target="사직동 행정복지센터",
                requested_at=NOW - timedelta(hours=47),
                requested_by="lead-1",
            )
        )
    return db_engine


def _refs(df) -> list[str]:
    return list(df["external_ref"])


def test_people_filters_and_counts(city) -> None:
    with city.connect() as conn:
        everyone = people_list(conn, TODAY, with_names=True)
        assert _refs(everyone) == ["P-0001", "P-0002", "P-0003"]
        first = everyone.iloc[0]
        assert (first["devices"], first["open_alerts"]) == (1, 1)
        assert first["recipient_masked"] != "김철수" and "pii_name" not in everyone
        assert _refs(people_list(conn, TODAY, statuses=("ended",))) == ["P-0003"]
        assert _refs(people_list(conn, TODAY, statuses=("active",))) == ["P-0001", "P-0002"]
        assert _refs(people_list(conn, TODAY, risk_groups=("dementia",))) == ["P-0003"]
        dongs = people_dongs(conn)
        cheongun = int(dongs.loc[dongs["code"] == CHEONGUN, "id"].iloc[0])
        assert _refs(people_list(conn, TODAY, dongs=(cheongun,))) == ["P-0002"]
        assert _refs(people_list(conn, TODAY, programs=("no_such",))) == []
        assert len(people_list(conn, TODAY, limit=2)) == 2


def test_search_is_literal_and_names_need_the_right(city) -> None:
    with city.connect() as conn:
        assert _refs(people_list(conn, TODAY, search="p-0002")) == ["P-0002"]
        assert _refs(people_list(conn, TODAY, search="철수", with_names=True)) == ["P-0001"]
        # Without the right to names, a name matches nothing and no name column is returned.
        plain = people_list(conn, TODAY, search="철수")
        assert plain.empty and "recipient_masked" not in plain
        # % and _ are characters, not wildcards.
        assert _refs(people_list(conn, TODAY, search="50%_", with_names=True)) == ["P-0003"]
        assert _refs(people_list(conn, TODAY, search="%", with_names=True)) == ["P-0003"]


def test_district_scope(city) -> None:
    with city.connect() as conn:
        assert len(people_list(conn, TODAY, areas=(JONGNO,))) == 3
        assert people_list(conn, TODAY, areas=(ELSEWHERE,), search="철수", with_names=True).empty
        assert people_list(conn, TODAY, areas=()).empty
        assert device_list(conn, areas=(ELSEWHERE,)).empty
        assert len(device_list(conn, areas=(JONGNO,))) == 2
        assert people_dongs(conn, areas=(ELSEWHERE,)).empty


def test_person_home_and_timeline(city) -> None:
    with city.connect() as conn:
        one = person_by_ref(conn, "P-0001")
        two = person_by_ref(conn, "P-0002")
        assert one["has_home"] and not two["has_home"]
        assert two["region_lat"] is not None  # the centroid the page falls back to
        assert "pii_name" not in one and person_by_ref(conn, "nobody") is None
        assert home_position(conn, one["id"]) == pytest.approx((37.5759, 126.9688))
        assert home_position(conn, two["id"]) is None
        timeline = person_timeline(conn, one["id"])
    assert list(timeline["entry"]) == ["alert", "dispatch", "alert", "device"]
    assert timeline["at"].is_monotonic_decreasing
    assert list(timeline["outcome"])[2] == "safe"
    assert list(timeline["target"])[1] == "사직동 행정복지센터"
    assert list(timeline["ref"])[3] == "PLUG-0001"


def test_devices_filters_and_detail(city) -> None:
    with city.connect() as conn:
        assert list(device_list(conn)["device_uid"]) == ["PLUG-0001", "PLUG-0002"]
        assert list(device_list(conn, search="0002")["device_uid"]) == ["PLUG-0002"]
        assert device_list(conn, vendor_names=("other",)).empty
        assert device_list(conn, statuses=("retired",)).empty
        assert list(device_list(conn, types=("smart_plug",))["device_uid"]) == [
            "PLUG-0001",
            "PLUG-0002",
        ]
        detail = device_by_uid(conn, "PLUG-0001", with_names=True)
        assert detail["external_ref"] == "P-0001" and detail["recipient_masked"] != "김철수"
        assert "recipient_masked" not in device_by_uid(conn, "PLUG-0001")
        assert device_by_uid(conn, "nope") is None
        alerts = device_alerts(conn, int(detail["id"]))
    assert list(alerts["status"]) == ["open", "closed"]
    assert list(alerts["dispatches"]) == [0, 1]


def test_a_search_with_control_codes_matches_nothing_instead_of_failing(city) -> None:
    """A browser field keeps a pasted NUL; PostgreSQL failed the LIKE with an internal error."""
    with city.connect() as conn:
        for text in ("P-0001\x00", "\x00", "p\x1b"):
            assert people_list(conn, TODAY, search=text, with_names=True).empty
            assert device_list(conn, search=text).empty
        assert recipient_id_by_ref(conn, "P-0001\x00") is None
