"""Participation import: the enrolment, completion and weekly activity records a program's
system exports (CSV or .xlsx, Korean headers), for any participation program of the catalog.

A file is one of two layouts, told apart by its header (docs/participation-import.md):

- **참여자 명단** (enrolment and completion records), one row per participant: 사업,
  참여자번호, 등록일, 지역 (행정동 or 구, name or 10-digit code), and optionally 연령대, 성별,
  구분, 상태 (참여중 / 완료 / 중도탈락), 종료일, 건강행태개선, 위험요인감소 (예 / 아니오);
- **주차별 활동** (activity records), one row per participant and program week: 사업,
  참여자번호, 주차 (0 = the enrolment week), 활동일수 (0–7 days with any activity).

It is read and stored by the finance imports' machinery (:mod:`dashboard.finance.common`):
the same bounded reader (title rows, a two-row header, thousands separators), every row
checked, a preview of new / changed / unchanged rows, nothing stored if any row is refused,
one transaction with a ``data_imports`` row (kind ``participation``) and one audit row.
Participants are keyed by (program, 참여자번호) and weeks by (participant, 주차), so importing
the same file again changes nothing and an updated export updates in place.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Engine, insert, select, update

from dashboard.auth.principal import SessionUser
from dashboard.db.schema import Enrolment, ParticipationWeek, Program
from dashboard.finance.common import (
    Col,
    Districts,
    FileKind,
    FileReport,
    cell,
    col,
    local_today,
    map_columns,
    run_import,
    sheet_reader,
)
from dashboard.finance.sheet import Sheet, blank, parse_amount, text_of
from dashboard.ingest.files import RowError, no_rows, value_without_header
from dashboard.ingest.refusal import Refused
from dashboard.registry.columns import day, identifier, sex

KIND = "participation"
LABEL = "participation records"
MAX_WEEK = 104  # a program week beyond two years is a typing error
STATUSES = {
    "참여중": "active",
    "진행중": "active",
    "참여": "active",
    "active": "active",
    "완료": "completed",
    "수료": "completed",
    "종료": "completed",
    "completed": "completed",
    "중도탈락": "dropped",
    "탈락": "dropped",
    "중단": "dropped",
    "포기": "dropped",
    "dropped": "dropped",
}
YES = {"예", "y", "yes", "o", "1", "true", "개선", "감소", "있음"}
NO = {"아니오", "아니요", "n", "no", "x", "0", "false", "미개선", "유지", "없음"}

COLUMNS: tuple[Col, ...] = (
    col("program", "사업", "사업", "사업명", "사업코드", "프로그램", "program"),
    col("ref", "참여자번호", "참여자번호", "참여자id", "회원번호", "대상자번호", "id", "ref"),
    col("region", "지역", "지역", "행정동", "행정동코드", "읍면동", "자치구", "구", "region"),
    col("age_band", "연령대", "연령대", "연령", "age"),
    col("sex", "성별", "성별", "sex"),
    col("cohort", "구분", "구분", "대상구분", "참여구분", "cohort"),
    col("enrolled_on", "등록일", "등록일", "등록일자", "참여일", "시작일", "enrolled"),
    col("status", "상태", "상태", "참여상태", "status"),
    col("ended_on", "종료일", "종료일", "종료일자", "탈락일", "완료일", "ended"),
    col("improved", "건강행태개선", "건강행태개선", "행태개선", "개선여부", "improved"),
    col("risk_reduced", "위험요인감소", "위험요인감소", "건강위험요인감소", "risk"),
    col("week", "주차", "주차", "week"),
    col("active_days", "활동일수", "활동일수", "활동일", "참여일수", "activedays"),
)
ENROLMENT_REQUIRED = ("program", "ref", "region", "enrolled_on")
ACTIVITY_REQUIRED = ("program", "ref", "week", "active_days")
ACTIVITY_ONLY = ("week", "active_days")
ENROLMENT_FIELDS = (
    "region_id",
    "age_band",
    "sex",
    "cohort",
    "enrolled_on",
    "status",
    "ended_on",
    "improved",
    "risk_reduced",
)


def import_participation(
    engine: Engine,
    data: bytes,
    filename: str,
    principal: SessionUser,
    now: datetime,
    *,
    dry_run: bool = False,
) -> FileReport:
    """Check and (unless ``dry_run`` or refused) store a participation file, all or nothing;
    needs ``import_data``; audited as ``participation_import`` when stored."""
    return run_import(engine, FILE, data, filename, principal, now, dry_run=dry_run)


class _Catalog:
    """Participation programs by code or Korean/English name; regions by code or name."""

    def __init__(self, conn: Connection) -> None:
        self.programs: dict[str, int] = {}
        for pid, code, name_ko, name_en in conn.execute(
            select(Program.id, Program.code, Program.name_ko, Program.name_en).where(
                Program.kind == "participation"
            )
        ):
            for key in (code, name_ko, name_en):
                self.programs[_squash(key)] = pid
        self.regions = Districts(conn, dongs=True)

    def program(self, value: Any) -> int:
        found = self.programs.get(_squash(text_of(value)))
        if found is None:
            raise Refused(
                f"{text_of(value)!r} is not a participation program of the catalog "
                "(its code, e.g. goyang_mobile_health, or its Korean name)",
                "unknown_participation_program",
                value=text_of(value),
            )
        return found

    def region(self, value: Any) -> int:
        return self.regions.find(value)


def _squash(value: str) -> str:
    return re.sub(r"[\s·ㆍ_\-]", "", value).lower()


def _outcome(value: Any) -> bool | None:
    if blank(value):
        return None
    raw = text_of(value).lower()
    if raw in YES:
        return True
    if raw in NO:
        return False
    raise Refused(
        f"write 예 or 아니오 (or leave it blank if not measured); got {raw!r}", "yes_no", value=raw
    )


def _status(value: Any) -> str:
    found = STATUSES.get(_squash(text_of(value)))
    if found is None:
        raise Refused(
            f"write 참여중, 완료 or 중도탈락; got {text_of(value)!r}",
            "bad_status",
            value=text_of(value),
        )
    return found


def _whole(value: Any, lo: int, hi: int) -> int:
    number = parse_amount(value, places=0)
    if not lo <= number <= hi:
        raise Refused(
            f"must be between {lo} and {hi} (got {number})",
            "out_of_range",
            low=lo,
            high=hi,
            value=number,
        )
    return int(number)


def _check(conn: Connection, sheet: Sheet, report: FileReport, now: datetime) -> list[dict]:
    names = set(sheet.names)
    activity = any(a in names for c in COLUMNS if c.key in ACTIVITY_ONLY for a in c.aliases)
    required = ACTIVITY_REQUIRED if activity else ENROLMENT_REQUIRED
    positions, errors = map_columns(sheet, COLUMNS, required)
    report.kind = "weekly activity records" if activity else "enrolment records"
    report.errors += errors
    if report.errors:
        return []
    if activity:
        extra = [k for k in positions if k not in (*ACTIVITY_REQUIRED,)]
        if extra:
            where = ", ".join(sheet.written[positions[k]] for k in extra)
            report.errors.append(
                RowError(
                    sheet.header_row,
                    None,
                    f"an activity file has 사업, 참여자번호, 주차 and 활동일수 only; put {where} "
                    "in the enrolment file (참여자 명단)",
                    "activity_extra_columns",
                    {"columns": where},
                )
            )
            return []
    catalog = _Catalog(conn)
    today = local_today(now)
    where = {k: sheet.written[i] for k, i in positions.items()}
    rows: list[dict[str, Any]] = []
    seen: dict[tuple, int] = {}
    for number, cells in sheet.rows:
        report.rows += 1
        row_errors: list[RowError] = []
        if any(not blank(c) for c in cells[len(sheet.names) :]):
            row_errors.append(value_without_header(number))
        parsed = _parse_activity if activity else _parse_enrolment
        values = parsed(number, cells, positions, where, catalog, today, row_errors)
        report.errors += row_errors
        if row_errors:
            continue
        key = (values["program_id"], values["ref"], values.get("week"))
        if key in seen:
            what = "participant and week" if activity else "participant"
            report.errors.append(
                RowError(
                    number,
                    where["ref"],
                    f"the same {what} as row {seen[key]}",
                    "same_participant_week" if activity else "same_participant",
                    {"first": seen[key]},
                )
            )
            continue
        seen[key] = number
        rows.append(values)
    if report.rows == 0:
        report.errors.append(no_rows())
    if report.errors:
        return []
    return (
        _plan_activity(conn, rows, report, where)
        if activity
        else _plan_enrolments(conn, rows, report)
    )


def _parse_common(
    number: int,
    cells: list[Any],
    positions: dict[str, int],
    where: dict[str, str],
    catalog: _Catalog,
    errors: list[RowError],
) -> dict[str, Any]:
    values: dict[str, Any] = {"number": number}
    for key, parse in (("program", catalog.program), ("ref", identifier(40))):
        raw = cell(cells, positions, key)
        if blank(raw):
            errors.append(RowError(number, where[key], "required", "required"))
            continue
        try:
            values["program_id" if key == "program" else "ref"] = parse(raw)
        except ValueError as exc:
            errors.append(RowError.of(number, where[key], exc))
    return values


def _parse_enrolment(
    number: int,
    cells: list[Any],
    positions: dict[str, int],
    where: dict[str, str],
    catalog: _Catalog,
    today: date,
    errors: list[RowError],
) -> dict[str, Any]:
    values = _parse_common(number, cells, positions, where, catalog, errors)
    parsers = {
        "region": ("region_id", catalog.region, True),
        "enrolled_on": ("enrolled_on", lambda v: day(v, today), True),
        "ended_on": ("ended_on", lambda v: day(v, today), False),
        "status": ("status", _status, False),
        "age_band": ("age_band", _age_band, False),
        "sex": ("sex", sex, False),
        "cohort": ("cohort", _cohort, False),
        "improved": ("improved", _outcome, False),
        "risk_reduced": ("risk_reduced", _outcome, False),
    }
    for key, (field, parse, required) in parsers.items():
        raw = cell(cells, positions, key)
        if blank(raw):
            if required:
                errors.append(RowError(number, where[key], "required", "required"))
            values[field] = None
            continue
        try:
            values[field] = parse(raw)
        except ValueError as exc:
            errors.append(RowError.of(number, where.get(key, key), exc))
    if errors:
        return values
    values["age_band"] = values["age_band"] or "미상"
    values["sex"] = values["sex"] or "U"
    status = values["status"] or ("completed" if values["ended_on"] else "active")
    values["status"] = status
    if values["ended_on"] is not None and values["ended_on"] < values["enrolled_on"]:
        errors.append(
            RowError(number, where["ended_on"], "is before 등록일", "ended_before_enrolled")
        )
    elif status == "active" and values["ended_on"] is not None:
        errors.append(
            RowError(
                number,
                where.get("status", "상태"),
                "참여중 but with a 종료일: 완료 or 중도탈락?",
                "active_with_end",
            )
        )
    elif status != "active" and values["ended_on"] is None:
        errors.append(
            RowError(
                number,
                where.get("ended_on", "종료일"),
                f"required when {status}",
                "ended_on_required_dropped" if status == "dropped" else "ended_on_required",
            )
        )
    return values


def _age_band(value: Any) -> str:
    out = text_of(value)
    if len(out) > 10:
        raise Refused("at most 10 characters (e.g. 60-64 or 60대)", "too_long", max=10)
    return out


def _cohort(value: Any) -> str:
    out = text_of(value)
    if len(out) > 40:
        raise Refused("at most 40 characters", "too_long", max=40)
    return out


def _parse_activity(
    number: int,
    cells: list[Any],
    positions: dict[str, int],
    where: dict[str, str],
    catalog: _Catalog,
    today: date,
    errors: list[RowError],
) -> dict[str, Any]:
    values = _parse_common(number, cells, positions, where, catalog, errors)
    for key, hi in (("week", MAX_WEEK), ("active_days", 7)):
        raw = cell(cells, positions, key)
        if blank(raw):
            errors.append(RowError(number, where[key], "required", "required"))
            continue
        try:
            values[key] = _whole(raw, 0, hi)
        except ValueError as exc:
            errors.append(RowError.of(number, where[key], exc))
    return values


def _stored_enrolments(conn: Connection, keys: set[tuple[int, str]]) -> dict[tuple, Any]:
    found: dict[tuple, Any] = {}
    by_program: dict[int, list[str]] = {}
    for pid, ref in keys:
        by_program.setdefault(pid, []).append(ref)
    for pid, refs in by_program.items():
        for start in range(0, len(refs), 500):
            stmt = select(Enrolment).where(
                Enrolment.program_id == pid,
                Enrolment.participant_ref.in_(refs[start : start + 500]),
            )
            for row in conn.execute(stmt).mappings():
                found[(pid, row["participant_ref"])] = row
    return found


def _plan_enrolments(
    conn: Connection, rows: list[dict[str, Any]], report: FileReport
) -> list[dict[str, Any]]:
    stored = _stored_enrolments(conn, {(r["program_id"], r["ref"]) for r in rows})
    plan = []
    for r in rows:
        values = {f: r[f] for f in ENROLMENT_FIELDS}
        old = stored.get((r["program_id"], r["ref"]))
        if old is None:
            report.new.append(r["ref"])
            plan.append(
                {
                    "op": "insert",
                    "values": values | {"program_id": r["program_id"], "participant_ref": r["ref"]},
                }
            )
            continue
        changed = tuple(f for f in ENROLMENT_FIELDS if old[f] != values[f])
        if changed:
            report.changed.append((r["ref"], changed))
            plan.append({"op": "update", "id": old["id"], "values": values})
        else:
            report.unchanged += 1
    return plan


def _plan_activity(
    conn: Connection, rows: list[dict[str, Any]], report: FileReport, where: dict[str, str]
) -> list[dict[str, Any]]:
    enrolled = _stored_enrolments(conn, {(r["program_id"], r["ref"]) for r in rows})
    missing = [r for r in rows if (r["program_id"], r["ref"]) not in enrolled]
    for r in missing:
        report.errors.append(
            RowError(
                r["number"],
                where["ref"],
                f"participant {r['ref']} is not enrolled in this program: import the "
                "enrolment file (참여자 명단) first",
                "not_enrolled",
                {"ref": r["ref"]},
            )
        )
    if missing:
        return []
    ids = sorted({enrolled[(r["program_id"], r["ref"])]["id"] for r in rows})
    stored: dict[tuple[int, int], Any] = {}
    for start in range(0, len(ids), 500):
        stmt = select(
            ParticipationWeek.id,
            ParticipationWeek.enrolment_id,
            ParticipationWeek.week,
            ParticipationWeek.active_days,
        ).where(ParticipationWeek.enrolment_id.in_(ids[start : start + 500]))
        stored.update({(w.enrolment_id, w.week): w for w in conn.execute(stmt)})
    plan = []
    for r in rows:
        enrolment_id = enrolled[(r["program_id"], r["ref"])]["id"]
        label = f"{r['ref']} week {r['week']}"
        old = stored.get((enrolment_id, r["week"]))
        if old is None:
            report.new.append(label)
            plan.append(
                {
                    "op": "insert_week",
                    "values": {
                        "enrolment_id": enrolment_id,
                        "week": r["week"],
                        "active_days": r["active_days"],
                    },
                }
            )
        elif old.active_days != r["active_days"]:
            report.changed.append((label, ("active_days",)))
            plan.append({"op": "update_week", "id": old.id, "active_days": r["active_days"]})
        else:
            report.unchanged += 1
    return plan


def _apply(conn: Connection, plan: list[dict[str, Any]], import_id: int) -> None:
    enrolments = [w["values"] | {"import_id": import_id} for w in plan if w["op"] == "insert"]
    if enrolments:
        conn.execute(insert(Enrolment), enrolments)
    weeks = [w["values"] | {"import_id": import_id} for w in plan if w["op"] == "insert_week"]
    if weeks:
        conn.execute(insert(ParticipationWeek), weeks)
    for write in plan:
        if write["op"] == "update":
            conn.execute(
                update(Enrolment)
                .where(Enrolment.id == write["id"])
                .values(**write["values"], import_id=import_id)
            )
        elif write["op"] == "update_week":
            conn.execute(
                update(ParticipationWeek)
                .where(ParticipationWeek.id == write["id"])
                .values(active_days=write["active_days"], import_id=import_id)
            )


FILE = FileKind(KIND, LABEL, sheet_reader(COLUMNS), _check, _apply)
