"""Devices, their raw events, their latest state and daily rollups.

Pages read ``device_state`` and ``device_daily``; only ingestion and rules touch ``device_events``.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import (
    DDL,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    PrimaryKeyConstraint,
    String,
    UniqueConstraint,
    event,
)
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, JSONType, UTCDateTime

EVENT_TYPES = (
    "power",
    "lux",
    "heartbeat",
    "call",
    "ai_call_result",
    "sos",
    "interaction",
    "position",
    "trigger",
    "session",
)

# BigInteger ids that are still SQLite's rowid alias (SQLite only autoincrements INTEGER PKs).
BigId = BigInteger().with_variant(Integer, "sqlite")


class DeviceType(Base):
    __tablename__ = "device_types"

    code: Mapped[str] = mapped_column(String(30), primary_key=True)
    name_ko: Mapped[str] = mapped_column(String(60))
    name_en: Mapped[str] = mapped_column(String(80))
    heartbeat_timeout_s: Mapped[int] = mapped_column(Integer)


# active: in service (live counts, rules); in_repair: out of service, still with its person or
# site; retired: out of service and released (docs/enrollment.md).
DEVICE_STATUSES = ("active", "in_repair", "retired")


class Device(Base):
    __tablename__ = "devices"
    __table_args__ = (CheckConstraint("status IN ('active','in_repair','retired')", name="status"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_uid: Mapped[str] = mapped_column(String(60), unique=True)  # the vendor's id
    type_code: Mapped[str] = mapped_column(ForeignKey("device_types.code"), index=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    vendor: Mapped[str] = mapped_column(String(60))
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("care_recipients.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_sites.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    label: Mapped[str | None] = mapped_column(String(80))  # e.g. park machine name
    installed_on: Mapped[date] = mapped_column(Date)
    # When the device was entered in Anbu: before its first event, the silence clocks start at
    # the later of this and installation (docs/rules.md). NULL for devices registered before
    # the column existed, which then count from installation.
    registered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[str] = mapped_column(String(10), default="active")
    lat: Mapped[float | None] = mapped_column(Float)  # fixed installations only
    lon: Mapped[float | None] = mapped_column(Float)
    # The device that took this one's place (dashboard.enrollment.devices.replace_device).
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))


class DeviceAssignment(Base):
    """Who or where a device served, and when: the person's history survives reassignment.

    ``devices.recipient_id``/``site_id`` say where a device is now; a row here is written when an
    assignment ends (and when one starts through dashboard.enrollment), so the events and alerts
    of a device that served a person stay reachable from that person afterwards.
    """

    __tablename__ = "device_assignments"
    __table_args__ = (
        CheckConstraint("(recipient_id IS NULL) <> (site_id IS NULL)", name="one_subject"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("care_recipients.id"), index=True)
    site_id: Mapped[int | None] = mapped_column(ForeignKey("complaint_sites.id"), index=True)
    assigned_at: Mapped[datetime] = mapped_column(UTCDateTime)
    released_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it ended: released, replaced, retired, enrollment_ended.
    release_reason: Mapped[str | None] = mapped_column(String(20))


class DeviceEvent(Base):
    """Raw events as received. ``(vendor, event_uid)`` is the idempotency key.

    On PostgreSQL the table is partitioned by ``ts`` (``dashboard.db.partitions``): a unique
    constraint there must contain the partition key, so the primary key is ``(id, ts)`` and the
    unique key ``(vendor, event_uid, ts)``; ingest also looks for the same id under a nearby
    ``ts`` (``dashboard.ingest.core``). SQLite keeps ``id`` and ``(vendor, event_uid)``.
    """

    __tablename__ = "device_events"
    __table_args__ = (
        PrimaryKeyConstraint("id", name="pk_device_events").ddl_if(dialect="sqlite"),
        UniqueConstraint("vendor", "event_uid", name="uq_device_events_vendor_event_uid").ddl_if(
            dialect="sqlite"
        ),
        UniqueConstraint(
            "vendor", "event_uid", "ts", name="uq_device_events_vendor_event_uid_ts"
        ).ddl_if(dialect="postgresql"),
        Index("ix_device_events_device_ts", "device_id", "ts"),
        {"postgresql_partition_by": "RANGE (ts)"},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    vendor: Mapped[str] = mapped_column(String(60))
    event_uid: Mapped[str] = mapped_column(String(80))
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"))
    ts: Mapped[datetime] = mapped_column(UTCDateTime)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    type: Mapped[str] = mapped_column(String(20))
    value: Mapped[float | None] = mapped_column(Float)  # the type's main reading (W, lux, s, …)
    data: Mapped[dict | None] = mapped_column(JSONType)  # the other fields of the event


# Constraints that exist on one backend only (``ddl_if`` above): the migrations' comparison
# with the models skips them on the other backend (``include_object``).
DIALECT_ONLY = {
    "pk_device_events": "sqlite",
    "uq_device_events_vendor_event_uid": "sqlite",
    "uq_device_events_vendor_event_uid_ts": "postgresql",
}

# On PostgreSQL, ``create_all`` (tests, a fresh schema) builds the same layout as migration
# 0011: the primary key (id, ts), which ``ddl_if`` left out above, and the default partition.
event.listen(
    DeviceEvent.__table__,
    "after_create",
    DDL(
        "ALTER TABLE device_events ADD CONSTRAINT pk_device_events PRIMARY KEY (id, ts);"
        " CREATE TABLE device_events_default PARTITION OF device_events DEFAULT"
    ).execute_if(dialect="postgresql"),
)


class DeviceState(Base):
    """Latest known state of each device, updated in the same transaction as each event."""

    __tablename__ = "device_state"
    __table_args__ = (
        CheckConstraint("state IN ('normal','attention','risk','severe','offline')", name="state"),
        Index("ix_device_state_state", "state"),
        # The wall screen's longest-silent list and feed freshness read this in order.
        Index("ix_device_state_last_seen", "last_seen_at", "device_id"),
    )

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    state: Mapped[str] = mapped_column(String(10), default="normal")
    state_since: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # any event
    last_activity_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a sign of life
    # A change beyond the fixed margins alone (5 W, 30 lux): the fixed ladder's clock. Later
    # than or equal to last_activity_at; NULL on rows stored before it existed.
    last_change_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A smart plug's first reading of the current run of readings above its learned
    # background's ceiling (an appliance on); NULL once a reading is at or under it, or without
    # a background (dashboard.detection.left_on). Follows the readings (in order only).
    above_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # A smart plug's current band (dashboard.detection.band): its first reading and the lowest
    # and highest readings since; a reading that would widen it beyond band_w starts a new one.
    # Follows the readings (in order only); NULL until the plug's next reading.
    band_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    band_low_w: Mapped[float | None] = mapped_column(Float)
    band_high_w: Mapped[float | None] = mapped_column(Float)
    # Hours of the current band without any report (silences over 90 min): not band time.
    band_gap_h: Mapped[float | None] = mapped_column(Float)
    # The device's oldest event (moves back when history is back-filled), and when Anbu stored
    # its first event (never moves): where the silence clocks may start (docs/rules.md).
    first_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    first_received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_power_w: Mapped[float | None] = mapped_column(Float)
    last_lux: Mapped[float | None] = mapped_column(Float)
    # When last_lux was read: the light's learned course is judged between the two readings'
    # hours (dashboard.detection.light). NULL on rows stored before it existed.
    last_lux_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    battery_pct: Mapped[float | None] = mapped_column(Float)
    last_lat: Mapped[float | None] = mapped_column(Float)
    last_lon: Mapped[float | None] = mapped_column(Float)
    last_event_type: Mapped[str | None] = mapped_column(String(20))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The silence tick judges the device again no later than this (``dashboard.rules.due``):
    # the earliest moment a rule could change its decision. NULL: at the next tick. Ingest sets
    # it back to NULL with every event, staff edits with what they touch.
    rules_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class DeviceCount(Base):
    """Active devices per program × dong × state × never-reported, as signed deltas.

    Written by database triggers on ``devices`` and ``device_state`` in the transaction that
    changes a device (``dashboard.db.device_counts``), so it never drifts from a GROUP BY; the
    rule tick folds the deltas into one row per group. The wall screen sums it.
    """

    __tablename__ = "device_counts"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    program_id: Mapped[int] = mapped_column(Integer)
    region_id: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(10))
    never_seen: Mapped[bool] = mapped_column(Boolean)
    devices: Mapped[int] = mapped_column(Integer)


class DeviceDaily(Base):
    """Per-device daily rollup (Asia/Seoul calendar days) for trends without scanning events."""

    __tablename__ = "device_daily"

    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True, index=True)
    events: Mapped[int] = mapped_column(Integer, default=0)
    active_hours: Mapped[int] = mapped_column(Integer, default=0)  # hours with a sign of life
    energy_wh: Mapped[float | None] = mapped_column(Float)  # smart plugs
    calls: Mapped[int] = mapped_column(Integer, default=0)  # phone lines, AI calls
    interactions: Mapped[int] = mapped_column(Integer, default=0)  # robots
    triggers: Mapped[int] = mapped_column(Integer, default=0)  # smoking detectors
    sessions: Mapped[int] = mapped_column(Integer, default=0)  # park machines
    distance_m: Mapped[float | None] = mapped_column(Float)  # wandering detectors
    # Bit j set: a sign of life in half-hour slot j (00:00–00:30 = bit 0) of the day; the
    # routine model learns from these (dashboard.detection.routine).
    activity_slots: Mapped[int | None] = mapped_column(BigInteger)
    # Half-hours with a change beyond the fixed margins (a superset of activity_slots: a fridge
    # cycle counts): the ladder's clock, for the threshold preview (detection.scan). NULL on
    # days stored before it existed.
    change_slots: Mapped[int | None] = mapped_column(BigInteger)
    # The smart plug's load between 01:00 and 05:00: lowest, highest, largest step between two
    # consecutive readings; the unattended load is learned from these (detection.background).
    night_low_w: Mapped[float | None] = mapped_column(Float)
    night_high_w: Mapped[float | None] = mapped_column(Float)
    night_step_w: Mapped[float | None] = mapped_column(Float)
    # Bit j set: a power reading above the learned background's ceiling in half-hour j; NULL on
    # a day without a background. With the readings' sum and number (the day's mean load) the
    # slow-risk flag compares weeks (dashboard.detection.decline).
    above_slots: Mapped[int | None] = mapped_column(BigInteger)
    # Bit j set: a power reading in half-hour j broke the plug's band (started a new one;
    # dashboard.detection.band). 0 on a day with readings and no break; NULL on a day without
    # a power reading, or stored before it existed.
    band_slots: Mapped[int | None] = mapped_column(BigInteger)
    watts_sum: Mapped[float | None] = mapped_column(Float)
    watts_n: Mapped[int | None] = mapped_column(Integer)
    # A smart plug's half-hour levels (dashboard.detection.levels): 48 bytes of the mean
    # quantised log(watts + 10 W), 255 = no reading, then 48 bytes of reading counts (so a
    # later batch merges into the mean). NULL on a day without a power reading.
    level_slots: Mapped[bytes | None] = mapped_column(LargeBinary)
    # The lowest light reading of each local hour (dashboard.detection.light): 24 bytes of the
    # quantised log(lux + 10), 255 = no reading; the light's unattended course is learned from
    # these. NULL on a day without a light reading.
    light_min: Mapped[bytes | None] = mapped_column(LargeBinary)
