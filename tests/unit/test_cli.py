"""The command line migrates, reports and refuses with clear messages."""

from __future__ import annotations

import sqlite3

import pytest

from dashboard import cli
from dashboard.db import migrate
from dashboard.db.engine import make_engine
from dashboard.settings import get_settings


@pytest.fixture
def configured_db(tmp_path, monkeypatch):
    path = tmp_path / "cli.sqlite3"
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{path}")
    get_settings.cache_clear()
    yield path
    get_settings.cache_clear()


def test_db_upgrade_then_current(configured_db, capsys):
    assert cli.main(["db", "upgrade"]) == 0
    assert f"database at {migrate.head_revision()} (was empty)" in capsys.readouterr().out
    assert cli.main(["db", "current"]) == 0
    out = capsys.readouterr().out
    assert f"current: {migrate.head_revision()}" in out
    engine = make_engine(f"sqlite:///{configured_db}")
    assert not migrate.needs_upgrade(engine)


def test_db_recount_repairs_the_device_counts(configured_db, capsys):
    assert cli.main(["db", "recount"]) == 2
    assert "db upgrade` first" in capsys.readouterr().err
    assert cli.main(["db", "upgrade"]) == 0
    with sqlite3.connect(configured_db) as conn:  # a drift only a hand-written row can make
        conn.execute(
            "INSERT INTO device_counts (program_id, region_id, state, never_seen, devices)"
            " VALUES (1, 1, 'normal', 0, 5)"
        )
    capsys.readouterr()
    assert cli.main(["db", "recount"]) == 0
    assert "device counts: 0 groups, 1 differed (repaired)" in capsys.readouterr().out
    assert cli.main(["db", "recount"]) == 0
    assert "0 differed" in capsys.readouterr().out


def test_db_upgrade_refuses_a_foreign_database(configured_db, capsys):
    with sqlite3.connect(configured_db) as conn:
        conn.execute("CREATE TABLE patients (id INTEGER PRIMARY KEY)")
    assert cli.main(["db", "upgrade"]) == 2
    err = capsys.readouterr().err
    assert "error:" in err and "patients" in err and "no Anbu migration history" in err


def test_bad_configuration_is_reported_not_raised(monkeypatch, capsys):
    monkeypatch.setenv("ANBU_DEMO_SCALE", "enormous")
    get_settings.cache_clear()
    try:
        assert cli.main(["db", "current"]) == 2
    finally:
        get_settings.cache_clear()
    assert "ANBU_DEMO_SCALE must be 'small' or 'seoul'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["demo", "--days", "0"], "--days must be at least 1"),
        (["demo", "--end", "2024-12-31T09:00"], "--end needs a time zone"),
        (["demo", "--end", "yesterday"], "--end: Invalid isoformat"),
    ],
)
def test_demo_arguments_are_checked(configured_db, capsys, argv, message):
    assert cli.main(argv) == 2
    assert message in capsys.readouterr().err


def test_init_never_migrates_a_server_database(postgres_schema_url, monkeypatch, capsys):
    monkeypatch.setenv("ANBU_DATABASE_URL", postgres_schema_url)
    monkeypatch.delenv("ANBU_DEMO", raising=False)
    get_settings.cache_clear()
    try:
        for argv in (["init"], ["reference", "load"], ["demo", "--days", "1"]):
            assert cli.main(argv) == 2
            assert "run `python -m dashboard db upgrade`" in capsys.readouterr().err
        assert cli.main(["db", "upgrade"]) == 0  # the one path that migrates it
        assert cli.main(["init"]) == 0
    finally:
        get_settings.cache_clear()
    engine = make_engine(postgres_schema_url)
    assert not migrate.needs_upgrade(engine)
    engine.dispose()


def test_reference_check_lists_the_documents_findings(capsys):
    from dashboard.reference import checks, csvdata

    expected = checks.check_budget_tables(csvdata.read_budget_lines()) + checks.check_figure_sums(
        csvdata.read_published_figures(), csvdata.read_figure_sums()
    )
    assert cli.main(["reference", "check"]) == 0
    assert capsys.readouterr().out.endswith(f"{len(expected)} finding(s)\n")
