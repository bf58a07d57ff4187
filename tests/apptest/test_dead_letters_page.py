"""수신 오류 tab of 사용자 관리: administrators see how many messages ingest could not use and
what they were, in Seoul time, with the vendor's text shown as plain text only."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, select
from streamlit.testing.v1 import AppTest

from dashboard.db.schema import DeadLetter
from dashboard.i18n import translate
from dashboard.ingest.deadletters import record_message, record_rejections
from dashboard.ui.dead_letters import PICK
from tests.apptest.conftest import open_page, private_copy, texts

HOSTILE = "**bold** <script>alert('x')</script> ${1+1}"


@pytest.fixture(scope="module")
def dead_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("dead_letters")) as engine:
        with engine.begin() as conn:
            record_message(
                conn,
                source="mqtt",
                vendor="acme",
                topic="anbu/acme/events",
                reason="JSON nested more than 32 levels deep",
                payload=b'{"events": [[[[' + HOSTILE.encode() + b"\x00",
                now=datetime(2024, 11, 28, 15, 30, tzinfo=UTC),  # 2024-11-29 00:30 in Seoul
            )
            record_rejections(
                conn,
                source="mqtt",
                vendor="acme",
                topic="anbu/acme/events",
                events=[{"event_id": "e1"}, {"event_id": "e2", "watts": "50"}],
                rejected=[(1, "watts: must be a number, not a string (got '50')")],
                now=datetime(2024, 11, 28, 16, 0, tzinfo=UTC),
            )
        yield engine


def _open(role: str, lang: str = "ko") -> AppTest:
    at = open_page(role=role, **({"lang": "en"} if lang == "en" else {}))
    at.switch_page("../pages/users.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_admin_sees_the_count_and_the_list(dead_db: Engine, lang: str) -> None:
    at = _open("admin", lang)
    assert translate("dead_letters.tab", lang) in [tab.label for tab in at.tabs]
    assert [m.value for m in at.metric if m.label == translate("dead_letters.count", lang)] == ["2"]
    table = next(
        df.value
        for df in at.dataframe
        if translate("dead_letters.col_reason", lang) in df.value.columns
    )
    received = table[translate("dead_letters.col_received", lang)].tolist()
    assert received[0].endswith("01:00") and received[1].endswith("00:30")  # newest first, Seoul
    assert table[translate("dead_letters.col_source", lang)].tolist() == ["MQTT", "MQTT"]
    assert table[translate("dead_letters.col_event", lang)].tolist() == ["#1", "–"]
    assert "must be a number" in table[translate("dead_letters.col_reason", lang)].iloc[0]
    assert HOSTILE in table[translate("dead_letters.col_preview", lang)].iloc[1]
    # The vendor's text is never rendered as markdown or HTML.
    for kind in ("markdown", "caption", "html", "info", "error"):
        assert not any("<script>" in str(e.value) for e in at.get(kind)), kind


def test_a_payload_is_shown_as_plain_text(dead_db: Engine) -> None:
    at = _open("admin")
    assert len(at.selectbox(key=PICK).options) == 2
    assert any('"watts": "50"' in c.value for c in at.code)  # the newest is picked first
    with dead_db.connect() as conn:
        oldest = conn.scalar(select(DeadLetter.id).order_by(DeadLetter.received_at).limit(1))
    at.selectbox(key=PICK).set_value(oldest).run()
    (code,) = at.code
    assert HOSTILE in code.value and "\\x00" in code.value  # as text; NUL kept visibly


def test_lead_does_not_see_the_tab(dead_db: Engine) -> None:
    at = _open("lead")
    assert len(at.tabs) == 0
    assert translate("dead_letters.count", "ko") not in "\n".join(texts(at))


def test_an_empty_table_says_so(demo_db: Engine, tmp_path) -> None:
    with private_copy(demo_db, tmp_path):  # the demo city has no dead letters
        at = _open("admin")
    assert translate("dead_letters.none", "ko") in [i.value for i in at.info]
