"""``recipients import|template`` and ``devices import|template`` through ``dashboard.cli.main``:
exit 0 stored (or a valid dry run), 1 refused with the row errors, 2 a usage problem; and a city
built only through these commands showing its devices on the live page's queries."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from dashboard import cli, clock
from dashboard.db.engine import make_engine
from dashboard.db.schema import AuditLog, CareRecipient, Device
from dashboard.ingest import ingest_events
from dashboard.registry import DEVICES, PEOPLE
from dashboard.settings import get_settings
from queries.live import device_counts, last_seen, live_snapshot
from tests.registry_support import CHEONGUN, SAJIK, device, person, roster_csv, roster_xlsx


@pytest.fixture
def configured(db_url, monkeypatch):
    """An empty database named by ANBU_DATABASE_URL, demo off: a real city's first day."""
    monkeypatch.setenv("ANBU_DATABASE_URL", db_url)
    monkeypatch.setenv("ANBU_DEMO", "false")
    get_settings.cache_clear()
    yield db_url
    get_settings.cache_clear()


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = cli.main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def _ready(capsys) -> None:
    assert _run(capsys, "db", "upgrade")[0] == 0
    assert _run(capsys, "init")[0] == 0
    code, out = _run(capsys, "apikey", "add", "acme")
    assert code == 0 and "key:" in out


def _count(url: str, model) -> int:
    engine = make_engine(url)
    with engine.connect() as conn:
        count = conn.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return count


def test_exit_codes_stored_refused_and_usage(configured, tmp_path: Path, capsys):
    good = tmp_path / "people.csv"
    good.write_bytes(roster_csv(PEOPLE, [person(1), person(2)]))
    code, out = _run(capsys, "recipients", "import", str(good))
    assert code == 2 and "no tables yet" in out  # before `db upgrade`

    _ready(capsys)
    code, out = _run(capsys, "recipients", "import", str(good), "--dry-run")
    assert code == 0 and "2 new, 0 changed, 0 unchanged" in out and "dry run" in out
    assert _count(configured, CareRecipient) == 0

    code, out = _run(capsys, "recipients", "import", str(good))
    assert code == 0 and out.rstrip().endswith("stored")
    assert _count(configured, CareRecipient) == 2

    changed = tmp_path / "people.xlsx"
    changed.write_bytes(roster_xlsx(PEOPLE, [person(1, phone="010-5555-0001"), person(2)]))
    code, out = _run(capsys, "recipients", "import", str(changed))
    assert code == 0 and "0 new, 1 changed, 1 unchanged" in out
    assert "changed P-0001: phone" in out and "5555" not in out

    bad = tmp_path / "bad.csv"
    bad.write_bytes(roster_csv(PEOPLE, [person(3), person(4, dong_code="1111099999")], False))
    code, out = _run(capsys, "recipients", "import", str(bad))
    assert code == 1
    assert "1 problem(s); nothing was stored" in out
    assert "row 3, column dong_code: unknown dong 1111099999" in out
    assert _count(configured, CareRecipient) == 2

    devices = tmp_path / "devices.csv"
    devices.write_bytes(roster_csv(DEVICES, [device(1, vendor="nobody")]))
    code, out = _run(capsys, "devices", "import", str(devices))
    assert code == 1 and "`python -m dashboard apikey add nobody`" in out
    devices.write_bytes(roster_csv(DEVICES, [device(1), device(2)]))
    assert _run(capsys, "devices", "import", str(devices))[0] == 0
    assert _count(configured, Device) == 2

    code, out = _run(capsys, "devices", "import", str(tmp_path / "missing.csv"))
    assert code == 2 and "no file at" in out
    with pytest.raises(SystemExit) as usage:  # argparse: no such action
        cli.main(["recipients", "export", str(good)])
    assert usage.value.code == 2
    # The CLI acts as cli:<os user>, an admin, and is audited as such.
    engine = make_engine(configured)
    with engine.connect() as conn:
        actions = conn.execute(select(AuditLog.actor, AuditLog.action)).all()
    engine.dispose()
    roster = [a for a in actions if a.action.startswith("roster_import")]
    assert [a.action for a in roster] == [
        "roster_import_people",
        "roster_import_people",
        "roster_import_devices",
    ]
    assert all(a.actor.startswith("cli") for a in roster)


def test_templates_are_written_and_import_as_they_are(configured, tmp_path: Path, capsys):
    _ready(capsys)
    people, devices = tmp_path / "people.csv", tmp_path / "devices.csv"
    assert _run(capsys, "recipients", "template", str(people))[0] == 0
    assert _run(capsys, "devices", "template", str(devices))[0] == 0
    text = people.read_bytes().decode("utf-8-sig")
    assert text.startswith("대상자번호,성명,출생연도,성별,연락처,주소,행정동코드")
    assert "홍길동" in text
    assert devices.read_bytes().decode("utf-8-sig").startswith("기기번호,제조사,기기종류,사업")
    code, out = _run(capsys, "recipients", "template", str(people))
    assert code == 2 and "--force" in out  # never overwrites by surprise
    assert _run(capsys, "recipients", "template", str(tmp_path / "p.xlsx"))[0] == 2

    assert _run(capsys, "recipients", "import", str(people))[0] == 0
    code, out = _run(capsys, "devices", "import", str(devices))
    assert code == 1 and "apikey add example-vendor" in out  # the example vendor has no key
    assert _run(capsys, "apikey", "add", "example-vendor")[0] == 0
    assert _run(capsys, "devices", "import", str(devices))[0] == 0


def test_a_city_built_only_through_the_roster_imports_is_live(configured, tmp_path, capsys):
    """Empty database, demo off: migrate, catalog, a vendor key, two rosters; events from the
    vendor; the live page's queries show the city's devices and their states."""
    _ready(capsys)
    people = [
        person(1),
        person(2, dong_code=CHEONGUN),
        person(3, phone="02-765-4321", sex="M"),
    ]
    devices = [device(1), device(2), device(3)]
    (tmp_path / "people.xlsx").write_bytes(roster_xlsx(PEOPLE, people))
    (tmp_path / "devices.csv").write_bytes(roster_csv(DEVICES, devices, korean=False))
    assert _run(capsys, "recipients", "import", str(tmp_path / "people.xlsx"))[0] == 0
    assert _run(capsys, "devices", "import", str(tmp_path / "devices.csv"))[0] == 0

    engine = make_engine(configured)
    now = clock.now()
    events = [
        {
            "event_id": f"e-{n}",
            "device_id": f"PLUG-000{n}",
            "ts": (now - timedelta(minutes=5)).isoformat(),
            "type": "power",
            "watts": 55.0,
        }
        for n in (1, 2)
    ]
    with engine.begin() as conn:
        result = ingest_events(conn, "acme", events, now=now)
    assert (result.accepted, result.rejected) == (2, [])

    with engine.connect() as conn:
        counts = device_counts(conn)
        snapshot = live_snapshot(conn, now)
        silent = last_seen(conn)
    engine.dispose()
    assert int(counts["devices"].sum()) == 3
    assert set(counts["program_code"]) == {"seoul_smart_plug"}
    assert set(counts["region_code"]) == {SAJIK, CHEONGUN}
    by_state = snapshot.by_program.groupby("state")["devices"].sum().to_dict()
    # PLUG-0003 never reported; the other two did (what the rules make of a plug that was
    # silent since its installation is theirs to say, not this test's).
    assert by_state.pop("offline") == 1 and sum(by_state.values()) == 2
    assert snapshot.newest_signal is not None
    assert set(silent["device_uid"]) == {"PLUG-0001", "PLUG-0002", "PLUG-0003"}
    assert silent.iloc[0]["device_uid"] == "PLUG-0003"  # never seen comes first


def test_a_possible_duplicate_is_printed_as_a_warning_and_stored(configured, tmp_path, capsys):
    """The same senior from a second program's list under another 대상자번호: exit 0, both
    stored, and the output names the row and the other 대상자번호 (no personal value)."""
    _ready(capsys)
    first = tmp_path / "plugs.csv"
    first.write_bytes(roster_csv(PEOPLE, [person(1, name="김복순")]))
    assert _run(capsys, "recipients", "import", str(first))[0] == 0
    second = tmp_path / "ai-calls.csv"
    again = person(7, name="김 복순", phone="1012340001", address="", home_lat="", home_lon="")
    second.write_bytes(roster_csv(PEOPLE, [again]))
    code, out = _run(capsys, "recipients", "import", str(second))
    assert code == 0 and out.rstrip().endswith("stored")
    assert "warning: 1 row(s) may be a person already enrolled under another 대상자번호" in out
    assert "row 2 (P-0007): possibly the same person as P-0001 (same name and birth year; " in out
    assert "same phone)" in out and "김" not in out and "1234" not in out
    assert _count(configured, CareRecipient) == 2
