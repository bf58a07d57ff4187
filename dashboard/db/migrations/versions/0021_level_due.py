"""the level test's report bound: device_routines.level_due_at (the earliest stamp a report
must carry to raise the level test, as the tick last scored the plug)

Revision ID: 0021_level_due
Revises: 0020_band
Create Date: 2026-12-06 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db.base import UTCDateTime

revision: str = "0021_level_due"
down_revision: str | None = "0020_band"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: any report may raise the test until the
    # tick next scores the plug).
    op.add_column(
        "device_routines", sa.Column("level_due_at", UTCDateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("level_due_at")
