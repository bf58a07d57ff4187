"""One system clock and one timezone check for the whole application."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone

import pytest

from dashboard import clock
from dashboard.settings import PROJECT_ROOT

SEOUL = timezone(timedelta(hours=9))


def test_now_is_aware_utc() -> None:
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is UTC and before <= now <= datetime.now(UTC)


def test_require_aware_returns_aware_times_unchanged() -> None:
    seoul = datetime(2024, 12, 1, 9, 0, tzinfo=SEOUL)
    assert clock.require_aware(seoul) is seoul


def test_require_aware_names_the_naive_value() -> None:
    with pytest.raises(ValueError, match=r"^end must be timezone-aware \(naive datetime 2024-"):
        clock.require_aware(datetime(2024, 12, 1, 9, 0), "end")


@pytest.mark.parametrize(
    "value",
    [
        datetime(2024, 12, 1, 0, 0),  # SQLite: naive UTC
        "2024-12-01 00:00:00.000000",  # SQLite aggregate: text
        datetime(2024, 12, 1, 9, 0, tzinfo=SEOUL),  # PostgreSQL: aware, any zone
    ],
)
def test_as_utc_reads_database_times(value) -> None:
    out = clock.as_utc(value)
    assert out == datetime(2024, 12, 1, tzinfo=UTC) and out.tzinfo is UTC


def _lines_matching(pattern: re.Pattern, allowed: set[str]) -> list[str]:
    return [
        f"{rel}:{n}"
        for folder in ("dashboard", "queries", "pages")
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py"))
        if (rel := path.relative_to(PROJECT_ROOT).as_posix()) not in allowed
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if pattern.search(line)
    ]


def test_nothing_else_reads_the_system_clock() -> None:
    """Decisions take ``now`` as an argument; the edges ask ``dashboard.clock.now``."""
    offenders = _lines_matching(
        re.compile(r"datetime\.(now|utcnow)\(|\butcnow\("), {"dashboard/clock.py"}
    )
    assert offenders == [], f"use dashboard.clock.now(): {offenders}"


def test_no_copies_of_the_timezone_check() -> None:
    offenders = _lines_matching(
        re.compile(r"tzinfo is None|utcoffset\(\) is None"),
        {
            "dashboard/clock.py",
            # Input from people, answered in their terms: a usage error with an example
            # (--end) and the vendor contract's field message (ts).
            "dashboard/cli.py",
            "dashboard/ingest/events.py",
        },
    )
    assert offenders == [], f"use dashboard.clock.require_aware / as_utc: {offenders}"
