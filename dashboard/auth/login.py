"""``authenticate``: password check with throttling and lockout, audited, telling nobody which
names exist.

Two limits, so that a stranger cannot lock the real user out:

- per client address (``dashboard.auth.throttle``): after a few failures the address waits,
  with a delay that doubles, and is refused without a password check meanwhile;
- per account: failures from ``max_failures`` *different* addresses since the last success lock
  the account. One address alone never locks it, so someone hammering a name from their own
  machine slows only themselves; an attacker spread over many addresses still meets the lock.

Unknown names, demo accounts outside demo mode and wrong passwords all answer "bad
credentials" after the same Argon2 work. Unknown names are locked out exactly like real ones
(counted from the audit log), so the lockout does not reveal which names exist either. A
disabled account is only reported to someone who gave its correct password.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import Connection, and_, func, select, text, update

from dashboard.audit import USER_ENTITY as ENTITY
from dashboard.audit import audit_account as audit
from dashboard.auth.passwords import MAX_LENGTH, hash_password, needs_rehash, verify_password
from dashboard.auth.policy import AuthPolicy
from dashboard.auth.principal import SessionUser
from dashboard.auth.throttle import UNKNOWN_CLIENT, client_blocked_until, client_key
from dashboard.auth.users import get_user, normalize_username, password_stamp
from dashboard.db.schema import AuditLog, User
from dashboard.plain_text import visible

# Failures towards an account lock are counted over this window (for unknown names there is no
# row to reset; for real ones it bounds the audit rows read).
ACCOUNT_WINDOW = timedelta(days=1)
# PostgreSQL advisory lock class of login attempts (beside the worker's 1097753205 and the
# setup job's 1097753206); the second key is the hash of the client address or of the name.
LOGIN_LOCK_CLASS = 1097753207


class AuthStatus(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    LOCKED = "locked"
    DISABLED = "disabled"
    THROTTLED = "throttled"  # too many failures from this client address: wait


@dataclass(frozen=True)
class AuthResult:
    status: AuthStatus
    user: SessionUser | None = None
    locked_until: datetime | None = None  # LOCKED: the account; THROTTLED: this client
    stamp: str | None = None  # OK: the password's stamp, for the session to keep (users.py)

    @property
    def ok(self) -> bool:
        return self.status is AuthStatus.OK

    @property
    def message_key(self) -> str:
        """i18n key of the message to show (``auth.locked`` takes ``until``, ``auth.throttled``
        takes ``wait``)."""
        return f"auth.{self.status.value}"


def authenticate(
    conn: Connection,
    username: str,
    password: str,
    now: datetime,
    policy: AuthPolicy | None = None,
    client: str | None = None,
) -> AuthResult:
    """Check a login attempt at ``now`` from the address ``client`` and record it; the caller
    commits ``conn``.

    ``policy`` defaults to the configured settings (lockout, throttling, demo mode). ``client``
    is the browser's IP address; None (unknown) counts as one client shared by all such.
    """
    policy = policy or AuthPolicy.from_settings()
    # A typed NUL would make PostgreSQL fail the lookup and the audit: the name stays what was
    # typed, made storable (no account name holds a control code, so it matches none).
    name = visible(normalize_username(username)[:60])
    client = client_key(client)
    _take_turns(conn, client, name)
    waiting = client_blocked_until(conn, client, now, policy)
    if waiting is not None:  # before any name lookup: the refusal says nothing about the name
        detail = {"client": client, "until": waiting.isoformat()}
        audit(conn, now, name, "login_throttled", name, detail)
        return AuthResult(AuthStatus.THROTTLED, locked_until=waiting)

    row = get_user(conn, name) if name else None
    if row is not None and row.is_demo and not policy.demo:
        row = None  # outside demo mode a leftover demo account does not exist
    if row is None:
        return _unknown(conn, name, password, now, policy, client)

    if row.locked_until is not None and row.locked_until > now:
        detail = {"until": row.locked_until.isoformat(), "client": client}
        audit(conn, now, name, "login_locked", name, detail)
        return AuthResult(AuthStatus.LOCKED, locked_until=row.locked_until)

    if not verify_password(row.password_hash, password):
        return _count_failure(conn, row, now, policy, client)

    if not row.active:
        audit(conn, now, name, "login_disabled", name, {"client": client})
        return AuthResult(AuthStatus.DISABLED)

    values: dict = {"failed_logins": 0, "locked_until": None}
    stored = row.password_hash
    if needs_rehash(row.password_hash) and len(password) <= MAX_LENGTH:
        # Keep up with stronger parameters (other open sessions of the account then log in
        # again: their stamp is of the old hash).
        stored = values["password_hash"] = hash_password(password)
    conn.execute(update(User).where(User.id == row.id).values(**values))
    audit(conn, now, name, "login_success", name, {"role": row.role, "client": client})
    return AuthResult(AuthStatus.OK, user=SessionUser.from_row(row), stamp=password_stamp(stored))


def _take_turns(conn: Connection, client: str, name: str) -> None:
    """Attempts from one address (and at one name) wait for each other until the caller
    commits. Without this, a burst of parallel attempts (many browser tabs submitting at
    once) all read the address's failures before any of them had written its own, and each
    got a password check: the throttle's five became twenty or a hundred."""
    if conn.dialect.name == "sqlite":
        # pysqlite opens the transaction only at the first write; BEGIN IMMEDIATE takes
        # SQLite's single write lock before the first read (waiting the busy timeout). A caller
        # that has written already holds it.
        if not conn.connection.dbapi_connection.in_transaction:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    # Always the address first, then the name: no two attempts wait for each other in a cycle.
    for key in (f"client:{client}", f"name:{name}"):
        conn.execute(
            text("SELECT pg_advisory_xact_lock(:k, hashtext(:v))"),
            {"k": LOGIN_LOCK_CLASS, "v": key},
        )


def _count_failure(
    conn: Connection, row, now: datetime, policy: AuthPolicy, client: str
) -> AuthResult:
    # One atomic increment so two parallel guesses cannot both read the old count.
    failures = conn.execute(
        update(User)
        .where(User.id == row.id)
        .values(failed_logins=func.coalesce(User.failed_logins, 0) + 1)
        .returning(User.failed_logins)
    ).scalar_one()
    detail = {"failures": failures, "client": client}
    audit(conn, now, row.username, "login_failure", row.username, detail)
    # The column counts failures since the last success, unlock or lockout; the audit rows of
    # exactly those failures say from how many addresses they came.
    recent = (
        select(AuditLog.detail)
        .where(
            AuditLog.entity_type == ENTITY,
            AuditLog.entity_id == row.username,
            AuditLog.action == "login_failure",
            AuditLog.at >= now - ACCOUNT_WINDOW,
        )
        .order_by(AuditLog.id.desc())
        .limit(failures)
    )
    clients = {_client_of(d) for d in conn.execute(recent).scalars()}
    if len(clients) < policy.max_failures:
        return _bad_credentials(conn, client, now, policy)
    until = now + policy.lockout
    conn.execute(update(User).where(User.id == row.id).values(failed_logins=0, locked_until=until))
    detail = {"until": until.isoformat(), "clients": len(clients)}
    audit(conn, now, row.username, "lockout", row.username, detail)
    return AuthResult(AuthStatus.LOCKED, locked_until=until)


def _unknown(
    conn: Connection, name: str, password: str, now: datetime, policy: AuthPolicy, client: str
) -> AuthResult:
    """Same answers and the same work as for a real account, state kept in the audit log."""
    locked_until, clients, failures = _unknown_name_state(conn, name, now)
    if locked_until is not None and locked_until > now:
        detail = {"until": locked_until.isoformat(), "client": client}
        audit(conn, now, name, "login_locked", name, detail)
        return AuthResult(AuthStatus.LOCKED, locked_until=locked_until)
    verify_password(None, password)
    detail = {"failures": failures + 1, "known": False, "client": client}
    audit(conn, now, name, "login_failure", name, detail)
    clients.add(client)
    if len(clients) < policy.max_failures:
        return _bad_credentials(conn, client, now, policy)
    until = now + policy.lockout
    detail = {"until": until.isoformat(), "known": False, "clients": len(clients)}
    audit(conn, now, name, "lockout", name, detail)
    return AuthResult(AuthStatus.LOCKED, locked_until=until)


def _bad_credentials(
    conn: Connection, client: str, now: datetime, policy: AuthPolicy
) -> AuthResult:
    """A failure that did not lock the account; it may have made this client wait."""
    waiting = client_blocked_until(conn, client, now, policy)
    if waiting is not None:
        return AuthResult(AuthStatus.THROTTLED, locked_until=waiting)
    return AuthResult(AuthStatus.BAD_CREDENTIALS)


def _unknown_name_state(
    conn: Connection, name: str, now: datetime
) -> tuple[datetime | None, set[str], int]:
    """(locked until, client addresses, failures) of an unknown name since its last lockout."""
    rows = conn.execute(
        select(AuditLog.action, AuditLog.detail)
        .where(
            and_(
                AuditLog.entity_type == ENTITY,
                AuditLog.entity_id == name,
                AuditLog.action.in_(("login_failure", "lockout")),
                AuditLog.at >= now - ACCOUNT_WINDOW,
            )
        )
        .order_by(AuditLog.at, AuditLog.id)
    ).all()
    locked_until: datetime | None = None
    clients: set[str] = set()
    failures = 0
    for action, detail in rows:
        if action == "lockout":
            locked_until = datetime.fromisoformat((detail or {})["until"])
            clients, failures = set(), 0  # a lockout starts a fresh count, as for a real account
        else:
            clients.add(_client_of(detail))
            failures += 1
    return locked_until, clients, failures


def _client_of(detail: dict | None) -> str:
    # Rows written before addresses were recorded count as the unknown client.
    return (detail or {}).get("client") or UNKNOWN_CLIENT


def record_logout(conn: Connection, username: str, now: datetime, reason: str = "logout") -> None:
    """Audit the end of a session: ``logout`` (the button), ``session_timeout`` (idle),
    ``logout_disabled`` (the account was disabled while the session was open) or
    ``logout_password`` (its password changed since the session logged in)."""
    if reason not in ("logout", "session_timeout", "logout_disabled", "logout_password"):
        raise ValueError(f"unknown logout reason {reason!r}")
    audit(conn, now, username, reason, username)
