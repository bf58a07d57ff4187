"""``authenticate``: password check with lockout, audited, telling nobody which names exist.

Unknown names, demo accounts outside demo mode and wrong passwords all answer "bad
credentials" after the same Argon2 work. Unknown names are locked out exactly like real ones
(counted from the audit log), so the lockout does not reveal which names exist either. A
disabled account is only reported to someone who gave its correct password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, and_, func, select, update

from dashboard.audit import USER_ENTITY as ENTITY
from dashboard.audit import audit_account as audit
from dashboard.auth.passwords import MAX_LENGTH, hash_password, needs_rehash, verify_password
from dashboard.auth.policy import AuthPolicy
from dashboard.auth.principal import SessionUser
from dashboard.auth.users import get_user, normalize_username
from dashboard.db.schema import AuditLog, User

# Failed attempts on unknown names are counted over this window (there is no row to reset).
UNKNOWN_NAME_WINDOW = timedelta(days=1)


class AuthStatus(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    user: SessionUser | None = None
    locked_until: datetime | None = None

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK

    @property
    def message_key(self) -> str:
        """i18n key of the message to show (``auth.locked`` takes ``until``)."""
        return f"auth.{self.status.value}"


def authenticate(
    conn: Connection,
    username: str,
    password: str,
    now: datetime,
    policy: AuthPolicy | None = None,
) -> AuthResult:
    """Check a login attempt at ``now`` and record it; the caller commits ``conn``.

    ``policy`` defaults to the configured settings (lockout, demo mode).
    """
    policy = policy or AuthPolicy.from_settings()
    name = normalize_username(username)[:60]
    row = get_user(conn, name) if name else None
    if row is not None and row.is_demo and not policy.demo:
        row = None  # outside demo mode a leftover demo account does not exist
    if row is None:
        return _unknown(conn, name, password, now, policy)

    if row.locked_until is not None and row.locked_until > now:
        audit(conn, now, name, "login_locked", name, {"until": row.locked_until.isoformat()})
        return AuthResult(AuthStatus.LOCKED, locked_until=row.locked_until)

    if not verify_password(row.password_hash, password):
        return _count_failure(conn, row, now, policy)

    if not row.active:
        audit(conn, now, name, "login_disabled", name)
        return AuthResult(AuthStatus.DISABLED)

    values: dict = {"failed_logins": 0, "locked_until": None}
    if needs_rehash(row.password_hash) and len(password) <= MAX_LENGTH:
        values["password_hash"] = hash_password(password)  # keep up with stronger parameters
    conn.execute(update(User).where(User.id == row.id).values(**values))
    audit(conn, now, name, "login_success", name, {"role": row.role})
    return AuthResult(AuthStatus.OK, user=SessionUser.from_row(row))


def _count_failure(conn: Connection, row, now: datetime, policy: AuthPolicy) -> AuthResult:
    # One atomic increment so two parallel guesses cannot both read the old count.
    failures = conn.execute(
        update(User)
        .where(User.id == row.id)
        .values(failed_logins=func.coalesce(User.failed_logins, 0) + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    audit(conn, now, row.username, "login_failure", row.username, {"failures": failures})
    if failures < policy.max_failures:
        return AuthResult(AuthStatus.BAD_CREDENTIALS)
    until = now + policy.lockout
    conn.execute(update(User).where(User.id == row.id).values(failed_logins=0, locked_until=until))
    audit(conn, now, row.username, "lockout", row.username, {"until": until.isoformat()})
    return AuthResult(AuthStatus.LOCKED, locked_until=until)


def _unknown(
    conn: Connection, name: str, password: str, now: datetime, policy: AuthPolicy
) -> AuthResult:
    """Same answers and the same work as for a real account, state kept in the audit log."""
    locked_until, failures = _unknown_name_state(conn, name, now)
    if locked_until is not None and locked_until > now:
        audit(conn, now, name, "login_locked", name, {"until": locked_until.isoformat()})
        return AuthResult(AuthStatus.LOCKED, locked_until=locked_until)
    verify_password(None, password)
    failures += 1
    audit(conn, now, name, "login_failure", name, {"failures": failures, "known": False})
    if failures < policy.max_failures:
        return AuthResult(AuthStatus.BAD_CREDENTIALS)
    until = now + policy.lockout
    audit(conn, now, name, "lockout", name, {"until": until.isoformat(), "known": False})
    return AuthResult(AuthStatus.LOCKED, locked_until=until)


def _unknown_name_state(conn: Connection, name: str, now: datetime) -> tuple[datetime | None, int]:
    rows = conn.execute(
        select(AuditLog.action, AuditLog.detail)
        .where(
            and_(
                AuditLog.entity_type == ENTITY,
                AuditLog.entity_id == name,
                AuditLog.action.in_(("login_failure", "lockout")),
                AuditLog.at >= now - UNKNOWN_NAME_WINDOW,
            )
        )
        .order_by(AuditLog.at, AuditLog.id)
    ).all()
    locked_until: datetime | None = None
    failures = 0
    for action, detail in rows:
        if action == "lockout":
            locked_until = datetime.fromisoformat((detail or {})["until"])
            failures = 0  # a lockout starts a fresh count, as for a real account
        else:
            failures += 1
    return locked_until, failures


def record_logout(conn: Connection, username: str, now: datetime, reason: str = "logout") -> None:
    """Audit the end of a session: ``logout`` (the button) or ``session_timeout`` (idle)."""
    if reason not in ("logout", "session_timeout"):
        raise ValueError(f"unknown logout reason {reason!r}")
    audit(conn, now, username, reason, username)
