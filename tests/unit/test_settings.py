"""Settings are validated, and every one of them is documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import SecretStr, ValidationError

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
        ("ANBU_DEMO_DAYS", "0", "greater than or equal to 1"),
        ("ANBU_DEMO", "maybe", "valid boolean"),
    ],
)
def test_bad_values_say_what_is_wrong(monkeypatch, name, value, message):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=message):
        Settings()


PREFIX = Settings.model_config["env_prefix"]
# A row of docs/configuration.md's table: | `ANBU_NAME` | default | meaning |
DOC_ROW = re.compile(rf"^\| `({PREFIX}[A-Z0-9_]+)` \| ([^|]*) \|", re.MULTILINE)


def _documented() -> dict[str, str]:
    doc = (PROJECT_ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    return dict(DOC_ROW.findall(doc))


def _doc_default(cell: str) -> str:
    """``*(empty)*`` / ``*(none)*`` → ""; otherwise the first `code` span of the cell."""
    cell = cell.strip()
    if cell.startswith("*("):
        return ""
    match = re.search(r"`([^`]*)`", cell)
    assert match, f"default {cell!r} is neither *(empty)* nor a `value`"
    return match.group(1)


def _code_default(value: object) -> str:
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def test_every_setting_is_documented_with_its_default():
    """Every field of Settings — including ones added later — has a row in the table of
    docs/configuration.md, and the row states the default the code has."""
    rows = _documented()
    for field, info in Settings.model_fields.items():
        name = f"{PREFIX}{field.upper()}"
        assert name in rows, f"{name} is not in docs/configuration.md's table"
        assert _doc_default(rows[name]) == _code_default(info.default), (
            f"{name}: docs say {rows[name].strip()!r}, the code's default is {info.default!r}"
        )


def test_no_documented_setting_is_missing_from_the_code():
    names = {f"{PREFIX}{field.upper()}" for field in Settings.model_fields}
    stale = set(_documented()) - names
    assert not stale, f"docs/configuration.md documents settings the code lacks: {stale}"


def test_var_is_git_ignored():
    assert "var/" in Path(PROJECT_ROOT / ".gitignore").read_text().split()
