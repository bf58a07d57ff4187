"""enrollment: end reason, notes, pseudonymisation time; device statuses, replacement, assignments

Revision ID: 0004_enrollment
Revises: 0003_vendors
Create Date: 2026-12-02 07:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base
from dashboard.db.sqlite_rebuild import check_foreign_keys, require_foreign_keys_off

revision: str = "0004_enrollment"
down_revision: str | None = "0003_vendors"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("end_reason", sa.String(length=12), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.add_column(
            sa.Column(
                "pseudonymized_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Existing rows keep their status (active or retired); in_repair is new.
    require_foreign_keys_off()
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(sa.Column("replaced_by_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            op.f("fk_devices_replaced_by_id_devices"), "devices", ["replaced_by_id"], ["id"]
        )
        batch_op.drop_constraint(op.f("ck_devices_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('active','in_repair','retired')")
    check_foreign_keys("devices")
    op.create_table(
        "device_assignments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("recipient_id", sa.Integer(), nullable=True),
        sa.Column("site_id", sa.Integer(), nullable=True),
        sa.Column("assigned_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("released_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("release_reason", sa.String(length=20), nullable=True),
        sa.CheckConstraint(
            "(recipient_id IS NULL) <> (site_id IS NULL)",
            name=op.f("ck_device_assignments_one_subject"),
        ),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_device_assignments_device_id_devices")
        ),
        sa.ForeignKeyConstraint(
            ["recipient_id"],
            ["care_recipients.id"],
            name=op.f("fk_device_assignments_recipient_id_care_recipients"),
        ),
        sa.ForeignKeyConstraint(
            ["site_id"],
            ["complaint_sites.id"],
            name=op.f("fk_device_assignments_site_id_complaint_sites"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_assignments")),
    )
    with op.batch_alter_table("device_assignments", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_device_assignments_device_id"), ["device_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_assignments_recipient_id"), ["recipient_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_device_assignments_site_id"), ["site_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("device_assignments")
    # A device in repair has no place in the older schema's statuses: out of service = retired.
    op.execute("UPDATE devices SET status = 'retired' WHERE status = 'in_repair'")
    require_foreign_keys_off()
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_devices_status"), type_="check")
        batch_op.create_check_constraint("status", "status IN ('active','retired')")
        batch_op.drop_constraint(op.f("fk_devices_replaced_by_id_devices"), type_="foreignkey")
        batch_op.drop_column("replaced_by_id")
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.drop_column("pseudonymized_at")
        batch_op.drop_column("notes")
        batch_op.drop_column("end_reason")
    check_foreign_keys("care_recipients")  # devices and alerts point at it
