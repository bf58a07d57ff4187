"""``python -m dashboard replay``: the product's real ingest and rules on any recorded data.

A recording (plug power/light readings, or wandering-detector positions with each person's
home) is replayed in a throw-away database with a simulated clock, and every alert transition
the product made is reported (docs/replay.md). Modules: ``inputs`` (reading and checking the
files), ``world`` (the throw-away database and its people), ``timeline`` (the simulated
moments), ``session`` (the product's own steps), ``fast`` (the in-memory shortcut), ``run``
(both paths), ``output`` and ``explain`` (the transitions and their sentences).
"""

from dashboard.replay.inputs import InputError, Recording, read_recording
from dashboard.replay.run import ReplayResult, replay

__all__ = ["InputError", "Recording", "ReplayResult", "read_recording", "replay"]
