"""the ladder's clock: device_state.last_change_at and device_daily.change_slots

Revision ID: 0015_change_clock
Revises: 0014_decline
Create Date: 2026-12-03 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db import device_counts
from dashboard.db.base import UTCDateTime

revision: str = "0015_change_clock"
down_revision: str | None = "0014_decline"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN on both backends: a batch rebuild of device_state would trip the
    # device-count triggers that read it.
    op.add_column("device_state", sa.Column("last_change_at", UTCDateTime(timezone=True)))
    # Days stored before: unknown (NULL); the preview then counts their signs of life only.
    op.add_column("device_daily", sa.Column("change_slots", sa.BigInteger(), nullable=True))
    # The last sign of life is the best lower bound known for a stored row: the ladder's clock
    # then starts no later than it did before, so no alert comes later than it would have.
    op.execute("UPDATE device_state SET last_change_at = last_activity_at")


def downgrade() -> None:
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.drop_column("change_slots")
    bind = op.get_bind()
    device_counts.drop_triggers(bind)  # SQLite rebuilds the table; the triggers read it
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("last_change_at")
    device_counts.create_triggers(bind)
