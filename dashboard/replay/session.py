"""The product's own steps on the throw-away database, at a simulated ``now``.

Nothing here re-implements the product: a batch goes through ``ingest_events`` (validation,
storage, the ``device_state`` merge, the event rules through ``on_events``), a tick is the
worker's ``tick_once`` (``run_silence_tick`` in its own transaction) and a day boundary runs the
worker's ``daily_rules_jobs`` (its upkeep changes no alert). After each step the recorder reads
back the alerts it wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from dashboard.ingest import ingest_events
from dashboard.replay.output import Recorder
from dashboard.replay.readings import Reading
from dashboard.replay.world import VENDOR, World
from dashboard.rules.worker import daily_rules_jobs, tick_once


class ReplayBug(RuntimeError):
    """The product refused what the input check accepted: a bug, never the user's input."""


@dataclass
class Counts:
    batches: int = 0
    events: int = 0
    ticks: int = 0
    days: int = 0


class Session:
    def __init__(self, world: World, recorder: Recorder) -> None:
        self.world, self.recorder = world, recorder
        self.counts = Counts()

    def ingest(self, readings: Sequence[Reading], now: datetime) -> int:
        """One batch through the real ingest, received at ``now``; returns alert rows written."""
        with self.world.engine.begin() as conn:
            result = ingest_events(conn, VENDOR, [r.raw for r in readings], now=now)
            if result.rejected or result.accepted != len(readings):
                raise ReplayBug(
                    f"ingest at {now.isoformat()} stored {result.accepted} of {len(readings)} "
                    f"events; rejected: {result.rejected[:3]}"
                )
            written = self.recorder.capture(conn, now)
        self.counts.batches += 1
        self.counts.events += len(readings)
        return written

    def tick(self, now: datetime) -> int:
        """The rule worker's tick; returns alert rows written."""
        tick_once(self.world.engine, now)
        with self.world.engine.connect() as conn:
            written = self.recorder.capture(conn, now)
        self.counts.ticks += 1
        return written

    def daily(self, now: datetime) -> int:
        """The rule worker's daily jobs that alerts depend on (not its data upkeep: a
        throw-away database has no partitions to add, people to purge or counts to show);
        returns alert rows written."""
        daily_rules_jobs(self.world.engine, now)
        with self.world.engine.connect() as conn:
            written = self.recorder.capture(conn, now)
        self.counts.days += 1
        return written
