"""Complaints at monitored sites, program participation and incentives."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime


class ComplaintSite(Base):
    """A place with recurring complaints, e.g. a smoking hot spot fitted with detectors."""

    __tablename__ = "complaint_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(30), unique=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    name_ko: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
    category: Mapped[str] = mapped_column(String(20))  # smoking, noise, …
    measures_from: Mapped[date | None] = mapped_column(Date)  # when detectors went live


class Complaint(Base):
    """One civil complaint (민원). No complainant identity is stored.

    Imported complaints (``dashboard.complaints``) keep the complaint system's id, or a content
    hash, in ``source_ref`` (the idempotency key), and their text and place in ``pii_*``
    columns: a complainant may name a home or a neighbour, so aggregate views never select them.
    A repeated complaint (same place, day, type, near-identical text) points at the first one
    through ``duplicate_of`` and is not counted.
    """

    __tablename__ = "complaints"
    __table_args__ = (
        Index("ix_complaints_site_received", "site_id", "received_at"),
        UniqueConstraint("source_ref", name="uq_complaints_source_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_sites.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    category: Mapped[str] = mapped_column(String(20))
    channel: Mapped[str] = mapped_column(String(20))  # phone, online (국민신문고), visit
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    source_ref: Mapped[str | None] = mapped_column(String(80))  # "id:…" or "sha256:…"
    import_file: Mapped[str | None] = mapped_column(String(200))
    imported_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duplicate_of: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    distance_m: Mapped[float | None] = mapped_column(Float)  # to the matched site
    pii_text: Mapped[str | None] = mapped_column(Text)
    pii_place: Mapped[str | None] = mapped_column(String(200))
    pii_lat: Mapped[float | None] = mapped_column(Float)
    pii_lon: Mapped[float | None] = mapped_column(Float)


COMPLAINT_PII_COLUMNS = tuple(
    c.name for c in Complaint.__table__.columns if c.name.startswith("pii_")
)


class Enrolment(Base):
    """One person's participation in a participation program (no names: a pseudonymous ref).

    ``participant_ref`` is the program system's own participant number, unique per program: a
    re-imported enrolment file (``dashboard.participation``) updates the person in place.
    ``improved`` and ``risk_reduced`` are the program's two outcomes (health behaviour improved,
    health-risk factors reduced), None where not measured.
    """

    __tablename__ = "enrolments"
    __table_args__ = (
        CheckConstraint("status IN ('active','completed','dropped')", name="status"),
        Index("ix_enrolments_program_enrolled", "program_id", "enrolled_on"),
        UniqueConstraint("program_id", "participant_ref", name="uq_enrolments_program_ref"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    participant_ref: Mapped[str] = mapped_column(String(40))
    age_band: Mapped[str] = mapped_column(String(10))  # e.g. 60-64
    sex: Mapped[str] = mapped_column(String(1))
    cohort: Mapped[str | None] = mapped_column(String(40))  # e.g. health_risk, chronic
    enrolled_on: Mapped[date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(10), default="active")
    ended_on: Mapped[date | None] = mapped_column(Date)
    improved: Mapped[bool | None] = mapped_column()  # program outcome where measured
    risk_reduced: Mapped[bool | None] = mapped_column()  # second outcome where measured
    import_id: Mapped[int | None] = mapped_column(ForeignKey("data_imports.id"), index=True)


class ParticipationWeek(Base):
    """One participant's activity in one program week (week 0 starts on the enrolment day):
    the days with any recorded activity (a measurement, a coaching contact, app use), 0–7.

    A week without a row is a week without activity; the retention curve and drop-out week of
    :mod:`dashboard.analysis.cohort` are computed from these rows.
    """

    __tablename__ = "participation_weeks"
    __table_args__ = (
        UniqueConstraint("enrolment_id", "week", name="uq_participation_weeks_key"),
        CheckConstraint("week BETWEEN 0 AND 104", name="week"),
        CheckConstraint("active_days BETWEEN 0 AND 7", name="active_days"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolments.id"), index=True)
    week: Mapped[int] = mapped_column(Integer)
    active_days: Mapped[int] = mapped_column(Integer)
    import_id: Mapped[int | None] = mapped_column(ForeignKey("data_imports.id"), index=True)


class ParticipationPeriod(Base):
    """Periodic aggregates reported by a program (e.g. calls made in a month, app users)."""

    __tablename__ = "participation_periods"
    __table_args__ = (
        UniqueConstraint(
            "program_id", "region_id", "metric", "period_start", name="uq_participation_periods_key"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    metric: Mapped[str] = mapped_column(String(40))  # participants, calls, sessions, services, …
    period_start: Mapped[date] = mapped_column(Date)
    period_end: Mapped[date] = mapped_column(Date)
    value: Mapped[float] = mapped_column(Float)


class IncentiveLedger(Base):
    """Points earned and redeemed (손목닥터 9988: 1 point = 1 won of Seoul Pay)."""

    __tablename__ = "incentive_ledger"
    __table_args__ = (
        Index("ix_incentive_ledger_program_day", "program_id", "occurred_on"),
        # An imported monthly statement has one row per program × district × month × kind, so a
        # re-import updates in place; per-person rows (no import) are not constrained.
        Index(
            "uq_incentive_ledger_imported",
            "program_id",
            "region_id",
            "occurred_on",
            "kind",
            unique=True,
            sqlite_where=text("import_id IS NOT NULL"),
            postgresql_where=text("import_id IS NOT NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"))
    enrolment_id: Mapped[int | None] = mapped_column(ForeignKey("enrolments.id"), index=True)
    occurred_on: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(String(10))  # earn, redeem, expire
    reason: Mapped[str] = mapped_column(String(40))  # e.g. steps_8000, mission
    points: Mapped[float] = mapped_column(Numeric(14, 0))
    # Imported monthly statements (aggregate: no person) name their district and their import.
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"))
    import_id: Mapped[int | None] = mapped_column(ForeignKey("data_imports.id"), index=True)
