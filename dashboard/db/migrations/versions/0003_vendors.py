"""vendors with a declared time zone; device registration time; first-event times of a device

Revision ID: 0003_vendors
Revises: 0002_dead_letters
Create Date: 2026-12-02 07:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base

revision: str = "0003_vendors"
down_revision: str | None = "0002_dead_letters"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("code", sa.String(length=60), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=True),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("created_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_vendors")),
    )
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("registered_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("first_seen_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column(
                "first_received_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True
            )
        )
    # Devices already reporting: their oldest event, one (device_id, ts) index probe per device.
    # When it was received is not known; the oldest event is the closest stand-in.
    op.execute(
        "UPDATE device_state SET first_seen_at = (SELECT min(e.ts) FROM device_events e"
        " WHERE e.device_id = device_state.device_id)"
    )
    op.execute("UPDATE device_state SET first_received_at = first_seen_at")


def downgrade() -> None:
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("first_received_at")
        batch_op.drop_column("first_seen_at")
    with op.batch_alter_table("devices", schema=None) as batch_op:
        batch_op.drop_column("registered_at")
    op.drop_table("vendors")
