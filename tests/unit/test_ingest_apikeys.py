"""Vendor API keys: shown once, stored hashed, revocable; and their CLI."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from dashboard import cli
from dashboard.auth import cli_principal
from dashboard.db.engine import make_engine
from dashboard.db.schema import ApiKey, metadata
from dashboard.ingest.apikeys import (
    KEY_PATTERN,
    check_vendor,
    create_key,
    list_keys,
    revoke_key,
    vendor_for_key,
)
from dashboard.settings import get_settings

NOW = datetime(2024, 12, 1, tzinfo=UTC)
ADMIN = cli_principal()


def test_keys_are_stored_only_as_hashes_and_verify(db_engine):
    with db_engine.begin() as conn:
        key, prefix = create_key(conn, "acme", principal=ADMIN, now=NOW)
        other, _ = create_key(conn, "othercare", principal=ADMIN, now=NOW)
    assert KEY_PATTERN.match(key) and key.split("_")[1] == prefix
    with db_engine.connect() as conn:
        row = conn.execute(select(ApiKey).where(ApiKey.key_prefix == prefix)).one()
        assert key not in row.key_hash and row.key_hash.startswith("sha256$")
        assert vendor_for_key(conn, key) == "acme"
        assert vendor_for_key(conn, other) == "othercare"
        assert vendor_for_key(conn, key[:-2] + "xx") is None
        assert vendor_for_key(conn, None) is None
        assert vendor_for_key(conn, "anbu_" + prefix) is None


def test_revoked_keys_stop_verifying(db_engine):
    with db_engine.begin() as conn:
        key, prefix = create_key(conn, "acme", principal=ADMIN, now=NOW)
        assert revoke_key(conn, prefix, principal=ADMIN, now=NOW)
        assert not revoke_key(conn, prefix, principal=ADMIN, now=NOW)  # already revoked
        assert not revoke_key(conn, "deadbeef", principal=ADMIN, now=NOW)
    with db_engine.connect() as conn:
        assert vendor_for_key(conn, key) is None
        [info] = list_keys(conn)
    assert (info.prefix, info.vendor, info.revoked_at) == (prefix, "acme", NOW)


@pytest.mark.parametrize(
    "vendor", ["", "Acme", "a/b", "a+b", "a#", "-x", "x" * 61, "한글", "acme\n", "acme\r\n"]
)
def test_vendor_names_must_be_plain(vendor):
    """Also with a trailing newline, which ``$`` let through: an MQTT topic level "acme\n"
    passed as a vendor (a new metrics series and dead-letter vendor for any publisher)."""
    with pytest.raises(ValueError, match="vendor"):
        check_vendor(vendor)


@pytest.fixture
def configured_db(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'keys.sqlite3'}"
    monkeypatch.setenv("ANBU_DATABASE_URL", url)
    get_settings.cache_clear()
    engine = make_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()
    get_settings.cache_clear()


def test_cli_add_list_revoke(configured_db, capsys):
    assert cli.main(["apikey", "add", "acme"]) == 0
    out = capsys.readouterr().out
    key = next(line.split()[1] for line in out.splitlines() if line.startswith("key:"))
    prefix = next(line.split()[1] for line in out.splitlines() if line.startswith("prefix:"))
    assert "shown once" in out
    with configured_db.connect() as conn:
        assert vendor_for_key(conn, key) == "acme"
    assert cli.main(["apikey", "list"]) == 0
    listing = capsys.readouterr().out
    assert prefix in listing and "acme" in listing and key not in listing
    assert cli.main(["apikey", "revoke", prefix]) == 0
    assert cli.main(["apikey", "revoke", prefix]) == 1
    assert "no active key" in capsys.readouterr().err
    with configured_db.connect() as conn:
        assert vendor_for_key(conn, key) is None


def test_cli_refuses_bad_vendor_and_empty_database(configured_db, tmp_path, monkeypatch, capsys):
    assert cli.main(["apikey", "add", "Bad/Vendor"]) == 2
    assert "vendor" in capsys.readouterr().err
    monkeypatch.setenv("ANBU_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.sqlite3'}")
    get_settings.cache_clear()
    assert cli.main(["apikey", "list"]) == 2
    assert "python -m dashboard init" in capsys.readouterr().err
