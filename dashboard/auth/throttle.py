"""Per-client login throttling with exponential backoff, read from ``audit_log``.

Every failed login is audited with the client's address (``detail.client``), so the count is
shared by every app process on the database and needs no table of its own. A client's failures
form a *run* while each follows the previous one within ``client_quiet``; with
``client_max_failures`` failures in its current run a client is refused without a password check
until its last failure plus a delay that doubles with each further failure (30 s, 60 s, …,
capped). A client that stays quiet for ``client_quiet`` (an hour, or twice the longest delay)
after its last failure starts afresh. Successes do not end a run: an insider with any valid
account could otherwise interleave them to guess other accounts without limit.
"""

from __future__ import annotations

import ipaddress
from datetime import datetime, timedelta

from sqlalchemy import Connection, select

from dashboard.audit import USER_ENTITY as ENTITY
from dashboard.auth.policy import AuthPolicy
from dashboard.db.schema import AuditLog

UNKNOWN_CLIENT = "unknown"  # no address (AppTest, localhost, a proxy that hides it): one client
# How far back a run is read: a longer run still has enough failures for the longest delay.
CLIENT_LOOKBACK = timedelta(days=1)


def client_quiet(policy: AuthPolicy) -> timedelta:
    """A pause this long after a failure ends the client's run; longer than any delay, so a
    client at the longest delay that keeps trying stays there."""
    return max(timedelta(hours=1), 2 * policy.client_max_delay)


def client_key(address: str | None) -> str:
    """The key failures are counted under: an IPv4 address, an IPv6 address's /64 (what one
    subscriber gets, so hopping inside it does not escape), or ``unknown``."""
    try:
        ip = ipaddress.ip_address((address or "").strip())
    except ValueError:
        return UNKNOWN_CLIENT
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def client_delay(failures: int, policy: AuthPolicy) -> timedelta | None:
    """How long a client with ``failures`` recent failures waits after its last one (None: not
    throttled)."""
    excess = failures - policy.client_max_failures
    if excess < 0:
        return None
    # min() before multiplying: 2 ** excess stays small enough for timedelta.
    return min(policy.client_backoff * 2 ** min(excess, 30), policy.client_max_delay)


def client_blocked_until(
    conn: Connection, client: str, now: datetime, policy: AuthPolicy
) -> datetime | None:
    """Until when ``client`` (a ``client_key``) is refused at ``now``; None when it may try.

    Failures stamped after ``now`` count too: an attempt reads the clock when its form is sent
    and may then wait its turn behind attempts sent a moment later, whose failures are newer
    than its ``now`` (ignoring them let nine of a burst of ten through)."""
    failures = conn.execute(
        select(AuditLog.at)
        .where(
            AuditLog.at >= now - CLIENT_LOOKBACK,
            AuditLog.entity_type == ENTITY,
            AuditLog.action == "login_failure",
            AuditLog.detail["client"].as_string() == client,
        )
        .order_by(AuditLog.at.desc())
    ).scalars()
    quiet = client_quiet(policy)
    run: list[datetime] = []  # the current run, newest first
    for at in failures:
        if (run[-1] if run else now) - at >= quiet:
            break
        run.append(at)
    delay = client_delay(len(run), policy)
    if delay is None:
        return None
    until = run[0] + delay
    return until if until > now else None
