"""Who can help search for a person: police boxes, welfare centers and partner places."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime

# police_box: 지구대·파출소 (reference import); the rest are registered by leads.
RESPONDER_KINDS = ("police_box", "welfare_center", "dementia_partner", "bus_stop", "other")
# Where a row came from: the police-box reference file, or a lead's registration.
REGISTERED = "registered"


class Responder(Base):
    """A place that can be asked to look out for a person, with where it is.

    ``approximate`` is true while the position is a stand-in (the dong's centroid for an
    imported police box, which the file gives only as an address) until a lead places it.
    ``(source, source_ref)`` identifies an imported row, so a second import updates it.
    """

    __tablename__ = "responders"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('police_box','welfare_center','dementia_partner','bus_stop','other')",
            name="kind",
        ),
        CheckConstraint("(lat IS NULL) = (lon IS NULL)", name="position_pair"),
        UniqueConstraint("source", "source_ref", name="uq_responders_source_ref"),
        Index("ix_responders_active_kind", "active", "kind"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(120))
    subtype: Mapped[str | None] = mapped_column(String(40))  # 지구대 / 파출소 as published
    address: Mapped[str | None] = mapped_column(String(200))
    phone: Mapped[str | None] = mapped_column(String(40))
    region_id: Mapped[int | None] = mapped_column(ForeignKey("regions.id"), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    approximate: Mapped[bool] = mapped_column(Boolean, default=False)
    source: Mapped[str] = mapped_column(String(60))
    source_ref: Mapped[str | None] = mapped_column(String(60))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_by: Mapped[str] = mapped_column(String(60))
