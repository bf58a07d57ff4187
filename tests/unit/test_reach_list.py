"""The city's view of the stored reaches (``queries.reach_list.reach_shares`` and ``slow_plugs``) on
both backends: a plug counts in its person's district (else its device's), a dong for its
district; only active smart plugs count; the district filter is an operator's area scope; the
slow list is slowest first with ``none`` last, filtered by verdict, capped, names masked."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, insert, select

from dashboard.db.schema import (
    CareRecipient,
    Device,
    DeviceType,
    PlugReachRecord,
    Program,
    Region,
)
from dashboard.detection.learning import learn_routines
from dashboard.detection.reach_refresh import refresh_reaches
from queries.reach_list import VERDICTS, reach_shares, slow_plugs
from tests.unit import test_alert_lifecycle as lifecycle
from tests.unit.test_reach_refresh import LEARNED_AT, plug_with_history

db = lifecycle.db  # the refresh test's city: one district, one dong, plugs with history

ILSANDONG, DEOGYANG, DAEDEOK = "4128500000", "4128100000", "3023000000"
GOYANG = "4128000000"  # a 시 with 일반구: an operator's area covering 일산동구 and 덕양구
T = datetime(2024, 11, 28, 18, 0, tzinfo=UTC)
LEARNED = date(2024, 11, 28)
PLUG = "smart_plug"


@pytest.fixture
def city(db_engine: Engine) -> Engine:
    with db_engine.begin() as conn:
        conn.execute(  # every row names parent_id: an executemany takes the first row's keys
            insert(Region),
            [
                {"id": 1, "code": ILSANDONG, "level": "district", "parent_id": None,
                 "name_ko": "일산동구", "name_en": "Ilsandong-gu"},
                {"id": 2, "code": "4128552000", "level": "dong", "parent_id": 1,
                 "name_ko": "백석1동", "name_en": "Baekseok 1-dong"},
                {"id": 3, "code": DAEDEOK, "level": "district", "parent_id": None,
                 "name_ko": "대덕구", "name_en": "Daedeok-gu"},
                {"id": 4, "code": "3023051000", "level": "dong", "parent_id": 3,
                 "name_ko": "오정동", "name_en": "Ojeong-dong"},
                {"id": 5, "code": DEOGYANG, "level": "district", "parent_id": None,
                 "name_ko": "덕양구", "name_en": "Deogyang-gu"},
                {"id": 6, "code": "4128151000", "level": "dong", "parent_id": 5,
                 "name_ko": "주교동", "name_en": "Jugyo-dong"},
            ],
        )  # fmt: skip
        conn.execute(
            insert(Program),
            [{"id": 1, "code": "p", "kind": "device", "name_ko": "p", "name_en": "p",
              "region_id": 1}],
        )  # fmt: skip
        conn.execute(
            insert(DeviceType),
            [{"code": c, "name_ko": c, "name_en": c, "heartbeat_timeout_s": 7200}
             for c in ("smart_plug", "phone_line")],
        )  # fmt: skip
    return db_engine


def _plug(
    db: Engine,
    uid: str,
    *,
    person_region: int | None,
    device_region: int,
    reach: tuple[str, float | None, float | None] | None,
    computed_at: datetime = T,
    status: str = "active",
    type_code: str = "smart_plug",
    name: str = "김복순",
    program: int = 1,
) -> int:
    """A device (with a person in ``person_region`` unless None) and its stored reach
    ``(verdict, median_h, worst_h)`` unless None."""
    with db.begin() as conn:
        rid = None
        if person_region is not None:
            rid = conn.execute(
                insert(CareRecipient).returning(CareRecipient.id),
                {"program_id": program, "region_id": person_region, "external_ref": f"R-{uid}",
                 "birth_year": 1940, "sex": "F", "household": "alone",
                 "enrolled_on": date(2024, 1, 1), "pii_name": name},
            ).scalar()  # fmt: skip
        return _device(
            conn, uid, rid, device_region, reach, computed_at, status, type_code, program
        )


def _device(
    conn, uid, rid, region, reach, computed_at=T, status="active", type_code=PLUG, program=1
):
    """Insert a device of person ``rid`` (None: at a site) in ``region`` and its stored reach
    ``(verdict, median_h, worst_h)`` unless None; its id."""
    did = conn.execute(
        insert(Device).returning(Device.id),
        {"device_uid": uid, "type_code": type_code, "program_id": program, "vendor": "v",
         "recipient_id": rid, "region_id": region, "installed_on": date(2024, 1, 1),
         "status": status},
    ).scalar()  # fmt: skip
    if reach is not None:
        verdict, median, worst = reach
        conn.execute(
            insert(PlugReachRecord),
            {"device_id": did, "learned_on": LEARNED, "verdict": verdict, "median_h": median,
             "worst_h": worst, "computed_at": computed_at},
        )  # fmt: skip
    return did


@pytest.fixture
def plugs(city: Engine) -> Engine:
    # 일산동구: the person's dong decides, not the device's (A's device is entered in 대덕구)
    _plug(city, "A", person_region=2, device_region=4, reach=("slow", 20.0, 40.0))
    _plug(city, "D", person_region=2, device_region=2, reach=None)  # not judged yet
    _plug(city, "G", person_region=2, device_region=2, reach=("slow", None, None),
          computed_at=T - timedelta(days=3))  # fmt: skip
    _plug(city, "H", person_region=2, device_region=2, reach=("fair", 8.0, 15.5))
    _plug(city, "I", person_region=1, device_region=2, reach=("slow", 14.0, 30.0))  # a 구 itself
    # 덕양구: a person's dong there, whatever the device says
    _plug(city, "C", person_region=6, device_region=2, reach=("fast", 3.0, 9.0),
          computed_at=T - timedelta(days=5))  # fmt: skip
    # 대덕구: no person: the device's dong
    _plug(city, "B", person_region=None, device_region=4, reach=("none", None, None))
    # never counted: out of service, or not a plug
    _plug(city, "E", person_region=2, device_region=2, reach=("slow", 30.0, 50.0),
          status="retired")  # fmt: skip
    _plug(city, "F", person_region=2, device_region=2, reach=("slow", 40.0, 60.0),
          type_code="phone_line")  # fmt: skip
    return city


def _counts(df: pd.DataFrame) -> dict[str, tuple[int, ...]]:
    return {
        row["district_code"]: (row["plugs"], row["judged"], *(row[v] for v in VERDICTS))
        for row in df.to_dict("records")
    }


def test_shares_count_active_plugs_in_their_persons_district(plugs: Engine) -> None:
    with plugs.connect() as conn:
        df = reach_shares(conn)
    assert list(df["district_code"]) == [DAEDEOK, DEOGYANG, ILSANDONG]
    assert list(df["district_ko"]) == ["대덕구", "덕양구", "일산동구"]
    assert list(df["district_en"]) == ["Daedeok-gu", "Deogyang-gu", "Ilsandong-gu"]
    #                     plugs judged fast fair slow none
    assert _counts(df) == {
        DAEDEOK: (1, 1, 0, 0, 0, 1),
        DEOGYANG: (1, 1, 1, 0, 0, 0),
        ILSANDONG: (5, 4, 0, 1, 3, 0),
    }
    oldest = dict(zip(df["district_code"], df["oldest_at"], strict=True))
    assert oldest[ILSANDONG] == pd.Timestamp(T - timedelta(days=3))
    assert oldest[DEOGYANG] == pd.Timestamp(T - timedelta(days=5))
    personal = {"external_ref", "recipient_masked", "pii_name", "device_uid", "device_id"}
    assert not personal & set(df.columns)


def test_shares_follow_the_area_scope(plugs: Engine) -> None:
    with plugs.connect() as conn:
        goyang = reach_shares(conn, districts=(GOYANG,))
        daedeok = reach_shares(conn, districts=[DAEDEOK])
        nothing = reach_shares(conn, districts=())
    # The scope is the device's own dong, as the device list and page apply it; each plug is
    # counted in its person's district. A's device is entered in 대덕구 and its person lives
    # in 일산동구: 대덕구's operator opens its page, so it counts there, under 일산동구.
    assert _counts(goyang) == {DEOGYANG: (1, 1, 1, 0, 0, 0), ILSANDONG: (4, 3, 0, 1, 2, 0)}
    assert _counts(daedeok) == {DAEDEOK: (1, 1, 0, 0, 0, 1), ILSANDONG: (1, 1, 0, 0, 1, 0)}
    assert nothing.empty


def test_shares_of_the_chosen_programs_only(plugs: Engine) -> None:
    """The weekly review's program filter: a plug of another program is not counted."""
    with plugs.begin() as conn:
        conn.execute(
            insert(Program),
            {"id": 2, "code": "q", "kind": "device", "name_ko": "q", "name_en": "q",
             "region_id": 1},
        )  # fmt: skip
    _plug(plugs, "Q", person_region=6, device_region=6, reach=("slow", 30.0, 40.0), program=2)
    with plugs.connect() as conn:
        every = reach_shares(conn)
        p_only = reach_shares(conn, programs=["p"])
        q_only = reach_shares(conn, programs=("q",))
        unknown = reach_shares(conn, programs=["no such program"])
    assert _counts(every)[DEOGYANG] == (2, 2, 1, 0, 1, 0)
    assert _counts(p_only)[DEOGYANG] == (1, 1, 1, 0, 0, 0)
    assert _counts(p_only)[ILSANDONG] == (5, 4, 0, 1, 3, 0)
    assert _counts(q_only) == {DEOGYANG: (1, 1, 0, 0, 1, 0)}
    assert unknown.empty


def test_shares_of_a_city_with_no_reach_stored_yet(city: Engine) -> None:
    _plug(city, "N1", person_region=2, device_region=2, reach=None)
    _plug(city, "N2", person_region=6, device_region=6, reach=None)
    with city.connect() as conn:
        df = reach_shares(conn)
    assert _counts(df) == {DEOGYANG: (1, 0, 0, 0, 0, 0), ILSANDONG: (1, 0, 0, 0, 0, 0)}
    assert df["oldest_at"].isna().all()


def test_slow_plugs_slowest_first_and_none_last(plugs: Engine) -> None:
    with plugs.connect() as conn:
        df = slow_plugs(conn)
    assert list(df["device_uid"]) == ["G", "A", "I", "B"]
    assert list(df["verdict"]) == ["slow", "slow", "slow", "none"]
    first = df.iloc[0]
    assert pd.isna(first["median_h"]) and pd.isna(first["worst_h"])
    a = df.iloc[1]
    assert (a["median_h"], a["worst_h"], a["external_ref"]) == (20.0, 40.0, "R-A")
    assert (a["district_code"], a["district_ko"], a["district_en"]) == (
        ILSANDONG,
        "일산동구",
        "Ilsandong-gu",
    )
    assert a["learned_on"] == LEARNED and a["computed_at"] == pd.Timestamp(T)
    assert df.iloc[3]["external_ref"] is None and df.iloc[3]["district_code"] == DAEDEOK
    assert "recipient_masked" not in df.columns and "pii_name" not in df.columns


def test_slow_plugs_filters_and_names(plugs: Engine) -> None:
    with plugs.connect() as conn:
        goyang = slow_plugs(conn, districts=(GOYANG,), with_names=True)
        fast = slow_plugs(conn, verdicts=("fast",))
        judged = slow_plugs(conn, verdicts=())
        two = slow_plugs(conn, limit=2)
        nothing = slow_plugs(conn, districts=())
    # A's person lives in 고양시 but its device is entered in 대덕구: listed for 대덕구's
    # operator, whose device page opens it (the scope is the device's dong)
    assert list(goyang["device_uid"]) == ["G", "I"]
    assert list(goyang["recipient_masked"]) == ["김*순"] * 2
    assert "pii_name" not in goyang.columns
    assert list(fast["device_uid"]) == ["C"] and list(fast["district_code"]) == [DEOGYANG]
    assert list(judged["device_uid"]) == ["G", "A", "I", "H", "C", "B"]
    assert list(two["device_uid"]) == ["G", "A"]
    assert nothing.empty


def test_the_workers_refresh_fills_what_the_queries_count(db: Engine) -> None:
    a, b = plug_with_history(db), plug_with_history(db)
    with db.begin() as conn:
        learn_routines(conn, LEARNED_AT)
    with db.connect() as conn:
        before = reach_shares(conn)
    assert list(before["plugs"]) == [2] and list(before["judged"]) == [0]
    refresh_reaches(db, LEARNED_AT, budget_s=60)
    with db.connect() as conn:
        after = reach_shares(conn)
        stored = dict(
            conn.execute(select(PlugReachRecord.device_id, PlugReachRecord.verdict)).all()
        )
        listed = slow_plugs(conn, verdicts=VERDICTS)
    assert set(stored) == {a, b}
    [row] = after.to_dict("records")
    assert (row["plugs"], row["judged"]) == (2, 2)
    assert {v: row[v] for v in VERDICTS} == {
        v: sum(s == v for s in stored.values()) for v in VERDICTS
    }
    assert row["oldest_at"] == pd.Timestamp(LEARNED_AT)
    assert sorted(listed["device_id"]) == sorted([a, b])


def test_a_share_reads_as_count_and_whole_percent_never_rounded_away() -> None:
    from dashboard.ui.reach_list import share_text

    assert [share_text(n, 450) for n in (0, 1, 5, 441, 449, 450)] == [
        "0",
        "1 (<1%)",
        "5 (1%)",
        "441 (98%)",
        "449 (>99%)",
        "450 (100%)",
    ]
    assert share_text(3, 0) == "3"  # nothing judged yet: no share


def _second_plug(db: Engine, of_uid: str, uid: str, reach, status: str = "active") -> None:
    """Another plug of the person of the plug ``of_uid``, with its stored reach."""
    with db.begin() as conn:
        rid, region = conn.execute(
            select(Device.recipient_id, Device.region_id).where(Device.device_uid == of_uid)
        ).one()
        _device(conn, uid, rid, region, reach, status=status)


def test_a_slow_plug_whose_person_has_a_fast_one_says_so_and_comes_after(plugs: Engine) -> None:
    _second_plug(plugs, "A", "A2", ("fast", 4.0, 9.0))  # A's person: noticed in time by A2
    _second_plug(plugs, "A", "A3", ("fair", 9.0, 20.0))
    _second_plug(plugs, "I", "I2", ("fair", 9.0, 20.0), status="retired")  # not in service
    _second_plug(plugs, "G", "G2", ("slow", 30.0, 50.0))  # slow too: G's person is not covered
    with plugs.connect() as conn:
        df = slow_plugs(conn)
    assert list(df["device_uid"]) == ["G", "G2", "I", "A", "B"]
    other = dict(zip(df["device_uid"], df["other_verdict"], strict=True))
    assert other == {"G": None, "G2": None, "I": None, "A": "fast", "B": None}


def test_the_list_shows_the_persons_other_plug_in_words(plugs: Engine) -> None:
    from dashboard.i18n import translate
    from dashboard.ui.reach_list import slow_frame

    _second_plug(plugs, "A", "A2", ("fair", 9.0, 20.0))
    with plugs.connect() as conn:
        df = slow_plugs(conn)
    cells = dict(zip(df["device_uid"], slow_frame(df, "ko", False)["other"], strict=True))
    assert cells == {"G": "–", "I": "–", "A": translate("reach.verdict_fair"), "B": "–"}


def test_an_operator_is_listed_only_plugs_whose_device_page_opens(plugs: Engine) -> None:
    from dashboard.auth.regions import region_in_any

    with plugs.connect() as conn:
        listed = slow_plugs(conn, districts=(GOYANG,))
        dong = dict(
            conn.execute(
                select(Device.device_uid, Region.code).join(Region, Region.id == Device.region_id)
            ).all()
        )
    assert not listed.empty
    assert [u for u in listed["device_uid"] if not region_in_any(dong[u], (GOYANG,))] == []
