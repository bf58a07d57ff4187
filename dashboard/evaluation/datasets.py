"""Household electricity histories for the detection evaluation: real traces and the demo city.

Every history becomes a :class:`Trace`: mean watts per sampling interval at regular times. Real
homes abroad are *relocated* to Seoul: their local wall-clock times are written as Seoul times, so
a London breakfast at 07:30 is replayed as 07:30 in Seoul (the product learns routines on Seoul
time). Daylight saving leaves a one-hour gap in spring and a repeated hour in autumn; the repeat
is dropped. Energy per interval (kWh) is converted to mean watts over that interval.

The loaders are forgiving in what they read (padded values, ``?`` and empty cells, meter resets,
repeated rows) and count what they dropped, because a evaluation that dies on one bad line of a
three-year file is useless, and one that hides what it dropped is dishonest.
"""

from __future__ import annotations

import csv
import itertools
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

SEOUL = timedelta(hours=9)  # no daylight saving time in Seoul since 1988
DEFAULT_ROOT = Path(__file__).resolve().parents[3] / "shared" / "realdata" / "electricity"
MAX_GAP_S = 12 * 3600  # longer holes in a recording split it into separate home-periods


class DatasetError(ValueError):
    """A data file is missing or unreadable as a whole; the message names the file."""


@dataclass(frozen=True)
class Trace:
    """One household's readings: ``ts`` epoch seconds (Seoul wall clock), mean ``watts``.

    ``lux`` is the room's light where the trace has one (the demo city); ``unattended_lux`` is
    the light the same room would show at each reading with nobody in it (the floor plus that
    day's daylight, no lamp, no TV glow, no sensor noise), where the trace knows it: the demo's
    generator does, a recording cannot. Incidents write it in after a person stops.
    """

    home: str
    source: str
    step_s: int
    ts: np.ndarray  # int64, strictly increasing
    watts: np.ndarray  # float64, >= 0
    lux: np.ndarray | None = None
    unattended_lux: np.ndarray | None = None
    dropped: int = 0  # input rows that could not be used
    notes: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if len(self.ts) != len(self.watts) or any(
            a is not None and len(a) != len(self.ts) for a in (self.lux, self.unattended_lux)
        ):
            raise ValueError(f"{self.home}: columns of different lengths")
        if len(self.ts) > 1 and not bool(np.all(np.diff(self.ts) > 0)):
            raise ValueError(f"{self.home}: timestamps are not strictly increasing")

    @property
    def days(self) -> float:
        return (
            0.0 if len(self.ts) == 0 else (int(self.ts[-1]) - int(self.ts[0]) + self.step_s) / 86400
        )

    def window(self, start: int, end: int) -> Trace:
        """Readings with ``start <= ts < end``."""
        keep = (self.ts >= start) & (self.ts < end)
        return replace(
            self,
            ts=self.ts[keep],
            watts=self.watts[keep],
            lux=None if self.lux is None else self.lux[keep],
            unattended_lux=None if self.unattended_lux is None else self.unattended_lux[keep],
        )


def wall_to_seoul(wall: Iterable[datetime]) -> np.ndarray:
    """Epoch seconds of naive wall-clock times read as Seoul times."""
    return np.array(
        [int((w.replace(tzinfo=UTC) - SEOUL).timestamp()) for w in wall], dtype=np.int64
    )


def _finish(
    home: str, source: str, step_s: int, ts: list[int], watts: list[float], dropped: int
) -> Trace:
    """Sort, drop repeated times (a DST autumn hour, a duplicated row) and negative values."""
    t = np.asarray(ts, dtype=np.int64)
    w = np.asarray(watts, dtype=np.float64)
    order = np.argsort(t, kind="stable")
    t, w = t[order], w[order]
    first = np.ones(len(t), dtype=bool)
    first[1:] = np.diff(t) > 0
    good = first & np.isfinite(w) & (w >= 0)
    dropped += int((~good).sum())
    return Trace(home, source, step_s, t[good], w[good], dropped=dropped)


def _number(text: str) -> float | None:
    text = text.strip()
    if not text or text in {"?", "Null", "null", "NaN", "nan"}:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _rows(path: Path, delimiter: str = ",") -> Iterable[list[str]]:
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.reader(fh, delimiter=delimiter)
        header = next(reader, None)
        if header is None:
            raise DatasetError(f"{path}: empty file")
        yield [h.strip() for h in header]
        yield from reader


# Low Carbon London's two published layouts: the per-block files (``halfhourly_dataset``) and
# the original full file (``CC_LCL-FullData.csv``, with the tariff column).
LONDON_HEADERS = (
    ["LCLid", "tstp", "energy(kWh/hh)"],
    ["LCLid", "stdorToU", "DateTime", "KWH/hh (per half hour)"],
)


def load_london_file(path: Path) -> list[Trace]:
    """Low Carbon London: ``LCLid, tstp, energy(kWh/hh)`` (or the original file's ``LCLid,
    stdorToU, DateTime, KWH/hh (per half hour)``); times are GMT, half-hourly. One trace per
    household (``LCLid``): the published block files hold about fifty homes each, and one home
    made of them all would be no home at all."""
    rows = _rows(path)
    header = next(rows)
    layout = next((h for h in LONDON_HEADERS if header[: len(h)] == h), None)
    if layout is None:
        expected = " or ".join(", ".join(h) for h in LONDON_HEADERS)
        raise DatasetError(f"{path}: expected columns {expected}, got {header}")
    at, value = (1, 2) if len(layout) == 3 else (2, 3)
    london = ZoneInfo("Europe/London")
    homes: dict[str, tuple[list, list, list[int]]] = {}
    for row in rows:
        home = (row[0].strip() if row else "") or path.stem
        walls, watts, dropped = homes.setdefault(home, ([], [], [0]))
        kwh = _number(row[value]) if len(row) > value else None
        try:
            utc = datetime.fromisoformat(row[at].strip()).replace(tzinfo=UTC)
        except (ValueError, IndexError):
            utc = None
        if kwh is None or utc is None:
            dropped[0] += 1
            continue
        walls.append(utc.astimezone(london).replace(tzinfo=None))
        watts.append(kwh * 1000 * 2)  # kWh per half hour -> mean W
    if not homes:
        raise DatasetError(f"{path}: no readings below the header")
    return [
        _finish(f"london/{home}", "london", 1800, list(wall_to_seoul(w)), kw, dropped[0])
        for home, (w, kw, dropped) in sorted(homes.items())
    ]


def load_london(path: Path) -> Trace:
    """:func:`load_london_file` for a file holding one household."""
    traces = load_london_file(path)
    if len(traces) > 1:
        raise DatasetError(f"{path}: holds {len(traces)} households; use load_london_file")
    return traces[0]


def load_hue(path: Path, home: str = "hue/residential_1") -> Trace:
    """HUE (BC Hydro): ``date (M/D/YYYY), hour (0-23), energy_kWh``, local wall clock."""
    rows = _rows(path)
    header = next(rows)
    if header[:3] != ["date", "hour", "energy_kWh"]:
        raise DatasetError(f"{path}: expected columns date, hour, energy_kWh, got {header}")
    walls, watts, dropped = [], [], 0
    for row in rows:
        try:
            day = datetime.strptime(row[0].strip(), "%m/%d/%Y")
            hour = int(row[1])
        except (ValueError, IndexError):
            dropped += 1
            continue
        kwh = _number(row[2]) if len(row) >= 3 else None
        if kwh is None or not 0 <= hour <= 23:
            dropped += 1
            continue
        walls.append(day + timedelta(hours=hour))
        watts.append(kwh * 1000)  # kWh per hour -> mean W
    return _finish(home, "hue", 3600, list(wall_to_seoul(walls)), watts, dropped)


def load_opsd(path: Path, column: str = "grid_import", keep_interpolated: bool = True) -> Trace:
    """Open Power System Data household: hourly *cumulative* kWh meters, differenced.

    ``grid_import`` is the house load as its meter sees it. The publisher's interpolation over
    short gaps (a few hours, flagged in ``interpolated_values``) is kept: differenced, it spreads
    the energy the meter did measure over the gap evenly, as a meter with a longer interval
    would; without it a third of the hours would be holes. An hour counts only when both of its
    ends are readings one hour apart; a negative step (a meter reset) is dropped.
    """
    rows = _rows(path)
    header = next(rows)
    names = [h for h in header if h.endswith("_" + column)]
    if "cet_cest_timestamp" not in header or len(names) != 1:
        raise DatasetError(f"{path}: expected cet_cest_timestamp and one *_{column} column")
    name = names[0]
    j, jt = header.index(name), header.index("cet_cest_timestamp")
    jflag = header.index("interpolated_values") if "interpolated_values" in header else None
    walls, cum, dropped = [], [], 0
    for row in rows:
        value = _number(row[j]) if len(row) > j else None
        interpolated = (
            not keep_interpolated and jflag is not None and len(row) > jflag and name in row[jflag]
        )
        try:
            wall = datetime.fromisoformat(row[jt].strip()).replace(tzinfo=None)
        except (ValueError, IndexError):
            wall = None
        if value is None or interpolated or wall is None:
            dropped += 1
            continue
        walls.append(wall)
        cum.append(value)
    t = wall_to_seoul(walls)
    c = np.asarray(cum, dtype=np.float64)
    pair = (np.diff(t) == 3600) & (np.diff(c) >= 0)  # a negative step is a meter reset
    dropped += int((~pair).sum())
    ts = list(t[:-1][pair])
    watts = list(np.diff(c)[pair] * 1000)
    stem = path.stem.removeprefix("opsd_household_").removesuffix("_60min")
    return _finish(f"opsd/{stem}", "opsd", 3600, ts, watts, dropped)


def load_uci(path: Path, step_s: int = 600) -> Trace:
    """UCI household power: 1-minute ``Global_active_power`` (kW), averaged to ``step_s``.

    An interval is kept only when at least half of its minutes were recorded.
    """
    rows = _rows(path, delimiter=";")
    header = next(rows)
    if header[:3] != ["Date", "Time", "Global_active_power"]:
        raise DatasetError(f"{path}: expected columns Date;Time;Global_active_power, got {header}")
    buckets: dict[datetime, list[float]] = {}
    dropped = 0
    for row in rows:
        try:
            wall = datetime.strptime(f"{row[0]} {row[1]}", "%d/%m/%Y %H:%M:%S")
        except (ValueError, IndexError):
            dropped += 1
            continue
        kw = _number(row[2]) if len(row) > 2 else None
        if kw is None:
            dropped += 1
            continue
        start = wall - timedelta(seconds=(wall.minute * 60 + wall.second) % step_s)
        buckets.setdefault(start, []).append(kw * 1000)
    need = step_s // 60 // 2
    keys = sorted(k for k, v in buckets.items() if len(v) >= max(need, 1))
    dropped += sum(len(v) for k, v in buckets.items() if len(v) < max(need, 1))
    watts = [float(np.mean(buckets[k])) for k in keys]
    return _finish("uci/household", "uci", step_s, list(wall_to_seoul(keys)), watts, dropped)


def hourly_means(trace: Trace) -> Trace:
    """``trace`` as an hourly meter would have read it: the mean of each whole clock hour,
    stamped at the hour's start (as the HUE and German meters are), named ``home@1h``. An hour
    missing any of its readings is left out (a recorder's hole stays a hole)."""
    hour = trace.ts - trace.ts % 3600
    starts, index, counts = np.unique(hour, return_inverse=True, return_counts=True)
    sums = np.bincount(index, weights=trace.watts, minlength=len(starts))
    whole = counts == max(1, 3600 // trace.step_s)
    return replace(
        trace,
        home=f"{trace.home}@1h",
        step_s=3600,
        ts=starts[whole].astype(np.int64),
        watts=sums[whole] / counts[whole],
        lux=None,
        unattended_lux=None,
        dropped=0,
    )


def split_at_gaps(trace: Trace, max_gap_s: int = MAX_GAP_S, min_days: float = 0) -> list[Trace]:
    """Pieces of ``trace`` between holes longer than ``max_gap_s``, each at least ``min_days``.

    A long hole is the recording's, not the home's: replaying through it would count the
    recorder's outage as a person's silence. Pieces after the first are named ``home#2``, ….
    """
    if len(trace.ts) == 0:
        return []
    cuts = np.nonzero(np.diff(trace.ts) > max_gap_s)[0] + 1
    bounds = [0, *cuts.tolist(), len(trace.ts)]
    pieces = []
    for k, (a, b) in enumerate(itertools.pairwise(bounds)):
        piece = replace(
            trace,
            home=trace.home if k == 0 else f"{trace.home}#{k + 1}",
            ts=trace.ts[a:b],
            watts=trace.watts[a:b],
            lux=None if trace.lux is None else trace.lux[a:b],
            unattended_lux=None if trace.unattended_lux is None else trace.unattended_lux[a:b],
        )
        if piece.days >= min_days:
            pieces.append(piece)
    return pieces


def demo_traces(n: int, days: int, seed: int, end: datetime | None = None) -> list[Trace]:
    """``n`` demo-city plug households: hourly TV power and room light from the demo's own
    generator (``dashboard.demo.routines.tv_household_parts``, the same draws as
    ``tv_household``), one reading per hour at a fixed minute per plug, as
    ``dashboard.demo.plugs`` times them, with the light each room shows when nobody is in it."""
    from dashboard.demo.clock import HOUR, TimeGrid
    from dashboard.demo.routines import tv_household_parts

    end = end or datetime(2024, 6, 30, 14, 59, tzinfo=UTC)  # 23:59 in Seoul: whole days
    grid = TimeGrid.make(end, days)
    rng = np.random.default_rng(seed)
    power, lux, unattended = tv_household_parts(rng, grid, n)
    minute = rng.integers(0, HOUR // 60, n) * 60
    slots = grid.slot_start()[: grid.hours]
    return [
        Trace(
            home=f"demo/plug-{i + 1:02d}",
            source="demo",
            step_s=HOUR,
            ts=slots + int(minute[i]),
            watts=power[i, : grid.hours].astype(np.float64),
            lux=lux[i, : grid.hours].astype(np.float64),
            unattended_lux=unattended[i, : grid.hours].astype(np.float64),
        )
        for i in range(n)
    ]


def load_real(root: Path = DEFAULT_ROOT) -> tuple[list[Trace], list[str]]:
    """Every real trace under ``root`` that can be read, and a note for each that cannot."""
    loaders = [
        *((load_london_file, p) for p in sorted((root / "london_2013_halfhourly").glob("*.csv"))),
        (lambda p: [load_hue(p)], root / "hue_residential_1_hourly.csv"),
        (lambda p: [load_opsd(p)], root / "opsd_household_DE_KN_residential4_60min.csv"),
    ]
    traces, notes = [], []
    for load, path in loaders:
        try:
            traces.extend(load(path))
        except DatasetError as exc:
            notes.append(str(exc))
    if not (root / "london_2013_halfhourly").is_dir():
        notes.append(f"{root / 'london_2013_halfhourly'}: no such folder")
    return traces, notes
