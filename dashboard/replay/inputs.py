"""Reading replay input: recorded readings (plug or wandering) and, for wanderers, the homes.

Every row becomes the vendor event(s) the real ingest receives, checked by the ingest's own
validator (``dashboard.ingest.events.validate_event``) before anything runs, so a bad row is
reported here as ``FILE row R, column C: reason`` instead of failing halfway through a replay.
Rows are numbered as a spreadsheet shows them (the header is row 1).
"""

from __future__ import annotations

import csv
import gzip
import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from dashboard.ingest.core import EARLIEST_TS
from dashboard.ingest.events import Rejection, number_from_text, validate_event
from dashboard.replay.readings import Columns, Reading, Readings, event_id

Kind = Literal["plug", "wandering"]

# Input columns per kind: (required, optional). The contract of issue 9; docs/replay.md.
COLUMNS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "plug": (("device_id", "ts", "watts"), ("lux",)),
    "wandering": (("device_id", "ts", "lat", "lon"), ("accuracy_m",)),
}
HOME_COLUMNS = ("device_id", "lat", "lon", "radius_m")
MAX_RADIUS_M = 50_000  # the largest safe zone rules.toml accepts as a default
MAX_PROBLEMS = 20  # problems listed; the rest are counted
# How a recording writes a missing value: an empty cell, pandas' and R's NaN / NA, the London
# smart-meter data's "Null". No reading, not a bad one: recorders drop readings, and a file
# refused for one gap could not be replayed at all.
MISSING = frozenset({"", "nan", "na", "n/a", "null", "none"})
# A plug whose every reading over a day or more stays below this many watts is most likely a
# file of kWh per interval (the London data's unit): warned, not refused (it may be a standby).
KWH_SUSPECT_W = 5.0
GZIP_MAGIC = b"\x1f\x8b"


@dataclass(frozen=True)
class InputProblem:
    path: str
    row: int  # spreadsheet row; 0 = the file as a whole
    column: str | None
    message: str

    def __str__(self) -> str:
        where = self.path if not self.row else f"{self.path} row {self.row}"
        if self.column:
            where += f", column {self.column}"
        return f"{where}: {self.message}"


class InputError(ValueError):
    """The input cannot be replayed; ``problems`` says where and why (all of them, bounded)."""

    def __init__(self, problems: list[InputProblem], more: int = 0) -> None:
        self.problems = problems
        lines = [str(p) for p in problems]
        if more:
            lines.append(f"… and {more} more problem(s)")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class Home:
    lat: float
    lon: float
    radius_m: int


@dataclass
class Recording:
    """A whole input, ready to replay: readings in time order and each device's first reading."""

    kind: Kind
    readings: Readings  # held in columns; each a ``Reading`` when asked for
    first_seen: dict[str, datetime]  # device uid → its first reading, in order of appearance
    homes: dict[str, Home] = field(default_factory=dict)
    skipped: int = 0  # rows without any reading (every value missing: ``MISSING``)
    warnings: list[str] = field(default_factory=list)  # odd but replayable (printed on stderr)

    @property
    def start(self) -> datetime:
        return self.readings[0].ts

    @property
    def end(self) -> datetime:
        return self.readings[-1].ts


class _Problems:
    def __init__(self) -> None:
        self.items: list[InputProblem] = []
        self.more = 0

    def add(self, path: str, row: int, column: str | None, message: str) -> None:
        if len(self.items) < MAX_PROBLEMS:
            self.items.append(InputProblem(path, row, column, message))
        else:
            self.more += 1

    def raise_if_any(self) -> None:
        if self.items:
            raise InputError(sorted(self.items, key=lambda p: (p.path, p.row)), self.more)


def read_recording(
    path: str | Path, kind: Kind, zone: ZoneInfo, homes_path: str | Path | None = None
) -> Recording:
    """Read and check an input file (and the homes of a wandering one); ``InputError`` if bad.

    Timestamps without an offset are read in ``zone``, as ingest reads a vendor's.
    """
    problems = _Problems()
    name = str(path)
    required, optional = COLUMNS[kind]
    columns = Columns()  # the readings, in the file's order
    first_seen: dict[str, datetime] = {}
    uids: dict[str, str] = {}  # every reading of a device shares one string
    skipped = 0
    repeated: set[tuple[str, datetime]] = set()  # (device, naive time) in an autumn's hour
    gap_rows: list[tuple[int, datetime]] = []  # (row, naive time) the spring change skips
    for number, row in _rows(name, required, optional, problems):
        events = list(_events(kind, number, row))
        placeholder = not events  # every value missing: its device and time must be good
        if placeholder:
            events, skipped = [_placeholder(kind, number, row)], skipped + 1
        second = False  # the second occurrence of a repeated hour's naive time, in file order
        for raw in events:
            checked = validate_event(len(columns), raw, zone)
            if isinstance(checked, Rejection):
                problems.add(name, number, _column(checked), _hint(checked, row))
                break
            if checked.ts < EARLIEST_TS:  # ingest refuses these as an unset device clock
                problems.add(name, number, "ts", "before 2000-01-01; not a real reading time")
                break
            if checked.naive_ts:
                wall, change = _clock_change(row.get("ts", ""), zone)
                if change == "skipped":  # read as the validator reads it, and warned
                    gap_rows.append((number, wall))
                if change == "repeated" and not placeholder and raw is events[0]:
                    second = (checked.device_uid, wall) in repeated
                    repeated.add((checked.device_uid, wall))
                if second:  # read at its second occurrence (``relocate`` then drops it)
                    ts = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
                    raw, checked = raw | {"ts": ts.isoformat()}, replace(checked, ts=ts)
            if placeholder:
                break
            uid = uids.setdefault(checked.device_uid, checked.device_uid)
            columns.append(Reading.of(checked, raw, number, uid))
            # the earliest reading, not the first row, installs the device
            if checked.ts < first_seen.setdefault(uid, checked.ts):
                first_seen[uid] = checked.ts
    if not len(columns) and not problems.items:
        gaps = f" ({skipped:,} row(s) with every value missing)" if skipped else ""
        problems.add(name, 0, None, f"no readings below the header{gaps}")
    homes: dict[str, Home] = {}
    if kind == "wandering":
        if homes_path is None:
            problems.add(name, 0, None, "a wandering replay needs --homes FILE.csv")
        else:
            homes = _read_homes(str(homes_path), first_seen, problems)
    problems.raise_if_any()
    readings = Readings.of(columns)
    warnings = _warnings(name, readings)
    if gap_rows:
        warnings.insert(0, _skipped_message(name, gap_rows, zone))
    return Recording(kind, readings, first_seen, homes, skipped, warnings)


def _clock_change(text: str, zone: ZoneInfo) -> tuple[datetime, str | None]:
    """A naive time's wall clock, and whether ``zone``'s clocks ``skipped`` it (spring) or
    ``repeated`` it (autumn) at a daylight-saving change; None for an ordinary time."""
    wall = datetime.fromisoformat(text)  # the validator has read it already
    before, after = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
    if before.utcoffset() == after.utcoffset():
        return wall, None
    return wall, "repeated" if before.utcoffset() > after.utcoffset() else "skipped"


def _skipped_message(path: str, rows: list[tuple[int, datetime]], zone: ZoneInfo) -> str:
    """Naive times the spring change skips are not refused: they are what a file written in UTC
    or standard time all year holds (the London smart-meter data), and a refused file could
    not be replayed at all. Read as the validator reads them (standard time, an hour later on
    the clock); the warning says what that means and how to write the file instead."""
    number, wall = rows[0]
    return (
        f"{path}: {len(rows):,} naive time(s) do not exist in {getattr(zone, 'key', zone)} (the "
        f"clocks skip them at the change to summer time; first: row {number}, "
        f"{wall:%Y-%m-%d %H:%M}); they were read as standard time, an hour later on the clock. "
        "A file written in UTC or standard time all year is then an hour off through every "
        f"summer: write its times with their offset ({wall:%Y-%m-%dT%H:%M:%S}Z or +00:00) and "
        "keep --tz for the home's clock"
    )


def _hint(rejection: Rejection, row: dict[str, str]) -> str:
    """The validator's message, with what a file's usual mistakes need."""
    text = row.get(rejection.field or "", "")
    if rejection.field == "ts" and text.lstrip("-").isdigit() and len(text) >= 9:
        return rejection.message + "; Unix epoch times are not read: write them as ISO 8601"
    lat, lon = row.get("lat", ""), row.get("lon", "")
    if rejection.field == "lat" and _number_in(lon, -90, 90) and _number_in(lat, -180, 180):
        return rejection.message + "; are lat and lon swapped?"
    return rejection.message


def _number_in(text: str, lo: float, hi: float) -> bool:
    try:
        return lo <= float(text) <= hi
    except ValueError:
        return False


def _warnings(path: str, readings: Sequence[Reading]) -> list[str]:
    """Plugs whose every power reading over a day or more is below ``KWH_SUSPECT_W``."""
    spans: dict[str, list] = {}  # device → [first ts, last ts, highest watts]
    for reading in readings:
        if reading.type != "power":
            continue
        watts = reading.numbers
        span = spans.setdefault(reading.device_uid, [reading.ts, reading.ts, watts])
        span[0], span[1] = min(span[0], reading.ts), max(span[1], reading.ts)
        span[2] = max(span[2], watts)
    low = {
        uid: top
        for uid, (first, last, top) in spans.items()
        if top < KWH_SUSPECT_W and (last - first).total_seconds() >= 86_400
    }
    if not low:
        return []
    some = ", ".join(f"{uid!r} (at most {top:g})" for uid, top in list(low.items())[:5])
    more = f" and {len(low) - 5} more" if len(low) > 5 else ""
    return [
        f"{path}: every watts value of {len(low)} device(s) is below {KWH_SUSPECT_W:g} W "
        f"for a day or more: {some}{more}. If these are kWh per interval, convert them to "
        "watts (kWh per half hour × 2,000); replay reads them as watts"
    ]


def _column(rejection: Rejection) -> str | None:
    # The validator names event fields; the input columns carry the same names.
    return rejection.field if rejection.field not in ("event_id", "type") else None


def missing(text: str | None) -> bool:
    """Whether a cell holds no value (``MISSING``)."""
    return text is None or text.lower() in MISSING


def _events(kind: Kind, number: int, row: dict[str, str]) -> Iterator[dict[str, Any]]:
    """The row's vendor events: none for a row whose readings are all missing (a plug row
    without watts or lux, a position without lat and lon), which is skipped."""
    base = _where(row)
    if kind == "plug":
        if not missing(row.get("watts")):
            yield _with(
                base | {"event_id": event_id(number, "power"), "type": "power"}, row, "watts"
            )
        if not missing(row.get("lux")):
            yield _with(base | {"event_id": event_id(number, "lux"), "type": "lux"}, row, "lux")
        return
    if missing(row.get("lat")) and missing(row.get("lon")):
        return  # no fix on this row; one of the two alone is refused (the validator)
    event = _with(base | {"event_id": event_id(number, "position"), "type": "position"}, row, "lat")
    event = _with(event, row, "lon")
    yield _with(event, row, "accuracy_m")


def _placeholder(kind: Kind, number: int, row: dict[str, str]) -> dict[str, Any]:
    """An event of a row without readings, for the validator to check its device and time;
    never replayed (``read_recording``)."""
    base = _where(row)
    if kind == "plug":
        return base | {"event_id": f"r{number}:none", "type": "power", "watts": 0.0}
    return base | {"event_id": f"r{number}:none", "type": "position", "lat": 0.0, "lon": 0.0}


def _where(row: dict[str, str]) -> dict[str, Any]:
    """The row's device and time, as every event of it carries them."""
    return {"device_id": row.get("device_id", ""), "ts": row.get("ts", "")}


def _with(event: dict[str, Any], row: dict[str, str], column: str) -> dict[str, Any]:
    """The event with ``column``'s number (a missing value leaves it out: the validator then
    says "required" for a required field)."""
    text = row.get(column, "")
    return event if missing(text) else event | {column: number_from_text(text)}


def _rows(
    path: str, required: tuple[str, ...], optional: tuple[str, ...], problems: _Problems
) -> Iterator[tuple[int, dict[str, str]]]:
    """Numbered rows as {column: stripped text}; header problems end the file's reading."""
    try:
        with open(path, "rb") as probe:
            packed = probe.read(2) == GZIP_MAGIC  # FILE.csv.gz, whatever its name
        opener = gzip.open if packed else open
        handle = opener(path, "rt", encoding="utf-8-sig", newline="")  # closed below
    except OSError as exc:
        problems.add(path, 0, None, f"cannot read the file ({exc.strerror or exc})")
        return
    with handle:
        reader = csv.reader(handle)
        try:
            header = [h.strip().lower() for h in next(reader, [])]
            while header and not header[-1]:
                header.pop()
            if not _header_ok(path, header, required, optional, problems):
                return
            for number, cells in enumerate(reader, start=2):
                cells = [c.strip() for c in cells]
                if not any(cells):
                    continue
                if any(cells[len(header) :]):
                    problems.add(path, number, None, "a value in a column without a header")
                    continue
                yield number, dict(zip(header, cells, strict=False))
        except UnicodeDecodeError:
            problems.add(path, 0, None, "not UTF-8 text; save the file as CSV UTF-8")
        except (OSError, EOFError, zlib.error) as exc:  # a damaged or truncated gzip file
            what = "gzip file" if packed else "file"
            problems.add(path, 0, None, f"not a readable {what} ({exc or type(exc).__name__})")
        except csv.Error as exc:
            problems.add(path, reader.line_num, None, f"not a readable CSV row ({exc})")


def _header_ok(
    path: str,
    header: list[str],
    required: tuple[str, ...],
    optional: tuple[str, ...],
    problems: _Problems,
) -> bool:
    expected = ", ".join(required) + "".join(f"[, {c}]" for c in optional)
    if not header:
        problems.add(path, 0, None, f"the file is empty (expected the columns {expected})")
        return False
    if len(header) == 1 and (sep := next((d for d in ";\t|" if d in header[0]), None)):
        problems.add(
            path,
            1,
            None,
            f"one column named {header[0][:80]!r}: the file is separated by {sep!r}, not "
            f"commas; save it as comma-separated CSV (expected the columns {expected})",
        )
        return False
    ok = True
    for column in sorted({c for c in header if header.count(c) > 1}):
        problems.add(path, 1, column, "appears more than once in the header")
        ok = False
    for column in header:
        if column not in required + optional:
            problems.add(path, 1, column or "(empty)", f"unknown column (expected {expected})")
            ok = False
    for column in required:
        if column not in header:
            problems.add(path, 1, column, f"missing column (expected {expected})")
            ok = False
    return ok


def _read_homes(path: str, devices: dict[str, datetime], problems: _Problems) -> dict[str, Home]:
    homes: dict[str, Home] = {}
    for number, row in _rows(path, HOME_COLUMNS, (), problems):
        uid = row.get("device_id", "")
        if not uid:
            problems.add(path, number, "device_id", "required")
            continue
        if uid in homes:
            problems.add(path, number, "device_id", f"device {uid!r} has a home already")
            continue
        if uid not in devices:
            problems.add(path, number, "device_id", f"unknown device {uid!r}: not in the input")
            continue
        values = [
            _home_number(path, number, row, col, lo, hi, problems)
            for col, lo, hi in (("lat", -90, 90), ("lon", -180, 180), ("radius_m", 1, MAX_RADIUS_M))
        ]
        if None not in values:
            lat, lon, radius = values
            homes[uid] = Home(lat, lon, round(radius))
    if not problems.items:
        for uid in devices:
            if uid not in homes:
                problems.add(path, 0, None, f"device {uid!r} of the input has no home here")
    return homes


def _home_number(
    path: str, number: int, row: dict[str, str], column: str, lo: float, hi: float, problems
) -> float | None:
    text = row.get(column, "")
    if not text:
        problems.add(path, number, column, "required")
        return None
    try:
        value = float(text)
    except ValueError:
        problems.add(path, number, column, f"not a number (got {text[:40]!r})")
        return None
    if not math.isfinite(value) or not lo <= value <= hi:
        problems.add(path, number, column, f"out of range ({lo} to {hi}; got {text[:40]})")
        return None
    return value
