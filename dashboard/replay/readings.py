"""A recording's readings, held column by column: a year of 8-second readings is 4 million.

A reading is handed out as a ``Reading`` (a small tuple) when asked for, built from numbers in
arrays; what ingest is sent (``Reading.raw``) and the validated event the mirrors merge
(``Reading.event``) are built from that tuple in turn, equal to the dict the input reader
validated and to what the validator returned, key order included
(``tests/unit/test_replay_memory.py``). Kept as those two objects, each reading took ≈ 1.3 KB
(a year of 1-minute readings 851 MB of memory); as tuples ≈ 0.5 KB; in columns ≈ 0.1 KB,
the copy on the home's clock included (docs/replay.md).

``Columns`` holds the readings in the order the file gave them, which is the validator's index
(each reading's ``index``: the reader numbers its readings 0, 1, 2, …). ``Readings`` is an
ordered view of them: the order, and for readings moved to another clock their new times.
"""

from __future__ import annotations

import math
from array import array
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, overload

import numpy as np

from dashboard.ingest.events import VALUE_FIELD, ValidEvent

# The number fields of each event type a recording holds, in the validator's order (its
# ``ValidEvent.fields``); a position's ``accuracy_m`` may be absent.
NUMBER_FIELDS: dict[str, tuple[str, ...]] = {
    "power": ("watts",),
    "lux": ("lux",),
    "position": ("lat", "lon", "accuracy_m"),
}
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)
CHUNK = 65_536  # indexes taken at once from the order while iterating


def event_id(row: int, kind: str) -> str:
    """A reading's vendor event id: its spreadsheet row and type (``r12:power``)."""
    return f"r{row}:{kind}"


class Reading(NamedTuple):
    """One vendor event from one input row: its values, from which ``raw`` and ``event`` are
    built when asked for. Its first fields are the time and the index (unique): readings sort
    by time, then in the file's order, as the product receives one moment's events."""

    ts: datetime  # aware UTC
    index: int  # the validator's index: the file's order of events
    device_uid: str  # one string per device, shared by its readings
    type: str  # a key of NUMBER_FIELDS
    numbers: Any  # the type's fields' values: one float, or a position's (lat, lon[, acc.])
    row: int  # the spreadsheet row (the event id's number)
    text: str | None  # ts as the file wrote it; None: ts in ISO 8601 (a time moved)
    naive: bool  # the file's ts had no offset (``ValidEvent.naive_ts``)

    @classmethod
    def of(cls, checked: ValidEvent, raw: dict[str, Any], row: int, uid: str) -> Reading:
        """The reading of the validator's ``checked`` for ``raw`` (``uid``: its device id,
        the one string every reading of the device shares)."""
        names, values = NUMBER_FIELDS[checked.type], tuple(checked.fields.values())
        if tuple(checked.fields) != names[: len(values)] or raw["event_id"] != event_id(
            row, checked.type
        ):  # never: the rows' events are built so (``inputs._events``)
            raise AssertionError(f"row {row}: {checked!r} cannot be kept as a Reading")
        numbers = values[0] if len(names) == 1 else values
        return cls(
            checked.ts, checked.index, uid, checked.type, numbers, row, raw["ts"], checked.naive_ts
        )

    @property
    def fields(self) -> dict[str, Any]:
        names = NUMBER_FIELDS[self.type]
        if len(names) == 1:
            return {names[0]: self.numbers}
        return dict(zip(names, self.numbers, strict=False))  # without an absent accuracy_m

    @property
    def event_uid(self) -> str:
        return event_id(self.row, self.type)

    @property
    def raw(self) -> dict[str, Any]:
        """The vendor event ingest is sent, as the row's dict was built (``inputs._events``)."""
        ts = self.ts.isoformat() if self.text is None else self.text
        raw = {
            "device_id": self.device_uid,
            "ts": ts,
            "event_id": self.event_uid,
            "type": self.type,
        }
        raw.update(self.fields)
        return raw

    @property
    def event(self) -> ValidEvent:
        """The validated event, as ``validate_event`` returned it for ``raw`` (``ts`` as moved)."""
        fields = self.fields
        value_field = VALUE_FIELD[self.type]
        data = {k: v for k, v in fields.items() if k != value_field} or None
        value = fields.get(value_field) if value_field else None
        return ValidEvent(
            self.index,
            self.event_uid,
            self.device_uid,
            self.ts,
            self.type,
            value,
            data,
            fields,
            self.naive,
        )


def _micros(ts: datetime) -> int:
    return (ts - EPOCH) // MICROSECOND  # exact: a datetime counts whole microseconds


def _time(micros: int) -> datetime:
    return EPOCH + timedelta(microseconds=micros)


class Columns:
    """Every reading of one file, in the file's order (position i holds the reading of index i).

    About 60 bytes a reading: its time (µs since 1970, UTC), row, device, type, numbers (a
    position's three, an absent accuracy as NaN, which the validator never accepts), whether
    the time was naive, and the time as written (UTF-8, one buffer)."""

    def __init__(self) -> None:
        self.ts = array("q")
        self.row = array("q")
        self.device = array("I")
        self.type = array("B")
        self.numbers = array("d")
        self.naive = array("b")
        self.text = bytearray()
        self.text_end = array("q")
        self.uids: list[str] = []
        self.types: list[str] = []
        self.width = 0  # numbers per reading: 1 (plug) or 3 (position)
        self._uid_at: dict[str, int] = {}
        self._type_at: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self.ts)

    def append(self, reading: Reading) -> None:
        if reading.index != len(self.ts) or reading.text is None:  # never (``read_recording``)
            raise AssertionError(f"reading {reading.index} is not the file's next one")
        width = len(NUMBER_FIELDS[reading.type])
        if self.width and width != self.width:  # a recording is of one kind
            raise AssertionError(f"a {reading.type} reading among others")
        self.width = width
        self.ts.append(_micros(reading.ts))
        self.row.append(reading.row)
        self.device.append(self._code(self._uid_at, self.uids, reading.device_uid))
        self.type.append(self._code(self._type_at, self.types, reading.type))
        if width == 1:
            self.numbers.append(reading.numbers)
        else:
            self.numbers.extend(reading.numbers + (math.nan,) * (width - len(reading.numbers)))
        self.naive.append(reading.naive)
        self.text.extend(reading.text.encode())
        self.text_end.append(len(self.text))

    @staticmethod
    def _code(codes: dict[str, int], names: list[str], name: str) -> int:
        code = codes.get(name)
        if code is None:
            code = codes[name] = len(names)
            names.append(name)
        return code

    def reading(self, j: int, moved: array | None) -> Reading:
        """The reading of index ``j`` (at its time in ``moved``, when given)."""
        width = self.width
        if width == 1:
            numbers: Any = self.numbers[j]
        else:
            numbers = tuple(v for v in self.numbers[j * width : j * width + width] if v == v)
        if moved is None:
            start = self.text_end[j - 1] if j else 0
            ts, text = _time(self.ts[j]), self.text[start : self.text_end[j]].decode()
            naive = bool(self.naive[j])
        else:  # sent with its offset: the file's zone no longer applies
            ts, text, naive = _time(moved[j]), None, False
        uid, kind = self.uids[self.device[j]], self.types[self.type[j]]
        return Reading(ts, j, uid, kind, numbers, self.row[j], text, naive)


class Readings(Sequence[Reading]):
    """Readings in time order (then the file's), each a ``Reading`` when asked for.

    ``order`` lists their indexes; ``moved``, by index, the times of readings moved to another
    clock (``relocate``): the view's own, the columns staying the file's."""

    def __init__(self, columns: Columns, order: np.ndarray, moved: array | None = None) -> None:
        self.columns, self._order, self._moved = columns, order, moved
        micros = np.frombuffer(moved if moved is not None else columns.ts, dtype=np.int64)
        self._micros = array("q", micros[order].tobytes())  # in this order, for ``times``

    @classmethod
    def of(cls, columns: Columns) -> Readings:
        """The file's readings by time; one time's in the file's order (a stable sort)."""
        micros = np.frombuffer(columns.ts, dtype=np.int64)
        return cls(columns, np.argsort(micros, kind="stable"))

    def __len__(self) -> int:
        return len(self._order)

    @overload
    def __getitem__(self, i: int) -> Reading: ...

    @overload
    def __getitem__(self, i: slice) -> list[Reading]: ...

    def __getitem__(self, i: int | slice) -> Reading | list[Reading]:
        if isinstance(i, slice):
            return [self.columns.reading(j, self._moved) for j in self._order[i].tolist()]
        return self.columns.reading(int(self._order[i]), self._moved)

    def __iter__(self) -> Iterator[Reading]:
        reading, moved = self.columns.reading, self._moved
        for start in range(0, len(self._order), CHUNK):  # never every index at once as ints
            for j in self._order[start : start + CHUNK].tolist():
                yield reading(j, moved)  # one at a time: none of them is kept

    @property
    def times(self) -> Sequence[datetime]:
        """Each reading's time, in this order (``timeline.moments`` reads them)."""
        return _Times(self._micros)

    def moved(self, move: Callable[[datetime], datetime | None]) -> Readings:
        """These readings at the times ``move`` gives (None: dropped), by time, then index."""
        at = array("q", bytes(8 * len(self.columns)))  # by index; a dropped one's stays 0
        kept = array("q")
        for reading in self:
            ts = move(reading.ts)
            if ts is not None:
                at[reading.index] = _micros(ts)
                kept.append(reading.index)
        index = np.frombuffer(kept, dtype=np.int64)
        order = index[np.lexsort((index, np.frombuffer(at, dtype=np.int64)[index]))]
        return Readings(self.columns, order, at)


class _Times(Sequence[datetime]):
    def __init__(self, micros: array) -> None:
        self._micros = micros

    def __len__(self) -> int:
        return len(self._micros)

    def __getitem__(self, i: int) -> datetime:  # type: ignore[override]  # no slice asked for
        return _time(self._micros[i])
