"""the light's unattended course: device_daily.light_min, device_routines.light_course and
device_state.last_lux_at

Revision ID: 0017_light_course
Revises: 0016_plug_levels
Create Date: 2026-12-04 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db import device_counts
from dashboard.db.base import UTCDateTime

revision: str = "0017_light_course"
down_revision: str | None = "0016_plug_levels"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: days and states stored before have none, and
    # the light is then judged by the margin alone, as before, until a course is learned).
    op.add_column("device_daily", sa.Column("light_min", sa.LargeBinary(), nullable=True))
    op.add_column("device_routines", sa.Column("light_course", sa.LargeBinary(), nullable=True))
    op.add_column(
        "device_state", sa.Column("last_lux_at", UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    bind = op.get_bind()
    device_counts.drop_triggers(bind)  # SQLite rebuilds the table; the triggers read it
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("last_lux_at")
    device_counts.create_triggers(bind)
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("light_course")
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.drop_column("light_min")
