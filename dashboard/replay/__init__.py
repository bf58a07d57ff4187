"""``python -m dashboard replay``: the product's real ingest and rules on any recorded data.

A recording (plug power/light readings, or wandering-detector positions with each person's
home) is replayed in a throw-away database with a simulated clock, and every alert transition
the product made is reported (docs/replay.md). Modules: ``inputs`` (reading and checking the
files), ``readings`` (the readings, held in columns), ``world`` (the throw-away database and
its people), ``timeline`` (the simulated moments), ``session`` (the product's own steps),
``fast`` (the in-memory shortcut), ``run`` (both paths), ``output`` and ``explain`` (the
transitions and their sentences).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dashboard.replay.inputs import InputError, Recording, read_recording
    from dashboard.replay.run import ReplayResult, replay

# Imported on first use (PEP 562): the CLI imports ``commands`` from this package for every
# ``replay --help``, which should not wait a second for the ingest and the rules.
_FROM = {
    "InputError": "inputs",
    "Recording": "inputs",
    "read_recording": "inputs",
    "ReplayResult": "run",
    "replay": "run",
}


def __getattr__(name: str) -> object:
    if name not in _FROM:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_FROM[name]}"), name)


__all__ = ["InputError", "Recording", "ReplayResult", "read_recording", "replay"]
