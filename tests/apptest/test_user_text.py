"""Text that users type is shown as text: a display name made of markdown renders literally."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine
from streamlit.testing.v1 import AppTest

from dashboard.auth import cli_principal
from dashboard.auth.users import create_user
from dashboard.i18n import translate
from dashboard.ui.safe_text import md_escape
from tests.apptest.conftest import APP, TIMEOUT, private_copy

HOSTILE_NAME = "[Session expired](http://x) ![](http://x/px)"
PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def hostile_db(demo_db: Engine, tmp_path_factory) -> Iterator[Engine]:
    with private_copy(demo_db, tmp_path_factory.mktemp("user-text")) as engine:
        with engine.begin() as conn:
            create_user(
                conn, "mallory", "lead", PASSWORD, datetime.now(UTC), cli_principal(),
                display_name=HOSTILE_NAME,
            )  # fmt: skip
        yield engine


def test_display_name_in_the_sidebar_is_not_a_link_or_image(hostile_db: Engine) -> None:
    at = AppTest.from_file(APP, default_timeout=TIMEOUT).run()
    at.text_input(key="anbu_login_username").input("mallory")
    at.text_input(key="anbu_login_password").input(PASSWORD)
    next(b for b in at.button if b.label == translate("auth.submit")).click().run()
    assert not at.exception, [e.value for e in at.exception]

    (caption,) = [c.value for c in at.sidebar.caption if "Session expired" in c.value]
    role = translate("auth.role.lead")
    assert caption == translate("auth.signed_in", name=md_escape(HOSTILE_NAME), role=role)
    # No markdown link or image syntax survives: every bracket and parenthesis is escaped.
    assert "](" not in caption and "![" not in caption
    assert r"\[Session expired\]\(http\:\/\/x\)" in caption
