"""Participation programs: enrolments, periodic aggregates and incentive points."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, case, extract, func, or_, select, union
from sqlalchemy.orm import aliased

from dashboard.db.schema import (
    AppMeta,
    DataImport,
    Enrolment,
    IncentiveLedger,
    ParticipationPeriod,
    ParticipationWeek,
    Program,
    Region,
)
from dashboard.mapping.suppression import is_small
from queries.common import frame, in_filter, where_all

WRIST_DOCTOR = "seoul_wrist_doctor"


def participants(conn: Connection, program_codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Per program: enrolled, active, completed, dropped and improved (where measured)."""
    stmt = (
        select(
            Program.code.label("program_code"),
            Program.name_ko,
            Program.name_en,
            func.count(Enrolment.id).label("enrolled"),
            func.sum(case((Enrolment.status == "active", 1), else_=0)).label("active"),
            func.sum(case((Enrolment.status == "completed", 1), else_=0)).label("completed"),
            func.sum(case((Enrolment.status == "dropped", 1), else_=0)).label("dropped"),
            func.sum(case((Enrolment.improved.is_(True), 1), else_=0)).label("improved"),
            func.count(Enrolment.improved).label("measured"),
        )
        .select_from(Program)
        .outerjoin(Enrolment, Enrolment.program_id == Program.id)
        .where(Program.kind == "participation")
        .group_by(Program.id, Program.code, Program.name_ko, Program.name_en)
        .order_by(Program.id)
    )
    df = frame(conn, where_all(stmt, in_filter(Program.code, program_codes)))
    for col in ("enrolled", "active", "completed", "dropped", "improved", "measured"):
        df[col] = df[col].fillna(0).astype(int)
    return df


def period_totals(conn: Connection, program_codes: Iterable[str] | None = None) -> pd.DataFrame:
    """Per program and metric: sum of values, first period start and last period end."""
    stmt = (
        select(
            Program.code.label("program_code"),
            Program.name_ko,
            Program.name_en,
            ParticipationPeriod.metric,
            func.sum(ParticipationPeriod.value).label("total"),
            func.min(ParticipationPeriod.period_start).label("first_start"),
            func.max(ParticipationPeriod.period_end).label("last_end"),
            func.count().label("periods"),
        )
        .join(Program, Program.id == ParticipationPeriod.program_id)
        .group_by(
            Program.id, Program.code, Program.name_ko, Program.name_en, ParticipationPeriod.metric
        )
        .order_by(Program.id, ParticipationPeriod.metric)
    )
    return frame(
        conn,
        where_all(stmt, in_filter(Program.code, program_codes)),
        dates=["first_start", "last_end"],
    )


def incentives_monthly(conn: Connection, program_code: str = WRIST_DOCTOR) -> pd.DataFrame:
    """Points per month and kind (earn, redeem, expire): month (date), kind, points."""
    stmt = (
        select(
            IncentiveLedger.occurred_on,
            IncentiveLedger.kind,
            func.sum(IncentiveLedger.points).label("points"),
        )
        .join(Program, Program.id == IncentiveLedger.program_id)
        .where(Program.code == program_code)
        .group_by(IncentiveLedger.occurred_on, IncentiveLedger.kind)
    )
    df = frame(conn, stmt, dates=["occurred_on"])
    if df.empty:
        return pd.DataFrame(columns=["month", "kind", "points"])
    df["month"] = [date(d.year, d.month, 1) for d in df["occurred_on"]]
    df["points"] = df["points"].astype(float)
    out = df.groupby(["month", "kind"], as_index=False)["points"].sum()
    return out.sort_values(["month", "kind"]).reset_index(drop=True)


# Which published headcount each program's data is compared with, and which data counts:
# enrolments (one row per person) or the sum of a periodic metric the program reports.
HEADLINES: dict[str, tuple[tuple[str, ...], str]] = {
    "goyang_mobile_health": (("goyang.mobile_health.participants",), "enrolments"),
    "goyang_walkon": (("goyang.walkon.participants_cumulative",), "enrolments"),
    "goyang_qr_cessation": (("goyang.qr_cessation.participants_cumulative",), "enrolments"),
    "goyang_half": (("goyang.half.users_cumulative",), "period:new_users"),
    "seoul_wrist_doctor": (
        ("seoul.wrist_doctor.participants_2021", "seoul.wrist_doctor.participants_2022"),
        "period:participants",
    ),
}


def headline_comparison(conn: Connection) -> pd.DataFrame:
    """Per participation program: our count, the published one (summed over its keys), and
    the figure keys; programs without a headline mapping get NaN for the published value."""
    from queries.reference import published_figures

    people = participants(conn).set_index("program_code")
    totals = period_totals(conn)
    figures = published_figures(conn).set_index("figure_key")
    rows = []
    for code, prog in people.iterrows():
        keys, source = HEADLINES.get(code, ((), "enrolments"))
        if source.startswith("period:"):
            metric = source.split(":", 1)[1]
            hit = totals[(totals["program_code"] == code) & (totals["metric"] == metric)]
            ours = float(hit["total"].sum()) if len(hit) else float("nan")
        else:
            ours = float(prog["enrolled"])
        present = [k for k in keys if k in figures.index]
        rows.append(
            {
                "program_code": code,
                "name_ko": prog["name_ko"],
                "name_en": prog["name_en"],
                "ours": ours,
                "source": source,
                "published": float(figures.loc[present, "value"].sum())
                if present
                else float("nan"),
                "figure_keys": tuple(present),
                "label_ko": " + ".join(figures.loc[k, "label_ko"] for k in present),
                "label_en": " + ".join(figures.loc[k, "label_en"] for k in present),
                "period": " + ".join(str(figures.loc[k, "period"] or "") for k in present),
            }
        )
    return pd.DataFrame(rows)


# --- the 24-week cohort (dashboard.analysis.cohort computes on these) ----------------------------

COHORT_PROGRAM = "goyang_mobile_health"
# Each outcome column of the cohort: the city's published rate and the national benchmark it
# was compared with (figure keys of data/reference/published_figures.csv).
OUTCOMES: dict[str, tuple[tuple[str, str, str], ...]] = {
    "goyang_mobile_health": (
        (
            "improved",
            "goyang.mobile_health.behaviour_improvement_rate",
            "goyang.mobile_health.behaviour_improvement_rate_national",
        ),
        (
            "risk_reduced",
            "goyang.mobile_health.risk_reduction_rate",
            "goyang.mobile_health.risk_reduction_rate_national",
        ),
    ),
}


def cohort_programs(conn: Connection) -> pd.DataFrame:
    """Participation programs with weekly activity records (the cohort programs): code, names."""
    has_weeks = (
        select(Enrolment.program_id)
        .join(ParticipationWeek, ParticipationWeek.enrolment_id == Enrolment.id)
        .distinct()
    )
    stmt = (
        select(Program.code.label("program_code"), Program.name_ko, Program.name_en)
        .where(Program.kind == "participation", Program.id.in_(has_weeks))
        .order_by(Program.id)
    )
    return frame(conn, stmt)


def _imported(conn: Connection, program_code: str) -> bool:
    """Whether the program has imported enrolments: then only those form its cohort."""
    stmt = (
        select(func.count())
        .select_from(Enrolment)
        .join(Program, Program.id == Enrolment.program_id)
        .where(Program.code == program_code, Enrolment.import_id.is_not(None))
    )
    return bool(conn.scalar(stmt))


def cohort_people(
    conn: Connection,
    program_code: str = COHORT_PROGRAM,
    district_codes: Iterable[str] | None = None,
    enrolled_from: date | None = None,
    enrolled_to: date | None = None,
) -> pd.DataFrame:
    """The cohort's participants: enrolment_id, enrolled_on, status, ended_on, the outcomes,
    cohort, imported (bool), and their area (dong and district codes and names).

    Imported records when the program has any (the demo's are then left out), else all."""
    area, parent = aliased(Region), aliased(Region)
    imported = _imported(conn, program_code)
    stmt = (
        select(
            Enrolment.id.label("enrolment_id"),
            Enrolment.enrolled_on,
            Enrolment.status,
            Enrolment.ended_on,
            Enrolment.improved,
            Enrolment.risk_reduced,
            Enrolment.cohort,
            area.level.label("area_level"),
            area.code.label("area_code"),
            area.name_ko.label("area_ko"),
            area.name_en.label("area_en"),
            parent.code.label("parent_code"),
            parent.name_ko.label("parent_ko"),
            parent.name_en.label("parent_en"),
        )
        .join(Program, Program.id == Enrolment.program_id)
        .join(area, area.id == Enrolment.region_id)
        .outerjoin(parent, parent.id == area.parent_id)
        .where(Program.code == program_code)
        .order_by(Enrolment.id)
    )
    if imported:
        stmt = stmt.where(Enrolment.import_id.is_not(None))
    codes = list(district_codes or [])
    stmt = where_all(
        stmt,
        or_(area.code.in_(codes), parent.code.in_(codes)) if codes else None,
        Enrolment.enrolled_on >= enrolled_from if enrolled_from else None,
        Enrolment.enrolled_on <= enrolled_to if enrolled_to else None,
    )
    df = frame(conn, stmt, dates=["enrolled_on", "ended_on"])
    dong = df["area_level"] == "dong"
    for part in ("code", "ko", "en"):
        df[f"district_{part}"] = df[f"parent_{part}"].where(dong, df[f"area_{part}"])
        df[f"dong_{part}"] = df[f"area_{part}"].where(dong, None)
    df["ended_on"] = [None if pd.isna(d) else d for d in df["ended_on"]]
    for col in ("improved", "risk_reduced"):
        df[col] = [None if pd.isna(v) else bool(v) for v in df[col]]
    df["imported"] = imported
    return df.drop(columns=[c for c in df.columns if c.startswith(("area_", "parent_"))])


def cohort_activity(conn: Connection, program_code: str = COHORT_PROGRAM) -> pd.DataFrame:
    """The weekly activity rows of the cohort's participants: enrolment_id, week, active_days."""
    stmt = (
        select(
            ParticipationWeek.enrolment_id, ParticipationWeek.week, ParticipationWeek.active_days
        )
        .join(Enrolment, Enrolment.id == ParticipationWeek.enrolment_id)
        .join(Program, Program.id == Enrolment.program_id)
        .where(Program.code == program_code)
    )
    if _imported(conn, program_code):
        stmt = stmt.where(Enrolment.import_id.is_not(None))
    return frame(conn, stmt)


def cohort_imports(conn: Connection, program_code: str = COHORT_PROGRAM) -> pd.DataFrame:
    """The participation files the program's records come from (newest first): filename,
    imported_at; empty when they are not imported (the demo's)."""
    program = select(Program.id).where(Program.code == program_code).scalar_subquery()
    ids = union(
        select(Enrolment.import_id).where(Enrolment.program_id == program),
        select(ParticipationWeek.import_id)
        .join(Enrolment, Enrolment.id == ParticipationWeek.enrolment_id)
        .where(Enrolment.program_id == program),
    ).subquery()
    stmt = (
        select(DataImport.id, DataImport.filename, DataImport.imported_at)
        .where(DataImport.id.in_(select(ids.c[0])))
        .order_by(DataImport.imported_at.desc(), DataImport.id.desc())
    )
    return frame(conn, stmt, times=["imported_at"])


def ledger_months(
    conn: Connection,
    program_code: str = WRIST_DOCTOR,
    first: date | None = None,
    last: date | None = None,
) -> pd.DataFrame:
    """Points per month, kind and source, never mixed: ``statement`` (imported monthly
    statements, aggregate per district) or ``sample`` (the per-person ledger of a sample of
    participants), with ``occurred_on`` from ``first`` through ``last`` when given. Columns:
    source, month (date), kind, points, people (the sample's participants in the cell; <NA>
    for statements).

    A sample cell of 1 to 4 participants is left out: its points are one person's steps and
    spending (the rule of ``dashboard.mapping.suppression``). Every figure built on these
    rows, totals included, leaves it out with it, so no total minus the months shown gives it
    back."""
    is_statement = IncentiveLedger.import_id.is_not(None)
    year = extract("year", IncentiveLedger.occurred_on)
    month = extract("month", IncentiveLedger.occurred_on)
    stmt = (
        select(
            case((is_statement, "statement"), else_="sample").label("source"),
            year.label("year"),
            month.label("month_no"),
            IncentiveLedger.kind,
            func.sum(IncentiveLedger.points).label("points"),
            func.count(func.distinct(IncentiveLedger.enrolment_id)).label("people"),
        )
        .join(Program, Program.id == IncentiveLedger.program_id)
        .where(Program.code == program_code)
        .group_by(is_statement, year, month, IncentiveLedger.kind)
    )
    stmt = where_all(
        stmt,
        IncentiveLedger.occurred_on >= first if first else None,
        IncentiveLedger.occurred_on <= last if last else None,
    )
    df = frame(conn, stmt)
    cols = ["source", "month", "kind", "points", "people"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df["month"] = [date(int(y), int(m), 1) for y, m in zip(df["year"], df["month_no"], strict=True)]
    df["points"] = df["points"].astype(float)
    df["people"] = df["people"].astype("Int64").where(df["source"] == "sample")
    counts = df["people"].fillna(0).astype(int)
    few = (df["source"] == "sample") & counts.map(is_small)
    df = df[~few]
    return df.sort_values(["source", "month", "kind"]).reset_index(drop=True)[cols]


def incentives_by_source(conn: Connection, program_code: str = WRIST_DOCTOR) -> pd.DataFrame:
    """:func:`ledger_months` over the program's whole ledger: source, month (date), kind,
    points (sample cells of fewer than 5 participants left out)."""
    return ledger_months(conn, program_code)[["source", "month", "kind", "points"]]


def demo_generated_at(conn: Connection) -> str | None:
    """When the demo city was generated (ISO text), or None on a database without the demo:
    records that were not imported are then the demo's, and say so."""
    return conn.scalar(select(AppMeta.value).where(AppMeta.key == "demo_generated_at"))
