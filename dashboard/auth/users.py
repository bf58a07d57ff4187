"""Local accounts: create, list, disable, unlock, change password. Every change is audited.

Functions take a Connection (the caller owns the transaction), the time and the acting
principal. Each change checks ``manage_users`` and that the principal may grant the account's
role (a lead never touches an admin account) before it writes; the pages and the CLI pass their
principal down.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, insert, select, update

from dashboard.audit import audit_account
from dashboard.auth.passwords import check_password_rule, hash_password
from dashboard.auth.permissions import NotPermitted, require, require_grant
from dashboard.auth.principal import SessionUser
from dashboard.db.schema import Region, User
from dashboard.db.schema.people import ROLES
from dashboard.plain_text import has_control_codes

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,59}$")
# Areas an operator can be assigned: a 시군구 (구, 군, 시) or a whole 시 with its 구.
DISTRICT_LEVELS = ("city", "district")


class UserError(ValueError):
    """A request about accounts that cannot be done; the message says why (English: CLI, logs);
    ``key`` and ``params`` let a page say it in its language (i18n ``user_error.<key>``)."""

    def __init__(self, message: str, *, key: str, **params: Any) -> None:
        self.key, self.params = key, params
        super().__init__(message)


@dataclass(frozen=True)
class UserInfo:
    username: str
    display_name: str
    role: str
    district_codes: tuple[str, ...]
    active: bool
    is_demo: bool
    failed_logins: int
    locked_until: datetime | None
    created_at: datetime


def normalize_username(username: str) -> str:
    """Usernames are case-insensitive: stored and compared in lower case."""
    return username.strip().lower()


def _valid_username(username: str) -> str:
    name = normalize_username(username)
    if not USERNAME.match(name):
        raise UserError(
            "a username is 2–60 characters of a–z, 0–9, '.', '_' or '-', "
            "starting with a letter or digit",
            key="username_format",
        )
    return name


def _valid_districts(conn: Connection, role: str, codes: Iterable[str]) -> list[str]:
    codes = list(dict.fromkeys(c.strip() for c in codes))
    if codes and role != "operator":
        raise UserError(
            f"districts apply to operators only; a {role} has a fixed scope",
            key="districts_operators_only",
            role=role,
        )
    if not codes:
        return []
    found = dict(
        conn.execute(select(Region.code, Region.level).where(Region.code.in_(codes))).all()
    )
    unknown = [c for c in codes if c not in found]
    if unknown:
        codes_text = ", ".join(unknown)
        raise UserError(
            f"unknown region code(s): {codes_text}", key="unknown_regions", codes=codes_text
        )
    wrong = [c for c in codes if found[c] not in DISTRICT_LEVELS]
    if wrong:
        codes_text = ", ".join(wrong)
        raise UserError(
            f"not a 시·군·구 code: {codes_text} (give the district, not a dong)",
            key="not_district",
            codes=codes_text,
        )
    return codes


def get_user(conn: Connection, username: str):
    """The account row (or None): includes the hash, so never put it in a session."""
    name = normalize_username(username)
    return conn.execute(select(User).where(User.username == name)).first()


def password_stamp(password_hash: str | None) -> str:
    """What a session keeps of the password it logged in with: a digest of the stored hash
    (never the hash itself), which changes whenever the password does."""
    return hashlib.sha256((password_hash or "").encode()).hexdigest()[:16]


@dataclass(frozen=True)
class AccountNow:
    """The account as it is now for an open session: ``user`` while the session may go on,
    else ``ended`` says why (the ``record_logout`` reason)."""

    user: SessionUser | None
    ended: str | None = None


def account_now(conn: Connection, username: str, stamp: str | None = None) -> AccountNow:
    """The account as it is now, for a session that logged in earlier: its current role, name
    and districts, so a change a lead makes takes effect at the session's next run instead of
    its next login; ended (``logout_disabled``) once it is disabled or deleted, and
    (``logout_password``) once its password changed since the login that gave ``stamp``
    (:func:`password_stamp`; a reset is how a stolen password is taken back, so the sessions
    opened with it end too)."""
    row = get_user(conn, username)
    if row is None or not row.active:
        return AccountNow(None, "logout_disabled")
    if stamp is not None and stamp != password_stamp(row.password_hash):
        return AccountNow(None, "logout_password")
    return AccountNow(SessionUser.from_row(row))


def current_account(
    conn: Connection, username: str, stamp: str | None = None
) -> SessionUser | None:
    """:func:`account_now`'s user: ``None`` once the session must end."""
    return account_now(conn, username, stamp).user


def _require(conn: Connection, username: str):
    row = get_user(conn, username)
    if row is None:
        name = normalize_username(username)
        raise UserError(f"no user {name!r}", key="no_user", username=name)
    return row


def create_user(
    conn: Connection,
    username: str,
    role: str,
    password: str,
    now: datetime,
    principal: SessionUser,
    *,
    display_name: str | None = None,
    district_codes: Iterable[str] = (),
    is_demo: bool = False,
    check_rule: bool = True,
) -> UserInfo:
    require(principal, "manage_users")  # before any answer about names or roles
    name = _valid_username(username)
    if role not in ROLES:
        roles = ", ".join(ROLES)
        raise UserError(f"role must be one of {roles}", key="bad_role", roles=roles)
    require_grant(principal, role)
    if check_rule:
        check_password_rule(password)
    if get_user(conn, name) is not None:
        raise UserError(f"user {name!r} exists", key="exists", username=name)
    codes = _valid_districts(conn, role, district_codes)
    display = (display_name or name).strip()[:80]
    if has_control_codes(display):  # PostgreSQL refuses NUL: a clear refusal, not its error
        raise UserError(
            "the display name contains control codes (such as NUL)", key="display_control"
        )
    conn.execute(
        insert(User).values(
            username=name,
            display_name=display,
            role=role,
            password_hash=hash_password(password),
            district_codes=codes,
            is_demo=is_demo,
            active=True,
            failed_logins=0,
            locked_until=None,
            created_at=now,
        )
    )
    audit_account(
        conn,
        now,
        principal.username,
        "user_create",
        name,
        {"role": role, "district_codes": codes, "is_demo": is_demo},
    )
    return _info(_require(conn, name))


def list_users(conn: Connection) -> list[UserInfo]:
    rows = conn.execute(select(User).order_by(User.role, User.username)).all()
    return [_info(r) for r in rows]


def _managed(conn: Connection, username: str, principal: SessionUser):
    """The account row, once ``principal`` may manage its role."""
    require(principal, "manage_users")  # before telling whether the name exists
    row = _require(conn, username)
    require_grant(principal, row.role)
    return row


def set_active(
    conn: Connection, username: str, active: bool, now: datetime, principal: SessionUser
) -> None:
    """Enable or disable; an account cannot disable itself (nobody would be left to undo it)."""
    row = _managed(conn, username, principal)
    if not active and row.username == principal.username:
        raise NotPermitted(principal, "manage_users", "own_account")
    conn.execute(update(User).where(User.id == row.id).values(active=active))
    action = "user_enable" if active else "user_disable"
    audit_account(conn, now, principal.username, action, row.username)


def unlock_user(conn: Connection, username: str, now: datetime, principal: SessionUser) -> None:
    row = _managed(conn, username, principal)
    conn.execute(update(User).where(User.id == row.id).values(failed_logins=0, locked_until=None))
    audit_account(conn, now, principal.username, "user_unlock", row.username)


def set_password(
    conn: Connection, username: str, password: str, now: datetime, principal: SessionUser
) -> None:
    """Replace the password; also lifts a lockout (an admin reset is the usual way out)."""
    row = _managed(conn, username, principal)
    check_password_rule(password)
    conn.execute(
        update(User)
        .where(User.id == row.id)
        .values(password_hash=hash_password(password), failed_logins=0, locked_until=None)
    )
    audit_account(conn, now, principal.username, "user_password", row.username)


def _info(row) -> UserInfo:
    return UserInfo(
        username=row.username,
        display_name=row.display_name,
        role=row.role,
        district_codes=tuple(row.district_codes or ()),
        active=bool(row.active),
        is_demo=bool(row.is_demo),
        failed_logins=row.failed_logins or 0,
        locked_until=row.locked_until,
        created_at=row.created_at,
    )
