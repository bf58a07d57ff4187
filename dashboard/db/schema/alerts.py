"""Alerts, the dispatches made for them, the notification outbox and the audit log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from dashboard.db.base import Base, JSONType, UTCDateTime

ALERT_STATUSES = ("open", "acknowledged", "dispatched", "closed")
ALERT_OUTCOMES = (
    "safe",
    "hospitalized",
    "deceased",
    "no_contact",
    "false_alarm",
    "device_fault",
    "enrollment_ended",  # recorded by the system when a person leaves the program
)
DISPATCH_KINDS = ("ai_recall", "dong_center", "field_visit", "emergency_119", "guardian_call")
# A responder (police box, partner place) asked to look out: a dispatch row of its own kind,
# made by dashboard.responders.notify rather than the alert action ladder.
RESPONDER_DISPATCH = "responder"
DISPATCH_ROW_KINDS = (*DISPATCH_KINDS, RESPONDER_DISPATCH)


class Alert(Base):
    """One alert per (subject, rule) while open; a repeat updates it, a cleared one is closed.

    ``kind`` separates a person alert from a device fault ticket; ``version`` gives optimistic
    concurrency to operator actions.
    """

    __tablename__ = "alerts"
    __table_args__ = (
        CheckConstraint("stage IN ('attention','risk','severe')", name="stage"),
        CheckConstraint("status IN ('open','acknowledged','dispatched','closed')", name="status"),
        CheckConstraint("kind IN ('person','device_fault')", name="kind"),
        # At most one open alert per dedup key, enforced by the database on both engines.
        Index(
            "uq_alerts_open_dedup_key",
            "dedup_key",
            unique=True,
            sqlite_where=text("status <> 'closed'"),
            postgresql_where=text("status <> 'closed'"),
        ),
        Index("ix_alerts_status_stage", "status", "stage"),
        Index("ix_alerts_opened_at", "opened_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    dedup_key: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(12))
    rule: Mapped[str] = mapped_column(String(40), index=True)
    stage: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(12), default="open")
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    region_id: Mapped[int] = mapped_column(ForeignKey("regions.id"), index=True)
    recipient_id: Mapped[int | None] = mapped_column(ForeignKey("care_recipients.id"), index=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"), index=True)
    evidence: Mapped[dict | None] = mapped_column(JSONType)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by: Mapped[str | None] = mapped_column(String(60))
    dispatched_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by: Mapped[str | None] = mapped_column(String(60))
    outcome: Mapped[str | None] = mapped_column(String(20))
    note: Mapped[str | None] = mapped_column(Text)
    version: Mapped[int] = mapped_column(Integer, default=1)


class Dispatch(Base):
    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('ai_recall','dong_center','field_visit','emergency_119','guardian_call',"
            "'responder')",
            name="kind",
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))
    target: Mapped[str | None] = mapped_column(String(120))  # e.g. 백석1동 행정복지센터
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    requested_by: Mapped[str] = mapped_column(String(60))
    arrived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    result: Mapped[str | None] = mapped_column(String(40))
    note: Mapped[str | None] = mapped_column(Text)


class NotificationOutbox(Base):
    """Rows written in the same transaction as the action that needs someone told."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        CheckConstraint("status IN ('pending','sent','failed')", name="status"),
        Index("ix_notification_outbox_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    alert_id: Mapped[int | None] = mapped_column(ForeignKey("alerts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    recipient: Mapped[str] = mapped_column(String(120))
    payload: Mapped[dict] = mapped_column(JSONType)
    status: Mapped[str] = mapped_column(String(10), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class AuditLog(Base):
    """Append-only record of who did what; never deleted by the application, and updated only
    where the privacy purge redacts an operator's note (``dashboard.audit.redact_notes``)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    actor: Mapped[str] = mapped_column(String(60))
    action: Mapped[str] = mapped_column(String(40))
    entity_type: Mapped[str] = mapped_column(String(30))
    entity_id: Mapped[str | None] = mapped_column(String(60))
    detail: Mapped[dict | None] = mapped_column(JSONType)
