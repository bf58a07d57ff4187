"""Lockout and session-timeout policy, from settings or given directly (tests travel in time)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from dashboard.settings import Settings, get_settings


@dataclass(frozen=True)
class AuthPolicy:
    # An account locks after failures from this many different client addresses (one address
    # alone is throttled instead, see dashboard.auth.throttle).
    max_failures: int = 5
    lockout: timedelta = timedelta(minutes=15)
    idle_timeout: timedelta = timedelta(minutes=30)
    demo: bool = False  # demo accounts may log in only when true
    client_max_failures: int = 5  # failures in a row from one address before it must wait
    client_backoff: timedelta = timedelta(seconds=30)  # first wait; doubles with each failure
    client_max_delay: timedelta = timedelta(minutes=15)

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> AuthPolicy:
        s = settings or get_settings()
        return cls(
            max_failures=s.auth_max_failures,
            lockout=timedelta(minutes=s.auth_lockout_minutes),
            idle_timeout=timedelta(minutes=s.session_idle_minutes),
            demo=s.demo_enabled,
            client_max_failures=s.auth_client_max_failures,
            client_max_delay=timedelta(minutes=s.auth_client_max_delay_minutes),
        )


def session_expired(last_activity: datetime | None, now: datetime, policy: AuthPolicy) -> bool:
    """True when a session idle since ``last_activity`` must log in again.

    No recorded activity counts as expired. A clock that went backwards does not expire anyone.
    """
    if last_activity is None:
        return True
    return now - last_activity >= policy.idle_timeout
