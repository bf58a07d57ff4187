"""a line held in a narrow band: device_state.band_since / band_low_w / band_high_w /
band_gap_h (the live band), device_daily.band_slots (the half-hours where it broke) and device_routines.band_h (the
longest time between two breaks of the learning window)

Revision ID: 0020_band
Revises: 0019_left_on
Create Date: 2026-12-06 01:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db import device_counts
from dashboard.db.base import UTCDateTime

revision: str = "0020_band"
down_revision: str | None = "0019_left_on"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: a plug's band starts with its next reading,
    # its days' breaks with that day, its record with the next nightly learning).
    op.add_column(
        "device_state", sa.Column("band_since", UTCDateTime(timezone=True), nullable=True)
    )
    op.add_column("device_state", sa.Column("band_low_w", sa.Float(), nullable=True))
    op.add_column("device_state", sa.Column("band_high_w", sa.Float(), nullable=True))
    op.add_column("device_state", sa.Column("band_gap_h", sa.Float(), nullable=True))
    op.add_column("device_daily", sa.Column("band_slots", sa.BigInteger(), nullable=True))
    op.add_column("device_routines", sa.Column("band_h", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("band_h")
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.drop_column("band_slots")
    bind = op.get_bind()
    device_counts.drop_triggers(bind)  # SQLite rebuilds the table; the triggers read it
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("band_gap_h")
        batch_op.drop_column("band_high_w")
        batch_op.drop_column("band_low_w")
        batch_op.drop_column("band_since")
    device_counts.create_triggers(bind)
