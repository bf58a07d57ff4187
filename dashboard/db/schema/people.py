"""Care recipients, staff accounts and vendor API keys.

Personal data lives only in columns whose names start with ``pii_`` so that roles without the
right to see it can be served by selecting everything else (see ``PII_COLUMNS``).
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime

ROLES = ("operator", "lead", "council", "admin")
# Why an enrollment ended (사망, 전출, 시설 입소, 서비스 해지, 기타): docs/enrollment.md.
END_REASONS = ("death", "moved", "facility", "terminated", "other")


class CareRecipient(Base):
    __tablename__ = "care_recipients"
    __table_args__ = (CheckConstraint("sex IN ('F','M')", name="sex"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    external_ref: Mapped[str] = mapped_column(String(40), unique=True)
    birth_year: Mapped[int] = mapped_column(Integer)
    sex: Mapped[str] = mapped_column(String(1))
    household: Mapped[str] = mapped_column(String(20))  # alone, couple_75plus, with_family
    risk_group: Mapped[str | None] = mapped_column(String(40))  # e.g. dementia, low_income
    enrolled_on: Mapped[date] = mapped_column(Date)
    ended_on: Mapped[date | None] = mapped_column(Date)
    no_change_hours: Mapped[int | None] = mapped_column(Integer)  # per-person threshold (24–50 h)
    safe_zone_m: Mapped[int | None] = mapped_column(Integer)  # wandering: radius around home
    # Wandering: quiet hours (minutes of the day, Asia/Seoul; both or neither) in which leaving
    # the zone is 심각 at once; the program's night applies without them.
    quiet_start_min: Mapped[int | None] = mapped_column(Integer)
    quiet_end_min: Mapped[int | None] = mapped_column(Integer)
    end_reason: Mapped[str | None] = mapped_column(String(12))  # one of END_REASONS
    notes: Mapped[str | None] = mapped_column(Text)  # staff notes, bounded by the domain
    # When the personal data was cleared after the retention period (privacy purge).
    pseudonymized_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The slow-risk flag for case workers (a decline over weeks, not an alert): the day it was
    # set and the figures that set it (dashboard.detection.slow_risk); NULL when not set.
    slow_risk_since: Mapped[date | None] = mapped_column(Date)
    slow_risk_detail: Mapped[dict | None] = mapped_column(JSON)
    # --- personal data: masked for roles without the right to see it ---
    pii_name: Mapped[str] = mapped_column(String(40))
    pii_phone: Mapped[str | None] = mapped_column(String(20))
    pii_address: Mapped[str | None] = mapped_column(String(200))
    pii_home_lat: Mapped[float | None] = mapped_column(Float)
    pii_home_lon: Mapped[float | None] = mapped_column(Float)
    # Wandering: a polygon zone [[lat, lon], …] replacing the circle (it outlines the home area).
    pii_zone_polygon: Mapped[list | None] = mapped_column(JSON)
    pii_guardian_name: Mapped[str | None] = mapped_column(String(40))
    pii_guardian_phone: Mapped[str | None] = mapped_column(String(20))


PII_COLUMNS = tuple(c.name for c in CareRecipient.__table__.columns if c.name.startswith("pii_"))


class DifferentPeople(Base):
    """Two people a lead judged to be different persons although the duplicate check suspects
    them (same name and birth year and one more key, docs/roster.md): the check stops naming
    the pair. By id, so a re-import (which updates by 대상자번호, keeping ids) keeps it; the
    lower id first, so a pair is stored once."""

    __tablename__ = "different_people"
    __table_args__ = (
        CheckConstraint("first_id < second_id", name="ordered"),
        UniqueConstraint("first_id", "second_id", name="uq_different_people_pair"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    first_id: Mapped[int] = mapped_column(ForeignKey("care_recipients.id"))
    second_id: Mapped[int] = mapped_column(ForeignKey("care_recipients.id"), index=True)
    marked_at: Mapped[datetime] = mapped_column(UTCDateTime)
    marked_by: Mapped[str] = mapped_column(String(60))


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint("role IN ('operator','lead','council','admin')", name="role"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(60), unique=True)
    display_name: Mapped[str] = mapped_column(String(80))
    role: Mapped[str] = mapped_column(String(10))
    password_hash: Mapped[str | None] = mapped_column(String(200))
    district_codes: Mapped[list] = mapped_column(JSON, default=list)
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """One key per vendor; only a hash is stored."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    vendor: Mapped[str] = mapped_column(String(60), index=True)
    key_prefix: Mapped[str] = mapped_column(String(12), unique=True)
    key_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
