"""Figures published in the source documents, kept with the document and table they come from."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Boolean, CheckConstraint, Integer, Numeric, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base

BUDGET_MEASURES = ("plan", "secured", "executed", "budget")


class PublishedFigure(Base):
    """A single published count, rate or amount (e.g. AI check-in calls, cumulative 43,055)."""

    __tablename__ = "published_figures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    figure_key: Mapped[str] = mapped_column(String(80), unique=True)
    city: Mapped[str] = mapped_column(String(20))  # goyang, seoul, daedeok
    program_code: Mapped[str | None] = mapped_column(String(40), index=True)
    label_ko: Mapped[str] = mapped_column(String(200))
    label_en: Mapped[str] = mapped_column(String(200))
    value: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    unit: Mapped[str] = mapped_column(String(20))  # 명, 건, %, 백만원, 천원, 회, 대, 개소
    period: Mapped[str | None] = mapped_column(String(40))
    source_doc: Mapped[str] = mapped_column(String(40))
    source_table: Mapped[str] = mapped_column(String(200))
    note: Mapped[str | None] = mapped_column(Text)


class BudgetLine(Base):
    """A budget cell: unit project × funding source × period × measure, in the document's unit.

    Line items with a unit × quantity formula keep it (``unit_price_won`` × ``quantity`` ×
    ``rate``) so a mismatch with ``amount`` can be flagged instead of silently accepted.
    """

    __tablename__ = "budget_lines"
    __table_args__ = (
        CheckConstraint("measure IN ('plan','secured','executed','budget')", name="measure"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    city: Mapped[str] = mapped_column(String(20), index=True)
    source_doc: Mapped[str] = mapped_column(String(40))
    source_table: Mapped[str] = mapped_column(String(200))
    unit_project: Mapped[str] = mapped_column(String(120))
    category: Mapped[str | None] = mapped_column(String(80))  # expense category (과목)
    line_item: Mapped[str | None] = mapped_column(String(200))
    funding_source: Mapped[str | None] = mapped_column(String(20))  # national, provincial, city, …
    period: Mapped[str] = mapped_column(String(20))  # prior, 2022-07, 2023, …, 2026-06, after
    measure: Mapped[str] = mapped_column(String(10))
    amount: Mapped[Decimal] = mapped_column(Numeric(18, 3))
    unit: Mapped[str] = mapped_column(String(10))  # 백만원, 천원
    formula: Mapped[str | None] = mapped_column(String(200))  # as printed
    unit_price_won: Mapped[Decimal | None] = mapped_column(Numeric(18, 0))
    quantity: Mapped[Decimal | None] = mapped_column(Numeric(18, 3))
    rate: Mapped[Decimal | None] = mapped_column(Numeric(6, 4))
    # True for a total printed in the document (a 계 row or column); kept to check the sums.
    is_total: Mapped[bool] = mapped_column(Boolean, default=False)
