"""A city that starts without the demo: its roster imported through the CLI, a lead account,
events from its vendor; the live page shows its devices (a private SQLite file, no demo city)."""

from __future__ import annotations

from datetime import timedelta

from dashboard import cli, clock
from dashboard.auth.principal import cli_principal
from dashboard.auth.users import create_user
from dashboard.db.engine import make_engine
from dashboard.ingest import ingest_events
from dashboard.registry import DEVICES, PEOPLE
from dashboard.settings import get_settings
from tests.apptest.conftest import open_page, texts
from tests.registry_support import device, person, roster_csv


def test_live_page_shows_a_city_imported_from_its_roster(tmp_path, monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'own-city.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    try:
        people, devices = tmp_path / "people.csv", tmp_path / "devices.csv"
        people.write_bytes(roster_csv(PEOPLE, [person(n) for n in (1, 2)]))
        devices.write_bytes(roster_csv(DEVICES, [device(n) for n in (1, 2)]))
        for argv in (
            ["db", "upgrade"],
            ["init"],
            ["apikey", "add", "acme"],
            ["recipients", "import", str(people)],
            ["devices", "import", str(devices)],
        ):
            assert cli.main(argv) == 0, argv
        engine = make_engine(url)
        now = clock.now()
        with engine.begin() as conn:
            # The account the page gate re-reads; "lead" is the name open_page logs in as.
            create_user(conn, "lead", "lead", "a long passphrase", now, cli_principal())
            event = {"event_id": "e-1", "device_id": "PLUG-0001", "type": "power", "watts": 40}
            event["ts"] = (now - timedelta(minutes=2)).isoformat()
            assert ingest_events(conn, "acme", [event], now=now).accepted == 1
        engine.dispose()

        at = open_page("live", role="lead")
        shown = "\n".join(texts(at))
    finally:
        get_settings.cache_clear()
    assert "스마트안부확인서비스" in shown  # the program of the imported devices
    assert "사직동" in shown  # their dong
    assert "PLUG-0002" in shown  # never reported: first on the silent list
    assert "시험2" not in shown  # names stay masked on the wall screen
