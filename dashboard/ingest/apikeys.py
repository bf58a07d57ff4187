"""Vendor API keys: shown once, stored as a SHA-256 hash with a short lookup prefix.

A key is ``anbu_<prefix>_<secret>`` with a 256-bit random secret. SHA-256 (not a slow password
hash) is the standard choice for such keys: nothing can be guessed from a hash of 256 random bits,
and a fast check keeps every request cheap. The prefix finds the row; ``hmac.compare_digest``
compares the hashes in constant time.

Creating and revoking a key needs ``manage_api_keys`` and is audited (``api_key_create``,
``api_key_revoke``; entity ``api_key``, id the prefix) in the caller's transaction, whoever calls:
the users page, ``python -m dashboard apikey`` or the simulator.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, insert, select, update

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.db.prebuilt import prebuilt
from dashboard.db.schema import ApiKey

ENTITY = "api_key"
PERMISSION = "manage_api_keys"

KEY_PATTERN = re.compile(r"^anbu_([0-9a-f]{8})_([A-Za-z0-9_-]{43})$")
# A vendor name is also an MQTT topic level and a path segment: keep it plain.
VENDOR_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,59}$")


@dataclass(frozen=True)
class KeyInfo:
    prefix: str
    vendor: str
    created_at: datetime
    revoked_at: datetime | None


def check_vendor(vendor: str) -> str:
    if not VENDOR_PATTERN.fullmatch(vendor):  # match() with $ lets "acme\n" through
        raise ValueError(
            f"vendor {vendor!r}: use 1–60 lowercase letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return vendor


def create_key(
    conn: Connection, vendor: str, *, principal: SessionUser, now: datetime
) -> tuple[str, str]:
    """Create a key for ``vendor``; returns ``(key, prefix)``. The key is never stored."""
    require(principal, PERMISSION)
    check_vendor(vendor)
    taken = set(conn.scalars(select(ApiKey.key_prefix)))
    prefix = secrets.token_hex(4)
    while prefix in taken:  # 1 in 4 billion per existing key; loop rather than fail
        prefix = secrets.token_hex(4)
    key = f"anbu_{prefix}_{secrets.token_urlsafe(32)}"
    conn.execute(
        insert(ApiKey).values(vendor=vendor, key_prefix=prefix, key_hash=_hash(key), created_at=now)
    )
    _audit(conn, principal, "api_key_create", prefix, vendor, now)
    return key, prefix


def vendor_for_key(conn: Connection, key: str | None) -> str | None:
    """The vendor a valid, unrevoked key belongs to, else None."""
    if not key:
        return None
    match = KEY_PATTERN.match(key)
    if not match:
        return None
    query = prebuilt(
        conn,
        "ingest.api_key",
        lambda _: select(ApiKey.vendor, ApiKey.key_hash).where(
            ApiKey.key_prefix == bindparam("prefix"), ApiKey.revoked_at.is_(None)
        ),
    )
    row = conn.execute(query, {"prefix": match.group(1)}).first()
    if row is None or not hmac.compare_digest(row.key_hash, _hash(key)):
        return None
    return row.vendor


def list_keys(conn: Connection) -> list[KeyInfo]:
    rows = conn.execute(
        select(ApiKey.key_prefix, ApiKey.vendor, ApiKey.created_at, ApiKey.revoked_at).order_by(
            ApiKey.vendor, ApiKey.created_at
        )
    )
    return [KeyInfo(*row) for row in rows]


def revoke_key(conn: Connection, prefix: str, *, principal: SessionUser, now: datetime) -> bool:
    """Revoke the key with ``prefix``; False (and nothing written) when no active key has it."""
    require(principal, PERMISSION)
    vendor = conn.execute(
        update(ApiKey)
        .where(ApiKey.key_prefix == prefix, ApiKey.revoked_at.is_(None))
        .values(revoked_at=now)
        .returning(ApiKey.vendor)
    ).scalar_one_or_none()
    if vendor is None:
        return False
    _audit(conn, principal, "api_key_revoke", prefix, vendor, now)
    return True


def _audit(
    conn: Connection, principal: SessionUser, action: str, prefix: str, vendor: str, now: datetime
) -> None:
    write_audit(
        conn,
        at=now,
        actor=principal.username,
        action=action,
        entity_type=ENTITY,
        entity_id=prefix,
        detail={"vendor": vendor},
    )


def _hash(key: str) -> str:
    return "sha256$" + hashlib.sha256(key.encode()).hexdigest()
