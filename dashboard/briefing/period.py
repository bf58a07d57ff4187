"""The deck's time window, from ``--period`` (CLI) or the page's period box.

Three forms, all in Asia/Seoul calendar days:

- ``30d``: the last N days up to now (1 ≤ N ≤ 3660);
- ``2026-11``: one calendar month (up to now when it is the current month);
- ``2026-01-01..2026-11-30``: from the first day through the last day, both included.

A window may not start in the future; an end in the future is cut to now. Anything else is a
:class:`PeriodError` saying what was expected.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from dashboard.clock import require_aware
from dashboard.settings import LOCAL_TZ

DEFAULT_PERIOD = "30d"
MAX_DAYS = 3660
_DAYS = re.compile(r"^(\d{1,4})d$")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
FORMS = "30d (last N days), 2026-11 (a month) or 2026-01-01..2026-11-30 (days, both included)"


class PeriodError(ValueError):
    """A period the user wrote that is not one of the three forms, or not a usable window."""


@dataclass(frozen=True)
class Period:
    """``start <= t < end`` (aware UTC instants); ``text`` is what the user wrote."""

    start: datetime
    end: datetime
    text: str

    @property
    def first_day(self) -> date:
        return self.start.astimezone(LOCAL_TZ).date()

    @property
    def last_day(self) -> date:
        """The last local day the window touches (its end is exclusive)."""
        return (self.end - timedelta(microseconds=1)).astimezone(LOCAL_TZ).date()

    @property
    def days(self) -> float:
        return (self.end - self.start).total_seconds() / 86400


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=LOCAL_TZ)


def _day(text: str, raw: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise PeriodError(f"period {raw!r}: {text!r} is not a calendar date") from None


def parse_period(text: str | None, now: datetime) -> Period:
    """The window ``text`` names, as of ``now`` (aware). ``None`` or blank: the last 30 days."""
    require_aware(now, "now")
    raw = (text or DEFAULT_PERIOD).strip()
    if m := _DAYS.match(raw):
        n = int(m.group(1))
        if not 1 <= n <= MAX_DAYS:
            raise PeriodError(f"period {raw!r}: the number of days must be 1 to {MAX_DAYS}")
        return Period(now - timedelta(days=n), now, raw)
    if m := _MONTH.match(raw):
        year, month = int(m.group(1)), int(m.group(2))
        if not 1 <= month <= 12:
            raise PeriodError(f"period {raw!r}: month {month} does not exist")
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        start, end = _midnight(first), _midnight(after)
    elif m := _RANGE.match(raw):
        first, last = _day(m.group(1), raw), _day(m.group(2), raw)
        if last < first:
            raise PeriodError(f"period {raw!r}: the last day is before the first")
        if (last - first).days + 1 > MAX_DAYS:
            raise PeriodError(f"period {raw!r}: at most {MAX_DAYS} days")
        start, end = _midnight(first), _midnight(last + timedelta(days=1))
    else:
        raise PeriodError(f"period {raw!r} is not understood; use {FORMS}")
    if start >= now:
        raise PeriodError(f"period {raw!r} starts in the future")
    return Period(start.astimezone(now.tzinfo), min(end, now), raw)
