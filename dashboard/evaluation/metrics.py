"""Figures from replay transitions: times to alert, sensitivity, false alarms, faults.

A *transition* is one record of the replay's output (an alert opening, changing stage, or
closing with stage ``None``). Times are hours from the labelled onset. An incident with no
alert inside its window counts as missed: it sits above every finite time, so a percentile that
reaches the misses is reported as ``None`` ("not within the window"), never as a number that
flatters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from dashboard.clock import in_zone
from dashboard.settings import LOCAL_TZ

PERSON = "person"
DEVICE_FAULT = "device_fault"
SEOUL = timedelta(hours=9)


@dataclass(frozen=True)
class Transition:
    device_id: str
    rule: str
    kind: str
    stage: str | None
    at: int  # epoch seconds
    explanation: str = ""


def parse_at(text: str) -> int:
    """Epoch seconds of an ISO 8601 time; a naive time is Seoul's (the replay's default zone)."""
    return int(in_zone(datetime.fromisoformat(text), LOCAL_TZ).timestamp())


def parse_transitions(doc: dict) -> list[Transition]:
    """The replay's ``{"transitions": [...]}`` as :class:`Transition` records, in time order."""
    try:
        rows = doc["transitions"]
        out = [
            Transition(
                device_id=str(r["device_id"]),
                rule=str(r["rule"]),
                kind=str(r["kind"]),
                stage=r["stage"],
                at=parse_at(str(r["at"])),
                explanation=str(r.get("explanation") or ""),
            )
            for r in rows
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise ValueError(f"replay output is not in the contract's format: {exc!r}") from exc
    return sorted(out, key=lambda t: t.at)


def openings(transitions: Iterable[Transition], kind: str | None = PERSON) -> list[Transition]:
    """Transitions that open an alert (a stage where the same device and rule had none)."""
    open_now: set[tuple[str, str]] = set()
    out = []
    for t in sorted(transitions, key=lambda t: t.at):
        key = (t.device_id, t.rule)
        if t.stage is None:
            open_now.discard(key)
        elif key not in open_now:
            open_now.add(key)
            if kind is None or t.kind == kind:
                out.append(t)
    return out


def open_at(transitions: Iterable[Transition], at: int, kind: str = PERSON) -> bool:
    """Whether an alert of ``kind`` was open at ``at`` (opened earlier, not yet closed)."""
    open_now: dict[tuple[str, str], str] = {}
    for t in sorted(transitions, key=lambda t: t.at):
        if t.at >= at:
            break
        key = (t.device_id, t.rule)
        if t.stage is None:
            open_now.pop(key, None)
        else:
            open_now[key] = t.kind
    return kind in open_now.values()


def first_time_h(
    transitions: Iterable[Transition],
    onset: int,
    end: int,
    kind: str = PERSON,
    stage: str | None = None,
) -> float | None:
    """Hours from ``onset`` to the first transition of ``kind`` reaching a stage (``stage`` if
    given) in ``[onset, end)``; ``None`` when there is none."""
    times = [
        t.at
        for t in transitions
        if t.kind == kind
        and t.stage is not None
        and (stage is None or t.stage == stage)
        and onset <= t.at < end
    ]
    return (min(times) - onset) / 3600 if times else None


def percentile(values: Sequence[float | None], p: float) -> float | None:
    """The ``p``-th percentile (0–100, linear between ranks) with ``None`` = missed = +inf.

    ``None`` when the result is not finite, i.e. the percentile lies among the misses.
    """
    if not values:
        return None
    xs = sorted(math.inf if v is None else float(v) for v in values)
    pos = (len(xs) - 1) * p / 100
    lo, hi = math.floor(pos), math.ceil(pos)
    if math.isinf(xs[hi]) and (hi != lo or math.isinf(xs[lo])):
        return None
    value = xs[lo] + (xs[hi] - xs[lo]) * (pos - lo) if hi != lo else xs[lo]
    return None if math.isinf(value) else value


def share_within(values: Sequence[float | None], hours: float) -> float | None:
    """Share of incidents alerted within ``hours`` (``None`` for no incidents)."""
    if not values:
        return None
    return sum(1 for v in values if v is not None and v <= hours) / len(values)


def _r(x: float | None, digits: int = 2) -> float | None:
    return None if x is None else round(x, digits)


def stop_summary(first: Sequence[float | None], severe: Sequence[float | None]) -> dict:
    """Median / 90th percentile to first alert and to 심각, sensitivity at 6 h (the median
    target's hour), 24 h and 48 h."""
    return {
        "n": len(first),
        "median_first_alert_h": _r(percentile(first, 50)),
        "p90_first_alert_h": _r(percentile(first, 90)),
        "median_severe_h": _r(percentile(severe, 50)),
        "p90_severe_h": _r(percentile(severe, 90)),
        "sensitivity_6h": _r(share_within(first, 6), 4),
        "sensitivity_24h": _r(share_within(first, 24), 4),
        "sensitivity_48h": _r(share_within(first, 48), 4),
        "missed_96h": sum(1 for v in first if v is None),
    }


def per_50_days(alerts: int, household_days: float) -> float | None:
    """Alerts per household per 50 days, pooled: total alerts over total household-days."""
    if household_days <= 0:
        return None
    return alerts / household_days * 50


def iso_seoul(epoch: int) -> str:
    return (datetime.fromtimestamp(epoch, UTC) + SEOUL).strftime("%Y-%m-%d %H:%M")
