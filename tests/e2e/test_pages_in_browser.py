"""Every page in a real browser, in Korean and English, starting from an empty database.

The first visit triggers the first-run setup (migrations, reference data, demo city), exactly as
a new user meets it; later visits must be fast. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import tomllib

import pytest

from dashboard.settings import DATA_DIR
from tests.e2e.conftest import FIRST_RUN_TIMEOUT_S, screenshot, wait_for_app

pytestmark = pytest.mark.browser

PAGES = ["live", "alerts", "wandering", "complaints", "participation", "budget", "briefing"]
TITLES = {
    lang: tomllib.loads((DATA_DIR / "i18n" / f"{lang}.toml").read_text(encoding="utf-8"))["page"]
    for lang in ("ko", "en")
}


@pytest.fixture(scope="module")
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    page.goto(f"{app_server}/live")
    # The first visit builds the demo city: allow for it once.
    wait_for_app(page, timeout_s=FIRST_RUN_TIMEOUT_S)
    yield page
    context.close()


def _assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()}"


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_with_its_title(page, app_server, name, lang):
    page.goto(f"{app_server}/{name}?lang={lang}")
    wait_for_app(page)
    title = TITLES[lang][name]
    heading = page.locator("h1, h2").filter(has_text=title)
    assert heading.count() >= 1, f"no heading {title!r} on /{name}?lang={lang}"
    _assert_no_exception(page, f"/{name}?lang={lang}")
    screenshot(page, f"{name}-{lang}")


def test_language_choice_survives_navigation(page, app_server):
    page.goto(f"{app_server}/live?lang=en")
    wait_for_app(page)
    page.get_by_role("link", name=TITLES["en"]["budget"]).first.click()
    wait_for_app(page)
    assert "lang=en" in page.url
    assert page.locator("h1, h2").filter(has_text=TITLES["en"]["budget"]).count() >= 1


def test_root_address_serves_the_live_page(page, app_server):
    page.goto(app_server)
    wait_for_app(page)
    assert page.locator("h1, h2").filter(has_text=TITLES["ko"]["live"]).count() >= 1


def test_projector_briefing(page, app_server):
    page.goto(f"{app_server}/briefing?projector=1")
    wait_for_app(page)
    _assert_no_exception(page, "/briefing?projector=1")
    assert page.locator('[data-testid="stMetric"]').count() >= 3
    screenshot(page, "briefing-projector-ko")
