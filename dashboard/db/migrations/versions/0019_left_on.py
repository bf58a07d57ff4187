"""a load left on: device_state.above_since (the live run above the background's ceiling) and
device_routines.on_h (the longest such run of the learning window)

Revision ID: 0019_left_on
Revises: 0018_still_record
Create Date: 2026-12-05 23:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db import device_counts
from dashboard.db.base import UTCDateTime

revision: str = "0019_left_on"
down_revision: str | None = "0018_still_record"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: a plug's run starts with its next reading
    # above the ceiling, its record with the next nightly learning).
    op.add_column(
        "device_state", sa.Column("above_since", UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("device_routines", sa.Column("on_h", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("on_h")
    bind = op.get_bind()
    device_counts.drop_triggers(bind)  # SQLite rebuilds the table; the triggers read it
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("above_since")
    device_counts.create_triggers(bind)
