"""The slow-risk flag on 대상자 관리: the list of flagged people (scoped like the roster) and the
notice on the person panel, in Korean and English."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date

import pytest
from sqlalchemy import Engine, select, update

from dashboard import clock
from dashboard.db.schema import CareRecipient
from dashboard.formatting import format_date, mask_name
from dashboard.i18n import translate
from dashboard.registry import PEOPLE, import_roster
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import open_page, private_copy, texts
from tests.registry_support import LEAD, person, roster_csv

SINCE = date(2026, 11, 20)
DETAIL = {"device_uid": "x", "above_ratio": 0.41, "watts_ratio": 0.66}


@pytest.fixture(scope="module")
def flagged(demo_db: Engine, tmp_path_factory) -> Iterator[tuple[Engine, str, str]]:
    """A copy with two flagged people: one of the demo city (고양시, the demo operator's), one
    of 종로구 (outside it)."""
    with private_copy(demo_db, tmp_path_factory.mktemp("slow_risk")) as engine:
        data = roster_csv(PEOPLE, [person(1, name="서울하나")])
        assert import_roster(engine, PEOPLE, data, "people.csv", LEAD, clock.now()).stored
        with engine.begin() as conn:
            goyang = conn.scalar(
                select(CareRecipient.external_ref)
                .where(CareRecipient.ended_on.is_(None), CareRecipient.external_ref != "P-0001")
                .order_by(CareRecipient.external_ref)
                .limit(1)
            )
            conn.execute(
                update(CareRecipient)
                .where(CareRecipient.external_ref.in_([goyang, "P-0001"]))
                .values(slow_risk_since=SINCE, slow_risk_detail=DETAIL)
            )
        yield engine, goyang, "P-0001"


def _open(role: str, lang: str = "ko", **params: str):
    if lang == "en":
        params["lang"] = "en"
    at = open_page(role=role, **params)
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _list(at) -> str:
    return "\n".join(e.value for e in at.markdown)


def test_leads_see_every_flagged_person_operators_their_districts(flagged) -> None:
    _engine, goyang, seoul = flagged
    at = _open("lead")
    titles = [e.label for e in at.expander]
    assert translate("slow_risk.title", n="2") in titles
    shown = _list(at)
    assert f"people?person={goyang}" in shown and f"people?person={seoul}" in shown
    assert md_escape(mask_name("서울하나")) in shown and "서울하나" not in shown
    row = translate("slow_risk.row", date=format_date(SINCE, "ko"), above="41", watts="66")
    assert row in shown
    at = _open("operator")
    assert translate("slow_risk.title", n="1") in [e.label for e in at.expander]
    shown = _list(at)
    assert f"people?person={goyang}" in shown and seoul not in shown
    at = _open("admin")  # no personal data: no list
    title = translate("slow_risk.title", n="").split(":")[0]
    assert not any(e.label.startswith(title) for e in at.expander)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_person_panel_says_so(flagged, lang: str) -> None:
    _engine, goyang, _seoul = flagged
    at = _open("operator", lang=lang, person=goyang)
    badge = translate(
        "slow_risk.badge", lang, date=format_date(SINCE, lang), above="41", watts="66"
    )
    assert badge in [i.value for i in at.info]
    at = _open("admin", person=goyang)  # admins manage the roster, not the care
    start = translate("slow_risk.badge", date="", above="", watts="").split(":")[0]
    assert goyang in "\n".join(texts(at))
    assert not any(start in shown for shown in texts(at))
