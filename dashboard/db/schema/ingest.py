"""Vendors' declarations, and the messages and events ingest could not use (kept for an
administrator to look at)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime

DEAD_LETTER_SOURCES = ("mqtt", "http")


class DeadLetter(Base):
    """A message (or one event of it) that was acknowledged without being stored.

    ``payload`` is the start of what the vendor sent, decoded as UTF-8 with replacement
    characters and cut to ``dashboard.ingest.deadletters.PAYLOAD_MAX_CHARS``; ``payload_bytes``
    is the full size. ``event_index`` is set when one event of an otherwise processed message
    was rejected, and ``payload`` is then that event alone.
    """

    __tablename__ = "dead_letters"
    __table_args__ = (CheckConstraint("source IN ('mqtt','http')", name="source"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    source: Mapped[str] = mapped_column(String(10))
    vendor: Mapped[str | None] = mapped_column(String(60))  # None when the topic names none
    topic: Mapped[str | None] = mapped_column(String(200))
    event_index: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str] = mapped_column(Text)
    payload: Mapped[str] = mapped_column(Text)
    payload_bytes: Mapped[int] = mapped_column(Integer)


class Vendor(Base):
    """A vendor's declaration: its code (as in API keys, MQTT topics and ``devices.vendor``) and
    the IANA time zone its naive timestamps are read in. A vendor without a row uses
    ``dashboard.ingest.vendors.DEFAULT_TIMEZONE`` (Asia/Seoul)."""

    __tablename__ = "vendors"

    code: Mapped[str] = mapped_column(String(60), primary_key=True)
    name: Mapped[str | None] = mapped_column(String(120))
    timezone: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
