"""Participation programs: enrolments, periodic aggregates and incentive points."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

import pandas as pd
from sqlalchemy import Connection, case, func, select

from dashboard.db.schema import Enrolment, IncentiveLedger, ParticipationPeriod, Program
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
