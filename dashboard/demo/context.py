"""What every generator shares: the random generator, the time grid, places and id counters."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from dashboard.demo.clock import TimeGrid
from dashboard.demo.people import PhoneBook
from dashboard.rules import Decision, DeviceFacts, Reading, Thresholds

OPERATORS = ("demo.op1", "demo.op2", "demo.op3", "demo.op4", "demo.op5", "demo.op6")


@dataclass(frozen=True)
class Place:
    id: int
    code: str
    name_ko: str  # full path, e.g. 경기도 고양시 일산동구 백석1동
    lat: float
    lon: float
    weight: float


@dataclass
class Ctx:
    rng: np.random.Generator
    grid: TimeGrid
    scale: str
    places: dict[str, Place]  # by region code
    children: dict[str, list[str]]  # region code → child codes
    programs: dict[str, int]
    next_ids: dict[str, int]
    th: Thresholds = field(default_factory=Thresholds)  # the rules' thresholds (rules.toml)
    timeouts: dict[str, int] = field(default_factory=dict)  # device_types.heartbeat_timeout_s
    phones: PhoneBook = field(default_factory=PhoneBook)

    def timeout_s(self, type_code: str) -> int:
        """The rules' silence timeout for a device type (rules.toml overrides the catalog)."""
        return self.th.device_silent.timeout_s.get(type_code, self.timeouts.get(type_code, 3600))

    def judge(
        self,
        rule: Callable[..., Decision | None],
        at: int,
        *,
        type_code: str,
        device_id: int,
        readings: Sequence[Reading] = (),
        **facts: Any,
    ) -> Decision | None:
        """What the real rule says about a device at epoch second ``at``.

        The synthesised history uses this so its closed alerts carry the stages and evidence the
        rules would have written; ``facts`` are ``DeviceFacts`` fields (epoch seconds become
        datetimes).
        """
        f = DeviceFacts(
            device_id=int(device_id),
            type_code=type_code,
            program_id=0,
            region_id=0,
            heartbeat_timeout_s=self.timeouts.get(type_code, 3600),
            **{k: to_dt(v) if k.endswith("_at") else v for k, v in facts.items()},
        )
        when = to_dt(at)
        if readings:
            return rule(f, self.th, when, readings)
        return rule(f, self.th, when)

    def alloc(self, table: str, n: int) -> np.ndarray:
        start = self.next_ids[table]
        self.next_ids[table] = start + n
        return np.arange(start, start + n, dtype=np.int64)

    def dongs(self, *parents: str) -> list[Place]:
        """Dongs under the given regions (any depth)."""
        out: list[Place] = []
        stack = list(parents)
        while stack:
            code = stack.pop()
            kids = self.children.get(code, [])
            if not kids and code not in parents:
                out.append(self.places[code])
            stack.extend(kids)
        return sorted(out, key=lambda p: p.code)


def to_dt(s: int | datetime | None) -> datetime | None:
    if s is None or isinstance(s, datetime):
        return s
    return datetime.fromtimestamp(int(s), UTC)


@dataclass
class Episode:
    """A stretch in the past in which a rule's condition held; becomes one closed alert.

    Only the past: the alerts still open at ``end`` come from running the real rules over the
    generated state (``dashboard.demo.present``). ``stage`` and ``evidence`` come from the rule
    itself (``Ctx.judge``), judged just before the condition cleared.
    """

    rule: str
    stage: str
    kind: str  # person | device_fault
    program_id: int
    region_id: int
    recipient_id: int | None
    device_id: int
    opened_s: int  # when the rule fired
    resolved_s: int  # when the condition cleared (or staff followed up), before ``end``
    evidence: dict[str, Any]
    truth: str = "routine"  # routine | false_alarm | crisis | deceased | fault
    dong_name: str = ""
    # True when the condition cleared by itself (a reading): the rules close such an alert
    # themselves unless someone is already dispatched. False for follow-ups staff must close.
    self_clearing: bool = True


@dataclass
class Part:
    """What one program's generator produces."""

    recipients: list[dict[str, Any]] = field(default_factory=list)
    devices: list[dict[str, Any]] = field(default_factory=list)
    daily: list[dict[str, np.ndarray]] = field(default_factory=list)  # column batches
    events: list[dict[str, Any]] = field(default_factory=list)  # column batches
    states: list[dict[str, Any]] = field(default_factory=list)
    episodes: list[Episode] = field(default_factory=list)
    sites: list[dict[str, Any]] = field(default_factory=list)


def daily_columns(
    device_ids: np.ndarray, days: int, valid: np.ndarray | None = None, **metrics: np.ndarray
) -> dict[str, np.ndarray]:
    """Flatten (n, days) metric arrays into device_daily columns, keeping ``valid`` cells."""
    n = len(device_ids)
    cols: dict[str, np.ndarray] = {
        "device_id": np.repeat(device_ids, days),
        "day": np.tile(np.arange(days), n),
    }
    for name, arr in metrics.items():
        cols[name] = np.asarray(arr).reshape(n * days)
    if valid is not None:
        keep = valid.reshape(n * days)
        cols = {k: v[keep] for k, v in cols.items()}
    return cols


def event_columns(
    device_ids: np.ndarray,
    uids: list[str],
    vendor: str,
    ts: np.ndarray,
    type_: str | np.ndarray,
    value: np.ndarray,
    data: list[Any] | None = None,
) -> dict[str, Any]:
    """One batch of raw events; ``device_ids``/``uids`` are per event."""
    types = np.full(len(ts), type_) if isinstance(type_, str) else type_
    return {
        "device_id": np.asarray(device_ids),
        "uid": uids,
        "vendor": vendor,
        "ts": np.asarray(ts, dtype=np.int64),
        "type": types,
        "value": np.asarray(value, dtype=float),
        "data": data if data is not None else [None] * len(ts),
    }


def times_in_days(
    rng: np.random.Generator,
    grid,
    counts: np.ndarray,
    first_day: int,
    hour_p: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Spread (n, k) per-day counts over Seoul hours; returns (row index, epoch seconds)."""
    rows, days = np.nonzero(counts)
    reps = counts[rows, days]
    rows = np.repeat(rows, reps)
    days = np.repeat(days, reps) + first_day
    hours = rng.choice(24, len(rows), p=hour_p / hour_p.sum())
    secs = rng.integers(0, 3600, len(rows))
    ts = grid.t0 + days.astype(np.int64) * 86_400 + hours * 3600 + secs
    return rows, ts


def last_index(mask: np.ndarray) -> np.ndarray:
    """Index of the last True per row, -1 where none."""
    rev = np.argmax(mask[:, ::-1], axis=1)
    return np.where(mask.any(axis=1), mask.shape[1] - 1 - rev, -1)


def state_row(device_id: int, **kw: Any) -> dict[str, Any]:
    row = {
        "device_id": int(device_id),
        "state": "normal",
        "state_since": None,
        "last_seen_at": None,
        "last_activity_at": None,
        "last_power_w": None,
        "last_lux": None,
        "battery_pct": None,
        "last_lat": None,
        "last_lon": None,
        "last_event_type": None,
    }
    row.update(kw)
    return row


def iso(s: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(s, UTC).isoformat()
