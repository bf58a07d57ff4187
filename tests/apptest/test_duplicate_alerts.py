"""동일인 의심 on the alert detail: an operator handling one record's alert is told when the
record suspected to be the same senior has an open alert, linked inside their districts and
named nowhere outside them; a pair a lead marked 다른 사람 and a record without an open alert
say nothing.

A private copy of the demo city with four Goyang pairs (same name and birth year, the same
address and home): in 중산동 (일산동구) but one, whose other record lives in 덕양구.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest
import streamlit as st
from sqlalchemy import Engine, insert, select, update
from streamlit.testing.v1 import AppTest

from dashboard import clock
from dashboard.auth import SessionUser
from dashboard.auth.users import create_user
from dashboard.db.schema import Alert, CareRecipient
from dashboard.enrollment import mark_different
from dashboard.i18n import translate
from dashboard.registry import PEOPLE, import_roster
from tests.apptest.conftest import APP, TIMEOUT, open_page, private_copy, texts
from tests.registry_support import LEAD, person, roster_csv

JUNGSAN, JUGYO = "4128552000", "4128151000"  # 일산동구 and 덕양구 dongs of 고양시
ILSANDONG = "4128500000"
GOYANG = {"program": "goyang_ai_call"}
ROWS = [
    person(1, name="고양하나", dong_code=JUNGSAN, **GOYANG),
    person(2, name="고양하나", dong_code=JUNGSAN, **GOYANG),
    person(3, name="고양셋", dong_code=JUNGSAN, **GOYANG),
    person(4, name="고양셋", dong_code=JUGYO, **GOYANG),  # the other district
    person(5, name="고양다섯", dong_code=JUNGSAN, **GOYANG),
    person(6, name="고양다섯", dong_code=JUNGSAN, **GOYANG),
    person(7, name="고양일곱", dong_code=JUNGSAN, **GOYANG),
    person(8, name="고양일곱", dong_code=JUNGSAN, **GOYANG),
]
NARROW = SessionUser("op-ilsandong", "일산동구 요원", "operator", (ILSANDONG,))
_keys = count()


@pytest.fixture(scope="module")
def dup_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("duplicate_alerts")) as engine:
        report = import_roster(engine, PEOPLE, roster_csv(PEOPLE, ROWS), "p.csv", LEAD, clock.now())
        assert report.stored, report.summary()
        assert len(report.duplicates) == 4
        with engine.begin() as conn:  # an operator of 일산동구 only
            create_user(
                conn,
                NARROW.username,
                "operator",
                "anbu-test-password-1",
                clock.now(),
                LEAD,
                display_name=NARROW.display_name,
                district_codes=NARROW.district_codes,
                check_rule=False,
            )
        yield engine


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """The warning is cached for 10 s across sessions; tests change the database in between."""
    st.cache_data.clear()
    yield
    st.cache_data.clear()


def _alert(engine: Engine, ref: str, status: str = "open") -> int:
    """A person alert of ``ref`` (no device: the warning is about the person)."""
    now = datetime.now(UTC)
    with engine.begin() as conn:
        p = conn.execute(
            select(CareRecipient.id, CareRecipient.program_id, CareRecipient.region_id).where(
                CareRecipient.external_ref == ref
            )
        ).one()
        return conn.execute(
            insert(Alert).returning(Alert.id),
            {
                "dedup_key": f"dupe-hint:{next(_keys)}:{now.timestamp()}",
                "kind": "person",
                "rule": "plug_no_change",
                "stage": "risk",
                "status": status,
                "program_id": p.program_id,
                "region_id": p.region_id,
                "recipient_id": p.id,
                "evidence": {"no_change_hours": 37.0, "threshold_h": 24.0},
                "opened_at": now - timedelta(hours=2),
                "updated_at": now - timedelta(hours=2),
                "closed_at": now if status == "closed" else None,
                "version": 1,
            },
        ).scalar_one()


def _id(engine: Engine, ref: str) -> int:
    with engine.connect() as conn:
        return conn.scalar(select(CareRecipient.id).where(CareRecipient.external_ref == ref))


def _open(alert_id: int, user: SessionUser | None = None, lang: str = "ko") -> AppTest:
    params = {"alert": str(alert_id)} | ({"lang": "en"} if lang == "en" else {})
    if user is None:
        at = open_page("alerts", role="operator", **params)
    else:  # an account of this module's own, logged in as the login form would
        from dashboard.ui.auth import ACTIVITY_KEY, USER_KEY

        at = AppTest.from_file(APP, default_timeout=TIMEOUT)
        at.session_state[USER_KEY] = user
        at.session_state[ACTIVITY_KEY] = datetime.now(UTC)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        at.switch_page("../pages/alerts.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert translate("alerts.detail_title", lang, id=alert_id) in "\n".join(texts(at))
    return at


def _warnings(at: AppTest, lang: str = "ko") -> list[str]:
    """The detail's 동일인 의심 warnings (either kind)."""
    heads = [
        translate(k, lang, ref="", n="", links="")[:8]
        for k in ("detail.duplicate_alerts", "detail.duplicate_alerts_elsewhere")
    ]
    return [w.value for w in at.warning if any(w.value.startswith(h) for h in heads)]


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_operator_is_linked_to_the_other_records_open_alert(dup_db, lang) -> None:
    mine, other = _alert(dup_db, "P-0001"), _alert(dup_db, "P-0002")
    try:
        at = _open(mine, lang=lang)
        suffix = "&lang=en" if lang == "en" else ""
        link = translate("detail.duplicate_alert_link", lang, id=other)
        assert _warnings(at, lang) == [
            translate(
                "detail.duplicate_alerts",
                lang,
                ref="P\\-0002",
                n="1",
                links=f"[{link}](alerts?alert={other}{suffix})",
            )
        ]
        # The link opens it: the same scope as the queue's.
        there = _open(other, lang=lang)
        assert _warnings(there, lang)[0].endswith(f"(alerts?alert={mine}{suffix})")
    finally:
        _close(dup_db, mine, other)


def test_outside_the_operators_districts_only_that_an_alert_exists(dup_db) -> None:
    mine, other = _alert(dup_db, "P-0003"), _alert(dup_db, "P-0004")  # 일산동구, 덕양구
    try:
        at = _open(mine, user=NARROW)
        assert _warnings(at) == [translate("detail.duplicate_alerts_elsewhere")]
        shown = "\n".join(texts(at))
        assert "P-0004" not in shown and "P\\-0004" not in shown
        assert f"alert={other}" not in shown and f"#{other}" not in shown
        assert "고양셋" not in shown
        # The demo operator's district is all of 고양시: the same alert links the other.
        assert f"(alerts?alert={other})" in _warnings(_open(mine))[0]
    finally:
        _close(dup_db, mine, other)


def test_a_pair_marked_different_people_says_nothing(dup_db) -> None:
    mine, other = _alert(dup_db, "P-0005"), _alert(dup_db, "P-0006")
    try:
        assert len(_warnings(_open(mine))) == 1
        with dup_db.begin() as conn:
            mark_different(conn, LEAD, clock.now(), _id(dup_db, "P-0005"), _id(dup_db, "P-0006"))
        st.cache_data.clear()
        assert _warnings(_open(mine)) == []
    finally:
        _close(dup_db, mine, other)


def test_no_warning_while_the_other_record_has_no_open_alert(dup_db) -> None:
    mine, closed = _alert(dup_db, "P-0007"), _alert(dup_db, "P-0008", status="closed")
    try:
        assert _warnings(_open(mine)) == []
        other = _alert(dup_db, "P-0008")
        st.cache_data.clear()
        assert len(_warnings(_open(mine))) == 1
        _close(dup_db, other)
    finally:
        _close(dup_db, mine, closed)


def _close(engine: Engine, *alert_ids: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(Alert)
            .where(Alert.id.in_(alert_ids))
            .values(status="closed", closed_at=datetime.now(UTC))
        )
