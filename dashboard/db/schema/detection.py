"""What the routine-aware detection learns per device, and when staff say a person is away."""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, UTCDateTime


class DeviceRoutine(Base):
    """One device's routine (``dashboard.detection.routine.Routine`` as JSON), learned daily."""

    __tablename__ = "device_routines"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    learned_on: Mapped[date] = mapped_column(Date)
    reference_days: Mapped[int] = mapped_column(Integer)  # days with activity in the window
    model: Mapped[str] = mapped_column(Text)
    # The unattended load (detection.background), apart from the model: ingest reads only these
    # to decide whether a power change is a sign of life.
    background_low_w: Mapped[float | None] = mapped_column(Float)
    background_high_w: Mapped[float | None] = mapped_column(Float)
    background_step_w: Mapped[float | None] = mapped_column(Float)
    # When the silence tick last scored this device's quiet spell: each quiet home is scored
    # every ``plug_routine.score_every_min``, spread over ticks instead of all at once.
    checked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest moment the quiet spell scored then could reach 관심 by the routine
    # (``routine.next_stage_at``): not scored again before it unless the home shows a sign of
    # life after ``checked_at``. Cleared when the routine is learned again.
    score_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest stamp a report must carry for the level test to reach 관심 with it, as the
    # tick scored the spell then (``levels.first_report_to_reach``): a report stamped before it
    # cannot raise the test, so it does not make the plug a candidate. NULL: any report may.
    level_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The level test's evidence table and reference days (``detection.levels.LevelModel``,
    # about 6 KB); NULL while the plug has too few days for it.
    level_model: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The light's unattended course per local hour (dashboard.detection.light), 24 bytes; NULL
    # for a plug without light readings or a power background. Ingest reads it beside the
    # background to judge light changes.
    light_course: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The longest run without a change beyond the fixed margins in the learning window, in
    # hours (dashboard.detection.stillness; also in ``model``): the tick's candidates read it.
    still_h: Mapped[float | None] = mapped_column(Float)
    # The longest run of readings above the background's ceiling in the learning window, in
    # hours (dashboard.detection.left_on; also in ``model``): the tick's candidates read it.
    on_h: Mapped[float | None] = mapped_column(Float)
    # The longest time the power stayed within band_w in the learning window, in hours
    # (dashboard.detection.band; also in ``model``): the tick's candidates read it.
    band_h: Mapped[float | None] = mapped_column(Float)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class PlugReachRecord(Base):
    """A plug's reach as last computed (``detection.reach``, stored by the worker's refresh,
    ``detection.reach_refresh``): the leads' list of plugs slow to notice a stop and the weekly
    review's shares read it instead of computing 32,000 reaches on a page."""

    __tablename__ = "plug_reaches"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    # The routine it was computed from (``device_routines.learned_on`` then): refreshed once
    # the routine is a week newer (a day, while the plug had no usable routine).
    learned_on: Mapped[date] = mapped_column(Date)
    verdict: Mapped[str] = mapped_column(String(8))  # fast | fair | slow | none
    median_h: Mapped[float | None] = mapped_column(Float)  # PlugReach.median_h
    worst_h: Mapped[float | None] = mapped_column(Float)  # PlugReach.worst_h (None: an hour never)
    # What else it was judged with (``reach_refresh.reach_basis``: the person's district, their
    # own first hours and a digest of the district's plug thresholds): stale once it differs.
    basis: Mapped[str | None] = mapped_column(String(40))
    computed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AwayPeriod(Base):
    """Staff (or a guardian, through staff) said the person is away from home on these days:
    the person's routine alerts pause until the return date; the fixed ladder does too."""

    __tablename__ = "away_periods"
    __table_args__ = (
        CheckConstraint("ends_on >= starts_on", name="ordered"),
        Index("ix_away_periods_recipient_dates", "recipient_id", "starts_on", "ends_on"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    recipient_id: Mapped[int] = mapped_column(ForeignKey("care_recipients.id"))
    starts_on: Mapped[date] = mapped_column(Date)
    ends_on: Mapped[date] = mapped_column(Date)  # the return date: alerts resume that day
    note: Mapped[str | None] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(80))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
