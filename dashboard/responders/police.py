"""The police-box reference import: 지구대·파출소 from the National Police Agency's address list.

The file gives addresses only. Each box is placed at the centroid of its dong in the regions
catalog, flagged ``approximate`` until a lead moves it to where it really is. The dong comes from
the address: first a dong named in it (``(신당동, 신당파출소)``, ``고양시 도내동 922-1``), else
the box's own name, which is usually its dong's (백석 지구대 → 백석1동·백석2동: the centroid of
both). Boxes whose district is not in the catalog are skipped; boxes in a known district whose
dong cannot be told are stored without a position and listed as unmatched, for a lead to place.

A second import of the same file changes nothing; a new edition updates names and addresses,
keeps every position a lead corrected, and takes boxes missing from it off the map.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import Connection, insert, select, update

from dashboard.audit import write_audit
from dashboard.auth.permissions import require
from dashboard.auth.principal import SessionUser
from dashboard.clock import require_aware
from dashboard.db.schema import Region, Responder
from dashboard.settings import DATA_DIR

POLICE_CSV = DATA_DIR / "responders" / "police_boxes_20231231.csv"
SOURCE = "police_boxes"
COLUMNS = ("연번", "시도청", "경찰서", "관서명", "구분", "주소")
SUBTYPES = ("지구대", "파출소")
_DONG_WORD = re.compile(r"([가-힣0-9]+?)(?:제?[0-9]+)?동(?![가-힣])")
_SUFFIX = re.compile(r"(제?[0-9]+)?(·[0-9]+)?동$")


class PoliceFileError(ValueError):
    """The file is not the police-box list; says which file, line and column."""


@dataclass(frozen=True)
class PoliceBox:
    ref: str  # 연번: the row's number in the published list
    agency: str  # 경찰서
    name: str  # 관서명
    subtype: str  # 지구대 / 파출소
    address: str
    line: int


@dataclass
class ImportReport:
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    retired: int = 0
    outside_catalog: int = 0  # district not in the catalog: not this city's
    approximate: int = 0
    unmatched: list[str] = field(default_factory=list)  # "line 12: 을지 지구대 (address)"

    def summary(self) -> str:
        return (
            f"inserted {self.inserted}, updated {self.updated}, unchanged {self.unchanged}, "
            f"retired {self.retired}; {self.approximate} placed at a dong centroid "
            f"(approximate), {len(self.unmatched)} unmatched (no position), "
            f"{self.outside_catalog} outside the catalog's districts"
        )


def read_police_boxes(path: Path = POLICE_CSV) -> list[PoliceBox]:
    """Every row of the published list, validated (UTF-8, with or without BOM)."""
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PoliceFileError(f"{path}: not UTF-8 ({exc.reason}); save it as UTF-8") from None
    reader = csv.DictReader(text.splitlines())
    missing = [c for c in COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise PoliceFileError(f"{path}, line 1: missing column(s) {missing}")
    boxes, seen = [], set()
    for line, row in enumerate(reader, start=2):
        values = {c: " ".join((row.get(c) or "").split()) for c in COLUMNS}
        for column in ("연번", "관서명", "주소"):
            if not values[column]:
                raise PoliceFileError(f"{path}, line {line}, column {column!r}: empty")
        if values["연번"] in seen:
            raise PoliceFileError(f"{path}, line {line}, column '연번': {values['연번']} repeats")
        seen.add(values["연번"])
        if values["구분"] not in SUBTYPES:
            raise PoliceFileError(
                f"{path}, line {line}, column '구분': {values['구분']!r} is not one of {SUBTYPES}"
            )
        boxes.append(
            PoliceBox(
                values["연번"],
                values["경찰서"],
                values["관서명"],
                values["구분"],
                values["주소"],
                line,
            )
        )
    return boxes


@dataclass(frozen=True)
class _Region:
    id: int
    code: str
    level: str
    name: str
    parent_id: int | None
    lat: float | None
    lon: float | None


def _stem(dong_name: str) -> str:
    """백석1동 → 백석, 신당5동 → 신당, 을지로동 → 을지로, 종로1·2·3·4가동 → 종로1·2·3·4가
    (a name stored with its path, "경기도 고양시 일산동구 백석1동", by its last word)."""
    words = dong_name.split()
    return _SUFFIX.sub("", words[-1] if words else dong_name)


class _Catalog:
    def __init__(self, regions: Iterable[_Region]) -> None:
        self.by_id = {r.id: r for r in regions}
        self.districts = [r for r in self.by_id.values() if r.level == "district"]
        self.dongs_of: dict[int, list[_Region]] = {}
        for r in self.by_id.values():
            if r.level == "dong" and r.parent_id is not None:
                self.dongs_of.setdefault(r.parent_id, []).append(r)

    def chain(self, region: _Region) -> list[str]:
        names, cur = [], region
        while cur is not None:
            names.append(cur.name)
            cur = self.by_id.get(cur.parent_id) if cur.parent_id is not None else None
        return names

    def district_of(self, address: str) -> _Region | None:
        """The catalog district whose own name and every ancestor's appear in the address."""
        words = address.replace(",", " ").split()
        found = [
            d
            for d in self.districts
            if d.name in words and all(n in address for n in self.chain(d)[1:] if n != "경기도")
        ]
        # None: no district named (고양시 도내동 922-1: the city's dongs are searched instead).
        return found[0] if len(found) == 1 else None

    def city_dongs(self, address: str) -> list[_Region]:
        """Dongs of every catalog district under a city named in the address (고양시 …)."""
        out = []
        for d in self.districts:
            parent = self.by_id.get(d.parent_id) if d.parent_id is not None else None
            if parent is not None and parent.level == "city" and parent.name in address:
                out += self.dongs_of.get(d.id, [])
        return out


def _match_dongs(box: PoliceBox, dongs: Sequence[_Region]) -> tuple[list[_Region], str]:
    """Dongs the box lies in: named in the address, else by the box's name."""
    named = {m.group(0) for m in _DONG_WORD.finditer(box.address)}
    for word in sorted(named, key=len, reverse=True):
        exact = [d for d in dongs if d.name.split()[-1:] == [word]]
        if exact:
            return exact, "address"
        by_stem = [d for d in dongs if _stem(d.name) == _stem(word)]
        if by_stem:
            return by_stem, "address"
    stem = box.name.removesuffix("지구대").removesuffix("파출소")
    stem = _stem(re.sub(r"[0-9]+$", "", stem))  # 행신3 파출소 → 행신, 번동 파출소 → 번
    if stem:
        by_name = [d for d in dongs if _stem(d.name) == stem]
        if by_name:
            return by_name, "name"
    return [], "none"


def _regions(conn: Connection) -> _Catalog:
    rows = conn.execute(
        select(Region.id, Region.code, Region.level, Region.name_ko, Region.parent_id, Region.lat,
               Region.lon)
    ).all()  # fmt: skip
    return _Catalog(_Region(*r) for r in rows)


def _place(catalog: _Catalog, box: PoliceBox) -> tuple[str, dict | None]:
    """("outside" | "unmatched" | "approximate", values for region_id/lat/lon)."""
    district = catalog.district_of(box.address)
    if district is not None:
        dongs = catalog.dongs_of.get(district.id, [])
    else:
        dongs = catalog.city_dongs(box.address)
        if not dongs:
            return "outside", None
    matched, _how = _match_dongs(box, dongs)
    located = [d for d in matched if d.lat is not None and d.lon is not None]
    if not located:
        region = district.id if district is not None else None
        return "unmatched", {"region_id": region, "lat": None, "lon": None}
    return "approximate", {
        "region_id": located[0].id,
        "lat": round(sum(d.lat for d in located) / len(located), 6),
        "lon": round(sum(d.lon for d in located) / len(located), 6),
    }


def import_police_boxes(
    conn: Connection, boxes: Sequence[PoliceBox], now: datetime, actor: str
) -> ImportReport:
    """Upsert ``boxes`` (no permission check: for the loader below and the first-run build)."""
    require_aware(now)
    catalog = _regions(conn)
    r = Responder
    stored = {
        row.source_ref: row
        for row in conn.execute(
            select(r.id, r.source_ref, r.name, r.subtype, r.address, r.region_id, r.lat, r.lon,
                   r.approximate, r.active).where(r.source == SOURCE)
        )
    }  # fmt: skip
    report = ImportReport()
    seen: set[str] = set()
    for box in boxes:
        outcome, where = _place(catalog, box)
        if outcome == "outside":
            report.outside_catalog += 1
            continue
        seen.add(box.ref)
        if outcome == "unmatched":
            report.unmatched.append(f"line {box.line}: {box.name} {box.subtype} ({box.address})")
        else:
            report.approximate += 1
        values = {
            "name": f"{box.name} {box.subtype}",
            "subtype": box.subtype,
            "address": box.address[:200],
            "active": True,
        }
        old = stored.get(box.ref)
        if old is None:
            conn.execute(
                insert(r),
                {
                    **values,
                    **where,
                    "kind": "police_box",
                    "phone": None,
                    "approximate": True,
                    "source": SOURCE,
                    "source_ref": box.ref,
                    "updated_at": now,
                    "updated_by": actor,
                },
            )
            report.inserted += 1
            continue
        if old.approximate:  # a lead's correction is never overwritten by the file
            values |= where
        current = {k: getattr(old, k) for k in values}
        if current == values:
            report.unchanged += 1
            continue
        conn.execute(
            update(r).where(r.id == old.id).values(**values, updated_at=now, updated_by=actor)
        )
        report.updated += 1
    gone = [row.id for ref, row in stored.items() if ref not in seen and row.active]
    if gone:
        conn.execute(
            update(r).where(r.id.in_(gone)).values(active=False, updated_at=now, updated_by=actor)
        )
    report.retired = len(gone)
    return report


def load_police_boxes(
    conn: Connection, principal: SessionUser, now: datetime, path: Path = POLICE_CSV
) -> ImportReport:
    """Validate the whole file, then import it in the caller's transaction, audited."""
    actor = require(principal, "manage_responders").username
    boxes = read_police_boxes(path)
    report = import_police_boxes(conn, boxes, now, actor)
    write_audit(
        conn,
        at=now,
        actor=actor,
        action="responders_import",
        entity_type="responder",
        entity_id=None,
        detail={
            "file": Path(path).name,
            "inserted": report.inserted,
            "updated": report.updated,
            "unchanged": report.unchanged,
            "retired": report.retired,
            "unmatched": len(report.unmatched),
        },
    )
    return report


def ensure_police_boxes(conn: Connection, now: datetime) -> ImportReport | None:
    """First run: load the shipped list when no police box was ever imported (later editions
    come only from ``reference responders load``, so a start never undoes one)."""
    if conn.execute(select(Responder.id).where(Responder.source == SOURCE).limit(1)).first():
        return None
    return import_police_boxes(conn, read_police_boxes(), now, "system:bootstrap")
