"""Imported finance and program files: each stored import, and the monthly budget execution.

Amounts keep the unit of the file they came from (천원 or 백만원, as the finance system's
header said), so a figure on screen can be checked against the export it was read from.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from sqlalchemy import CheckConstraint, ForeignKey, Integer, Numeric, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime

IMPORT_KINDS = ("budget_execution", "incentive_ledger", "participation")
FUNDING_SOURCES = ("national", "provincial", "city", "district", "private", "other")
AMOUNT_UNITS = ("원", "천원", "백만원")


class DataImport(Base):
    """One stored import: the file a figure cites (its name and when it was imported)."""

    __tablename__ = "data_imports"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('budget_execution','incentive_ledger','participation')", name="kind"
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    filename: Mapped[str] = mapped_column(String(200))
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    rows: Mapped[int] = mapped_column(Integer)
    unit: Mapped[str | None] = mapped_column(String(10))  # the file's unit, as its header said
    imported_at: Mapped[datetime] = mapped_column(UTCDateTime)
    imported_by: Mapped[str] = mapped_column(String(60))


class BudgetExecution(Base):
    """One month of one budget line: unit project × district × funding source.

    ``executed`` is the month's execution (a cumulative file is stored as monthly amounts);
    ``plan`` and ``secured`` are the year's amounts as the file stated them that month (a
    supplementary budget changes them). ``planned`` is the month's scheduled execution when the
    file gives one. ``unit_price_won`` × ``quantity`` is the line's formula, checked against
    ``plan`` and flagged (not refused) when they disagree, as the documents' checks do.
    """

    __tablename__ = "budget_execution"
    __table_args__ = (
        UniqueConstraint(
            "fiscal_year",
            "month",
            "region_id",
            "unit_project",
            "funding_source",
            name="uq_budget_execution_line_month",
        ),
        CheckConstraint("month BETWEEN 1 AND 12", name="month"),
        CheckConstraint(
            "funding_source IN ('national','provincial','city','district','private','other')",
            name="funding_source",
        ),
        CheckConstraint("unit IN ('원','천원','백만원')", name="unit"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    import_id: Mapped[int] = mapped_column(ForeignKey("data_imports.id"), index=True)
    fiscal_year: Mapped[int] = mapped_column(Integer)
    month: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    unit_project: Mapped[str] = mapped_column(String(120))
    funding_source: Mapped[str] = mapped_column(String(20))
    unit: Mapped[str] = mapped_column(String(10))
    plan: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    secured: Mapped[Decimal | None] = mapped_column(Numeric(18, 3))
    executed: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    planned: Mapped[Decimal | None] = mapped_column(Numeric(18, 3))
    unit_price_won: Mapped[Decimal | None] = mapped_column(Numeric(18, 0))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 3))
