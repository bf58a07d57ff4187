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


def test_the_command_map_is_what_the_modules_register():
    """``cli.COMMANDS`` lets a run import only its command's module: it must name every command
    each module registers, in ``--help``'s order, and nothing else."""
    import argparse
    import importlib

    registered = {}
    for module_name in cli.COMMAND_MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module_name).register(sub)
        registered.update(dict.fromkeys(sub.choices, module_name))
    assert list(cli.COMMANDS.items()) == list(registered.items())
    assert _choices(cli.build_parser()) == [*cli.COMMANDS, *cli.BUILT_IN]
    for command in [*cli.COMMANDS, *cli.BUILT_IN]:
        parser = cli.build_parser(command)
        # every name stays listed (an error's usage line), and the command itself is real
        assert _choices(parser) == [*cli.COMMANDS, *cli.BUILT_IN]
        real = _subparsers(parser).choices[command]
        assert real._actions  # a bare placeholder has none, not even -h


def _subparsers(parser):
    import argparse

    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return commands


def _choices(parser) -> list[str]:
    return list(_subparsers(parser).choices)


def test_a_commands_error_lists_every_command_in_its_usage(capsys):
    """Only the command's module is imported, but the usage line of its error still names every
    command (a review found ``worker --bogus`` listing only the worker and the built-ins)."""
    with pytest.raises(SystemExit) as done:
        cli.main(["worker", "--bogus"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    listed = err.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == [*cli.COMMANDS, *cli.BUILT_IN]
    assert "unrecognized arguments: --bogus" in err


def test_help_lists_every_command_and_an_unknown_one_is_refused(capsys):
    import subprocess
    import sys

    with pytest.raises(SystemExit) as done:
        cli.main(["nope"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "usage: python -m dashboard [-h]" in err and "invalid choice: 'nope'" in err
    assert all(f"'{command}'" in err for command in [*cli.COMMANDS, *cli.BUILT_IN])
    helped = subprocess.run(
        [sys.executable, "-m", "dashboard", "--help"],
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    listed = helped.stdout.split("{", 1)[1].split("}", 1)[0].split(",")
    assert listed == [*cli.COMMANDS, *cli.BUILT_IN]


def test_a_replay_starts_without_the_other_commands_and_pandas():
    """The start of ``python -m dashboard replay`` (issue #9 times the whole process): its own
    command module only, and neither the replay nor alembic for ``--help``; pandas (0.3 s)
    not even for the replay itself."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from dashboard import cli\n"
        "cli.build_parser('replay').parse_args(['replay', '--type', 'plug', '--input', 'x',"
        " '--json', 'y'])\n"
        "print(sorted(m for m in cli.COMMAND_MODULES if m in sys.modules))\n"
        "print([m for m in ('alembic', 'dashboard.replay.run') if m in sys.modules])\n"
        "import dashboard.replay.run\n"
        "print('pandas' in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    assert done.stdout.splitlines() == ["['dashboard.replay.commands']", "[]", "False"]
