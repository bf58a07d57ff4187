"""Where things are and which program they belong to."""

from __future__ import annotations

from datetime import date

from sqlalchemy import CheckConstraint, Date, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base

REGION_LEVELS = ("province", "city", "district", "dong")


class Region(Base):
    """Administrative areas. Dongs carry the national 10-digit administrative code (adm_cd2)."""

    __tablename__ = "regions"
    __table_args__ = (
        CheckConstraint("level IN ('province','city','district','dong')", name="level"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(10), unique=True)
    level: Mapped[str] = mapped_column(String(10))
    name_ko: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(80))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)


class Program(Base):
    """A municipal smart-care or smart-health program (one per city and service)."""

    __tablename__ = "programs"
    __table_args__ = (CheckConstraint("kind IN ('device','participation')", name="kind"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    kind: Mapped[str] = mapped_column(String(20))
    name_ko: Mapped[str] = mapped_column(String(80))
    name_en: Mapped[str] = mapped_column(String(120))
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    owner_ko: Mapped[str | None] = mapped_column(String(120))
    started_on: Mapped[date | None] = mapped_column(Date)
    description_ko: Mapped[str | None] = mapped_column(Text)
