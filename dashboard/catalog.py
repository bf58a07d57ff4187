"""The catalog: administrative regions, programs and device types, loaded from ``data/*.csv``.

``programs.csv`` also says which device types each device program uses (``device_types``,
codes separated by ``;``). That pairing is read from the file, not stored in the database:
registering, replacing and importing devices ask :func:`program_device_types`.

Loading only inserts rows whose code is missing; an existing row is never rewritten or deleted,
so an operator's edits in the database survive a re-run. Each CSV is validated first and a bad
cell is reported with its file, line and column.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, insert, select

from dashboard.db.schema import DeviceType, Program, Region
from dashboard.db.schema.places import REGION_LEVELS

DATA_DIR = Path(__file__).resolve().parent.parent / "data"
REGION_CODE = re.compile(r"^\d{10}$")
PROGRAM_KINDS = ("device", "participation")
TYPE_SEPARATOR = ";"


class CatalogError(ValueError):
    """A catalog CSV is malformed; the message names the file, line and column."""

    def __init__(self, path: Path, line: int, column: str | None, message: str) -> None:
        where = f"{path.name}, line {line}" + (f", column {column!r}" if column else "")
        super().__init__(f"{where}: {message}")
        self.path, self.line, self.column = path, line, column


@dataclass(frozen=True)
class RegionRow:
    code: str
    level: str
    name_ko: str
    name_en: str
    parent_code: str | None
    lat: float | None
    lon: float | None
    one_person_65plus: int | None  # MOIS 2025-01; used to weight where demo households live


def _read(path: Path, required: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    if not path.exists():
        raise CatalogError(path, 0, None, "file not found")
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.DictReader(fh)
        header = reader.fieldnames or []
        for col in required:
            if col not in header:
                raise CatalogError(path, 1, col, "missing column in header")
        # Line numbers are the physical CSV lines (header is line 1).
        return [
            (i + 2, {k: (v or "").strip() for k, v in row.items()}) for i, row in enumerate(reader)
        ]


def _cell(path: Path, line: int, row: dict[str, str], col: str, parse: Callable[[str], Any]) -> Any:
    raw = row.get(col, "")
    try:
        return parse(raw)
    except (ValueError, TypeError) as exc:
        raise CatalogError(path, line, col, f"{exc} (got {raw!r})") from None


def _required(raw: str) -> str:
    if not raw:
        raise ValueError("value required")
    return raw


def _optional_float(lo: float, hi: float) -> Callable[[str], float | None]:
    def parse(raw: str) -> float | None:
        if not raw:
            return None
        value = float(raw)
        if not math.isfinite(value) or not lo <= value <= hi:
            raise ValueError(f"must be between {lo} and {hi}")
        return value

    return parse


def _optional_int(raw: str) -> int | None:
    if not raw:
        return None
    value = int(raw)
    if value < 0:
        raise ValueError("must not be negative")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive integer")
    return value


def _one_of(options: tuple[str, ...]) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in options:
            raise ValueError(f"must be one of {', '.join(options)}")
        return raw

    return parse


def _region_code(raw: str) -> str:
    if not REGION_CODE.match(raw):
        raise ValueError("must be a 10-digit administrative code")
    return raw


def _optional_date(raw: str) -> date | None:
    return date.fromisoformat(raw) if raw else None


def read_regions(data_dir: Path | None = None) -> list[RegionRow]:
    """Parse and validate ``regions.csv`` (parents must exist, codes unique)."""
    path = (data_dir or DATA_DIR) / "regions.csv"
    cols = ("code", "level", "name_ko", "name_en", "parent_code", "lat", "lon")
    out: list[RegionRow] = []
    seen: dict[str, str] = {}
    for line, row in _read(path, cols):
        code = _cell(path, line, row, "code", _region_code)
        if code in seen:
            raise CatalogError(path, line, "code", f"duplicate code {code}")
        level = _cell(path, line, row, "level", _one_of(REGION_LEVELS))
        parent = _cell(path, line, row, "parent_code", lambda r: _region_code(r) if r else None)
        if (parent is None) != (level == "province"):
            raise CatalogError(path, line, "parent_code", "only provinces have no parent")
        if parent is not None and parent not in seen:
            raise CatalogError(path, line, "parent_code", f"parent {parent} not defined above")
        if parent is not None and REGION_LEVELS.index(seen[parent]) >= REGION_LEVELS.index(level):
            raise CatalogError(path, line, "parent_code", f"parent {parent} is not above {level}")
        seen[code] = level
        out.append(
            RegionRow(
                code=code,
                level=level,
                name_ko=_cell(path, line, row, "name_ko", _required),
                name_en=_cell(path, line, row, "name_en", _required),
                parent_code=parent,
                lat=_cell(path, line, row, "lat", _optional_float(33.0, 39.0)),
                lon=_cell(path, line, row, "lon", _optional_float(124.0, 132.0)),
                one_person_65plus=_cell(path, line, row, "one_person_65plus", _optional_int),
            )
        )
    return out


def read_programs(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Parse and validate ``programs.csv``; region codes are checked against the database."""
    path = (data_dir or DATA_DIR) / "programs.csv"
    cols = (
        "code", "kind", "region_code", "name_ko", "name_en", "owner_ko", "started_on",
        "device_types",
    )  # fmt: skip
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line, row in _read(path, cols):
        code = _cell(path, line, row, "code", _required)
        if code in seen:
            raise CatalogError(path, line, "code", f"duplicate code {code}")
        seen.add(code)
        kind = _cell(path, line, row, "kind", _one_of(PROGRAM_KINDS))
        out.append(
            {
                "_line": line,
                "code": code,
                "kind": kind,
                "region_code": _cell(path, line, row, "region_code", _region_code),
                "name_ko": _cell(path, line, row, "name_ko", _required),
                "name_en": _cell(path, line, row, "name_en", _required),
                "owner_ko": row.get("owner_ko") or None,
                "started_on": _cell(path, line, row, "started_on", _optional_date),
                "description_ko": row.get("description_ko") or None,
                "_device_types": _cell(path, line, row, "device_types", _type_list(kind)),
            }
        )
    return out


def _type_list(kind: str) -> Callable[[str], tuple[str, ...]]:
    """A device program names the device types it uses; a participation program names none."""

    def parse(raw: str) -> tuple[str, ...]:
        codes = tuple(c.strip() for c in raw.split(TYPE_SEPARATOR) if c.strip())
        if kind == "device" and not codes:
            raise ValueError(
                f"a device program names its device types ({TYPE_SEPARATOR}-separated)"
            )
        if kind != "device" and codes:
            raise ValueError("a participation program has no devices")
        if len(set(codes)) != len(codes):
            raise ValueError("a device type is named twice")
        return codes

    return parse


def _check_pairing(
    data_dir: Path, programs: list[dict[str, Any]], device_types: list[dict[str, Any]]
) -> None:
    known = {t["code"] for t in device_types}
    for p in programs:
        unknown = [c for c in p["_device_types"] if c not in known]
        if unknown:
            raise CatalogError(
                data_dir / "programs.csv",
                p["_line"],
                "device_types",
                f"unknown device type {unknown[0]!r} (not in device_types.csv)",
            )


def read_program_device_types(data_dir: Path | None = None) -> dict[str, tuple[str, ...]]:
    """Device program code → the device types it uses, validated against device_types.csv."""
    data_dir = data_dir or DATA_DIR
    programs = read_programs(data_dir)
    _check_pairing(data_dir, programs, read_device_types(data_dir))
    return {p["code"]: p["_device_types"] for p in programs if p["kind"] == "device"}


@lru_cache(maxsize=1)
def _shipped_pairing() -> dict[str, tuple[str, ...]]:
    return read_program_device_types(DATA_DIR)


def program_device_types(program_code: str) -> tuple[str, ...] | None:
    """The device types ``program_code`` uses, by the catalog; None when the catalog file does
    not list the program (one added to the database by hand): then no type is refused for it."""
    return _shipped_pairing().get(program_code)


def pairing_refusal(program_code: str, type_code: str) -> str | None:
    """Why a ``type_code`` device cannot be in ``program_code`` (None: it can)."""
    uses = program_device_types(program_code)
    if uses is None or type_code in uses:
        return None
    return (
        f"program {program_code!r} does not use {type_code!r} devices (it uses: {', '.join(uses)})"
    )


def read_device_types(data_dir: Path | None = None) -> list[dict[str, Any]]:
    """Parse and validate ``device_types.csv``."""
    path = (data_dir or DATA_DIR) / "device_types.csv"
    cols = ("code", "name_ko", "name_en", "heartbeat_timeout_s")
    out: list[dict[str, Any]] = []
    seen: set[str] = set()
    for line, row in _read(path, cols):
        code = _cell(path, line, row, "code", _required)
        if code in seen:
            raise CatalogError(path, line, "code", f"duplicate code {code}")
        seen.add(code)
        out.append(
            {
                "code": code,
                "name_ko": _cell(path, line, row, "name_ko", _required),
                "name_en": _cell(path, line, row, "name_en", _required),
                "heartbeat_timeout_s": _cell(path, line, row, "heartbeat_timeout_s", _positive_int),
            }
        )
    return out


def region_ids(conn: Connection) -> dict[str, int]:
    """Map of region code → id."""
    return dict(conn.execute(select(Region.code, Region.id)).tuples().all())


def program_ids(conn: Connection) -> dict[str, int]:
    """Map of program code → id."""
    return dict(conn.execute(select(Program.code, Program.id)).tuples().all())


def load_catalog(conn: Connection, data_dir: Path | None = None) -> dict[str, int]:
    """Insert missing regions, programs and device types; return how many of each were added.

    All three CSVs are validated before anything is written. Existing rows (matched by code)
    are left exactly as they are.
    """
    data_dir = data_dir or DATA_DIR
    regions = read_regions(data_dir)
    programs = read_programs(data_dir)
    device_types = read_device_types(data_dir)
    _check_pairing(data_dir, programs, device_types)

    ids = region_ids(conn)
    known = set(ids) | {r.code for r in regions}
    for p in programs:
        if p["region_code"] not in known:
            path = data_dir / "programs.csv"
            raise CatalogError(
                path, p["_line"], "region_code", f"unknown region {p['region_code']}"
            )

    added = {"regions": 0, "programs": 0, "device_types": 0}
    # One level at a time so every parent has an id before its children are inserted.
    for level in REGION_LEVELS:
        rows = [
            {
                "code": r.code,
                "level": r.level,
                "name_ko": r.name_ko,
                "name_en": r.name_en,
                "parent_id": ids[r.parent_code] if r.parent_code else None,
                "lat": r.lat,
                "lon": r.lon,
            }
            for r in regions
            if r.level == level and r.code not in ids
        ]
        if rows:
            conn.execute(insert(Region), rows)
            added["regions"] += len(rows)
            ids = region_ids(conn)

    existing_programs = set(program_ids(conn))
    rows = [
        {k: v for k, v in p.items() if not k.startswith("_") and k != "region_code"}
        | {"region_id": ids[p["region_code"]]}
        for p in programs
        if p["code"] not in existing_programs
    ]
    if rows:
        conn.execute(insert(Program), rows)
        added["programs"] = len(rows)

    existing_types = set(conn.execute(select(DeviceType.code)).scalars())
    rows = [t for t in device_types if t["code"] not in existing_types]
    if rows:
        conn.execute(insert(DeviceType), rows)
        added["device_types"] = len(rows)
    return added
