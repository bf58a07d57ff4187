"""Wellbeing-check rules: pure rule functions, alert lifecycle and the silence tick.

Ingestion calls :func:`on_events` in the same transaction as each stored batch; the worker calls
:func:`run_silence_tick` on a clock. See ``docs/rules.md``.
"""

from __future__ import annotations

from dashboard.rules.config import (
    RulesConfigError,
    Thresholds,
    current_thresholds,
    load_thresholds,
)
from dashboard.rules.engine import TickSummary, on_events, run_silence_tick
from dashboard.rules.evaluate import evaluate_device
from dashboard.rules.model import Decision, DeviceFacts, Reading, dedup_key

__all__ = [
    "Decision",
    "DeviceFacts",
    "Reading",
    "RulesConfigError",
    "Thresholds",
    "TickSummary",
    "current_thresholds",
    "dedup_key",
    "evaluate_device",
    "load_thresholds",
    "on_events",
    "run_silence_tick",
]
