"""Settings are validated, and every one of them is documented."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from dashboard.settings import PROJECT_ROOT, Settings


def test_default_is_the_embedded_sqlite_file_under_var(monkeypatch):
    monkeypatch.delenv("ANBU_DATABASE_URL", raising=False)
    settings = Settings()
    assert settings.is_embedded
    assert settings.resolved_database_url.endswith("/var/anbu.sqlite3")


def test_environment_selects_the_database(monkeypatch):
    monkeypatch.setenv("ANBU_DATABASE_URL", "postgresql+psycopg://u@h/db")
    settings = Settings()
    assert settings.resolved_database_url == "postgresql+psycopg://u@h/db"
    assert not settings.is_embedded


@pytest.mark.parametrize(
    ("url", "env", "enabled"),
    [
        ("", None, True),  # the embedded default: demo unless said otherwise
        ("", "", True),  # ANBU_DEMO= (empty) counts as unset
        ("", "false", False),
        ("postgresql+psycopg://u@h/db", None, False),  # a server database: never by default
        ("postgresql+psycopg://u@h/db", "", False),
        ("postgresql+psycopg://u@h/db", "true", True),  # only when asked for explicitly
        ("postgresql+psycopg://u@h/db", "false", False),
    ],
)
def test_demo_mode_is_on_by_default_only_for_the_embedded_file(monkeypatch, url, env, enabled):
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    if env is None:
        monkeypatch.delenv("ANBU_DEMO", raising=False)
    else:
        monkeypatch.setenv("ANBU_DEMO", env)
    settings = Settings()
    assert settings.demo_enabled is enabled
    assert settings.demo_on_server is (enabled and bool(url))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("ANBU_DEMO_SCALE", "huge", "ANBU_DEMO_SCALE must be 'small' or 'seoul'"),
        ("ANBU_BOUNDARY_GEOJSON", "/nowhere/x.geojson", "no file at /nowhere/x.geojson"),
        ("ANBU_DEMO_SEED", "abc", "valid integer"),
        ("ANBU_DEMO", "maybe", "valid boolean"),
    ],
)
def test_bad_values_say_what_is_wrong(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


def test_every_setting_is_documented():
    doc = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    for field in Settings.model_fields:
        assert f"`ANBU_{field.upper()}`" in doc, f"ANBU_{field.upper()} is not documented"


def test_var_is_git_ignored():
    assert "var/" in Path(PROJECT_ROOT / ".gitignore").read_text().split()
