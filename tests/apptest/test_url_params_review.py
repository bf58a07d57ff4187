"""Hostile URL parameters on every page (the URL review): no traceback, a warning that says
what was not used (cut to a readable length, never turned around by a direction override), a
parameter given twice named, and nothing stored changed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select

from dashboard.auth import allowed_pages
from dashboard.db.schema import Alert, metadata
from dashboard.i18n import translate
from dashboard.ui.safe_text import LINK_VALUE_CHARS
from tests.apptest.conftest import open_page

LONG = "x" * 10_000
RTL = "\u202eabc\u05d0"
# Every parameter a page reads from its URL (grep query_params and link_param).
PAGE_PARAMS = {
    "live": (),
    "alerts": ("alert", "program", "stage", "district", "status"),
    "wandering": (),
    "week": ("week", "program", "district"),
    "response": ("from", "to", "program", "district"),
    "vendors": ("from", "to", "program", "district"),
    "complaints": ("district", "from", "to"),
    "participation": ("program", "from", "to", "district"),
    "budget": ("year", "asof", "district", "fund", "iyear", "iasof"),
    "briefing": (),
    "people": ("person",),
    "devices": ("device",),
}
HOSTILE = (LONG, RTL, "' OR 1=1 --", "<script>alert(1)</script>", "9999-12-31", "2026-02-30")


def _counts(engine: Engine) -> dict[str, int]:
    """Rows per table, the audit log and the accounts the first run creates left out."""
    skip = {"audit_log", "users"}
    with engine.connect() as conn:
        return {
            t.name: conn.scalar(select(func.count()).select_from(t))
            for t in metadata.sorted_tables
            if t.name not in skip
        }


def _warnings(at) -> list[str]:
    return [str(w.value) for w in at.warning]


@pytest.mark.parametrize("page", list(PAGE_PARAMS))
@pytest.mark.parametrize("repeated", [False, True], ids=["hostile", "repeated"])
def test_hostile_values_in_every_parameter(demo_db, page: str, repeated: bool) -> None:
    """Each of the page's parameters gets another hostile value (or two values), with a
    hostile language and projector too: warnings only, readable, and no row changed."""
    before = _counts(demo_db)
    names = ("lang", "projector", *PAGE_PARAMS[page])
    params = {
        name: [HOSTILE[i % len(HOSTILE)], HOSTILE[(i + 1) % len(HOSTILE)]]
        if repeated
        else HOSTILE[i % len(HOSTILE)]
        for i, name in enumerate(names)
    }
    role = "lead" if page in allowed_pages("lead") else "admin"
    at = open_page(page, role=role, **params)  # asserts no exception
    warnings = _warnings(at)
    assert warnings
    assert all(len(w) < 400 and "\u202e" not in w for w in warnings), warnings
    assert "<script>" not in "\n".join(warnings)  # escaped for markdown
    if repeated:
        for name in names:
            assert any(f"`{name}`" in w for w in warnings if "2번" in w), name
    assert _counts(demo_db) == before


def test_a_long_value_is_cut_in_the_warning(demo_db) -> None:
    at = open_page("alerts", alert=LONG)
    cut = "x" * LINK_VALUE_CHARS + "…"
    assert translate("alerts.bad_link", value=cut) in _warnings(at)
    at = open_page("week", week=LONG)
    assert translate("url.bad_date", param="week", value=cut) in _warnings(at)


def test_a_direction_override_is_shown_as_its_code(demo_db) -> None:
    """U+202E would turn the rest of the warning around; it is written as \\u202e."""
    at = open_page("people", person=RTL)
    assert translate("people.bad_link", value="\\\\u202eabc\u05d0") in _warnings(at)


def test_an_alert_given_twice_says_which_is_opened(demo_db) -> None:
    with demo_db.connect() as conn:
        first, last = conn.scalars(select(Alert.id).order_by(Alert.id).limit(2)).all()
    at = open_page("alerts", alert=[str(first), str(last)])
    assert translate("url.repeated", param="alert", n=2, value=last) in _warnings(at)
    at = open_page("alerts", alert=[str(first), str(last)], lang="en")
    assert translate("url.repeated", param="alert", n=2, value=last, lang="en") in _warnings(at)


def test_a_filter_given_twice_is_named_and_uses_the_last(demo_db) -> None:
    at = open_page("alerts", stage=["risk", "severe"])
    assert translate("url.repeated", param="stage", n=2, value="severe") in _warnings(at)
    assert at.multiselect(key="url_stage").value == ["severe"]
    at = open_page("budget", asof=["1", "2"])
    assert translate("url.repeated", param="asof", n=2, value="2") in _warnings(at)


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_an_unknown_language_is_named_and_the_session_language_kept(demo_db, lang) -> None:
    at = open_page("week", lang="fr")
    assert translate("url.bad_choice", param="lang", value="fr") in _warnings(at)
    assert at.query_params["lang"] == "fr"  # the link stays as given while it is named
    if lang == "en":  # a session in English keeps English
        at.query_params["lang"] = "en"
        at.run()
        at.query_params["lang"] = "fr"
        at.run()
        warning = translate("url.bad_choice", param="lang", value="fr", lang="en")
        assert warning in _warnings(at)
        assert at.title[0].value == translate("page.week", "en")
    assert not at.exception


def test_projector_values(demo_db) -> None:
    at = open_page("briefing", role="council", projector="maybe")
    assert translate("url.bad_choice", param="projector", value="maybe") in _warnings(at)
    at = open_page("briefing", role="council", projector="0")
    assert not [w for w in _warnings(at) if "projector" in w]
    at = open_page("briefing", role="council", projector="1")
    assert not [w for w in _warnings(at) if "projector" in w]
