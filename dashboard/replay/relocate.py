"""A home in another zone, replayed on its own clock: its wall-clock times as Seoul's.

The product judges every home by Seoul's clock: the unattended load is learned from 01:00–05:00,
a routine's half-hours, weekdays and learning runs count from Seoul's midnight. A London
recording read in ``--tz Europe/London`` but judged on Seoul's clock would learn its "night"
from 16:00–20:00 London time, its busiest hours (a year of a London home: 40 person alerts
against 18 on its own clock). So each reading's wall clock in ``--tz`` is replayed as the same
wall clock in Seoul, as ``evaluate-detection`` relocates its homes, and each transition's moment
is turned back into ``--tz``. With ``--tz Asia/Seoul`` nothing moves.

Daylight saving: the spring hour that does not exist leaves an hour without readings; the
autumn hour that repeats is replayed twice over the same Seoul times (its second readings beside
the first, in file order), and a transition in it is stamped at its first occurrence.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, tzinfo

from dashboard.replay.inputs import Reading, Recording
from dashboard.settings import LOCAL_TZ


def on_local_clock(ts: datetime, zone: tzinfo) -> datetime:
    """The moment at which Seoul's wall clock shows what ``zone``'s showed at ``ts`` (UTC)."""
    return ts.astimezone(zone).replace(tzinfo=LOCAL_TZ, fold=0).astimezone(UTC)


def from_local_clock(at: datetime, zone: tzinfo) -> datetime:
    """Back: the moment at which ``zone``'s wall clock shows what Seoul's showed at ``at``."""
    return at.astimezone(LOCAL_TZ).replace(tzinfo=zone, fold=0).astimezone(UTC)


def is_local(zone: tzinfo) -> bool:
    return getattr(zone, "key", None) == getattr(LOCAL_TZ, "key", None)


def relocated(recording: Recording, zone: tzinfo) -> Recording:
    """``recording`` with every reading at its wall-clock time in ``zone`` read as Seoul's."""
    if is_local(zone):
        return recording
    readings = [_moved(r, zone) for r in recording.readings]
    readings.sort(key=lambda r: (r.ts, r.event.index))
    first_seen = {uid: on_local_clock(ts, zone) for uid, ts in recording.first_seen.items()}
    return replace(recording, readings=readings, first_seen=first_seen)


def _moved(reading: Reading, zone: tzinfo) -> Reading:
    ts = on_local_clock(reading.ts, zone)
    # ingest is sent the moved time with its offset: the vendor's zone no longer applies
    raw = reading.raw | {"ts": ts.isoformat()}
    return Reading(raw, replace(reading.event, ts=ts, naive_ts=False))
