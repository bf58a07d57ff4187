"""The system clock and the checks on the times the code passes around.

Everything that decides takes ``now`` as an argument (rules, ingestion, actions, the demo), so
tests travel in time; only the callers at the edge (pages, commands, workers) ask :func:`now`.
Times are aware UTC inside the application; a naive time is refused where it enters a decision
(:func:`require_aware`) and taken as UTC only where the database hands it back (:func:`as_utc`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime, time, tzinfo

from dashboard.settings import LOCAL_TZ

# What loops and servers are given instead of reading the system clock themselves.
Clock = Callable[[], datetime]


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def require_aware(value: datetime, name: str = "now") -> datetime:
    """``value`` unchanged when it carries a time zone; a ``ValueError`` naming it otherwise.

    A naive time is ambiguous (UTC? Seoul?) by nine hours, enough to open or miss an alert.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (naive datetime {value.isoformat()})")
    return value


def in_zone(value: datetime, tz: tzinfo) -> datetime:
    """``value`` unchanged when aware; a naive time read as wall-clock time in ``tz``."""
    return (
        value
        if value.tzinfo is not None and value.utcoffset() is not None
        else (value.replace(tzinfo=tz))
    )


def as_utc(value: datetime | str) -> datetime:
    """A time read back from the database as aware UTC: SQLite gives naive UTC, and text for
    aggregates such as ``max()`` (they bypass the column type); PostgreSQL gives aware times."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def seoul_midnight(day: date) -> datetime:
    """The start of ``day`` in Seoul (the day an operator and a partition mean)."""
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)
