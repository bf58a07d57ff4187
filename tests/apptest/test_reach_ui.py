"""How soon a stop would be noticed (``detection.reach``) on 기기 관리 and 대상자 관리: a plug with
a usable routine draws the reach the query computes, a slow plug gets the suggestion, a plug
without a learned routine and a district with the routine off get a caption and no chart, a
device that is not a plug gets nothing; the person panel lists the person's plugs and, with two
usable plugs, their combined weekday median.

Works on a private copy of the demo database: one plug's routine is removed (a young plug) and
one plug is given to another plug's person (a person with two plugs).
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import Engine, delete, select, update
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import CareRecipient, Device, DeviceRoutine, Region
from dashboard.detection.reach import person_reach
from dashboard.formatting import format_date, format_number
from dashboard.i18n import state_label, translate
from dashboard.rules import config
from dashboard.rules.plug import plug_ladder
from dashboard.ui.reach_chart import HEIGHT, HEIGHT_PROJECTOR, hours_text, median_h
from dashboard.ui.safe_text import md_escape
from queries.reach import PlugReachRow, plug_reaches
from tests.apptest.conftest import open_page, private_copy, without_live_loop

SCANNED = 300  # the demo city's first plugs hold every verdict the tests need but "none"


@pytest.fixture(scope="module")
def db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with (
        without_live_loop("tests/apptest/test_reach_ui.py"),
        private_copy(demo_db, tmp_path_factory.mktemp("reach-ui")) as engine,
    ):
        yield engine


@pytest.fixture(scope="module")
def plugs(db: Engine) -> dict[str, list[PlugReachRow]]:
    """The first plugs' reaches by verdict (``young``: the one whose routine is removed here),
    each test taking plugs of its own (the page caches a plug's reach)."""
    with db.connect() as conn:
        ids = conn.scalars(
            select(Device.id)
            .where(Device.type_code == "smart_plug", Device.recipient_id.is_not(None))
            .order_by(Device.id)
            .limit(SCANNED)
        ).all()
        rows = [row for i in ids for row in plug_reaches(conn, device_id=i)]
    out: dict[str, list[PlugReachRow]] = {}
    for row in rows:
        assert row.reach is not None and row.enabled
        out.setdefault(row.reach.verdict, []).append(row)
    assert len(out.get("fair", [])) >= 4 and out.get("slow"), {k: len(v) for k, v in out.items()}
    young = out["fair"].pop()
    with db.begin() as conn:
        conn.execute(delete(DeviceRoutine).where(DeviceRoutine.device_id == young.device_id))
    out["young"] = [young]
    return out


def _open(page: str, lang: str = "ko", **params: str) -> AppTest:
    return open_page(page, **params, **({"lang": "en"} if lang == "en" else {}))


def _reach_data(at: AppTest) -> list[pd.DataFrame]:
    """The data of the charts drawing a reach (Arrow datasets with a ``hours`` column)."""
    from streamlit.dataframe_util import convert_arrow_bytes_to_pandas_df

    frames = []
    for chart in at.get("vega_lite_chart"):
        for dataset in chart.proto.datasets:
            df = convert_arrow_bytes_to_pandas_df(dataset.data.data)
            if {"kind", "hour", "hours"} <= set(df.columns):
                frames.append(df)
    return frames


def _hours(values: pd.Series) -> list[float | None]:
    return [None if pd.isna(v) else float(v) for v in values]


def _ladder(db: Engine, device_id: int, lang: str = "ko") -> str:
    """The plug's person's ladder in words: their own first hours, their district's steps."""
    with db.connect() as conn:
        hours, region = conn.execute(
            select(CareRecipient.no_change_hours, Region.code)
            .join(Device, Device.recipient_id == CareRecipient.id)
            .join(Region, Region.id == CareRecipient.region_id)
            .where(Device.id == device_id)
        ).one()
    ladder = plug_ladder(hours, config.current_thresholds().for_region(region))
    unit = "{:g}시간" if lang == "ko" else "{:g} h"
    stages = ("attention", "risk", "severe")
    return " · ".join(
        f"{state_label(s, lang)} {unit.format(h)}" for s, h in zip(stages, ladder, strict=True)
    )


@pytest.mark.parametrize(("lang", "projector"), [("ko", False), ("en", True)])
def test_a_plug_with_a_usable_routine_draws_its_reach(
    db: Engine, plugs, lang: str, projector: bool
) -> None:
    row = plugs["fair"][0]
    params = {"projector": "1"} if projector else {}
    at = _open("devices", lang, device=row.device_uid, **params)
    assert f"**{translate('reach.title', lang)}**" in [m.value for m in at.markdown]
    [data] = _reach_data(at)
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    [spec] = [x for x in specs if "facet" in x]
    assert spec["spec"]["layer"][0]["encoding"]["y"]["title"] == translate("reach.axis_hours", lang)
    assert spec["spec"]["height"] == (HEIGHT_PROJECTOR if projector else HEIGHT)
    weekday = data[data["kind"] == "weekday"].sort_values("hour")
    assert list(weekday["hour"]) == list(range(24))
    assert _hours(weekday["hours"]) == list(row.reach.weekday)  # the query's own 24 values
    weekend = data[data["kind"] == "weekend"].sort_values("hour")
    assert _hours(weekend["hours"]) == list(row.reach.weekend)
    reach = row.reach
    assert reach.level and reach.reference_days >= config.current_thresholds().plug_routine.min_days
    words = translate(
        "reach.caption",
        lang,
        verdict=translate("reach.verdict_fair", lang),
        by=translate("reach.by_both", lang),
        median=hours_text(reach.median_h, lang),
        worst=hours_text(reach.worst_h, lang),
        days=format_number(reach.reference_days),
        learned=format_date(reach.learned_on, lang),
    )
    tests = translate("reach.caption_tests", lang, ladder=_ladder(db, row.device_id, lang))
    assert f"{words} {tests}" in [c.value for c in at.caption]
    assert translate("reach.suggest", lang) not in [i.value for i in at.info]


def test_a_slow_plug_gets_the_suggestion(db: Engine, plugs) -> None:
    row = plugs["slow"][0]
    at = _open("devices", device=row.device_uid)
    assert _reach_data(at), "a slow plug still draws its reach"
    assert translate("reach.verdict_slow") in "\n".join(c.value for c in at.caption)
    assert translate("reach.suggest") in [i.value for i in at.info]


def test_a_young_plug_says_it_has_no_routine_yet(db: Engine, plugs) -> None:
    row = plugs["young"][0]
    at = _open("devices", device=row.device_uid)
    assert not _reach_data(at)
    caption = translate("reach.young", ladder=_ladder(db, row.device_id))
    assert caption in [c.value for c in at.caption]


def test_a_device_that_is_not_a_plug_has_no_reach(db: Engine) -> None:
    with db.connect() as conn:
        uid = conn.scalar(
            select(Device.device_uid).where(Device.type_code == "phone_line").order_by(Device.id)
        )
    at = _open("devices", device=uid)
    assert translate("devices.title", uid=md_escape(uid)) in [s.value for s in at.subheader]
    assert f"**{translate('reach.title')}**" not in [m.value for m in at.markdown]
    assert not _reach_data(at)


def test_a_district_with_the_routine_off_says_so(
    db: Engine, plugs, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "rules.toml"
    text = config.DEFAULT_PATH.read_text(encoding="utf-8")
    head, routine = text.split("[plug_routine]", 1)
    path.write_text(
        head + "[plug_routine]" + routine.replace("enabled = true", "enabled = false", 1),
        encoding="utf-8",
    )
    shutil.copystat(config.DEFAULT_PATH, path)
    monkeypatch.setattr(config, "DEFAULT_PATH", path)
    assert not config.current_thresholds().plug_routine.enabled
    row = plugs["fair"][1]
    at = _open("devices", device=row.device_uid)
    assert not _reach_data(at)
    caption = translate("reach.off", ladder=_ladder(db, row.device_id))
    assert caption in [c.value for c in at.caption]


def _ref(db: Engine, recipient_device: int) -> tuple[int, str]:
    with db.connect() as conn:
        return conn.execute(
            select(CareRecipient.id, CareRecipient.external_ref)
            .join(Device, Device.recipient_id == CareRecipient.id)
            .where(Device.id == recipient_device)
        ).one()


def _reach_table(at: AppTest, lang: str = "ko") -> pd.DataFrame:
    return next(
        d.value for d in at.dataframe if translate("reach.col_verdict", lang) in d.value.columns
    )


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_person_panel_lists_their_plugs_and_the_combined_median(
    db: Engine, plugs, lang: str
) -> None:
    first, second = plugs["fair"][2], plugs["slow"][-1]
    rid, ref = _ref(db, first.device_id)
    with db.begin() as conn:  # idempotent: both languages run on the same copy
        conn.execute(update(Device).where(Device.id == second.device_id).values(recipient_id=rid))
    at = _open("people", lang, person=ref)
    table = _reach_table(at, lang)
    assert list(table[translate("devices.device_id", lang)]) == [
        first.device_uid,
        second.device_uid,
    ]
    assert list(table[translate("reach.col_verdict", lang)]) == [
        translate("reach.verdict_fair", lang),
        translate("reach.verdict_slow", lang),
    ]
    assert list(table[translate("reach.col_median", lang)]) == [
        format_number(first.reach.median_h, 1),
        format_number(second.reach.median_h, 1),
    ]
    worst = [r.reach.worst_h for r in (first, second)]
    assert list(table[translate("reach.col_worst", lang)]) == [
        "> 72" if h is None else format_number(h, 1) for h in worst
    ]
    combined = median_h(person_reach([first.reach, second.reach]))
    assert combined is not None and combined <= first.reach.median_h
    line = translate("reach.person_median", lang, n="2", median=hours_text(combined, lang))
    assert line in [c.value for c in at.caption]


def test_a_person_with_one_plug_has_no_combined_line(db: Engine, plugs) -> None:
    row = plugs["fast"][0] if plugs.get("fast") else plugs["fair"][3]
    _rid, ref = _ref(db, row.device_id)
    at = _open("people", person=ref)
    assert len(_reach_table(at)) == 1
    assert not [c for c in at.caption if "(먼저 관심에 이르는 플러그 기준)" in c.value]
