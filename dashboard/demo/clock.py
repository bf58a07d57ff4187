"""The simulated period: Asia/Seoul calendar days ending at ``end``, on an hourly grid."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import numpy as np

from dashboard.clock import require_aware

KST = timedelta(hours=9)  # Asia/Seoul has had no daylight saving time since 1988
HOUR = 3600
DAY = 86_400


@dataclass(frozen=True)
class TimeGrid:
    end: datetime  # aware UTC, whole minute
    days: int
    day0: date  # first Seoul calendar day
    t0: int  # epoch seconds of Seoul midnight at day0
    end_s: int  # epoch seconds of end

    @classmethod
    def make(cls, end: datetime, days: int) -> TimeGrid:
        require_aware(end, "end")
        if days < 1:
            raise ValueError("days must be at least 1")
        end = end.astimezone(UTC).replace(second=0, microsecond=0)
        last_day = (end + KST).date()
        day0 = last_day - timedelta(days=days - 1)
        t0 = int((datetime(day0.year, day0.month, day0.day, tzinfo=UTC) - KST).timestamp())
        return cls(end=end, days=days, day0=day0, t0=t0, end_s=int(end.timestamp()))

    @property
    def hours(self) -> int:
        """Hourly slots that have started by ``end``."""
        return -(-(self.end_s - self.t0) // HOUR)

    @property
    def slots(self) -> int:
        """Hourly slots in the padded day grid (days × 24)."""
        return self.days * 24

    def hour_of_day(self) -> np.ndarray:
        """Seoul hour of day of each slot (padded grid)."""
        return np.tile(np.arange(24), self.days)

    def weekday(self) -> np.ndarray:
        """Weekday (Mon=0) of each slot."""
        wd0 = self.day0.weekday()
        return np.repeat((wd0 + np.arange(self.days)) % 7, 24)

    def day_weekday(self) -> np.ndarray:
        return (self.day0.weekday() + np.arange(self.days)) % 7

    def slot_start(self) -> np.ndarray:
        return self.t0 + np.arange(self.slots, dtype=np.int64) * HOUR

    def per_day(self, hourly: np.ndarray) -> np.ndarray:
        """Sum an (n, slots) array into (n, days)."""
        return hourly.reshape(hourly.shape[0], self.days, 24).sum(axis=2)
