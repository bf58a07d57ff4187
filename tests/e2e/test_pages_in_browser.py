"""Every page in a real browser, in Korean and English, starting from an empty database.

The first visit triggers the first-run setup (migrations, reference data, demo city), exactly as
a new user meets it; later visits must be fast. Screenshots land in test-artifacts/screenshots/.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from dashboard.settings import DATA_DIR
from tests.e2e.conftest import FIRST_RUN_TIMEOUT_S, screenshot, wait_for_app

# The first test also waits for the server and its first-run setup (FIRST_RUN_TIMEOUT_S).
pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

PAGES = [
    "live",
    "alerts",
    "wandering",
    "complaints",
    "participation",
    "budget",
    "response",
    "people",
    "devices",
    "import",
    "users",
    "settings",
    "briefing",
]
TITLES = {
    lang: tomllib.loads((DATA_DIR / "i18n" / f"{lang}.toml").read_text(encoding="utf-8"))["page"]
    for lang in ("ko", "en")
}
TITLES_AUTH = tomllib.loads((DATA_DIR / "i18n" / "ko.toml").read_text(encoding="utf-8"))["auth"]
# The login form in either language (the URL's ?lang= decides).
_EN_AUTH = tomllib.loads((DATA_DIR / "i18n" / "en.toml").read_text(encoding="utf-8"))["auth"]
AUTH = {
    key: re.compile(f"^({re.escape(TITLES_AUTH[key])}|{re.escape(_EN_AUTH[key])})$")
    for key in ("submit", "logout")
}
PASSWORD_INPUT = 'input[type="password"]'


@pytest.fixture(scope="module")
def page(browser, app_server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    page.goto(f"{app_server}/live")
    # The first visit builds the demo city: allow for it once.
    wait_for_app(page, timeout_s=FIRST_RUN_TIMEOUT_S)
    yield page
    context.close()


def visit(page, url: str, username: str = "lead") -> None:
    """Open ``url``. A page load is a new Streamlit session, so log in when the form shows;
    the app then opens the address that was asked for."""
    page.goto(url)
    wait_for_app(page)
    if page.locator(PASSWORD_INPUT).count():
        log_in(page, username)


def log_in(page, username: str, password: str = "anbu-demo") -> None:
    """Fill the login form (every address shows it until someone logs in)."""
    page.locator('input[autocomplete="username"]').fill(username)
    page.locator(PASSWORD_INPUT).fill(password)
    page.get_by_role("button", name=AUTH["submit"]).click()
    wait_for_app(page)
    page.get_by_role("button", name=AUTH["logout"]).wait_for(timeout=30_000)
    wait_for_app(page)  # "/" forwards to the role's first page: let that run finish too


def _assert_no_exception(page, where: str) -> None:
    errors = page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]')
    assert errors.count() == 0, f"{where}: {errors.first.inner_text()}"


@pytest.mark.parametrize("lang", ["ko", "en"])
@pytest.mark.parametrize("name", PAGES)
def test_page_renders_with_its_title(page, app_server, name, lang):
    visit(page, f"{app_server}/{name}?lang={lang}")
    title = TITLES[lang][name]
    heading = page.locator("h1, h2").filter(has_text=title)
    assert heading.count() >= 1, f"no heading {title!r} on /{name}?lang={lang}"
    _assert_no_exception(page, f"/{name}?lang={lang}")
    screenshot(page, f"{name}-{lang}")


@pytest.mark.parametrize("lang", ["ko", "en"])
def test_person_panel_in_browser(page, app_server, lang):
    """A deep link opens the person: the card, the home map (a component iframe), the timeline."""
    visit(page, f"{app_server}/people?person=AIC-P000001&lang={lang}")
    page.locator('iframe[title="streamlit_folium.st_folium"]').first.wait_for(timeout=30_000)
    _assert_no_exception(page, f"/people?person=AIC-P000001&lang={lang}")
    assert page.get_by_text("AIC-P000001").count() >= 1
    page.locator('iframe[title="streamlit_folium.st_folium"]').first.scroll_into_view_if_needed()
    page.wait_for_timeout(1000)  # the map's tiles (or their absence) settle
    screenshot(page, f"people-person-{lang}")


def test_language_choice_survives_navigation(page, app_server):
    visit(page, f"{app_server}/live?lang=en")
    page.get_by_role("link", name=TITLES["en"]["budget"]).first.click()
    page.wait_for_url("**/budget**")  # the click's rerun may not have started yet
    wait_for_app(page)
    assert "lang=en" in page.url
    assert page.locator("h1, h2").filter(has_text=TITLES["en"]["budget"]).count() >= 1


def test_root_address_serves_the_live_page(page, app_server):
    visit(page, app_server)
    # "/" forwards to /live in a second script run: wait for it rather than race it.
    page.locator("h1, h2").filter(has_text=TITLES["ko"]["live"]).first.wait_for(timeout=30_000)
    assert page.url.rstrip("/").endswith("/live") or "/live?" in page.url


def test_projector_briefing(page, app_server):
    visit(page, f"{app_server}/briefing?projector=1")
    _assert_no_exception(page, "/briefing?projector=1")
    assert page.locator('[data-testid="stMetric"]').count() >= 3
    screenshot(page, "briefing-projector-ko")


def test_login_gate_and_council_url_fallback(browser, app_server):
    """A fresh browser sees only the login page; a council account asking for /alerts gets the
    briefing instead (Streamlit's fallback for an unregistered page), and no alert page."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    try:
        page.goto(f"{app_server}/alerts")
        wait_for_app(page)
        assert page.locator("h1").filter(has_text=TITLES_AUTH["title"]).count() >= 1
        assert "anbu-demo" in page.inner_text("body")
        screenshot(page, "login-ko")
        log_in(page, "council")  # the session asked for /alerts: council gets its default
        page.locator("h1, h2").filter(has_text=TITLES["ko"]["briefing"]).first.wait_for()
        assert page.locator("h1, h2").filter(has_text=TITLES["ko"]["alerts"]).count() == 0
        page.keyboard.press("Escape")  # Streamlit's "page not found" notice for the fallback
        nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
        assert TITLES["ko"]["alerts"] not in nav and TITLES["ko"]["live"] not in nav
        page.get_by_role("button", name=TITLES_AUTH["logout"]).click()
        page.locator(PASSWORD_INPUT).wait_for(timeout=30_000)
        assert page.locator("h1").filter(has_text=TITLES_AUTH["title"]).count() >= 1
    finally:
        context.close()


def test_council_sees_no_personal_data_anywhere(browser, app_server, app_database_url):
    """Every page a council account can open, in both languages: no recipient's name or phone
    number appears in the rendered page, its markup (tooltips, chart data) or its links."""
    from sqlalchemy import select

    from dashboard.auth import allowed_pages
    from dashboard.db.engine import make_engine
    from dashboard.db.schema import CareRecipient

    engine = make_engine(app_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(CareRecipient.pii_name, CareRecipient.pii_phone, CareRecipient.pii_address)
        ).all()
    engine.dispose()
    secrets = {value for row in rows for value in row if value and len(value) >= 3}
    assert len(secrets) > 1000  # the demo city is there: the check below means something

    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    try:
        for lang in ("ko", "en"):
            for name in allowed_pages("council"):
                visit(page, f"{app_server}/{name}?lang={lang}", username="council")
                assert page.locator("h1, h2").filter(has_text=TITLES[lang][name]).count() >= 1
                markup = page.content()
                leaked = sorted(value for value in secrets if value in markup)
                assert not leaked, f"/{name}?lang={lang} shows personal data: {leaked[:5]}"
                screenshot(page, f"council-{name}-{lang}")
            # The roster pages are not registered for the council: a deep link falls back.
            for url in ("people?person=AIC-P000001", "devices?device=AIC-000001"):
                visit(page, f"{app_server}/{url}&lang={lang}", username="council")
                page.keyboard.press("Escape")  # Streamlit's "page not found" notice
                heading = page.locator("h1, h2").filter(has_text=TITLES[lang]["people"])
                assert heading.count() == 0, url
                markup = page.content()  # once: a call per value is a browser round trip each
                leaked = sorted(value for value in secrets if value in markup)
                assert not leaked, f"/{url} shows personal data: {leaked[:5]}"
    finally:
        context.close()


def test_admin_roster_pages_show_no_personal_data(browser, app_server, app_database_url):
    """Admins manage the roster without personal data: no name (full or masked), phone or
    address on the people and devices pages, a person's panel included."""
    from sqlalchemy import select

    from dashboard.db.engine import make_engine
    from dashboard.db.schema import CareRecipient
    from dashboard.formatting import mask_name
    from dashboard.i18n import catalog

    engine = make_engine(app_database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(CareRecipient.pii_name, CareRecipient.pii_phone, CareRecipient.pii_address)
        ).all()
    engine.dispose()
    # A three-letter demo name can be part of the app's own Korean text (장하기 in 저장하기):
    # such a value proves nothing, so it is left out.
    own_text = "\n".join(v for lang in ("ko", "en") for v in catalog(lang).values())
    secrets = {value for row in rows for value in row if value and len(value) >= 3} - {
        value for row in rows for value in row if value and value in own_text
    }
    masked = {mask_name(row[0]) for row in rows if row[0]}
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    try:
        for url, heading in (
            ("people?person=AIC-P000001", "AIC-P000001"),
            ("devices?device=AIC-000001", "AIC-000001"),
        ):
            visit(page, f"{app_server}/{url}", username="admin")
            page.locator("h3").filter(has_text=heading).first.wait_for(timeout=30_000)
            text, markup = page.inner_text("body"), page.content()
            leaked = sorted(value for value in secrets if value in markup)
            assert not leaked, f"/{url} shows personal data: {leaked[:5]}"
            shown_masked = sorted(m for m in masked if m in text)
            assert not shown_masked, f"/{url} shows masked names: {shown_masked[:5]}"
            screenshot(page, f"admin-{url.split('?')[0]}-ko")
    finally:
        context.close()


def _pick(page, label: str, option: str) -> None:
    """Choose ``option`` in the Streamlit selectbox labelled ``label`` (not the sidebar's
    multiselect of the same name). The first press on the list button right after a rerun may
    only focus the box, so it is pressed until the list is open."""
    combo = page.get_by_role("combobox", name=label, exact=True)
    box = page.locator('[data-testid="stSelectbox"]').filter(has=combo)
    for _ in range(10):
        box.get_by_role("button", name="Open").click(force=True)
        page.wait_for_timeout(300)
        if box.get_by_role("combobox").get_attribute("aria-expanded") == "true":
            break
    page.get_by_role("option", name=option, exact=True).click()
    wait_for_app(page)


def test_lead_registers_a_device_and_sees_it_in_the_list(browser, app_server, app_database_url):
    """기기 관리 as a lead: register a wandering detector for a person by 대상자번호, then find
    it in the device list and its panel."""
    from sqlalchemy import select

    from dashboard.db.engine import make_engine
    from dashboard.db.schema import CareRecipient, Program
    from dashboard.i18n import catalog

    engine = make_engine(app_database_url)
    with engine.connect() as conn:
        ref = conn.scalar(
            select(CareRecipient.external_ref)
            .join(Program, Program.id == CareRecipient.program_id)
            .where(Program.code == "goyang_wandering", CareRecipient.ended_on.is_(None))
            .order_by(CareRecipient.external_ref)
        )
    engine.dispose()
    ko = catalog("ko")
    uid = "WD-E2E-0001"
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="ko-KR")
    page = context.new_page()
    try:
        visit(page, f"{app_server}/devices")
        page.get_by_text(ko["device_actions.register_title"], exact=True).click()
        _pick(page, ko["col.program"], "배회감지기(안심위 리빙랩)")
        form = page.locator('[data-testid="stForm"]').filter(has_text=ko["devices.installed"])
        form.get_by_role("textbox", name=ko["device_actions.ref"]).fill(ref)
        form.get_by_role("textbox", name=ko["devices.device_id"]).fill(uid)
        _pick(page, ko["devices.vendor"], "safestep")
        form.get_by_text(ko["device_actions.register_confirm"]).click()
        assert form.get_by_role("checkbox").is_checked()
        form.get_by_role("button", name=ko["device_actions.register_button"]).click()
        wait_for_app(page)
        page.get_by_text(f"기기 {uid}을(를) 등록했습니다").first.wait_for(timeout=30_000)
        _assert_no_exception(page, "/devices register")
        # The panel opened the new device; the list (its cache cleared) has it.
        page.locator("h3").filter(has_text=f"기기 {uid}").first.wait_for(timeout=30_000)
        search = page.get_by_role("textbox", name=ko["devices.search"])
        search.fill("WD-E2E")
        search.press("Enter")
        wait_for_app(page)
        page.get_by_text(ko["devices.count"].format(n=1)).wait_for(timeout=30_000)
        grid = page.locator('[data-testid="stDataFrame"]').first
        grid.get_by_text(uid).first.wait_for(state="attached", timeout=30_000)
        screenshot(page, "devices-registered-ko")
    finally:
        context.close()
