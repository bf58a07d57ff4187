"""동일인 의심 on 대상자 관리: the person panel names the other 대상자번호 (linked) for the roster's
managers, a lead marks the pair 다른 사람 (audited) or undoes it, the list above the table
shows the pairs, and the roster import's preview and outcome warn in the page's language.

A private copy of the demo city with two Seoul people who are one senior (the smart-plug
list and again under another 대상자번호) and a Goyang pair inside the demo operator's
districts: operators see neither.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.db.schema import AuditLog, CareRecipient, DifferentPeople
from dashboard.formatting import mask_name
from dashboard.i18n import translate
from dashboard.registry import PEOPLE, import_roster
from tests.apptest.conftest import open_page, private_copy, texts
from tests.registry_support import LEAD, person, roster_csv

GOYANG = {"dong_code": "4128552000", "program": "goyang_ai_call"}  # the operator's district
ROWS = [
    person(1, name="한동일"),
    person(2, name="한 동일", phone="1012340001", address="", home_lat="", home_lon=""),
    person(3, name="고양둘", **GOYANG),
    person(4, name="고양둘", **GOYANG),  # another phone; the same address and home
]


@pytest.fixture(scope="module")
def dup_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("duplicates")) as engine:
        report = import_roster(engine, PEOPLE, roster_csv(PEOPLE, ROWS), "p.csv", LEAD, clock.now())
        assert report.stored, report.summary()
        assert [(w.row, w.other_ref) for w in report.duplicates] == [(3, "P-0001"), (5, "P-0003")]
        yield engine


def _open(role: str = "lead", lang: str = "ko", **params: str) -> AppTest:
    if lang == "en":
        params["lang"] = "en"
    at = open_page(role=role, **params)
    at.switch_page("../pages/people.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _id(engine: Engine, ref: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))


def _banner(at: AppTest, lang: str = "ko") -> bool:
    start = translate("duplicate.banner", lang, n=1)[:12]
    return any(w.value.startswith(start) for w in at.warning)


def _list(at: AppTest, lang: str = "ko"):
    """The folded list of pairs above the table, if the page has it."""
    start = translate("duplicate.list_title", lang, n="")[:6]
    return next((e for e in at.expander if e.label.startswith(start)), None)


def _pairs(at: AppTest, lang: str) -> int:
    """The count in the list's title."""
    return int(re.search(r"\d+", _list(at, lang).label).group())


def _keys(at: AppTest) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith("people_dup_")]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_a_lead_sees_the_other_person_linked_with_the_matching_keys(dup_db, lang) -> None:
    at = _open(person="P-0001", lang=lang)
    assert _banner(at, lang)
    suffix = "&lang=en" if lang == "en" else ""
    keys = translate("duplicate.key.phone", lang)
    line = next(m.value for m in at.markdown if "people?person=P-0002" in m.value)
    assert f"[P\\-0002](people?person=P-0002{suffix})" in line and keys in line
    assert "한동일" not in "\n".join(texts(at))  # the panel names keys, never values
    two = _id(dup_db, "P-0002")
    assert _keys(at) == [f"people_dup_mark_{_id(dup_db, 'P-0001')}_{two}"]


def test_a_lead_marks_the_pair_different_people_and_undoes_it(dup_db) -> None:
    one, two = _id(dup_db, "P-0001"), _id(dup_db, "P-0002")
    at = _open(person="P-0002")
    at.button(key=f"people_dup_mark_{two}_{one}").click().run()
    assert not at.exception
    assert translate("duplicate.done_mark", ref="P\\-0001") in [s.value for s in at.success]
    assert not _banner(at)
    assert _keys(at) == [f"people_dup_unmark_{two}_{one}"]
    with dup_db.connect() as conn:
        rows = conn.execute(select(AuditLog.actor, AuditLog.action, AuditLog.entity_id).where(
            AuditLog.action.like("duplicate_%"))).all()  # fmt: skip
        assert [tuple(r) for r in rows] == [("lead", "duplicate_dismiss", str(one))]
        assert conn.scalar(select(func.count()).select_from(DifferentPeople)) == 1
    # The other side of the pair reads the same, and the list leaves the pair out.
    other = _open(person="P-0001")
    assert not _banner(other) and _keys(other) == [f"people_dup_unmark_{one}_{two}"]
    at.button(key=f"people_dup_unmark_{two}_{one}").click().run()
    assert not at.exception and _banner(at)
    with dup_db.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(DifferentPeople)) == 0


def test_admins_see_the_suspicion_without_any_name_and_cannot_judge(dup_db) -> None:
    at = _open(role="admin", person="P-0001")
    assert _banner(at) and not _keys(at)
    assert translate("duplicate.not_for_role") in [c.value for c in at.caption]
    shown = "\n".join(texts(at))
    assert "P-0002" in shown and "한동일" not in shown and mask_name("한동일") not in shown


def test_operators_see_no_suspicion_even_in_their_districts(dup_db) -> None:
    at = _open(role="operator", person="P-0003")
    assert translate("person.title", ref="P\\-0003") in [s.value for s in at.subheader]
    assert not _banner(at) and not _keys(at)
    assert _list(at) is None


def test_the_list_shows_every_pair_to_a_lead(dup_db) -> None:
    at = _open()
    title = next(
        e for e in at.expander if e.label.startswith(translate("duplicate.list_title", n="")[:6])
    )
    frame = next(d.value for d in title.dataframe)
    firsts = [str(v) for v in frame[translate("duplicate.col_first")]]
    seconds = [str(v) for v in frame[translate("duplicate.col_second")]]
    assert {
        ("people?person=P-0001", "people?person=P-0002"),
        ("people?person=P-0003", "people?person=P-0004"),
    } <= set(zip(firsts, seconds, strict=True))


# Per language, a new 대상자번호 for someone stored twice already: the warning names both.
AGAIN = {
    "ko": (person(8, name="한동일", phone="010-1234-0001", address="", home_lat="", home_lon=""),
           ["P-0001", "P-0002"], "phone"),
    "en": (person(9, name="고양 둘", phone="", **GOYANG), ["P-0003", "P-0004"], "address"),
}  # fmt: skip


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_the_import_preview_and_outcome_warn_and_still_store(dup_db, lang) -> None:
    row, others, key = AGAIN[lang]
    at = _open(lang=lang)
    pairs = _pairs(at, lang)
    at.file_uploader[0].set_value(("again.csv", roster_csv(PEOPLE, [row]), "text/csv")).run()
    assert not at.exception
    warning = translate("roster.duplicates", lang, n="1")  # one row, two others
    assert warning in [w.value for w in at.warning]
    other = translate("roster.duplicate_other", lang)
    row_col = translate("importing.row", lang)
    table = next(d.value for d in at.dataframe if {other, row_col} <= set(d.value.columns))
    assert list(table[other]) == others
    assert set(table[translate("card.ref", lang)]) == {row["external_ref"]}
    assert all(k.startswith(translate(f"duplicate.key.{key}", lang)) for k in table.iloc[:, 3])
    at.button(key="roster_people_confirm").click().run()
    assert not at.exception
    assert any("again\\.csv" in s.value for s in at.success)
    assert warning in [w.value for w in at.warning]  # the outcome repeats it
    assert _id(dup_db, row["external_ref"]) is not None  # stored all the same
    assert _pairs(at, lang) == pairs + 2  # the list shows the new pairs at once, not cached
