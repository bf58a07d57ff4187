"""The one-time first-run account: the first administrator, created from the server's own machine.

A city that starts without the demo has no account at all, so nobody could log in to create
one. ``python -m dashboard users add NAME --role admin`` is one way in; the login page offers the
other, a form that creates the first administrator, while two things hold:

- **no account exists** (any role, enabled or not): checked again at submit time inside one
  transaction that first locks the accounts table, so two racing submits (or a submit racing
  ``users add``) cannot both find it empty;
- **the browser runs on the server itself** (``is_local_client``): the form is the only page
  that creates an account without a password, so it must not be offered to the network.

The check is deliberately strict. Streamlit's uvicorn rewrites the peer address from
``X-Forwarded-For`` only for a proxy at 127.0.0.1, which would make a proxied remote browser
look remote; but a proxy on the same machine that sends no such header makes every browser look
local. So, besides a loopback peer, the handshake must carry no forwarding header at all, and
its ``Host`` and ``Origin`` (which a browser always sends on the WebSocket) must both name the
loopback: a browser elsewhere, reaching the app through any proxy, has its own site in
``Origin``. Whoever sees the form from a proxied or remote browser is told to use the command
line on the server instead (docs/access-control.md, "The first account").
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import Connection, Engine, func, select, text

from dashboard.auth.principal import system_principal
from dashboard.auth.users import UserError, UserInfo, create_user
from dashboard.db.schema import User

FIRST_RUN_ROLE = "admin"
# The actor of the audit row (``user_create``): the form, told apart from ``cli:<os user>``.
FIRST_RUN_PRINCIPAL = system_principal("first-run")

# Headers by which a proxy says it forwards someone else's request. Any of them: not local.
FORWARDING_HEADERS = frozenset(
    {
        "forwarded",
        "via",
        "x-forwarded-for",
        "x-forwarded-host",
        "x-forwarded-proto",
        "x-forwarded-port",
        "x-forwarded-server",
        "x-original-forwarded-for",
        "x-real-ip",
        "x-client-ip",
        "x-cluster-client-ip",
        "true-client-ip",
        "cf-connecting-ip",
        "fastly-client-ip",
    }
)


class FirstRunClosed(UserError):
    """The first-run form may not create an account (one exists, or the client is not local)."""

    def __init__(self, reason: str) -> None:
        self.reason = reason  # "accounts_exist" | "not_local"
        super().__init__(
            "an account exists already: log in, or use `python -m dashboard users add`"
            if reason == "accounts_exist"
            else "the first account can only be created from the server's own machine; "
            "run `python -m dashboard users add NAME --role admin` there",
            key=f"first_run_{reason}",
        )


def _loopback_ip(value: str) -> bool:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 (a dual-stack socket)
    return ip.is_loopback


def _loopback_host(netloc: str | None) -> bool:
    """``localhost[:port]``, ``127.x.x.x[:port]`` or ``[::1][:port]``."""
    if not netloc:
        return False
    try:
        parts = urlsplit(f"//{netloc}")
        host, _ = parts.hostname, parts.port  # .port raises for a malformed one
    except ValueError:  # a malformed port or bracket
        return False
    return host == "localhost" or (host is not None and _loopback_ip(host))


def is_local_client(peer: str | None, headers: Iterable[tuple[str, str]]) -> bool:
    """Is this browser on the server's own machine, connected straight to the app?

    ``peer`` is the TCP peer address as Streamlit reports it, ``headers`` the WebSocket
    handshake's headers (name, value), repeated names included. An empty ``headers`` means the
    request is unknown (no browser session): not local.
    """
    pairs = [(name.strip().lower(), value.strip()) for name, value in headers]
    if not pairs or not peer or not _loopback_ip(peer.strip()):
        return False
    if any(name in FORWARDING_HEADERS for name, _ in pairs):
        return False
    hosts = [value for name, value in pairs if name == "host"]
    origins = [value for name, value in pairs if name == "origin"]
    if not hosts or not origins:  # a browser sends both on a WebSocket handshake
        return False
    if not all(_loopback_host(h) for h in hosts):
        return False
    for origin in origins:
        try:
            parts = urlsplit(origin)
        except ValueError:
            return False
        if parts.scheme not in ("http", "https") or not _loopback_host(parts.netloc):
            return False
    return True


def has_accounts(conn: Connection) -> bool:
    """Any account at all, enabled or disabled, demo or not."""
    return conn.scalar(select(func.count()).select_from(User)) > 0


def first_run_open(conn: Connection, demo_enabled: bool) -> bool:
    """Should the login page offer the first administrator? Never in demo mode (its accounts
    are the way in), and only while no account exists."""
    return not demo_enabled and not has_accounts(conn)


def _lock_accounts(conn: Connection) -> None:
    """Serialise every writer of ``users`` until this transaction ends; the first statement of
    the transaction, so what is read after it is current."""
    if conn.dialect.name == "sqlite":
        # pysqlite starts a transaction only at the first write; BEGIN IMMEDIATE takes SQLite's
        # single write lock now (waiting the busy timeout for another writer).
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    else:
        # Conflicts with itself and with the ROW EXCLUSIVE lock every INSERT takes.
        table = conn.dialect.identifier_preparer.format_table(User.__table__)
        conn.execute(text(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE"))


def create_first_admin(
    engine: Engine,
    username: str,
    password: str,
    now: datetime,
    *,
    peer: str | None,
    headers: Iterable[tuple[str, str]],
    display_name: str | None = None,
) -> UserInfo:
    """Create the first account, an administrator, in one transaction of its own.

    Raises ``FirstRunClosed`` when the client is not local or any account exists (checked
    after locking the accounts table), ``UserError`` or ``WeakPasswordError`` for a bad name or
    password, exactly as ``users add`` does; nothing is written then. Audited as
    ``user_create`` by ``system:first-run``.
    """
    if not is_local_client(peer, headers):
        raise FirstRunClosed("not_local")
    # Owns its transaction: the lock must be the first statement the connection runs.
    with engine.begin() as conn:
        _lock_accounts(conn)
        if has_accounts(conn):
            raise FirstRunClosed("accounts_exist")
        return create_user(
            conn,
            username,
            FIRST_RUN_ROLE,
            password,
            now,
            FIRST_RUN_PRINCIPAL,
            display_name=display_name,
        )
