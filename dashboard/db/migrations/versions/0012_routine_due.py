"""routine scoring schedule: when a quiet home's spell can first reach a stage

Revision ID: 0012_routine_due
Revises: 0011_event_partitions
Create Date: 2026-12-02 17:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base

revision: str = "0012_routine_due"
down_revision: str | None = "0011_event_partitions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: a routine without it is scored as before (every score_every_min).
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("score_due_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("score_due_at")
