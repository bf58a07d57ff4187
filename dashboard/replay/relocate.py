"""A home in another zone, replayed on its own clock: its wall-clock times as Seoul's.

The product judges every home by Seoul's clock: the unattended load is learned from 01:00–05:00,
a routine's half-hours, weekdays and learning runs count from Seoul's midnight. A London
recording read in ``--tz Europe/London`` but judged on Seoul's clock would learn its "night"
from 16:00–20:00 London time, its busiest hours (a year of a London home: 40 person alerts
against 18 on its own clock). So each reading's wall clock in ``--tz`` is replayed as the same
wall clock in Seoul, as ``evaluate-detection`` relocates its homes, and each transition's moment
is turned back into ``--tz``. With ``--tz Asia/Seoul`` nothing moves.

Daylight saving: the spring hour that does not exist leaves an hour without readings, and a
transition the product makes in it is stamped at the first moment after it; the readings of the
second occurrence of the autumn hour that repeats are dropped (as ``evaluate-detection`` drops
them: replayed over the same Seoul times as the first, they would interleave with it), and a
transition in that hour is stamped at its first occurrence. The rules count wall-clock hours,
as they would for a Seoul home: a spell across a change is an hour longer or shorter in real
time than its sentence says.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo

from dashboard.replay.inputs import Recording
from dashboard.settings import LOCAL_TZ


def on_local_clock(ts: datetime, zone: tzinfo) -> datetime:
    """The moment at which Seoul's wall clock shows what ``zone``'s showed at ``ts`` (UTC)."""
    return ts.astimezone(zone).replace(tzinfo=LOCAL_TZ, fold=0).astimezone(UTC)


def from_local_clock(at: datetime, zone: tzinfo) -> datetime:
    """Back: the moment at which ``zone``'s wall clock shows what Seoul's showed at ``at`` (its
    first occurrence; for a wall time ``zone`` skips, the first moment after the skip)."""
    wall = at.astimezone(LOCAL_TZ).replace(tzinfo=None)
    for _ in range(_MAX_SKIP_MIN + 1):
        moment = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
        if moment.astimezone(zone).replace(tzinfo=None) == wall:
            return moment
        wall = wall.replace(second=0, microsecond=0) + timedelta(minutes=1)
    raise ValueError(f"{zone}: no wall-clock time within {_MAX_SKIP_MIN} min after {at}")


_MAX_SKIP_MIN = 24 * 60  # the longest skip a zone ever made is a day (Samoa, 2011)


def is_local(zone: tzinfo) -> bool:
    return getattr(zone, "key", None) == getattr(LOCAL_TZ, "key", None)


def relocated(recording: Recording, zone: tzinfo) -> Recording:
    """``recording`` with every reading at its wall-clock time in ``zone`` read as Seoul's."""
    if is_local(zone):
        return recording
    readings = recording.readings

    def moved(ts: datetime) -> datetime | None:  # the repeated hour's second occurrence: none
        return None if ts.astimezone(zone).fold else on_local_clock(ts, zone)

    # Sent to ingest with its offset (``Reading.text`` None): the vendor's zone no longer
    # applies. (A file of nothing but the repeated hour keeps it: nothing to interleave with.)
    local = readings.moved(moved) or readings.moved(lambda ts: on_local_clock(ts, zone))
    earliest: dict[str, datetime] = {}
    for reading in local:
        earliest.setdefault(reading.device_uid, reading.ts)
    # in the file's order of appearance, as read (a device only in a dropped hour: none left)
    first_seen = {uid: earliest[uid] for uid in recording.first_seen if uid in earliest}
    return replace(recording, readings=local, first_seen=first_seen)
