"""Real-browser harness: the app in a subprocess on a free port, Playwright driving system Chromium.

The server starts on an empty embedded database, so the first-run path (migrations, reference
data, demo city) is exercised exactly as a new user meets it. Screenshots go to
``test-artifacts/screenshots/``.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.conftest import missing_service
from tests.integration.servers import free_port
from tests.waiting import wait_until

PROJECT_ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = PROJECT_ROOT / "test-artifacts" / "screenshots"
CHROMIUM_FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# The small demo city takes 1.5 min on an idle machine and over 3 min on a loaded one.
FIRST_RUN_TIMEOUT_S = 360


def _chromium_path() -> str | None:
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


# Package scope: Playwright's sync API keeps an asyncio loop running in the main thread while
# it is open, which would break later tests that call asyncio.run().
@pytest.fixture(scope="package")
def browser():
    chromium = _chromium_path()
    if chromium is None:
        missing_service("Chromium not installed (Debian package `chromium`)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing_service("playwright not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, args=CHROMIUM_FLAGS)
        yield browser
        browser.close()


# Package scope, like the browser: the server (and the demo live loop it runs) stops when the
# browser tests are done instead of taking CPU from the rest of the worker's tests.
@pytest.fixture(scope="package")
def app_database_url(tmp_path_factory) -> str:
    """The embedded database the browser-tested server creates on its first run."""
    return f"sqlite:///{tmp_path_factory.mktemp('e2e') / 'anbu.sqlite3'}"


@pytest.fixture(scope="package")
def app_server(app_database_url, tmp_path_factory) -> Iterator[str]:
    """Start ``streamlit run dashboard/app.py`` on a fresh embedded database; yield its URL."""
    env = {"ANBU_DATABASE_URL": app_database_url, "ANBU_DEMO": "true"}
    with streamlit_server(env, tmp_path_factory.mktemp("e2e-server")) as url:
        yield url


@contextmanager
def streamlit_server(env: dict[str, str], workdir: Path, address: str = "127.0.0.1"):
    """The app in a subprocess with ``env`` added, listening on ``address``; yields
    ``http://127.0.0.1:PORT`` once it is healthy and stops it afterwards."""
    port = free_port()
    log_path = workdir / "streamlit.log"
    env = {**os.environ, **env, "PYTHONUNBUFFERED": "1"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "streamlit",
                "run",
                "dashboard/app.py",
                "--server.headless",
                "true",
                "--server.port",
                str(port),
                "--server.address",
                address,
                "--browser.gatherUsageStats",
                "false",
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_for_health(proc, url, log_path)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait_for_health(proc: subprocess.Popen, url: str, log_path: Path) -> None:
    def healthy() -> bool:
        if proc.poll() is not None:
            pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
            return resp.status == 200

    if not wait_until(healthy, timeout=60, interval=0.5, ignore=(OSError,)):
        pytest.fail(f"streamlit did not become healthy:\n{log_path.read_text()[-4000:]}")


SETUP_PAGE = ".st-key-anbu-setup"  # the first-start progress page (dashboard/ui/setup.py)


def wait_for_app(page, timeout_s: float = 60) -> None:
    """Wait until the script has finished running and no skeleton placeholder is left, and
    until the first-start progress page (if shown) has given way to the app."""
    for _ in range(2):  # the progress page opens the app itself: a second run to wait for
        page.wait_for_selector(
            '[data-testid="stApp"][data-test-script-state="notRunning"]',
            timeout=timeout_s * 1000,
        )
        page.wait_for_function(
            "() => !document.querySelector('[data-testid=\"stSkeleton\"]')",
            timeout=timeout_s * 1000,
        )
        if not page.locator(SETUP_PAGE).count():
            return
        page.wait_for_selector(SETUP_PAGE, state="detached", timeout=timeout_s * 1000)


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
