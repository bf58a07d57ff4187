"""멈춤을 늦게 알아챌 기기 on 기기 관리 (``dashboard/ui/reach_list.py``), in Korean and English:
the shares by district and the judged-so-far caption count the stored reaches, the slow plug
comes first and the cannot-judge one last, each linked to its device with the verdict in words
and the hours as the person panel shows them; names only for roles that see them; empty states
in words (nothing stored yet, no plug in an operator's districts).

Works on a private copy of the demo database whose stored reaches are written here: a few of
the first plugs with the reach the device page computes (as the worker stores it), one stored as
``none`` (as the worker stores a plug it cannot judge).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import aliased
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import CareRecipient, Device, PlugReachRecord, Program, Region
from dashboard.formatting import format_datetime, format_number, mask_name
from dashboard.i18n import translate
from dashboard.ui.data import clear_loads
from dashboard.ui.reach_list import share_text
from queries.reach import PlugReachRow, plug_reaches
from queries.reach_list import VERDICTS, reach_shares
from tests.apptest.conftest import DEMO_END, open_page, private_copy, without_live_loop

SCAN = 50  # plugs judged at a time while looking for a slow one among the first plugs
FAIR = 3  # fair plugs stored beside the slow one
STORED_AT = DEMO_END - timedelta(hours=5)
GOYANG = "4128"  # the demo operator's area (고양시 4128000000) by its code prefix


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with (
        without_live_loop("tests/apptest/test_reach_list_ui.py"),
        private_copy(demo_db, tmp_path_factory.mktemp("reach-list")) as engine,
    ):
        yield engine


@pytest.fixture(scope="module")
def stored(db: Engine) -> dict[str, list[PlugReachRow]]:
    """Store the reaches of the first slow plug, the first fair ones and one more plug as
    ``none``; the rows stored, by verdict."""
    with db.connect() as conn:
        ids = conn.scalars(
            select(Device.id)
            .where(
                Device.type_code == "smart_plug",
                Device.status == "active",
                Device.recipient_id.is_not(None),
            )
            .order_by(Device.id)
            .limit(6 * SCAN)
        ).all()
        found: dict[str, list[PlugReachRow]] = {}
        for start in range(0, len(ids), SCAN):
            for row in plug_reaches(conn, device_ids=ids[start : start + SCAN]):
                if row.reach is not None:
                    found.setdefault(row.reach.verdict, []).append(row)
            if found.get("slow") and len(found.get("fair", [])) > FAIR:
                break
    assert found.get("slow") and len(found.get("fair", [])) > FAIR, found.keys()
    fair = found["fair"]
    out = {"slow": found["slow"][:1], "fair": fair[:FAIR], "none": fair[FAIR : FAIR + 1]}
    records = [
        {
            "device_id": row.device_id,
            "learned_on": row.reach.learned_on,
            "verdict": verdict,
            "median_h": row.reach.median_h if verdict != "none" else None,
            "worst_h": row.reach.worst_h if verdict != "none" else None,
            "computed_at": STORED_AT - timedelta(days=i),  # the oldest: the "none" one
        }
        for i, (verdict, rows) in enumerate(out.items())
        for row in rows
    ]
    with db.begin() as conn:
        conn.execute(delete(PlugReachRecord))
        conn.execute(insert(PlugReachRecord), records)
    clear_loads()
    return out


def _open(lang: str = "ko", role: str = "lead") -> AppTest:
    return open_page("devices", role=role, **({"lang": "en"} if lang == "en" else {}))


def _section(at: AppTest, lang: str):
    prefix = translate("reach.list_title", lang, slow="", none="").split(":")[0]
    [section] = [e for e in at.expander if e.label.startswith(prefix)]
    return section


def _frame(at: AppTest, key: str, lang: str) -> pd.DataFrame | None:
    header = translate(key, lang)
    frames = [d.value for d in at.dataframe if header in d.value.columns]
    return frames[0] if frames else None


def _person(db: Engine, device_id: int):
    with db.connect() as conn:
        return conn.execute(
            select(CareRecipient.pii_name, CareRecipient.external_ref)
            .join(Device, Device.recipient_id == CareRecipient.id)
            .where(Device.id == device_id)
        ).one()


def _name(db: Engine, device_id: int) -> str:
    return _person(db, device_id).pii_name


def _ref(db: Engine, device_id: int) -> str:
    return _person(db, device_id).external_ref


def _active_plugs(db: Engine) -> int:
    with db.connect() as conn:
        return conn.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.type_code == "smart_plug", Device.status == "active")
        )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_section_counts_the_stored_reaches_and_lists_the_slow_plug(
    db: Engine, stored, lang: str
) -> None:
    at = _open(lang)
    section = _section(at, lang)
    plugs = _active_plugs(db)  # 5 of them judged: the title says so
    assert section.label == translate("reach.list_title", lang, slow="1", none="1") + translate(
        "reach.list_title_part", lang, judged="5", plugs=format_number(plugs)
    )
    plugs = _active_plugs(db)
    shares = _frame(at, "reach.list_col_judged", lang)
    assert shares is not None
    total = shares.iloc[0]  # the total first, then each district
    assert total[translate("filter.district", lang)] == translate("filter.all", lang)
    assert total[translate("reach.list_col_plugs", lang)] == format_number(plugs)
    assert total[translate("reach.list_col_judged", lang)] == "5"
    assert total[translate("reach.verdict_slow", lang)] == "1 (20%)"
    assert total[translate("reach.verdict_fair", lang)] == "3 (60%)"
    assert total[translate("reach.verdict_none", lang)] == "1 (20%)"
    assert total[translate("reach.verdict_fast", lang)] == "0"
    judged = [int(v) for v in shares[translate("reach.list_col_judged", lang)].iloc[1:]]
    assert sum(judged) == 5 and len(shares) > 2
    caption = translate(
        "reach.list_coverage_part",
        lang,
        plugs=format_number(plugs),
        judged="5",
        oldest=format_datetime(STORED_AT - timedelta(days=2), lang),
    )
    assert caption in [c.value for c in at.caption]

    listed = _frame(at, "reach.list_col_learned", lang)
    assert listed is not None and len(listed) == 2  # the slow plug, then the "none" one
    [slow], [none] = stored["slow"], stored["none"]
    suffix = "&lang=en" if lang == "en" else ""
    links = list(listed[translate("devices.device_id", lang)])
    assert links == [
        f"devices?device={slow.device_uid}{suffix}",
        f"devices?device={none.device_uid}{suffix}",
    ]
    verdicts = list(listed[translate("reach.col_verdict", lang)])
    assert verdicts == [
        translate("reach.verdict_slow", lang),
        translate("reach.verdict_none", lang),
    ]
    median = listed[translate("reach.col_median", lang)]
    worst = listed[translate("reach.col_worst", lang)]
    reach = slow.reach
    assert median.iloc[0] == (
        "> 72" if reach.median_h is None else format_number(reach.median_h, 1)
    )
    assert worst.iloc[0] == ("> 72" if reach.worst_h is None else format_number(reach.worst_h, 1))
    assert (median.iloc[1], worst.iloc[1]) == ("–", "–")
    assert list(listed[translate("col.recipient", lang)]) == [
        mask_name(_name(db, row.device_id)) for row in (slow, none)
    ]
    assert list(listed[translate("card.ref", lang)]) == [
        _ref(db, row.device_id) for row in (slow, none)
    ]
    assert translate("reach.suggest", lang) in [i.value for i in at.info]


def test_an_admin_sees_the_list_without_names(db: Engine, stored) -> None:
    at = _open(role="admin")
    listed = _frame(at, "reach.list_col_learned", "ko")
    assert listed is not None and len(listed) == 2
    assert translate("col.recipient") not in listed.columns
    assert translate("card.ref") in listed.columns


def test_an_operator_without_plugs_in_their_districts_is_told_so(db: Engine, stored) -> None:
    with db.connect() as conn:  # the demo operator's 고양시 has no smart plug in the demo city
        plugs_in_goyang = conn.scalar(
            select(func.count())
            .select_from(Device)
            .where(Device.type_code == "smart_plug")
            .where(Device.region_id.in_(select(Region.id).where(Region.code.startswith(GOYANG))))
        )
    assert plugs_in_goyang == 0
    at = _open(role="operator")
    section = _section(at, "ko")
    assert section.label == translate("reach.list_title", slow="0", none="0")
    assert translate("reach.list_no_plugs") in [c.value for c in at.caption]
    assert _frame(at, "reach.list_col_judged", "ko") is None


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_nothing_stored_yet_says_so(db: Engine, stored, lang: str) -> None:
    with db.connect() as conn:
        kept = [dict(r._mapping) for r in conn.execute(select(PlugReachRecord.__table__))]
    with db.begin() as conn:
        conn.execute(delete(PlugReachRecord))
    clear_loads()
    try:
        at = _open(lang)
        section = _section(at, lang)
        assert section.label == translate("reach.list_title", lang, slow="0", none="0") + translate(
            "reach.list_title_part", lang, judged="0", plugs=format_number(_active_plugs(db))
        )
        captions = [c.value for c in at.caption]
        plugs = format_number(_active_plugs(db))
        assert translate("reach.list_coverage_none", lang, plugs=plugs) in captions
        assert translate("reach.list_slow_none", lang) in captions
        assert _frame(at, "reach.list_col_learned", lang) is None
        assert translate("reach.suggest", lang) not in [i.value for i in at.info]
    finally:
        with db.begin() as conn:
            conn.execute(insert(PlugReachRecord), kept)
        clear_loads()


def _week(lang: str = "ko", **params: str) -> AppTest:
    extra = {"lang": "en"} if lang == "en" else {}
    return open_page("week", role="lead", week="2024-11-28", **params, **extra)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_weekly_review_counts_the_stored_verdicts(db: Engine, stored, lang: str) -> None:
    at = _week(lang)
    assert translate("reach.week_title", lang) in [h.value for h in at.subheader]
    line = translate(
        "reach.week_line", lang, judged="5", fast="0", fair="3 (60%)", slow="1 (20%)",
        none="1 (20%)",
    )  # fmt: skip
    assert line in [m.value for m in at.markdown]
    where = translate("reach.week_where", lang)
    assert any(c.value.endswith(where) for c in at.caption)


def test_the_weekly_review_follows_its_program_and_district_filters(db: Engine, stored) -> None:
    parent = aliased(Region)
    with db.connect() as conn:
        district = conn.scalar(  # the slow plug's person's district (their dong's parent)
            select(func.coalesce(parent.code, Region.code))
            .select_from(Device)
            .join(CareRecipient, CareRecipient.id == Device.recipient_id)
            .join(Region, Region.id == CareRecipient.region_id)
            .outerjoin(parent, (parent.id == Region.parent_id) & (Region.level == "dong"))
            .where(Device.id == stored["slow"][0].device_id)
        )
        no_plug_program = conn.scalar(
            select(Program.code)
            .where(Program.kind == "device")
            .where(
                Program.id.not_in(select(Device.program_id).where(Device.type_code == "smart_plug"))
            )
            .order_by(Program.code)
        )
        there = reach_shares(conn, districts=[district])
    assert no_plug_program is not None and len(there) == 1
    title = translate("reach.week_title")
    at = _week(program=no_plug_program)  # a program without plugs: no section at all
    assert title not in [h.value for h in at.subheader]
    at = _week(district=district)  # the district's plugs only, the slow one among them
    judged = int(there["judged"].iloc[0])
    assert int(there["slow"].iloc[0]) == 1 and judged < 5
    line = translate(
        "reach.week_line",
        judged=format_number(judged),
        **{v: share_text(int(there[v].iloc[0]), judged) for v in VERDICTS},
    )
    assert line in [m.value for m in at.markdown]
