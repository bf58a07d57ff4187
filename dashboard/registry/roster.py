"""Bulk roster import: people and devices from the city's own CSV or Excel lists.

Every row is checked (cells, then against the catalog and what is stored) and compared with the
database: a plan of new, changed (which fields) and unchanged rows. A file with any problem is
refused whole and stores nothing; a clean file is stored in one transaction with one audit row
(counts, file name and size, never a personal value). People are matched by ``external_ref``
and devices by ``device_id``, so importing an updated roster again updates in place, and the
same file twice changes nothing the second time.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser, personal_data_scope
from dashboard.catalog import pairing_refusal, program_device_types
from dashboard.db.schema import Alert, CareRecipient, Device, DeviceType, Program, Region
from dashboard.ingest.files import RowError, no_rows, read_table, value_without_header
from dashboard.ingest.vendors import known_vendors
from dashboard.registry.columns import (
    DEVICE_COLUMNS,
    DEVICE_FIELDS,
    PEOPLE_COLUMNS,
    PEOPLE_FIELDS,
    Column,
)
from dashboard.registry.duplicates import identity, pair, suspected_pairs
from dashboard.registry.header import find_header, normalise
from dashboard.rules.schedule import judge_again
from dashboard.settings import LOCAL_TZ

PERMISSION = "manage_roster"
ENTITY = "roster_import"
NEW_HOUSEHOLD = "alone"  # no roster column: new people start as one-person households
_CHUNK = 500  # ids per IN (...) when reading what is stored
# Its rules watch a zone around the home (or a polygon): without either, nothing (docs/rules.md).
WANDERING_TYPE = "wandering_detector"


@dataclass(frozen=True)
class RosterKind:
    name: str  # "people" or "devices"
    columns: tuple[Column, ...]
    key: str  # the column that identifies a row
    audit_action: str


PEOPLE = RosterKind("people", PEOPLE_COLUMNS, "external_ref", "roster_import_people")
DEVICES = RosterKind("devices", DEVICE_COLUMNS, "device_id", "roster_import_devices")
KINDS = {k.name: k for k in (PEOPLE, DEVICES)}


@dataclass(frozen=True)
class DuplicateWarning:
    """Row ``row`` (대상자번호 ``ref``) may be the person enrolled as ``other_ref`` (stored, or
    on row ``other_row`` of the same file): same city, name and birth year, and ``keys``. The
    row is imported all the same; a lead who knows better marks the pair as different people.
    Names keys, never values (the terminal may be shared)."""

    row: int
    ref: str
    other_ref: str
    other_row: int | None
    keys: tuple[str, ...]

    def __str__(self) -> str:
        where = f" on row {self.other_row}" if self.other_row is not None else ""
        return (
            f"row {self.row} ({self.ref}): possibly the same person as {self.other_ref}{where} "
            f"(same name and birth year; same {', '.join(self.keys)})"
        )


@dataclass
class RosterReport:
    """What an import found and did; ``changed`` holds (row key, changed field names)."""

    kind: str
    filename: str
    size: int
    rows: int = 0
    new: list[str] = field(default_factory=list)
    changed: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[RowError] = field(default_factory=list)
    stored: bool = False
    dry_run: bool = False
    # Wanderers the file leaves without a safe zone (no home, no polygon): keys, for a note.
    no_zone: list[str] = field(default_factory=list)
    # Rows that may be a person enrolled under another 대상자번호: warnings, never refusals.
    duplicates: list[DuplicateWarning] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def preview(self) -> str:
        return (
            f"{self.filename}: {self.rows} row(s) of {self.kind}: {len(self.new)} new, "
            f"{len(self.changed)} changed, {self.unchanged} unchanged"
        )

    def summary(self, max_lines: int = 200) -> str:
        """The preview, the changed rows' field names (no values), then the outcome."""
        if not self.ok:
            lines = [f"{self.filename}: {len(self.errors)} problem(s); nothing was stored"]
            lines += [f"  {error}" for error in self.errors[:max_lines]]
            if len(self.errors) > max_lines:
                lines.append(f"  … and {len(self.errors) - max_lines} more")
            return "\n".join(lines)
        lines = [self.preview()]
        if self.no_zone:
            lines.append(self.no_zone_note())
        if self.duplicates:
            lines.append(self.duplicates_note())
            lines += [f"  {warning}" for warning in self.duplicates[:max_lines]]
            if len(self.duplicates) > max_lines:
                lines.append(f"  … and {len(self.duplicates) - max_lines} more")
        for key, fields in self.changed[:max_lines]:
            lines.append(f"  changed {key}: {', '.join(fields)}")
        if len(self.changed) > max_lines:
            lines.append(f"  … and {len(self.changed) - max_lines} more changed")
        if self.stored:
            lines.append("stored")
        elif self.ok and not self.new and not self.changed:
            lines.append("nothing to change: the database already matches the file")
        elif self.dry_run:
            lines.append("dry run: the file is valid; nothing was stored")
        return "\n".join(lines)

    def no_zone_note(self) -> str:
        shown = ", ".join(self.no_zone[:5]) + (", …" if len(self.no_zone) > 5 else "")
        return (
            f"note: {len(self.no_zone)} wandering-detector wearer(s) without a home position "
            f"({shown}): no safe zone, so no exit alerts until a lead sets the home or a zone "
            "on 대상자 관리 (or the roster gives 위도/경도)"
        )

    @property
    def duplicate_rows(self) -> int:
        """Rows with a warning (a row may match several others)."""
        return len({warning.row for warning in self.duplicates})

    def duplicates_note(self) -> str:
        return (
            f"warning: {self.duplicate_rows} row(s) may be a person already enrolled under "
            "another 대상자번호 (imported all the same; check them on 대상자 관리, where a lead "
            "marks people who are not the same as 다른 사람):"
        )

    def audit_detail(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "bytes": self.size,
            "rows": self.rows,
            "new": len(self.new),
            "changed": len(self.changed),
            "unchanged": self.unchanged,
        }


@dataclass
class _Row:
    number: int  # the spreadsheet row
    values: dict[str, Any]  # roster key -> parsed value (None: blank)
    headers: dict[str, str]  # roster key -> the header as written in the file
    invalid: set[str] = field(default_factory=set)  # keys whose cell was refused
    stored_id: int | None = None  # people: the stored person with this row's external_ref


def import_people(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
) -> RosterReport:
    """Check and (unless ``dry_run`` or refused) store a people roster; needs ``manage_roster``."""
    return import_roster(engine, PEOPLE, data, filename, principal, now, dry_run=dry_run)


def import_devices(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
) -> RosterReport:
    """Check and (unless ``dry_run`` or refused) store a device roster; needs ``manage_roster``."""
    return import_roster(engine, DEVICES, data, filename, principal, now, dry_run=dry_run)


def import_roster(
    engine: Engine,
    kind: RosterKind,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
    personal_fields: bool | None = None,
) -> RosterReport:
    """All or nothing in one transaction, audited when stored. Refusals, dry runs and files that
    match the database change nothing and are not audited (the audit log records changes).

    The report names the fields that change per row; the personal ones (:data:`PERSONAL_KEYS`)
    only for a principal who may see personal data (``personal_fields`` None: decided by the
    principal's role), else as one ``personal_data`` marker: the preview of a file of guessed
    names would otherwise tell an admin whose name each guess is."""
    actor = require(principal, PERMISSION).username
    if personal_fields is None:
        personal_fields = personal_data_scope(principal) != ()
    try:
        with engine.begin() as conn:
            report, plan = check_roster(conn, kind, data, filename, now)
            report.dry_run = dry_run
            if not personal_fields:
                report.changed = [(key, _personal_as_one(f)) for key, f in report.changed]
            if report.ok and not dry_run and plan:
                if kind is DEVICES:
                    _registered(plan, now)
                _apply(conn, kind, plan)
                write_audit(
                    conn,
                    at=now,
                    actor=actor,
                    action=kind.audit_action,
                    entity_type=ENTITY,
                    entity_id=filename,
                    detail=report.audit_detail(),
                )
                report.stored = True
    except IntegrityError:  # another import stored the same ids meanwhile: rolled back
        report = RosterReport(kind.name, filename, len(data), dry_run=dry_run)
        report.errors.append(
            RowError(
                0,
                None,
                "the roster changed while importing; nothing was stored, try again",
                "conflict",
            )
        )
    return report


# Roster keys of personal data (the pii_ columns of PEOPLE_FIELDS).
PERSONAL_KEYS = frozenset(k for k, column in PEOPLE_FIELDS.items() if column.startswith("pii_"))
PERSONAL_MARKER = "personal_data"


def _personal_as_one(fields: tuple[str, ...]) -> tuple[str, ...]:
    """``fields`` with the personal keys replaced by one marker, where the first of them was."""
    out: list[str] = []
    for name in fields:
        name = PERSONAL_MARKER if name in PERSONAL_KEYS else name
        if name not in out:
            out.append(name)
    return tuple(out)


def check_roster(
    conn: Connection, kind: RosterKind, data: bytes, filename: str, now: datetime
) -> tuple[RosterReport, list[dict[str, Any]]]:
    """The report (errors or preview) and, when clean, the planned writes."""
    report = RosterReport(kind.name, filename, len(data))
    try:
        header, table = read_table(data, filename)
    except (ValueError, OSError) as exc:
        report.errors.append(RowError.of(0, None, exc))
        return report, []
    if conn.scalar(select(Region.id).limit(1)) is None:
        report.errors.append(
            RowError(
                0,
                None,
                "the catalog (dongs, programs, device types) is not loaded: run "
                "`python -m dashboard init` first",
                "catalog_not_loaded",
            )
        )
        return report, []
    found = find_header(header, table, {normalise(n) for c in kind.columns for n in (c.key, c.ko)})
    header, table = found.names, found.rows
    positions, errors = _map_header(kind, header, found.row)
    report.errors += errors
    if report.errors:
        return report, []
    today = now.astimezone(LOCAL_TZ).date()
    rows = []
    for number, cells in table:
        row, errors = _parse_row(kind, number, header, positions, cells, today)
        report.errors += errors
        rows.append(row)
    report.rows = len(rows)
    if not rows:
        report.errors.append(no_rows())
        return report, []
    report.errors += _duplicates(kind, rows)
    checker = _plan_people if kind is PEOPLE else _plan_devices
    plan = checker(conn, rows, report)
    report.errors.sort(key=lambda e: (e.row, e.column or ""))
    if kind is PEOPLE and not report.errors:
        report.duplicates = _duplicate_people(conn, rows)
    return report, ([] if report.errors else plan)


def _map_header(
    kind: RosterKind, header: list[str], row: int = 1
) -> tuple[dict[str, int], list[RowError]]:
    by_name = {normalise(c.key): c for c in kind.columns} | {
        normalise(c.ko): c for c in kind.columns
    }
    positions: dict[str, int] = {}
    errors = []
    for index, name in enumerate(header):
        column = by_name.get(normalise(name))
        if name == "":
            errors.append(
                RowError(
                    row,
                    None,
                    f"column {index + 1} has no name",
                    "column_n_no_name",
                    {"n": index + 1},
                )
            )
        elif column is None:
            known = ", ".join(f"{c.ko} ({c.key})" for c in kind.columns)
            errors.append(
                RowError(
                    row,
                    name,
                    f"unknown column (known columns: {known})",
                    "unknown_column",
                    {"known": known},
                )
            )
        elif column.key in positions:
            errors.append(
                RowError(
                    row,
                    name,
                    f"column {column.ko} ({column.key}) appears twice",
                    "column_twice_named",
                    {"ko": column.ko, "key": column.key},
                )
            )
        else:
            positions[column.key] = index
    for column in kind.columns:
        if column.required and column.key not in positions:
            errors.append(
                RowError(
                    row,
                    column.ko,
                    f"required column is missing ({column.ko} or {column.key})",
                    "column_missing_named",
                    {"ko": column.ko, "key": column.key},
                )
            )
    return positions, errors


def _parse_row(
    kind: RosterKind,
    number: int,
    header: list[str],
    positions: dict[str, int],
    cells: list[Any],
    today: date,
) -> tuple[_Row, list[RowError]]:
    row = _Row(number, {}, {})
    errors = []
    if any(not _blank(c) for c in cells[len(header) :]):
        errors.append(value_without_header(number))
    for column in kind.columns:
        index = positions.get(column.key)
        where = header[index] if index is not None else column.ko
        row.headers[column.key] = where
        cell = cells[index] if index is not None and index < len(cells) else None
        if _blank(cell):
            row.values[column.key] = None
            if column.required:
                errors.append(RowError(number, where, "required", "required"))
            continue
        try:
            row.values[column.key] = column.parse(cell, today)
        except ValueError as exc:
            row.values[column.key] = None
            row.invalid.add(column.key)
            errors.append(RowError.of(number, where, exc))
    return row, errors


def _duplicates(kind: RosterKind, rows: list[_Row]) -> list[RowError]:
    first: dict[str, int] = {}
    errors = []
    for row in rows:
        key = row.values[kind.key]
        if key is None:
            continue
        if key in first:
            errors.append(
                RowError(
                    row.number,
                    row.headers[kind.key],
                    f"duplicate {kind.key} {key!r} (also on row {first[key]})",
                    "duplicate",
                    {"value": key, "first": first[key]},
                )
            )
        else:
            first[key] = row.number
    return errors


# --- what the catalog and the database say ------------------------------------------------------


def _dongs(conn: Connection) -> dict[str, tuple[int, str]]:
    return {
        code: (rid, level)
        for code, rid, level in conn.execute(select(Region.code, Region.id, Region.level))
    }


def _programs(conn: Connection) -> dict[str, tuple[int, str]]:
    return {
        code: (pid, kind)
        for code, pid, kind in conn.execute(select(Program.code, Program.id, Program.kind))
    }


def _check_dong(row: _Row, dongs: dict[str, tuple[int, str]], report: RosterReport) -> int | None:
    code = row.values.get("dong_code")
    if code is None:
        return None
    found = dongs.get(code)
    if found is None:
        error = RowError(
            row.number,
            row.headers["dong_code"],
            f"unknown dong {code} (not in the catalog, data/regions.csv)",
            "unknown_dong",
            {"code": code},
        )
    elif found[1] != "dong":
        error = RowError(
            row.number,
            row.headers["dong_code"],
            f"{code} is a {found[1]}, not a dong",
            "not_a_dong",
            {"code": code},
        )
    else:
        return found[0]
    report.errors.append(error)
    return None


def _check_program(
    row: _Row, programs: dict[str, tuple[int, str]], report: RosterReport
) -> int | None:
    code = row.values.get("program")
    if code is None:
        return None
    found = programs.get(code)
    if found is None:
        known = ", ".join(sorted(c for c, (_i, k) in programs.items() if k == "device"))
        error = RowError(
            row.number,
            row.headers["program"],
            f"unknown program {code!r} (device programs: {known or 'none loaded'})",
            "unknown_program",
            {"value": code, "known": known or "–"},
        )
    elif found[1] != "device":
        error = RowError(
            row.number,
            row.headers["program"],
            f"program {code!r} is a participation program; people and devices belong to a "
            "device program",
            "participation_not_device",
            {"value": code},
        )
    else:
        return found[0]
    report.errors.append(error)
    return None


def _stored(conn: Connection, column, keys: Iterable[str], *columns) -> dict[str, Any]:
    keys = sorted(set(keys))
    found = {}
    for start in range(0, len(keys), _CHUNK):
        chunk = keys[start : start + _CHUNK]
        for row in conn.execute(select(column, *columns).where(column.in_(chunk))):
            found[row[0]] = row
    return found


def _compare(planned: dict[str, Any], stored: Any, names: dict[str, str]) -> tuple[str, ...]:
    """Roster keys whose planned column value differs from the stored row."""
    return tuple(key for key, col in names.items() if planned[col] != getattr(stored, col))


def _record(
    report: RosterReport, key: str, stored: Any, planned: dict[str, Any], names: dict[str, str]
) -> dict[str, Any] | None:
    """Count the row as new, changed or unchanged; return the write it needs (None: none)."""
    if stored is None:
        report.new.append(key)
        return {"op": "insert", "values": planned}
    fields = _compare(planned, stored, names)
    if not fields:
        report.unchanged += 1
        return None
    report.changed.append((key, fields))
    return {
        "op": "update",
        "id": stored.id,
        "values": {names[f]: planned[names[f]] for f in fields},
    }


def _check_not_ended(row: _Row, person: Any, report: RosterReport) -> None:
    """An ended enrollment is history: a roster must not write its personal data back (after
    the privacy purge it was cleared on purpose) nor give it devices that would count as live."""
    if person is not None and person.ended_on is not None:
        report.errors.append(
            RowError(
                row.number,
                row.headers["external_ref"],
                f"the enrollment of {row.values['external_ref']!r} ended on "
                f"{person.ended_on:%Y-%m-%d}; a returning person is enrolled under a new "
                "external_ref",
                "enrollment_ended",
                {"ref": row.values["external_ref"], "date": f"{person.ended_on:%Y-%m-%d}"},
            )
        )


def _plan_people(conn: Connection, rows: list[_Row], report: RosterReport) -> list[dict[str, Any]]:
    dongs, programs = _dongs(conn), _programs(conn)
    names = PEOPLE_FIELDS | {"program": "program_id", "dong_code": "region_id"}
    stored = _stored(
        conn,
        CareRecipient.external_ref,
        (r.values["external_ref"] for r in rows if r.values["external_ref"]),
        CareRecipient.id,
        CareRecipient.ended_on,
        CareRecipient.pii_zone_polygon,
        *(getattr(CareRecipient, c) for c in names.values()),
    )
    plan = []
    for row in rows:
        v = row.values
        row.stored_id = getattr(stored.get(v["external_ref"]), "id", None)
        _check_not_ended(row, stored.get(v["external_ref"]), report)
        polygon = getattr(stored.get(v["external_ref"]), "pii_zone_polygon", None)
        if _wanders(v["program"]) and v["home_lat"] is None and not polygon:
            report.no_zone.append(v["external_ref"])
        coordinates_read = not row.invalid & {"home_lat", "home_lon"}
        if coordinates_read and (v["home_lat"] is None) != (v["home_lon"] is None):
            missing = "home_lon" if v["home_lon"] is None else "home_lat"
            report.errors.append(
                RowError(
                    row.number,
                    row.headers[missing],
                    "give both latitude and longitude, or neither",
                    "lat_lon_pair",
                )
            )
        region_id = _check_dong(row, dongs, report)
        program_id = _check_program(row, programs, report)
        if report.errors:
            continue  # keep checking rows, but plan nothing
        planned = {col: v[key] for key, col in PEOPLE_FIELDS.items()}
        planned |= {"program_id": program_id, "region_id": region_id}
        before = stored.get(v["external_ref"])
        write = _record(report, v["external_ref"], before, planned, names)
        if write and write["op"] == "insert":
            write["values"] |= {"external_ref": v["external_ref"], "household": NEW_HOUSEHOLD}
        if write and write["op"] == "update" and "region_id" in write["values"]:
            write["moved_from"] = before.region_id  # their devices in that dong move along
        if write:
            plan.append(write)
    return plan


def _duplicate_people(conn: Connection, rows: list[_Row]) -> list[DuplicateWarning]:
    """Rows that may be a person enrolled under another 대상자번호, stored or on another row
    of the file (docs/roster.md). The file is the state after the import: a stored person the
    file names is compared as the file has them. Two queries whatever the file's size: the
    active people of the file's cities and birth years, and the pairs marked different."""
    # Late import: queries.duplicates imports this package's detection module.
    from queries.duplicates import different_pairs, enrolled

    by_row = {row.number: row for row in rows}
    mine = [
        identity(
            ("row", row.number),
            row.values["dong_code"],
            row.values["name"],
            row.values["birth_year"],
            phone=row.values["phone"],
            address=row.values["address"],
            guardian_phone=row.values["guardian_phone"],
            home_lat=row.values["home_lat"],
            home_lon=row.values["home_lon"],
        )
        for row in rows
    ]
    refs = {row.values["external_ref"] for row in rows}
    stored = {
        person.id: person
        for person in enrolled(
            conn,
            cities={i.city for i in mine},
            birth_years={i.birth_year for i in mine},
            groups={i.group for i in mine},
        )
        if person.external_ref not in refs  # the file's version of them is in ``mine``
    }
    different = different_pairs(conn)
    found = []
    for suspected in suspected_pairs([*mine, *(p.identity for p in stored.values())]):
        first, second = suspected.first.who, suspected.second.who  # the file's rows come first
        if not isinstance(first, tuple):
            continue  # two stored people: not this file's doing
        row = by_row[first[1]]
        if isinstance(second, tuple):  # two rows of the file: warn on the later one
            other = by_row[second[1]]
            row, other = (other, row) if other.number > row.number else (row, other)
            ids = (row.stored_id, other.stored_id)
            other_ref, other_row = other.values["external_ref"], other.number
        else:
            ids = (row.stored_id, second)
            other_ref, other_row = stored[second].external_ref, None
        if None not in ids and pair(*ids) in different:
            continue  # a lead judged them different people
        found.append(
            DuplicateWarning(
                row.number, row.values["external_ref"], other_ref, other_row, suspected.keys
            )
        )
    return sorted(found, key=lambda w: (w.row, w.other_ref))


def _plan_devices(conn: Connection, rows: list[_Row], report: RosterReport) -> list[dict[str, Any]]:
    dongs, programs = _dongs(conn), _programs(conn)
    types = set(conn.execute(select(DeviceType.code)).scalars())
    vendors = set(known_vendors(conn))
    people = _stored(
        conn,
        CareRecipient.external_ref,
        (r.values["external_ref"] for r in rows if r.values["external_ref"]),
        CareRecipient.id,
        CareRecipient.region_id,
        CareRecipient.ended_on,
        CareRecipient.pii_home_lat,
        CareRecipient.pii_zone_polygon,
    )
    names = DEVICE_FIELDS | {"program": "program_id", "dong_code": "region_id"}
    stored = _stored(
        conn,
        Device.device_uid,
        (r.values["device_id"] for r in rows if r.values["device_id"]),
        Device.id,
        Device.recipient_id,
        Device.site_id,
        *(getattr(Device, c) for c in names.values()),
    )
    plan = []
    for row in rows:
        v = row.values
        if v["vendor"] is not None and v["vendor"] not in vendors:
            report.errors.append(
                RowError(
                    row.number,
                    row.headers["vendor"],
                    f"unknown vendor {v['vendor']!r}: create its API key first with "
                    f"`python -m dashboard apikey add {v['vendor']}`",
                    "unknown_vendor",
                    {"vendor": v["vendor"]},
                )
            )
        if v["type"] is not None and v["type"] not in types:
            report.errors.append(
                RowError(
                    row.number,
                    row.headers["type"],
                    f"unknown device type {v['type']!r} (known: {', '.join(sorted(types))})",
                    "unknown_device_type",
                    {"value": v["type"], "known": ", ".join(sorted(types))},
                )
            )
        program_id = _check_program(row, programs, report)
        if program_id is not None and v["type"] in types:
            refusal = pairing_refusal(v["program"], v["type"])
            if refusal:
                report.errors.append(
                    RowError(
                        row.number,
                        row.headers["type"],
                        refusal,
                        "program_type_mismatch",
                        {
                            "program": v["program"],
                            "type": v["type"],
                            "uses": ", ".join(program_device_types(v["program"]) or ()),
                        },
                    )
                )
        region_id = _check_dong(row, dongs, report)
        person = people.get(v["external_ref"]) if v["external_ref"] else None
        if v["external_ref"] is not None and person is None:
            report.errors.append(
                RowError(
                    row.number,
                    row.headers["external_ref"],
                    f"no person with external_ref {v['external_ref']!r}; import the people first",
                    "no_person",
                    {"ref": v["external_ref"]},
                )
            )
        _check_not_ended(row, person, report)
        if (
            v["type"] == WANDERING_TYPE
            and person is not None
            and person.pii_home_lat is None
            and not person.pii_zone_polygon
        ):
            report.no_zone.append(v["device_id"])
        device = stored.get(v["device_id"]) if v["device_id"] else None
        if device is not None and person is not None and device.recipient_id != person.id:
            where, uid = row.headers["device_id"], v["device_id"]
            if device.recipient_id is None and device.site_id is None:
                # Retired or in repair after a replacement in the app: on the shelf, nobody's.
                reason = (
                    f"device {uid!r} is out of service and with nobody (replaced or retired); "
                    "give it out again on the 기기 관리 page, or remove its row"
                )
                error = RowError(row.number, where, reason, "device_unassigned", {"device": uid})
            else:
                whose = "a fixed site" if device.recipient_id is None else "another person"
                reason = (
                    f"device {uid!r} is already assigned to {whose}; a replacement "
                    "is a separate operation, not an import"
                )
                error = (
                    RowError(row.number, where, reason, "device_at_site", {"device": uid})
                    if device.recipient_id is None
                    else RowError(row.number, where, reason, "device_of_another", {"device": uid})
                )
            report.errors.append(error)
        if report.errors:  # keep checking rows, but plan nothing
            continue
        planned = {
            "vendor": v["vendor"],
            "type_code": v["type"],
            "installed_on": v["installed_on"],
            "program_id": program_id,
            "region_id": region_id if region_id is not None else person.region_id,
        }
        write = _record(report, v["device_id"], device, planned, names)
        if write and write["op"] == "insert":
            write["values"] |= {
                "device_uid": v["device_id"],
                "recipient_id": person.id,
                "status": "active",
            }
        if write:
            plan.append(write)
    return plan


def _registered(plan: list[dict[str, Any]], now: datetime) -> None:
    """New devices are registered ``now``: before their first event the silence clocks start
    there, not at an installation day years ago (docs/rules.md), so a fresh roster opens nothing
    at once."""
    for write in plan:
        if write["op"] == "insert":
            write["values"]["registered_at"] = now


def _apply(conn: Connection, kind: RosterKind, plan: list[dict[str, Any]]) -> None:
    model = CareRecipient if kind is PEOPLE else Device
    inserts = [w["values"] for w in plan if w["op"] == "insert"]
    if inserts:
        # executemany takes its columns from the first row: every row has the same keys.
        conn.execute(insert(model), inserts)
    updated = [w["id"] for w in plan if w["op"] == "update"]
    for write in plan:
        if write["op"] == "update":
            conn.execute(update(model).where(model.id == write["id"]).values(write["values"]))
        if "moved_from" in write:
            # A person who moved takes their devices along: the device's dong decides which
            # operators list it (with the person's masked name). One given another dong on
            # purpose (register_device's region_code) stays.
            conn.execute(
                update(Device)
                .where(Device.recipient_id == write["id"], Device.region_id == write["moved_from"])
                .values(region_id=write["values"]["region_id"])
            )
            _move_open_alerts(conn, write["id"], write["moved_from"], write["values"]["region_id"])
    # A person's thresholds, home or zone, a device's person or status: the rules judge again.
    if kind is PEOPLE:
        judge_again(conn, recipient_ids=updated)
    else:
        judge_again(conn, device_ids=updated)


def _move_open_alerts(conn: Connection, person_id: int, old: int, new: int) -> None:
    """The person's open alerts, and the open tickets of their devices that moved, go to the
    new dong: the operators' queue lists alerts by their region while the actions check the
    person's own dong, so an alert left behind was listed where nobody may act on it and
    missing where they may. Closed alerts stay where they happened (the statistics')."""
    theirs = or_(
        Alert.recipient_id == person_id,
        and_(
            Alert.recipient_id.is_(None),
            Alert.device_id.in_(select(Device.id).where(Device.recipient_id == person_id)),
        ),
    )
    conn.execute(
        update(Alert)
        .where(Alert.region_id == old, Alert.status != "closed", theirs)
        .values(region_id=new)
    )


def _wanders(program: str | None) -> bool:
    """Whether the program's devices are wandering detectors (whose zone needs a home)."""
    return program is not None and WANDERING_TYPE in (program_device_types(program) or ())


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and value.strip() == "")
