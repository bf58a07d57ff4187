"""the level test: device_daily.level_slots and device_routines.level_model

Revision ID: 0016_plug_levels
Revises: 0015_change_clock
Create Date: 2026-12-03 18:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_plug_levels"
down_revision: str | None = "0015_change_clock"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: days stored before have no levels, and the
    # level test waits until enough days with levels exist).
    op.add_column("device_daily", sa.Column("level_slots", sa.LargeBinary(), nullable=True))
    op.add_column("device_routines", sa.Column("level_model", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("level_model")
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.drop_column("level_slots")
