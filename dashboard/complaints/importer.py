"""Complaint import: the complaint system's export (새올 / 국민신문고 style), CSV or .xlsx.

Reading and per-cell checks reuse the roster machinery (``dashboard.ingest.files.read_table``:
bounded CSV/XLSX reading; ``dashboard.registry.roster``'s header mapping and row parsing), so a
refusal names the spreadsheet row, the column as written and the reason, and nothing is stored.

Each row becomes one complaint:

- its key (``source_ref``) is the system's complaint number (``id:…``) or, without one, a hash
  of its time, type, place and text (``sha256:…``): importing the same file twice stores nothing
  the second time;
- with coordinates it is matched to the nearest complaint site of its type within the radius
  (``ANBU_COMPLAINT_MATCH_RADIUS_M``, 100 m by default); farther, or without coordinates, it is
  kept without a site and counted as unmatched;
- a repeat — same place, same Seoul day, same type and near-identical text as an earlier row or
  a stored complaint — is stored pointing at the first (``duplicate_of``) and not counted.

The text and place are personal data (``complaints.pii_*``): they are stored, never echoed in
errors, previews or the audit row (counts, file name and size only).
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from difflib import SequenceMatcher
from typing import Any

import numpy as np
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import IntegrityError

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.clock import as_utc, in_zone, require_aware
from dashboard.db.schema import Complaint, ComplaintSite, Region
from dashboard.ingest.files import RowError, no_rows, read_table
from dashboard.ingest.refusal import Refused
from dashboard.registry.columns import (
    LAT_RANGE,
    LON_RANGE,
    Column,
    _as_text,
    coordinate,
    dong_code,
    identifier,
    text,
)

# The roster's row parser takes any RosterKind: reused rather than copied.
from dashboard.registry.roster import RosterKind, _parse_row
from dashboard.rules.geo import EARTH_RADIUS_M
from dashboard.settings import LOCAL_TZ, get_settings

PERMISSION = "import_data"
AUDIT_ACTION = "complaint_import"
ENTITY = "complaint_import"
NEAR_IDENTICAL = 0.9  # difflib ratio of the normalised texts
TEXT_COMPARED = 300  # characters of each text compared (the opening says what it is about)
DONG_WITHIN_M = 5000  # an unmatched point takes the nearest dong centroid within this distance
MAX_LISTED = 200  # duplicates listed in a summary

_DATETIME = re.compile(
    r"^(\d{4})[-./](\d{1,2})[-./](\d{1,2})\.?"
    r"(?:[ T]+(오전|오후|am|pm)?\s*(\d{1,2}):(\d{2})(?::(\d{2}))?)?$",
    re.IGNORECASE,
)
CATEGORIES = {  # the complaint system's type names → our category codes
    "흡연": "smoking",
    "간접흡연": "smoking",
    "흡연민원": "smoking",
    "담배": "smoking",
    "길거리흡연": "smoking",
    "smoking": "smoking",
    "소음": "noise",
    "층간소음": "noise",
    "noise": "noise",
}
CHANNELS = {
    "국민신문고": "online",
    "인터넷": "online",
    "온라인": "online",
    "online": "online",
    "전화": "phone",
    "120": "phone",
    "phone": "phone",
    "방문": "visit",
    "visit": "visit",
}


def received(value: Any, _today: date) -> datetime:
    """접수일시: ``2024-03-05 14:23[:05]`` (also ``.`` or ``/``, ``오후 2:23``; a date alone is
    midnight) in Seoul time, or an Excel date cell; aware UTC."""
    if isinstance(value, datetime):
        local = in_zone(value, LOCAL_TZ)  # an Excel cell has no zone: Seoul wall-clock time
    elif isinstance(value, date):
        local = datetime(value.year, value.month, value.day, tzinfo=LOCAL_TZ)
    else:
        match = _DATETIME.match(_as_text(value))
        if not match:
            raise Refused(
                f"not a date and time (got {_as_text(value)!r}); write it as "
                "YYYY-MM-DD HH:MM, e.g. 2024-03-05 14:23",
                "not_a_datetime",
                value=_as_text(value),
            )
        y, mo, d, half, h, mi, s = match.groups()
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in (y, mo, d, h, mi, s))
        if half and h <= 12:  # Korean Excel's "2024-03-05 오후 2:23:00"
            h = h % 12 + (12 if half.lower() in ("오후", "pm") else 0)
        try:
            local = datetime(y, mo, d, h, mi, s, tzinfo=LOCAL_TZ)
        except ValueError as exc:
            raise Refused(
                f"not a date and time (got {_as_text(value)!r}): {exc}",
                "no_such_date",
                value=_as_text(value),
            ) from None
    return local.astimezone(UTC)


def category(value: Any) -> str:
    raw = _as_text(value)
    code = CATEGORIES.get(raw.replace(" ", "").lower())
    if code:
        return code
    if len(raw) > 20:
        raise Refused(
            "a complaint type of at most 20 characters (e.g. 흡연, 소음)",
            "complaint_type_too_long",
            max=20,
        )
    return raw  # another type is kept as the system names it


def channel(value: Any) -> str:
    return CHANNELS.get(_as_text(value).replace(" ", "").lower(), "other")


def _plain(parse):
    return lambda value, _today: parse(value)


COLUMNS: tuple[Column, ...] = (
    Column("complaint_id", "민원번호", False, _plain(identifier(60))),
    Column("received_at", "접수일시", True, received),
    Column("type", "민원유형", True, _plain(category)),
    Column("text", "내용", False, _plain(text(4000))),
    Column("place", "주소", False, _plain(text(200))),
    Column("lat", "위도", False, _plain(coordinate(*LAT_RANGE))),
    Column("lon", "경도", False, _plain(coordinate(*LON_RANGE))),
    Column("dong_code", "행정동코드", False, _plain(dong_code)),
    Column("channel", "접수경로", False, _plain(channel)),
)
KIND = RosterKind("complaints", COLUMNS, "complaint_id", AUDIT_ACTION)
# Other names the complaint systems' exports use for the same columns.
ALIASES = {
    "접수번호": "민원번호",
    "신청번호": "민원번호",
    "민원접수번호": "민원번호",
    "접수일자": "접수일시",
    "신청일시": "접수일시",
    "신청일자": "접수일시",
    "등록일시": "접수일시",
    "민원분류": "민원유형",
    "유형": "민원유형",
    "분류": "민원유형",
    "민원내용": "내용",
    "민원요지": "내용",
    "요지": "내용",
    "발생장소": "주소",
    "발생지": "주소",
    "장소": "주소",
    "민원발생지": "주소",
    "소재지": "주소",
    "위치": "주소",
    "접수채널": "접수경로",
    "신청경로": "접수경로",
}


def _normal_header(name: Any) -> str:
    """``위도(WGS84)`` → ``위도``; spaces dropped; the export's aliases → our Korean names."""
    text_ = "" if name is None else str(name).strip().lower()
    bare = re.sub(r"\s+", "", re.sub(r"\(.*?\)|\[.*?\]", "", text_))
    return ALIASES.get(bare, bare)


_BY_NAME = {c.key: c for c in COLUMNS} | {c.ko: c for c in COLUMNS}
HEADER_SEARCH_ROWS = 10  # title rows (merged cells, "민원 접수 목록", the export date) above it


def _find_header(
    header: list[str], table: list[tuple[int, list[Any]]]
) -> tuple[list[str], list[tuple[int, list[Any]]], int]:
    """The header row: the first row naming 접수일시 and 민원유형 among the first rows (exports
    put a title and the export date above it), and the rows below it. Row numbers stay those
    of the spreadsheet."""
    required = {c.key for c in COLUMNS if c.required}

    def names(cells: list[Any]) -> set[str]:
        return {_BY_NAME[n].key for n in map(_normal_header, cells) if n in _BY_NAME}

    if required <= names(header):
        return header, table, 1
    for index, (number, cells) in enumerate(table[:HEADER_SEARCH_ROWS]):
        if required <= names(cells):
            found = [str(c).strip().lower() if c is not None else "" for c in cells]
            while found and found[-1] == "":
                found.pop()
            return found, table[index + 1 :], number
    return header, table, 1


def _map_header(header: list[str], row: int) -> tuple[dict[str, int], list[RowError], list[str]]:
    """Column positions by key, header problems, and the columns ignored: an export carries
    many more (처리기관, 처리상태, 민원인 …) and none of them is read or stored."""
    positions: dict[str, int] = {}
    errors, ignored = [], []
    for index, name in enumerate(header):
        column = _BY_NAME.get(_normal_header(name))
        if column is None:
            if name:
                ignored.append(name)
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
    for column in COLUMNS:
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
    return positions, errors, ignored


@dataclass
class ComplaintReport:
    """What an import found and did. ``duplicates``: (row, what it repeats) — no text."""

    filename: str
    size: int
    radius_m: float
    rows: int = 0
    new: int = 0
    already: int = 0
    duplicates: list[tuple[int, str]] = field(default_factory=list)
    matched: Counter = field(default_factory=Counter)  # site code → new complaints
    unmatched: int = 0
    ignored: list[str] = field(default_factory=list)  # columns of the file not read
    errors: list[RowError] = field(default_factory=list)
    stored: bool = False
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors

    def preview(self) -> str:
        return (
            f"{self.filename}: {self.rows} row(s): {self.new} new ({len(self.duplicates)} of them "
            f"repeat an earlier complaint), {self.already} already stored; "
            f"{sum(self.matched.values())} matched to a site within {self.radius_m:g} m, "
            f"{self.unmatched} without a site"
        )

    def summary(self) -> str:
        if not self.ok:
            lines = [f"{self.filename}: {len(self.errors)} problem(s); nothing was stored"]
            lines += [f"  {error}" for error in self.errors[:MAX_LISTED]]
            if len(self.errors) > MAX_LISTED:
                lines.append(f"  … and {len(self.errors) - MAX_LISTED} more")
            return "\n".join(lines)
        lines = [self.preview()]
        if self.ignored:
            lines.append(f"  columns not read: {', '.join(self.ignored)}")
        lines += [f"  site {code}: {n}" for code, n in sorted(self.matched.items())]
        lines += [f"  row {row}: duplicate of {what}" for row, what in self.duplicates[:MAX_LISTED]]
        if self.stored:
            lines.append("stored")
        elif not self.new:
            lines.append("nothing to change: every complaint is already stored")
        elif self.dry_run:
            lines.append("dry run: the file is valid; nothing was stored")
        return "\n".join(lines)

    def audit_detail(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "bytes": self.size,
            "rows": self.rows,
            "new": self.new,
            "already": self.already,
            "duplicates": len(self.duplicates),
            "matched": sum(self.matched.values()),
            "unmatched": self.unmatched,
            "radius_m": self.radius_m,
        }


@dataclass
class _Planned:
    number: int
    values: dict[str, Any]  # the complaints row to insert
    place_key: str
    text_key: str
    duplicate_of_row: int | None = None  # an earlier row of this file
    duplicate_of_id: int | None = None  # a stored complaint
    site_code: str | None = None


def import_complaints(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
    radius_m: float | None = None,
) -> ComplaintReport:
    """Check every row, then store all new complaints or none (one transaction, one audit
    row). Needs ``import_data``. Refusals, dry runs and files already stored are not audited."""
    actor = require(principal, PERMISSION).username
    require_aware(now, "now")
    radius = float(radius_m if radius_m is not None else get_settings().complaint_match_radius_m)
    try:
        with engine.begin() as conn:
            report, plan = check_complaints(conn, data, filename, now, radius)
            report.dry_run = dry_run
            if report.ok and plan and not dry_run:
                _store(conn, plan, filename, now)
                write_audit(
                    conn,
                    at=now,
                    actor=actor,
                    action=AUDIT_ACTION,
                    entity_type=ENTITY,
                    entity_id=filename[:60],
                    detail=report.audit_detail(),
                )
                report.stored = True
    except IntegrityError:  # another import stored the same complaints meanwhile: rolled back
        report = ComplaintReport(filename, len(data), radius, dry_run=dry_run)
        report.errors.append(
            RowError(
                0,
                None,
                "complaints changed while importing; nothing was stored, try again",
                "conflict",
            )
        )
    return report


def check_complaints(
    conn: Connection, data: bytes, filename: str, now: datetime, radius_m: float
) -> tuple[ComplaintReport, list[_Planned]]:
    """The report (errors, or the preview) and, when clean, the complaints to insert."""
    report = ComplaintReport(filename, len(data), radius_m)
    try:
        header, table = read_table(data, filename)
    except (ValueError, OSError) as exc:
        report.errors.append(RowError.of(0, None, exc))
        return report, []
    header, table, header_row = _find_header(header, table)
    positions, errors, report.ignored = _map_header(header, header_row)
    report.errors += errors
    if report.errors:
        return report, []
    today = now.astimezone(LOCAL_TZ).date()
    places = _Places(conn)
    if not places.codes:
        report.errors.append(
            RowError(
                0,
                None,
                "the catalog is not loaded: run `python -m dashboard init` first",
                "catalog_not_loaded",
            )
        )
        return report, []
    seen_ids: dict[str, int] = {}
    identical: Counter = Counter()
    plan: list[_Planned] = []
    for number, cells in table:
        row, errors = _parse_row(KIND, number, header, positions, cells, today)
        report.errors += errors
        v = row.values
        report.rows += 1
        if errors:
            continue
        if v["received_at"] > now:
            report.errors.append(
                RowError(number, row.headers["received_at"], "is in the future", "in_future")
            )
            continue
        if (v["lat"] is None) != (v["lon"] is None):
            missing = "lon" if v["lon"] is None else "lat"
            report.errors.append(
                RowError(
                    number,
                    row.headers[missing],
                    "give both 위도 and 경도, or neither",
                    "lat_lon_pair",
                )
            )
            continue
        if v["complaint_id"] is not None:
            if v["complaint_id"] in seen_ids:
                report.errors.append(
                    RowError(
                        number,
                        row.headers["complaint_id"],
                        f"complaint number {v['complaint_id']!r} appears twice "
                        f"(also on row {seen_ids[v['complaint_id']]})",
                        "duplicate",
                        {"value": v["complaint_id"], "first": seen_ids[v["complaint_id"]]},
                    )
                )
                continue
            seen_ids[v["complaint_id"]] = number
        site, distance, region_id, problem = places.locate(v, radius_m)
        if problem:
            column, refusal = problem
            report.errors.append(RowError.of(number, row.headers[column], refusal))
            continue
        place_key = (
            f"site:{site[0]}"
            if site
            else f"pt:{v['lat']:.4f},{v['lon']:.4f}"
            if v["lat"] is not None
            else f"addr:{_squash(v['place'] or '')}|{region_id}"
        )
        text_key = _squash(v["text"] or "")
        if v["complaint_id"] is not None:
            ref = f"id:{v['complaint_id']}"
        else:
            content = "|".join((v["received_at"].isoformat(), v["type"], place_key, text_key))
            identical[content] += 1  # the k-th identical row: its own, repeatable key
            digest = hashlib.sha256(f"{content}|{identical[content]}".encode()).hexdigest()
            ref = f"sha256:{digest[:64]}"
        plan.append(
            _Planned(
                number,
                {
                    "site_id": site[0] if site else None,
                    "region_id": region_id,
                    "category": v["type"],
                    "channel": v["channel"] or "other",
                    "received_at": v["received_at"],
                    "source_ref": ref,
                    "distance_m": round(distance, 1) if distance is not None else None,
                    "pii_text": v["text"],
                    "pii_place": v["place"],
                    "pii_lat": v["lat"],
                    "pii_lon": v["lon"],
                },
                place_key,
                text_key,
            )
        )
        plan[-1].site_code = site[1] if site else None
    if report.rows == 0:
        report.errors.append(no_rows())
    report.errors.sort(key=lambda e: (e.row, e.column or ""))
    if report.errors:
        return report, []
    stored_refs = _stored_refs(conn, [p.values["source_ref"] for p in plan])
    report.already = sum(p.values["source_ref"] in stored_refs for p in plan)
    plan = [p for p in plan if p.values["source_ref"] not in stored_refs]
    _mark_duplicates(conn, plan, report)
    report.new = len(plan)
    for p in plan:
        if p.duplicate_of_row is None and p.duplicate_of_id is None:
            if p.values["site_id"] is None:
                report.unmatched += 1
            else:
                report.matched[p.site_code] += 1
    return report, plan


class _Places:
    """The complaint sites and dongs a row's place is resolved against. Nearest searches are
    numpy over all candidates at once: 100,000 rows against ~500 dongs stay a few seconds."""

    def __init__(self, conn: Connection) -> None:
        self.sites = conn.execute(
            select(
                ComplaintSite.id,
                ComplaintSite.code,
                ComplaintSite.category,
                ComplaintSite.region_id,
                ComplaintSite.lat,
                ComplaintSite.lon,
            )
        ).all()
        self.site_points = {
            category: _points([s for s in self.sites if s.category == category])
            for category in {s.category for s in self.sites}
        }
        regions = conn.execute(
            select(Region.id, Region.code, Region.level, Region.name_ko, Region.lat, Region.lon)
        ).all()
        self.codes = {r.code: r.id for r in regions if r.level in ("dong", "district")}
        self.dongs = [r for r in regions if r.level == "dong" and r.lat is not None]
        self.dong_points = _points(self.dongs)
        self.names: dict[str, list[int]] = {}
        for r in regions:
            if r.level in ("dong", "district"):
                self.names.setdefault(r.name_ko, []).append(r.id)

    def locate(
        self, v: dict[str, Any], radius_m: float
    ) -> tuple[tuple[int, str] | None, float | None, int | None, tuple[str, Refused] | None]:
        """(site id and code, distance, region id, problem (column key, refusal))."""
        region_id = None
        if v["dong_code"] is not None:
            region_id = self.codes.get(v["dong_code"])
            if region_id is None:
                refusal = Refused(
                    f"unknown dong {v['dong_code']}", "unknown_dong", code=v["dong_code"]
                )
                return None, None, None, ("dong_code", refusal)
        if v["lat"] is not None:
            rows, points = self.site_points.get(v["type"], ([], None))
            best = _nearest(points, v["lat"], v["lon"])
            if best is not None and best[1] <= radius_m:
                site = rows[best[0]]
                return (site.id, site.code), best[1], region_id or site.region_id, None
            if region_id is None:
                near = _nearest(self.dong_points[1], v["lat"], v["lon"])
                if near is None or near[1] > DONG_WITHIN_M:
                    refusal = Refused(
                        f"no dong of the catalog within {DONG_WITHIN_M / 1000:g} km of the "
                        "coordinates; add a 행정동코드 column",
                        "no_dong_near",
                        km=f"{DONG_WITHIN_M / 1000:g}",
                    )
                    return None, None, None, ("lat", refusal)
                region_id = self.dongs[near[0]].id
            return None, None, region_id, None
        if region_id is None and v["place"]:
            region_id = self._named(v["place"])
        if region_id is None:
            refusal = Refused(
                "cannot place the complaint: give 위도 and 경도, a 행정동코드, or an address "
                "naming a dong or district of the catalog (e.g. 백석1동 or 일산동구)",
                "cannot_place",
            )
            return None, None, None, ("place", refusal)
        return None, None, region_id, None

    def _named(self, address: str) -> int | None:
        """A dong named in the address, else a district; None if absent or ambiguous."""
        tokens = re.split(r"[\s,()]+", address)
        hits = [self.names[t] for t in tokens if t in self.names]
        found = [ids[0] for ids in hits if len(ids) == 1]
        return found[-1] if found else None  # the most specific name comes last


def _points(rows: list) -> tuple[list, np.ndarray | None]:
    """The rows and their (lat, lon) in radians, for :func:`_nearest`."""
    if not rows:
        return rows, None
    return rows, np.radians(np.array([(r.lat, r.lon) for r in rows], dtype=float))


def _nearest(points: np.ndarray | None, lat: float, lon: float) -> tuple[int, float] | None:
    """Index and haversine distance (m) of the point nearest to (lat, lon); None if none."""
    if points is None:
        return None
    p, lam = math.radians(lat), math.radians(lon)
    a = (
        np.sin((points[:, 0] - p) / 2) ** 2
        + np.cos(p) * np.cos(points[:, 0]) * np.sin((points[:, 1] - lam) / 2) ** 2
    )
    metres = 2 * EARTH_RADIUS_M * np.arcsin(np.sqrt(np.clip(a, 0, 1)))
    index = int(np.argmin(metres))
    return index, float(metres[index])


def _squash(value: str) -> str:
    """Text compared for near-identity: no spaces or punctuation, lower case."""
    return re.sub(r"[\W_]+", "", value).lower()


def _similar(a: str, b: str) -> bool:
    if not a or not b:
        return False  # without text two complaints cannot be told apart: both count
    if a == b:
        return True
    # Bounded: the opening of the texts, and the cheap upper bounds before the full ratio.
    matcher = SequenceMatcher(None, a[:TEXT_COMPARED], b[:TEXT_COMPARED], autojunk=False)
    return (
        matcher.real_quick_ratio() >= NEAR_IDENTICAL
        and matcher.quick_ratio() >= NEAR_IDENTICAL
        and matcher.ratio() >= NEAR_IDENTICAL
    )


def _day(at: datetime) -> date:
    return at.astimezone(LOCAL_TZ).date()


def _stored_refs(conn: Connection, refs: list[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(refs), 500):
        chunk = refs[start : start + 500]
        found.update(
            conn.execute(select(Complaint.source_ref).where(Complaint.source_ref.in_(chunk)))
            .scalars()
            .all()
        )
    return found


def _mark_duplicates(conn: Connection, plan: list[_Planned], report: ComplaintReport) -> None:
    """Same place, Seoul day and type, near-identical text: against stored originals of those
    days, then earlier rows of the file. Compared only within (day, type, place) groups."""
    if not plan:
        return
    first = min(p.values["received_at"] for p in plan) - timedelta(days=1)
    last = max(p.values["received_at"] for p in plan) + timedelta(days=1)
    groups: dict[tuple, list[tuple[str, int | None, int | None]]] = {}
    stored = conn.execute(
        select(
            Complaint.id,
            Complaint.site_id,
            Complaint.region_id,
            Complaint.category,
            Complaint.received_at,
            Complaint.pii_text,
            Complaint.pii_place,
            Complaint.pii_lat,
            Complaint.pii_lon,
        ).where(
            Complaint.received_at >= first,
            Complaint.received_at <= last,
            Complaint.duplicate_of.is_(None),
            Complaint.source_ref.is_not(None),  # imported ones: the demo's have no text
        )
    ).all()
    for s in stored:
        key = (
            f"site:{s.site_id}"
            if s.site_id is not None
            else f"pt:{s.pii_lat:.4f},{s.pii_lon:.4f}"
            if s.pii_lat is not None
            else f"addr:{_squash(s.pii_place or '')}|{s.region_id}"
        )
        group = (_day(as_utc(s.received_at)), s.category, key)
        groups.setdefault(group, []).append((_squash(s.pii_text or ""), None, s.id))
    for p in plan:
        group = (_day(p.values["received_at"]), p.values["category"], p.place_key)
        for text_key, row, stored_id in groups.get(group, []):
            if _similar(p.text_key, text_key):
                p.duplicate_of_row, p.duplicate_of_id = row, stored_id
                what = f"row {row}" if row is not None else f"stored complaint {stored_id}"
                report.duplicates.append((p.number, what))
                break
        else:
            groups.setdefault(group, []).append((p.text_key, p.number, None))


def _store(conn: Connection, plan: list[_Planned], filename: str, now: datetime) -> None:
    """Originals first (a repeat of a stored complaint points at it at once), then the
    repeats of this file's rows, pointing at the ids their originals got."""

    def row(p: _Planned, duplicate_of: int | None) -> dict[str, Any]:
        return p.values | {
            "import_file": filename[:200],
            "imported_at": now,
            "duplicate_of": duplicate_of,
        }

    originals = [p for p in plan if p.duplicate_of_row is None]
    repeats = [p for p in plan if p.duplicate_of_row is not None]
    if originals:
        conn.execute(insert(Complaint), [row(p, p.duplicate_of_id) for p in originals])
    if not repeats:
        return
    ref_of = {p.number: p.values["source_ref"] for p in originals}
    wanted = sorted({ref_of[p.duplicate_of_row] for p in repeats})
    ids: dict[str, int] = {}
    for start in range(0, len(wanted), 500):
        ids.update(
            conn.execute(
                select(Complaint.source_ref, Complaint.id).where(
                    Complaint.source_ref.in_(wanted[start : start + 500])
                )
            ).all()
        )
    conn.execute(insert(Complaint), [row(p, ids[ref_of[p.duplicate_of_row]]) for p in repeats])
