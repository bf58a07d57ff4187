"""Demo vendor keys for the simulator: created per run, stored hashed, revoked at the end.

The simulator manages them as ``system:simulator`` through the same checked, audited functions
as an admin on the users page.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Engine

from dashboard.auth.principal import system_principal
from dashboard.ingest import apikeys

PRINCIPAL = system_principal("simulator")


def create_demo_keys(engine: Engine, vendors: Iterable[str], *, now: datetime) -> dict[str, str]:
    """One fresh key per vendor (only its hash is stored); the keys stay in memory."""
    keys = {}
    with engine.begin() as conn:
        for vendor in sorted(set(vendors)):
            keys[vendor], _prefix = apikeys.create_key(conn, vendor, principal=PRINCIPAL, now=now)
    return keys


def revoke_demo_keys(engine: Engine, keys: dict[str, str], *, now: datetime) -> None:
    """Revoke this run's keys so finished runs leave no usable key behind."""
    with engine.begin() as conn:
        for key in keys.values():
            apikeys.revoke_key(conn, key.split("_")[1], principal=PRINCIPAL, now=now)
